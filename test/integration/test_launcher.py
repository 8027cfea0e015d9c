"""`onboard launch flight` starts the declared graph, stops it in order, and names what failed."""

from __future__ import annotations

import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")

from ros_helpers import spin_until, spinning, stop

from gps_denied_onboard.fdr.reader import scan_flight
from gps_denied_onboard.graph import NODES, Durability, Reliability, topic_spec


def launch(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["onboard", "launch", "flight", "--fdr-root", str(tmp_path / "flights"), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def observer(rclpy_context: Any) -> Iterator[Any]:
    import rclpy

    node = rclpy.create_node(f"test_observer_{uuid.uuid4().hex[:6]}", context=rclpy_context)
    yield node
    node.destroy_node()


def graph_complete(observer: Any) -> bool:
    names = set(observer.get_node_names())
    if not all(spec.name in names for spec in NODES):
        return False
    for spec in NODES:
        published = dict(observer.get_publisher_names_and_types_by_node(spec.name, "/"))
        subscribed = dict(observer.get_subscriber_names_and_types_by_node(spec.name, "/"))
        if not all(t.value in published for t in spec.publishes) or not all(
            t.value in subscribed for t in spec.subscribes
        ):
            return False
    return True


def check_declared_qos(observer: Any) -> None:
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    for spec in NODES:
        for topic in spec.publishes:
            declared = topic_spec(topic)
            infos = [i for i in observer.get_publishers_info_by_topic(topic.value) if i.node_name == spec.name]
            assert infos, f"{spec.name} does not publish {topic.value}"
            qos = infos[0].qos_profile
            assert infos[0].topic_type == declared.msg_type
            expected_rel = (
                ReliabilityPolicy.BEST_EFFORT
                if declared.qos.reliability is Reliability.BEST_EFFORT
                else ReliabilityPolicy.RELIABLE
            )
            expected_dur = (
                DurabilityPolicy.TRANSIENT_LOCAL
                if declared.qos.durability is Durability.TRANSIENT_LOCAL
                else DurabilityPolicy.VOLATILE
            )
            assert (qos.reliability, qos.durability) == (expected_rel, expected_dur), f"{spec.name} {topic.value}"


def the_flight(tmp_path: Path) -> Path:
    flights = [p for p in (tmp_path / "flights").iterdir() if p.is_dir()]
    assert len(flights) == 1, flights
    return flights[0]


@pytest.mark.parametrize("mode", ["processes", "single-process"])
def test_graph_starts_with_declared_interfaces_and_stops_cleanly(
    tmp_path: Path, rclpy_context: Any, observer: Any, mode: str
) -> None:
    proc = launch(tmp_path, *(["--single-process"] if mode == "single-process" else []))
    try:
        with spinning(rclpy_context, observer) as executor:
            assert spin_until(executor, lambda: graph_complete(observer), timeout_s=40), (
                f"graph incomplete: {sorted(observer.get_node_names())}"
            )
        check_declared_qos(observer)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
        out = proc.stdout.read() if proc.stdout else ""
    finally:
        stop(proc)
    assert code == 0, out
    assert "Traceback" not in out, out
    footer = scan_flight(the_flight(tmp_path)).footer
    assert footer is not None, "the recorder, stopped last, closed its flight"
    assert footer.payload["clean_shutdown"] is True


def test_a_killed_node_is_named_and_the_launcher_fails(tmp_path: Path, rclpy_context: Any, observer: Any) -> None:
    import os

    proc = launch(tmp_path)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        pids: dict[str, int] = {}
        while len(pids) < len(NODES):
            line = proc.stdout.readline()
            assert line, "launcher ended early:\n" + "".join(lines)
            lines.append(line)
            if match := re.search(r"started (\w+) \(pid (\d+)\)", line):
                pids[match.group(1)] = int(match.group(2))
        with spinning(rclpy_context, observer) as executor:
            assert spin_until(executor, lambda: graph_complete(observer), timeout_s=40)
        os.kill(pids["vio_node"], signal.SIGKILL)
        code = proc.wait(timeout=20)
        out = "".join(lines) + (proc.stdout.read() or "")
    finally:
        stop(proc)
    assert code != 0
    assert "FAILED: vio_node stopped on its own (killed by SIGKILL)" in out
    footer = scan_flight(the_flight(tmp_path)).footer
    assert footer is not None, "the others are still stopped in order, the recorder closes its flight"


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "fdr_node:\n  ros__parameters:\n    segmnt_size_bytes: 1048576\n",
            "unknown parameter(s) ['segmnt_size_bytes']",
        ),
        ("fdr_node:\n  ros__parameters:\n    queue_size: 3\n", "fdr.queue_size must be a power of two"),
        ("fdr_node:\n  ros__parameters:\n    fsync_interval_s: 600.0\n", "parameter 'fsync_interval_s': invalid value"),
        ("vio_node:\n  ros__parameters:\n    camera_rate_hz: 20.0\n", "unknown parameter(s) ['camera_rate_hz']"),
        ("fdr_node: [unclosed\n", "is not valid YAML"),
        ("fdr_node:\n  segment_size_bytes: 5\n", "section 'fdr_node' needs a 'ros__parameters' mapping"),
    ],
    ids=["unknown", "not-power-of-two", "out-of-range", "unknown-on-pending-node", "malformed-yaml", "no-section"],
)
def test_bad_parameter_files_stop_the_launch_naming_the_problem(tmp_path: Path, yaml_text: str, message: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml_text)
    proc = launch(tmp_path, "--config", str(config))
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        stop(proc)
    assert proc.returncode != 0, out
    assert message in out, out
    assert "FAILED:" in out or out.startswith("error:"), out
    assert "Traceback" not in out
