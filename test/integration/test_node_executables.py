"""Every installed node executable starts, shows its declared interface, and exits 0 on a signal."""

from __future__ import annotations

import importlib
import importlib.util
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")

from ros_helpers import spin_until, spinning, stop

from gps_denied_onboard.graph import NODES, NodeSpec, topic_spec


def test_one_executable_per_declared_node(onboard_prefix: Path) -> None:
    installed = sorted(p.name for p in (onboard_prefix / "lib" / "onboard").iterdir())
    assert installed == sorted(n.executable for n in NODES)


@pytest.mark.parametrize(
    ("spec", "sig"),
    [(n, signal.SIGINT) for n in NODES] + [(NODES[0], signal.SIGTERM)],
    ids=lambda v: v.name if isinstance(v, NodeSpec) else signal.Signals(v).name,
)
def test_node_starts_and_exits_cleanly_on_signal(
    onboard_prefix: Path, rclpy_context: Any, spec: NodeSpec, sig: signal.Signals
) -> None:
    import rclpy

    executable = onboard_prefix / "lib" / "onboard" / spec.executable
    proc = subprocess.Popen([str(executable)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    observer = rclpy.create_node("test_observer", context=rclpy_context)

    def interface_of(query: Any) -> dict[str, list[str]]:
        return dict(query(spec.name, "/")) if spec.name in observer.get_node_names() else {}

    def interface_complete() -> bool:
        published = interface_of(observer.get_publisher_names_and_types_by_node)
        subscribed = interface_of(observer.get_subscriber_names_and_types_by_node)
        return all(t.value in published for t in spec.publishes) and all(t.value in subscribed for t in spec.subscribes)

    try:
        with spinning(rclpy_context, observer) as executor:
            assert spin_until(executor, interface_complete, timeout_s=20), (
                f"{spec.name} never showed its declared interface on the graph"
            )
        published = interface_of(observer.get_publisher_names_and_types_by_node)
        subscribed = interface_of(observer.get_subscriber_names_and_types_by_node)
        for topic in spec.publishes:
            assert published[topic.value] == [topic_spec(topic).msg_type], topic
        for topic in spec.subscribes:
            assert subscribed[topic.value] == [topic_spec(topic).msg_type], topic

        proc.send_signal(sig)
        code = proc.wait(timeout=10)  # "within a few seconds": a hang fails here
        out = proc.stdout.read() if proc.stdout else ""
        assert code == 0, f"{spec.name} exited {code} after {sig.name}:\n{out}"
        assert "Traceback" not in out, out
        if getattr(importlib.import_module(f"gps_denied_onboard.ros.{spec.name}").main, "pending", False):
            assert "core not built yet" in out, "a pending node must say once that it publishes nothing"
        if spec.broadcasts_tf and importlib.util.find_spec("tf2_ros") is None:
            assert out.count("TF (map->odom->base_link) is not broadcast") == 1, "says once that TF is off"
    finally:
        stop(proc)
        observer.destroy_node()


SUPERVISE_ONE = """
import sys, threading, time
from gps_denied_onboard.bringup.plan import ProcessSpec
from gps_denied_onboard.bringup.supervisor import Supervisor
supervisor = Supervisor([ProcessSpec("vio_node", (sys.argv[1],), False)], stop_timeout_s=10)
threading.Timer(float(sys.argv[2]), supervisor.request_stop).start()
sys.exit(supervisor.run().exit_code)
"""


@pytest.mark.parametrize("delay_s", [0.0, 0.02, 0.15, 0.4, 0.8])
def test_stop_while_a_node_is_still_starting_is_clean(
    onboard_prefix: Path, python_executable: str, delay_s: float
) -> None:
    """The launcher may stop a node that is still importing (another node failed at start)."""
    executable = str(onboard_prefix / "lib" / "onboard" / "vio_node")
    proc = subprocess.run(
        [python_executable, "-c", SUPERVISE_ONE, executable, str(delay_s)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert "every node stopped cleanly" in out
