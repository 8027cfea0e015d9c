"""fdr_node with real rclpy and Fast DDS: what it records, how it subscribes, how it fails."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")

from ros_helpers import spin_until, spinning, stop

from gps_denied_onboard.fdr.config import FdrConfig
from gps_denied_onboard.fdr.reader import scan_flight
from gps_denied_onboard.fdr.records import Record, RosMessage
from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder

LOGGER = Path(__file__).with_name("logger_process.py")


def fdr_parameters(root: Path, flight_id: str, **extra: Any) -> list[Any]:
    from rclpy.parameter import Parameter

    values: dict[str, Any] = {
        "fdr_root": str(root),
        "flight_id": flight_id,
        "rescan_period_s": 0.1,
        "status_period_s": 0.1,
    }
    values.update(extra)
    return [Parameter(name, value=value) for name, value in values.items()]


@pytest.fixture
def fdr(rclpy_context: Any, tmp_path: Path) -> Iterator[Any]:
    from gps_denied_onboard.ros.fdr_node import FdrNode

    node = FdrNode(context=rclpy_context, parameter_overrides=fdr_parameters(tmp_path, "inproc"))
    yield node
    node.destroy_node()


def recorded(flight_dir: Path) -> dict[str, list[bytes]]:
    """CDR bytes per topic, in recorded order."""
    out: dict[str, list[bytes]] = {}
    for entry in scan_flight(flight_dir).entries():
        if isinstance(entry, RosMessage):
            out.setdefault(entry.topic, []).append(entry.cdr)
    return out


def wait_recording(executor: Any, fdr: Any, *topics: str) -> None:
    assert spin_until(executor, lambda: all(t in fdr._recordings for t in topics), timeout_s=10), (
        f"fdr_node did not subscribe to {topics}: has {sorted(fdr._recordings)}"
    )


def test_records_every_message_byte_identical_in_order(rclpy_context: Any, fdr: Any) -> None:
    """The recorder stores the CDR bytes the middleware delivered: byte-identical to what an
    independent raw subscriber receives, and equal field by field to what was published.
    (A separate serialize_message() is no oracle: CDR padding bytes are uninitialised memory.)"""
    import rclpy
    from nav_msgs.msg import Odometry
    from onboard.msg import GeoFix
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Imu

    from gps_denied_onboard.graph import Topic
    from gps_denied_onboard.ros.qos import topic_qos

    source = rclpy.create_node("test_source", context=rclpy_context)
    witness = rclpy.create_node("test_witness", context=rclpy_context)
    classes = {Topic.IMU: Imu, Topic.GEOFIX: GeoFix, Topic.VIO_ODOMETRY: Odometry}
    publishers = {t: source.create_publisher(c, t.value, topic_qos(t)) for t, c in classes.items()}
    witnessed: dict[str, list[bytes]] = {t.value: [] for t in classes}
    for topic, cls in classes.items():
        witness.create_subscription(cls, topic.value, witnessed[topic.value].append, topic_qos(topic), raw=True)
    sent: dict[str, list[Any]] = {t.value: [] for t in classes}
    with spinning(rclpy_context, fdr, source, witness) as executor:
        wait_recording(executor, fdr, *(t.value for t in publishers))
        spin_until(executor, lambda: all(p.get_subscription_count() >= 2 for p in publishers.values()), 10)

        def delivered(count: int) -> bool:
            rings = {r.producer_id: r.pushed_total for r in fdr.recorder.client.rings()}
            return all(rings.get(t, 0) >= count and len(witnessed[t]) >= count for t in sent)

        for seq in range(40):
            for topic, publisher in publishers.items():
                msg = classes[topic]()
                msg.header.frame_id = f"{topic.name}-{seq}"
                msg.header.stamp.sec = seq
                publisher.publish(msg)
                sent[topic.value].append(msg)
            # Paced: a reliable KEEP_LAST(10) writer overwrites samples its readers have not acknowledged.
            assert spin_until(executor, lambda n=seq + 1: delivered(n), timeout_s=10), (
                {r.producer_id: r.pushed_total for r in fdr.recorder.client.rings()},
                {t: len(w) for t, w in witnessed.items()},
            )
    best_effort = fdr._recordings[Topic.IMU.value].qos.reliability.value
    fdr.close_flight()
    got = recorded(fdr.flight_dir)
    for topic, messages in sent.items():
        assert got[topic] == witnessed[topic], f"{topic}: recorded bytes differ from the bytes delivered"
        cls = type(messages[0])
        assert [repr(deserialize_message(b, cls)) for b in got[topic]] == [repr(m) for m in messages]
    assert best_effort == "best_effort", "a best-effort publisher is recorded with a best-effort subscription"
    source.destroy_node()
    witness.destroy_node()


def test_latched_and_late_joining_publishers_are_recorded(rclpy_context: Any, tmp_path: Path) -> None:
    import rclpy
    from onboard.msg import FlightState
    from rclpy.serialization import deserialize_message
    from std_msgs.msg import String

    from gps_denied_onboard.graph import Topic
    from gps_denied_onboard.ros.fdr_node import FdrNode
    from gps_denied_onboard.ros.qos import topic_qos

    source = rclpy.create_node("test_source", context=rclpy_context)
    latched = source.create_publisher(FlightState, Topic.FLIGHT_STATE.value, topic_qos(Topic.FLIGHT_STATE))
    state = FlightState(state=FlightState.IN_FLIGHT, flight_id="f", source="autopilot")
    latched.publish(state)  # before the recorder exists
    fdr = FdrNode(context=rclpy_context, parameter_overrides=fdr_parameters(tmp_path, "late"))
    with spinning(rclpy_context, fdr, source) as executor:
        wait_recording(executor, fdr, Topic.FLIGHT_STATE.value)
        assert fdr._recordings[Topic.FLIGHT_STATE.value].qos.durability.value == "transient_local"
        spin_until(executor, lambda: False, timeout_s=0.5)
        late = source.create_publisher(String, "/late/joiner", 10)  # joins mid-flight
        wait_recording(executor, fdr, "/late/joiner")
        spin_until(executor, lambda: late.get_subscription_count() > 0, 5)
        for i in range(5):
            late.publish(String(data=f"late {i}"))
        assert spin_until(
            executor,
            lambda: any(r.producer_id == "/late/joiner" and r.pushed_total == 5 for r in fdr.recorder.client.rings()),
            10,
        )
    fdr.destroy_node()
    got = recorded(fdr.flight_dir)
    assert [repr(deserialize_message(b, FlightState)) for b in got[Topic.FLIGHT_STATE.value]] == [repr(state)], (
        "the latched sample from before the recorder existed"
    )
    assert [deserialize_message(b, String).data for b in got["/late/joiner"]] == [f"late {i}" for i in range(5)]
    source.destroy_node()


def test_warn_and_error_from_another_process_are_logs_info_is_not(
    fdr: Any, rclpy_context: Any, python_executable: str
) -> None:
    name = f"noisy_{uuid.uuid4().hex[:6]}"
    child = subprocess.Popen([python_executable, str(LOGGER), name, "5"], stdout=subprocess.PIPE, text=True)
    try:
        with spinning(rclpy_context, fdr) as executor:
            ring = fdr.recorder.client.producer("/rosout")._ring
            assert spin_until(executor, lambda: ring.pushed_total >= 2, timeout_s=15), "no WARN/ERROR arrived"
            spin_until(executor, lambda: False, timeout_s=0.5)
    finally:
        stop(child)
    fdr.close_flight()
    logs = [
        e
        for e in scan_flight(fdr.flight_dir).entries()
        if isinstance(e, Record) and e.kind == "log" and e.payload["component"] == name
    ]
    assert [(r.payload["level"], r.payload["message"]) for r in logs] == [
        ("WARN", "gnss innovation 9.1 sigma: rejected"),
        ("ERROR", "vio lost: 3 features"),
    ]
    assert logs[0].payload["function"] == "main"
    assert logs[0].payload["line"] > 0


def test_overload_is_counted_exactly_in_records_and_status(rclpy_context: Any, tmp_path: Path) -> None:
    import rclpy
    from onboard.msg import FdrStatus
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    from gps_denied_onboard.graph import Topic
    from gps_denied_onboard.ros.fdr_node import FdrNode
    from gps_denied_onboard.ros.qos import topic_qos

    topic, pushed = "/test/overload", 3000
    fdr = FdrNode(
        context=rclpy_context,
        parameter_overrides=fdr_parameters(
            tmp_path, "overload", queue_overrides=[f"{topic}=8"], subscription_depth=pushed
        ),
    )
    source = rclpy.create_node("test_source", context=rclpy_context)
    deep = QoSProfile(depth=pushed, reliability=ReliabilityPolicy.RELIABLE)  # DDS itself must not drop
    publisher = source.create_publisher(String, topic, deep)
    statuses: list[Any] = []
    source.create_subscription(FdrStatus, Topic.FDR_STATUS.value, statuses.append, topic_qos(Topic.FDR_STATUS))
    with spinning(rclpy_context, fdr, source) as executor:
        wait_recording(executor, fdr, topic)
        spin_until(executor, lambda: publisher.get_subscription_count() > 0, 5)
        for i in range(pushed):
            publisher.publish(String(data=f"{i:06d}"))
        ring = next(r for r in fdr.recorder.client.rings() if r.producer_id == topic)
        assert spin_until(executor, lambda: ring.pushed_total == pushed, timeout_s=60), ring.pushed_total

        def status_caught_up() -> bool:
            counters = {t.producer_id: t for t in statuses[-1].topics} if statuses else {}
            return topic in counters and counters[topic].dropped == ring.dropped_total

        assert spin_until(executor, status_caught_up, timeout_s=10)
        status_dropped = {t.producer_id: t.dropped for t in statuses[-1].topics}[topic]
    fdr.destroy_node()
    scan = scan_flight(fdr.flight_dir)
    written = sum(1 for e in scan.entries() if isinstance(e, RosMessage) and e.topic == topic)
    overrun = sum(
        e.payload["dropped_count"]
        for e in scan.entries()
        if isinstance(e, Record) and e.kind == "overrun" and e.payload["origin_producer_id"] == topic
    )
    assert overrun > 0, "the ring of 8 should have overflowed"
    assert written + overrun == pushed
    assert status_dropped == overrun
    source.destroy_node()


def run_fdr_executable(onboard_prefix: Path, *params: str) -> subprocess.Popen[str]:
    args = [str(onboard_prefix / "lib" / "onboard" / "fdr_node"), "--ros-args"]
    for param in params:
        args += ["-p", param]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_sigkill_mid_flight_keeps_every_complete_frame(
    onboard_prefix: Path, rclpy_context: Any, tmp_path: Path
) -> None:
    import rclpy
    from sensor_msgs.msg import NavSatFix

    from gps_denied_onboard.graph import Topic
    from gps_denied_onboard.ros.qos import topic_qos

    proc = run_fdr_executable(
        onboard_prefix, f"fdr_root:={tmp_path}", "flight_id:=crash", "rescan_period_s:=0.1", "fsync_interval_s:=0.2"
    )
    source = rclpy.create_node("test_gnss", context=rclpy_context)
    publisher = source.create_publisher(NavSatFix, Topic.GNSS_FIX.value, topic_qos(Topic.GNSS_FIX))
    sent_at: list[float] = []
    try:
        with spinning(rclpy_context, source) as executor:
            assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, 20), "fdr_node never subscribed"
            spin_until(executor, lambda: False, 0.3)
            for seq in range(400):
                fix = NavSatFix()
                fix.header.frame_id = str(seq)
                publisher.publish(fix)
                sent_at.append(time.monotonic())
                executor.spin_once(timeout_sec=0.004)
            killed_at = time.monotonic()
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        stop(proc)
        source.destroy_node()
    from rclpy.serialization import deserialize_message

    scan = scan_flight(tmp_path / "crash")
    seqs = [
        int(deserialize_message(e.cdr, NavSatFix).header.frame_id)
        for e in scan.entries()
        if isinstance(e, RosMessage) and e.topic == Topic.GNSS_FIX.value
    ]
    assert scan.footer is None, "no footer: the flight did not close cleanly"
    assert all(i.problem.value == "torn_tail" for i in scan.issues), scan.issues
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "every complete frame, in order, no hole"
    fsynced = [seq for seq, t in enumerate(sent_at) if t < killed_at - 0.2 - 0.5]  # fsync interval + margin
    assert set(fsynced) <= set(seqs) | set(range(seqs[0])), "a message older than the last fsync is missing"
    assert seqs[-1] >= fsynced[-1]


def test_second_recorder_on_the_same_root_exits_3_with_a_fatal_line(onboard_prefix: Path, tmp_path: Path) -> None:
    holder = FlightRecorder(FdrConfig(flight_root=tmp_path))
    holder.open_flight(FlightHeader("first"))
    try:
        proc = run_fdr_executable(onboard_prefix, f"fdr_root:={tmp_path}", "flight_id:=second")
        out, _ = proc.communicate(timeout=30)
    finally:
        holder.close_flight()
    assert proc.returncode == 3, out
    fatal = [line for line in out.splitlines() if "[FATAL]" in line]
    assert len(fatal) == 1, out
    assert "refusing to start" in fatal[0]
    assert "locked by another recorder" in fatal[0]
    assert not (tmp_path / "second").exists() or not any((tmp_path / "second").iterdir())


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("queue_size:=1000", "fdr.queue_size must be a power of two"),
        ("segment_size_bytes:=10", "parameter 'segment_size_bytes': invalid value"),
        ("fsync_interval_s:=fast", "parameter 'fsync_interval_s': wrong type"),
        ("exclude_patterns:=['([']", "invalid regular expression"),
        ("flight_id:=../escape", "flight id '../escape'"),
    ],
)
def test_bad_parameters_exit_2_naming_them(onboard_prefix: Path, tmp_path: Path, param: str, message: str) -> None:
    proc = run_fdr_executable(onboard_prefix, f"fdr_root:={tmp_path}", param)
    out, _ = proc.communicate(timeout=30)
    expected = 3 if param.startswith("flight_id") else 2  # a bad flight id is found when opening the flight
    assert proc.returncode == expected, out
    assert message in out
    assert "Traceback" not in out


def test_installed_flight_yaml_configures_the_node(onboard_prefix: Path, tmp_path: Path) -> None:
    import rclpy
    from rclpy.context import Context

    from gps_denied_onboard.ros.fdr_node import FdrNode

    params_file = onboard_prefix / "share" / "onboard" / "config" / "flight.yaml"
    context = Context()
    rclpy.init(
        context=context,
        args=[
            "--ros-args",
            "--params-file",
            str(params_file),
            "-p",
            f"fdr_root:={tmp_path}",
            "-p",
            "flight_id:=from-yaml",
        ],
    )
    try:
        node = FdrNode(context=context)
        try:
            assert node.settings.fdr.queues.capacity_for("/imu/data") == 8192
            assert node.settings.fdr.queues.capacity_for("/camera/image_raw") == 64
            assert node.settings.fdr.segment_size_bytes == 64 * 2**20
            assert not node.settings.topics.accepts("/rosout")
            assert node.flight_dir == tmp_path / "from-yaml"
        finally:
            node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
    header = next(e for e in scan_flight(tmp_path / "from-yaml").entries() if isinstance(e, Record))
    assert header.kind == "flight_header"
    assert header.payload["config"]["queue_overrides"] == [
        "/imu/data=8192",
        "/camera/image_raw=64",
        "/vio/landmarks=16",
    ]


def test_runtime_parameter_changes_are_refused_with_a_reason(fdr: Any) -> None:
    from rclpy.parameter import Parameter

    (result,) = fdr.set_parameters([Parameter("queue_size", value=1024)])
    assert not result.successful
    assert "read-only" in result.reason
    assert fdr.get_parameter("queue_size").value == 4096
