"""`onboard replay`: a generated bag played into the graph as raw CDR with /clock, live and deterministic."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")

from ros_helpers import spin_until, spinning

# The bag factory is shared with the replay unit tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "replay"))
from bag_factory import T0_NS, UNKNOWN_TYPE, Msg, write_bag, write_flight

from gps_denied_onboard.fdr.export import JSON_TOPIC_PREFIX, export_mcap
from gps_denied_onboard.graph import Topic

pytestmark = pytest.mark.ros

RELIABLE = (Topic.GNSS_FIX.value, Topic.FLIGHT_STATE.value)


def replay_cmd(bag: Path, *extra: str) -> list[str]:
    return ["onboard", "replay", str(bag), "--json", *extra]


def parse_report(proc: subprocess.CompletedProcess[str] | Any, out: str, err: str) -> dict[str, Any]:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    assert "Traceback" not in out + err, err
    report: dict[str, Any] = json.loads(out)
    return report


@pytest.fixture
def sink(rclpy_context: Any) -> Iterator[tuple[Any, dict[str, list[bytes]]]]:
    """A node in this process subscribing raw to the flight's topics and /clock, deep enough to miss nothing."""
    import rclpy
    from onboard.msg import FlightState
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Imu, NavSatFix

    node = rclpy.create_node(f"test_replay_sink_{uuid.uuid4().hex[:6]}", context=rclpy_context)
    received: dict[str, list[bytes]] = {}
    subscriptions = (
        (Topic.IMU.value, Imu, QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)),
        (Topic.GNSS_FIX.value, NavSatFix, QoSProfile(depth=1000)),
        (
            Topic.FLIGHT_STATE.value,
            FlightState,
            QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL),
        ),
        ("/clock", Clock, QoSProfile(depth=10000)),
    )
    for topic, cls, qos in subscriptions:
        received[topic] = []
        node.create_subscription(cls, topic, received[topic].append, qos, raw=True)
    yield node, received
    node.destroy_node()


def is_subsequence(part: list[bytes], whole: list[bytes]) -> bool:
    remaining = iter(whole)
    return all(any(item == candidate for candidate in remaining) for item in part)


@pytest.mark.parametrize(
    ("storage", "rate"), [("mcap", "1.0"), ("sqlite3", "0")], ids=["mcap-real-time", "sqlite3-fast"]
)
def test_live_replay_delivers_every_reliable_message_byte_identical_with_clock(
    tmp_path: Path, rclpy_context: Any, sink: tuple[Any, dict[str, list[bytes]]], storage: str, rate: str
) -> None:
    """IMU at 200 Hz (best effort), GNSS at 10 Hz (reliable) and flight states (latched) replayed by the
    CLI into a subscriber of this process: every reliable message arrives, in order, with the bag's
    bytes; /clock carries each message's bag stamp, before it; best-effort IMU arrives unaltered.
    At --rate 0 the reliable publishers' deep history is what keeps the fast replay lossless."""
    from rclpy.serialization import deserialize_message
    from rosgraph_msgs.msg import Clock

    node, received = sink
    bag = write_flight(tmp_path / "bag", storage)
    with spinning(rclpy_context, node) as executor:
        proc = subprocess.Popen(
            replay_cmd(bag.path, "--rate", rate, "--wait-for-subscribers", "20"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            spin_until(executor, lambda: proc.poll() is not None, timeout_s=60)
            spin_until(
                executor,
                lambda: (
                    all(len(received[t]) >= len(bag.on(t)) for t in RELIABLE)
                    and len(received["/clock"]) >= len(bag.messages)
                ),
                timeout_s=10,
            )
        finally:
            if proc.poll() is None:
                proc.kill()
        out, err = proc.communicate(timeout=10)
    report = parse_report(proc, out, err)
    assert report["published"] == bag.counts()
    assert report["unmatched"] == [], "the sink was there before the replay began"
    for topic in RELIABLE:
        assert received[topic] == [m.cdr for m in bag.on(topic)], f"{topic}: not every message, or not byte-identical"
    clocks = [deserialize_message(raw, Clock).clock for raw in received["/clock"]]
    assert [c.sec * 1_000_000_000 + c.nanosec for c in clocks] == [m.stamp_ns for m in bag.messages]
    imu = received[Topic.IMU.value]
    assert imu, "best-effort IMU reached the sink"
    assert is_subsequence(imu, [m.cdr for m in bag.on(Topic.IMU.value)]), "IMU bytes unaltered, in bag order"


def test_rate_two_report(tmp_path: Path) -> None:
    """--rate 2.0: the report says what was published, the bag time spanned, and a wall time that
    the schedule held to at least half of it (no upper bound: a loaded machine may be slower)."""
    bag = write_flight(tmp_path / "bag", "sqlite3")
    proc = subprocess.run(
        replay_cmd(bag.path, "--rate", "2.0", "--wait-for-subscribers", "0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = parse_report(proc, proc.stdout, proc.stderr)
    span_s = (bag.messages[-1].stamp_ns - bag.messages[0].stamp_ns) / 1e9
    assert report["rate"] == 2.0
    assert report["deterministic"] is False
    assert report["published"] == report["in_window"] == bag.counts()
    assert report["clock_published"] == len(bag.messages)
    assert report["bag_duration_s"] == pytest.approx(span_s)
    assert report["wall_duration_s"] >= span_s / 2.0
    assert report["skipped"] == {}
    assert sorted(report["unmatched"]) == sorted([*bag.counts(), "/clock"]), "nobody listened"


def test_window_and_remap_select_and_rename(tmp_path: Path) -> None:
    bag = write_flight(tmp_path / "bag", "mcap")
    proc = subprocess.run(
        replay_cmd(
            bag.path, "--rate", "0", "--start", "0.5", "--duration", "1.0", "--remap", "/gps/fix:=/replay/gps_fix"
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = parse_report(proc, proc.stdout, proc.stderr)
    first, last = T0_NS + 500_000_000, T0_NS + 1_500_000_000
    expected: dict[str, int] = {}
    for m in bag.messages:
        if first <= m.stamp_ns <= last:
            name = "/replay/gps_fix" if m.topic == Topic.GNSS_FIX.value else m.topic
            expected[name] = expected.get(name, 0) + 1
    assert report["published"] == report["in_window"] == expected
    assert expected == {Topic.IMU.value: 201, "/replay/gps_fix": 10, Topic.FLIGHT_STATE.value: 2}
    assert report["rate"] is None


def test_a_type_that_is_not_importable_is_skipped_with_its_reason(tmp_path: Path) -> None:
    flight = list(write_flight(tmp_path / "flight", "mcap", duration_s=0.2).messages)
    px4 = [
        Msg("/fmu/out/vehicle_status", UNKNOWN_TYPE, T0_NS + 3 + i * 50_000_000, bytes([0, 1, 0, 0, i]))
        for i in range(4)
    ]
    bag = write_bag(tmp_path / "bag", "mcap", [*flight, *px4])
    proc = subprocess.run(
        replay_cmd(bag.path, "--rate", "0", "--wait-for-subscribers", "0"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = parse_report(proc, proc.stdout, proc.stderr)
    assert "/fmu/out/vehicle_status" not in report["published"]
    assert report["published"] == {t: n for t, n in bag.counts().items() if t != "/fmu/out/vehicle_status"}
    reason = report["skipped"]["/fmu/out/vehicle_status"]
    assert reason.startswith("message type not importable: message package 'px4_msgs'"), reason
    warnings = [line for line in proc.stderr.splitlines() if "not replaying /fmu/out/vehicle_status" in line]
    assert len(warnings) == 1, proc.stderr
    assert report["clock_published"] == len(flight), "no /clock for a message that was not published"


def recorded_topics(flight_dir: Path, out: Path) -> dict[str, list[tuple[int, bytes]]]:
    """Each exported channel's messages as (log_time, data), in recorded order."""
    from mcap.reader import make_reader

    export_mcap(flight_dir, out)
    topics: dict[str, list[tuple[int, bytes]]] = {}
    with out.open("rb") as stream:
        for _, channel, message in make_reader(stream).iter_messages(log_time_order=False):
            topics.setdefault(channel.topic, []).append((message.log_time, message.data))
    return topics


@pytest.mark.slow
def test_deterministic_replay_twice_gives_identical_graph_topics(tmp_path: Path) -> None:
    """The whole graph and the replayer in one process, stepped message by message, twice on one bag
    with a flight recorder each time: the recorded graph topics are identical, message for message,
    in (topic, log_time, data bytes), and log_time is the bag stamp (the recorder stamps with sim time).

    Not compared: the recorder's own /fdr/status and /diagnostics and the /fdr/record/* JSON
    channels (their content depends on disk timing: bytes written, flight id and directory), and
    /parameter_events, which is no graph topic (ParameterEvent stamps are wall time at node start).
    /state/status is compared with its one wall-clock field (update_latency_ms, measured CPU time
    of the last update) left out.

    Needs fdr_node to stamp each recorded message with its ROS clock when use_sim_time is on: until
    then log_time is the wall clock and this test fails.
    """
    bag = write_flight(tmp_path / "bag", "mcap", duration_s=1.0)
    runs = []
    for run in ("first", "second"):
        proc = subprocess.run(
            replay_cmd(bag.path, "--deterministic", "--fdr-root", str(tmp_path / run)),
            capture_output=True,
            text=True,
            timeout=50,
            check=False,
        )
        report = parse_report(proc, proc.stdout, proc.stderr)
        assert report["published"] == bag.counts()
        assert report["deterministic"] is True
        assert report["unmatched"] == [], "every declared subscriber and the recorder were matched"
        (flight_dir,) = [p for p in (tmp_path / run).iterdir() if p.is_dir()]
        runs.append(recorded_topics(flight_dir, tmp_path / f"{run}.mcap"))
    not_graph = {Topic.FDR_STATUS.value, Topic.DIAGNOSTICS.value, "/parameter_events"}
    for run in runs:  # update_latency_ms is the status's last field: a float32 of measured wall time
        run[Topic.STATE_STATUS.value] = [(t, data[:-4]) for t, data in run.get(Topic.STATE_STATUS.value, [])]
    first, second = (
        {t: msgs for t, msgs in run.items() if t not in not_graph and not t.startswith(JSON_TOPIC_PREFIX)}
        for run in runs
    )
    assert set(first) >= {*bag.counts(), "/clock"}, "the replayed topics and /clock were recorded"
    for topic in bag.counts():
        assert first[topic] == [(m.stamp_ns, m.cdr) for m in bag.on(topic)], f"{topic}: not the bag, at bag time"
    assert len(first["/clock"]) == len(bag.messages)
    assert first == second
