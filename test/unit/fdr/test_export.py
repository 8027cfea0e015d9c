"""Flight export: every recorded message reaches MCAP and rosbag2 byte-identical, readable by their own tools."""

from __future__ import annotations

import array
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from nav_msgs.msg import Odometry
from onboard.msg import FdrStatus, FdrTopicCounter, GeoFix
from rclpy.serialization import serialize_message
from rosbags.interfaces import QosDurability, QosReliability
from rosbags.rosbag2 import Reader as BagReader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from sensor_msgs.msg import Imu

from gps_denied_onboard import rosbag_types
from gps_denied_onboard.fdr import export
from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.errors import ExportOutputExistsError, FdrError, FlightNotFoundError
from gps_denied_onboard.fdr.export import ExportResult, export_mcap, export_rosbag2, json_topic
from gps_denied_onboard.fdr.records import Record

pytestmark = pytest.mark.ros

T0_WALL_NS = 1_717_000_000_123_456_789
MONO_OFFSET_NS = 1_700_000_000_000_000_000
IMU = fmt.Channel(1, "/imu/data", "sensor_msgs/msg/Imu", "/imu/data")
VIO = fmt.Channel(2, "/vio/odometry", "nav_msgs/msg/Odometry", "/vio/odometry")
GEOFIX = fmt.Channel(3, "/geoloc/fix", "onboard/msg/GeoFix", "/geoloc/fix")
FDR_STATUS = fmt.Channel(4, "/fdr/status", "onboard/msg/FdrStatus", "/fdr/status")
PX4 = fmt.Channel(5, "/fmu/out/vehicle_status", "px4_msgs/msg/VehicleStatus", "/fmu/out/vehicle_status")


@dataclass
class Recorded:
    """What went into a flight: ROS messages (with their objects) and JSON records, in write order."""

    ros: list[tuple[fmt.Channel, Any, bytes, int]] = field(default_factory=list)  # channel, message, cdr, wall_ns
    records: list[Record] = field(default_factory=list)

    def ros_on(self, topic: str) -> list[tuple[Any, bytes, int]]:
        return [(msg, cdr, wall) for channel, msg, cdr, wall in self.ros if channel.topic == topic]

    def records_of(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.kind == kind]


class FlightBuilder:
    """Writes segments with the format functions, the way the recorder will, and remembers what it wrote."""

    def __init__(self, root: Path, flight_id: str = "flight-0042") -> None:
        self.flight_id = flight_id
        self.dir = root / flight_id
        self.dir.mkdir(parents=True)
        self.recorded = Recorded()
        self.wall_ns = T0_WALL_NS
        self._segment = -1
        self._data = bytearray()
        self.ros_offsets: list[tuple[int, int]] = []  # (segment index, frame offset) per ROS message

    def _tick(self) -> int:
        self.wall_ns += 5_000_000
        return self.wall_ns

    def segment(self, channels: Sequence[fmt.Channel]) -> None:
        self._flush()
        self._segment += 1
        header = fmt.SegmentHeader(
            self.flight_id, self._segment, self.wall_ns, self.wall_ns - MONO_OFFSET_NS, "0.1.0", tuple(channels)
        )
        self._data = bytearray(fmt.preamble() + fmt.encode_frame(header.to_body()))

    def record(
        self, kind: str, payload: Mapping[str, Any], producer_id: str = "fdr", wall_ns: int | None = None
    ) -> Record:
        wall = self._tick() if wall_ns is None else wall_ns
        rec = Record(wall - MONO_OFFSET_NS, wall, producer_id, kind, dict(payload))
        self._data += fmt.encode_frame(fmt.encode_json_body(rec))
        self.recorded.records.append(rec)
        return rec

    def log(self, level: str, component: str, message: str, line: int, exc_text: str | None = None) -> Record:
        payload = {
            "level": level,
            "component": component,
            "message": message,
            "exc_text": exc_text,
            "file": f"/opt/onboard/{component}.py",
            "function": "on_tick",
            "line": line,
        }
        return self.record("log", payload, producer_id=component)

    def ros(self, channel: fmt.Channel, msg: Any, cdr: bytes | None = None) -> None:
        wall = self._tick()
        data = serialize_message(msg) if cdr is None else cdr
        self.ros_offsets.append((self._segment, len(self._data)))
        self._data += fmt.encode_frame(fmt.encode_ros_body(channel.channel_id, wall - MONO_OFFSET_NS, wall, data))
        self.recorded.ros.append((channel, msg, data, wall))

    def raw(self, data: bytes) -> None:
        self._data += data

    def _flush(self) -> None:
        if self._segment >= 0:
            (self.dir / fmt.segment_name(self._segment)).write_bytes(bytes(self._data))

    def close(self) -> Path:
        self._flush()
        return self.dir


def imu(i: int) -> Imu:
    msg = Imu()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_717_000_000 + i, 5_000_000 * i
    msg.header.frame_id = "imu_link"
    msg.orientation.w = 1.0
    msg.orientation_covariance = [0.01 * (k + 1) for k in range(9)]
    msg.angular_velocity.x = 0.001 * i
    msg.angular_velocity.z = -0.25
    msg.linear_acceleration.z = 9.80665 + 0.01 * i
    return msg


def odometry(i: int) -> Odometry:
    msg = Odometry()
    msg.header.stamp.sec = 1_717_000_100 + i
    msg.header.frame_id = "odom"
    msg.child_frame_id = "base_link"
    msg.pose.pose.position.x, msg.pose.pose.position.y = 1.5 * i, -0.75 * i
    msg.pose.pose.orientation.w = 1.0
    msg.pose.covariance = [float(k) / 7.0 for k in range(36)]
    msg.twist.twist.linear.x = 12.0
    return msg


def geofix(i: int) -> GeoFix:
    msg = GeoFix()
    msg.header.stamp.sec = 1_717_000_200 + i
    msg.header.frame_id = "map"
    msg.latitude_deg, msg.longitude_deg, msg.altitude_m = 47.397742 + 1e-5 * i, 8.545594, 488.25
    msg.position_covariance_enu_m2 = [4.0, 0.1, 0.0, 0.1, 4.5, 0.0, 0.0, 0.0, 9.0]
    msg.heading_rad, msg.heading_variance_rad2 = 1.25, 0.015
    msg.tile_id = f"z18/137{i}/9150"
    msg.match_score = 0.875  # exact in float32: the round trip compares equal
    msg.inlier_count = 120 + i
    msg.backend = "tensorrt"
    msg.inference_latency_ms = 42.5
    return msg


def fdr_status(i: int) -> FdrStatus:
    msg = FdrStatus()
    msg.header.stamp.sec = 1_717_000_300 + i
    msg.flight_id = "flight-0042"
    msg.flight_dir = "/data/fdr/flight-0042"
    msg.records_written, msg.records_dropped, msg.bytes_written = 10_000 + i, 7, 2**40 + i
    msg.segment_index, msg.rollover_count = i, 0
    msg.degraded, msg.degraded_reason = i == 1, "ENOSPC" if i == 1 else ""
    msg.topics = [
        FdrTopicCounter(producer_id="/imu/data", records=9_000 + i, dropped=7, bytes=2**33),
        FdrTopicCounter(producer_id="/geoloc/fix", records=40 + i, dropped=0, bytes=65_536),
    ]
    return msg


def build_flight(root: Path) -> FlightBuilder:
    """Two segments: four ROS types (two onboard), logs of every level name, events, an overrun, a late topic."""
    fb = FlightBuilder(root)
    fb.segment([IMU, VIO, GEOFIX])
    fb.record(
        "flight_header",
        {
            "flight_id": fb.flight_id,
            "start_wall_ns": T0_WALL_NS,
            "start_mono_ns": T0_WALL_NS - MONO_OFFSET_NS,
            "config": {"segment_bytes": 67_108_864},
            "software_version": "0.1.0",
        },
    )
    for i in range(5):
        fb.ros(IMU, imu(i))
        if i % 2 == 0:
            fb.ros(VIO, odometry(i))
    fb.ros(GEOFIX, geofix(0))
    fb.log("WARN", "vio", "tracked features below 40", 88)
    fb.record("event", {"name": "gnss_rejected", "data": {"innovation": 12.5, "gate": 9.21}}, producer_id="estimator")
    fb.log("ERROR", "inference", "engine failed", 131, exc_text="Traceback (most recent call last):\nRuntimeError: OOM")
    fb.ros(GEOFIX, geofix(1))
    fb.record("topic", FDR_STATUS.to_dict())  # a topic joining after the header
    fb.ros(FDR_STATUS, fdr_status(0))
    fb.record("overrun", {"origin_producer_id": "/imu/data", "dropped_count": 7, "reason": "ring_full"})
    fb.segment([IMU, VIO, GEOFIX, FDR_STATUS])
    for i in range(5, 8):
        fb.ros(IMU, imu(i))
    fb.ros(VIO, odometry(6))
    fb.log("FATAL", "estimator", "covariance not positive definite", 412)
    fb.log("WARNING", "tile_manager", "tile cache at 95% of budget", 57)  # Python's levelname
    fb.log("CRITICAL", "fdr", "disk full", 9)
    fb.ros(FDR_STATUS, fdr_status(1))
    fb.record(
        "flight_footer",
        {
            "records_written": 30,
            "records_dropped_overrun": 7,
            "bytes_written": 9_999,
            "rollover_count": 0,
            "clean_shutdown": True,
        },
    )
    fb.close()
    return fb


EXPECTED_ROS_COUNTS = {"/imu/data": 8, "/vio/odometry": 4, "/geoloc/fix": 2, "/fdr/status": 2}
EXPECTED_JSON_COUNTS = {
    "/fdr/record/flight_header": 1,
    "/fdr/record/log": 5,
    "/fdr/record/event": 1,
    "/fdr/record/topic": 1,
    "/fdr/record/overrun": 1,
    "/fdr/record/flight_footer": 1,
}
# (level, name, msg, file, function, line) of each log record, as rcl_interfaces/msg/Log
EXPECTED_ROSOUT = [
    (30, "vio", "tracked features below 40", "/opt/onboard/vio.py", "on_tick", 88),
    (
        40,
        "inference",
        "engine failed\nTraceback (most recent call last):\nRuntimeError: OOM",
        "/opt/onboard/inference.py",
        "on_tick",
        131,
    ),
    (50, "estimator", "covariance not positive definite", "/opt/onboard/estimator.py", "on_tick", 412),
    (30, "tile_manager", "tile cache at 95% of budget", "/opt/onboard/tile_manager.py", "on_tick", 57),
    (50, "fdr", "disk full", "/opt/onboard/fdr.py", "on_tick", 9),
]


def plain(msg: Any) -> Any:
    """An rclpy message as nested dicts and lists of Python scalars."""
    if hasattr(msg, "get_fields_and_field_types"):
        return {name: plain(getattr(msg, name)) for name in msg.get_fields_and_field_types()}
    if isinstance(msg, list | tuple | array.array | np.ndarray):
        return [plain(v) for v in msg]
    return msg.item() if isinstance(msg, np.generic) else msg


def plain_like(obj: Any, shape: Any) -> Any:
    """A decoded message (mcap_ros2 or rosbags) in the shape of ``plain`` of the original."""
    if isinstance(shape, dict):
        return {name: plain_like(getattr(obj, name), sub) for name, sub in shape.items()}
    if isinstance(shape, list):
        items = list(obj)
        assert len(items) == len(shape)
        return [plain_like(v, s) for v, s in zip(items, shape, strict=True)]
    return obj.item() if isinstance(obj, np.generic) else obj


@dataclass(frozen=True)
class McapContent:
    profile: str
    channels: dict[str, tuple[str, str, str]]  # topic -> (message_encoding, schema name, schema encoding)
    schemas: dict[str, bytes]  # schema name -> data
    messages: dict[str, list[tuple[bytes, int, int, Any]]]  # topic -> (data, log_time, publish_time, decoded)
    metadata: dict[str, dict[str, str]]


def read_mcap(path: Path) -> McapContent:
    factory = DecoderFactory()
    channels: dict[str, tuple[str, str, str]] = {}
    schemas: dict[str, bytes] = {}
    messages: dict[str, list[tuple[bytes, int, int, Any]]] = {}
    with path.open("rb") as stream:
        reader = make_reader(stream, validate_crcs=True)
        profile = reader.get_header().profile
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            assert schema is not None
            channels[channel.topic] = (channel.message_encoding, schema.name, schema.encoding)
            schemas[schema.name] = schema.data
            decoder = factory.decoder_for(channel.message_encoding, schema)
            decoded = decoder(message.data) if decoder is not None else orjson.loads(message.data)
            messages.setdefault(channel.topic, []).append(
                (message.data, message.log_time, message.publish_time, decoded)
            )
        metadata = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    return McapContent(profile, channels, schemas, messages, metadata)


@dataclass(frozen=True)
class BagContent:
    connections: dict[tuple[str, str], int]  # (topic, type) -> message count
    qos: dict[str, tuple[QosReliability, QosDurability, int]]  # topic -> offered QoS
    messages: dict[str, list[tuple[bytes, int, Any]]]  # topic -> (raw CDR, timestamp, deserialized)
    message_count: int


def read_bag(path: Path) -> BagContent:
    """Read with rosbags, deserializing with types taken only from the bag's own definitions."""
    typestore = get_typestore(Stores.EMPTY)
    messages: dict[str, list[tuple[bytes, int, Any]]] = {}
    with BagReader(path) as reader:
        for conn in reader.connections:
            typestore.register(get_types_from_msg(conn.msgdef.data, conn.msgtype))
        connections = {(c.topic, c.msgtype): c.msgcount for c in reader.connections}
        qos = {
            c.topic: (q.reliability, q.durability, q.depth)
            for c in reader.connections
            for q in getattr(c.ext, "offered_qos_profiles", [])
        }
        for conn, timestamp, raw in reader.messages():
            decoded = typestore.deserialize_cdr(raw, conn.msgtype)
            messages.setdefault(conn.topic, []).append((bytes(raw), timestamp, decoded))
        count = reader.message_count
    return BagContent(connections, qos, messages, count)


def assert_ros_round_trip(recorded: Recorded, topic: str, exported: Sequence[tuple[bytes, int, Any]]) -> None:
    """Exported (data, time, decoded) equal the recorded messages: same bytes, same order, same field values."""
    originals = recorded.ros_on(topic)
    assert [data for data, _, _ in exported] == [cdr for _, cdr, _ in originals]
    assert [time for _, time, _ in exported] == [wall for _, _, wall in originals]
    for (_, _, decoded), (msg, _, _) in zip(exported, originals, strict=True):
        assert plain_like(decoded, plain(msg)) == plain(msg)


# --- MCAP -------------------------------------------------------------------------------------------------------


def test_mcap_holds_every_ros_message_byte_identical_and_decodable(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    result = export_mcap(fb.dir, tmp_path / "out" / "flight.mcap")
    content = read_mcap(tmp_path / "out" / "flight.mcap")

    assert result == ExportResult(
        messages_written=sum(EXPECTED_ROS_COUNTS.values()) + sum(EXPECTED_JSON_COUNTS.values()),
        topics={**EXPECTED_ROS_COUNTS, **EXPECTED_JSON_COUNTS},
        skipped={},
        output=tmp_path / "out" / "flight.mcap",
    )
    assert content.profile == "ros2"
    for channel in (IMU, VIO, GEOFIX, FDR_STATUS):
        assert content.channels[channel.topic] == ("cdr", channel.msg_type, "ros2msg")
        exported = [(data, log, decoded) for data, log, publish, decoded in content.messages[channel.topic]]
        assert [log for _, log, publish, _ in content.messages[channel.topic] if log != publish] == []
        assert_ros_round_trip(fb.recorded, channel.topic, exported)
    assert content.metadata["fdr_flight"]["flight_id"] == "flight-0042"
    assert content.metadata["fdr_flight"]["segments"] == "2"


def test_mcap_schemas_are_full_ros2msg_definitions(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    export_mcap(fb.dir, tmp_path / "flight.mcap")
    text = read_mcap(tmp_path / "flight.mcap").schemas["onboard/msg/FdrStatus"].decode()

    sections = text.split("\n" + "=" * 80 + "\n")
    assert sections[0].startswith("std_msgs/Header header\nstring flight_id\n")
    assert "onboard/FdrTopicCounter[] topics" in sections[0]
    assert sorted(s.splitlines()[0] for s in sections[1:]) == [
        "MSG: builtin_interfaces/Time",
        "MSG: onboard/FdrTopicCounter",
        "MSG: std_msgs/Header",
    ]
    counter = next(s for s in sections if s.startswith("MSG: onboard/FdrTopicCounter"))
    assert counter.splitlines()[1:] == ["string producer_id", "uint64 records", "uint64 dropped", "uint64 bytes"]


def test_mcap_json_channels_carry_every_record(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    export_mcap(fb.dir, tmp_path / "flight.mcap")
    content = read_mcap(tmp_path / "flight.mcap")

    for topic, count in EXPECTED_JSON_COUNTS.items():
        kind = topic.removeprefix("/fdr/record/")
        assert content.channels[topic] == ("json", f"fdr/{kind}", "jsonschema")
        originals = fb.recorded.records_of(kind)
        assert len(originals) == count
        assert [decoded for _, _, _, decoded in content.messages[topic]] == [
            orjson.loads(r.to_json()) for r in originals
        ]
        assert [log for _, log, _, _ in content.messages[topic]] == [r.wall_ns for r in originals]
        schema = orjson.loads(content.schemas[f"fdr/{kind}"])
        assert schema["type"] == "object"
        assert schema["properties"]["kind"] == {"const": kind}
    log_schema = orjson.loads(content.schemas["fdr/log"])
    assert sorted(log_schema["properties"]["payload"]["properties"]) == sorted(
        ["level", "component", "message", "exc_text", "file", "function", "line"]
    )


# --- rosbag2 ----------------------------------------------------------------------------------------------------


def test_rosbag2_has_every_topic_type_and_count(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    result = export_rosbag2(fb.dir, tmp_path / "bag")
    bag = read_bag(tmp_path / "bag")

    json_kinds = {topic: n for topic, n in EXPECTED_JSON_COUNTS.items() if topic != "/fdr/record/log"}
    assert bag.connections == {
        **{(c.topic, c.msg_type): EXPECTED_ROS_COUNTS[c.topic] for c in (IMU, VIO, GEOFIX, FDR_STATUS)},
        ("/rosout", "rcl_interfaces/msg/Log"): 5,
        **{(topic, "std_msgs/msg/String"): n for topic, n in json_kinds.items()},
    }
    assert bag.message_count == result.messages_written == 16 + 5 + 5
    assert result.topics == {**EXPECTED_ROS_COUNTS, "/rosout": 5, **json_kinds}
    assert result.skipped == {}
    assert (tmp_path / "bag" / "metadata.yaml").is_file()
    assert (tmp_path / "bag" / "bag.mcap").is_file()


def test_rosbag2_messages_are_the_recorded_bytes(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    export_rosbag2(fb.dir, tmp_path / "bag")
    bag = read_bag(tmp_path / "bag")

    for channel in (IMU, VIO, GEOFIX, FDR_STATUS):
        assert_ros_round_trip(fb.recorded, channel.topic, bag.messages[channel.topic])


def rosidl_type_hash(msg_type: str) -> str:
    """The RIHS01 hash rosidl generated for ``msg_type`` at build time (share/<pkg>/msg/<Name>.json)."""
    package, _, name = msg_type.split("/")
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        path = Path(prefix) / "share" / package / "msg" / f"{name}.json"
        if prefix and path.is_file():
            hashes = orjson.loads(path.read_bytes())["type_hashes"]
            return str(next(h["hash_string"] for h in hashes if h["type_name"] == msg_type))
    pytest.fail(f"no rosidl type description for {msg_type} on AMENT_PREFIX_PATH")


def test_rosbag2_type_hashes_are_the_ones_rosidl_generated(tmp_path: Path, onboard_prefix: Path) -> None:
    fb = build_flight(tmp_path)
    export_rosbag2(fb.dir, tmp_path / "bag")
    with BagReader(tmp_path / "bag") as reader:
        digests = {c.msgtype: c.digest for c in reader.connections}
    for msg_type in ("onboard/msg/GeoFix", "onboard/msg/FdrStatus", "sensor_msgs/msg/Imu", "rcl_interfaces/msg/Log"):
        assert digests[msg_type] == rosidl_type_hash(msg_type), msg_type
    assert digests["onboard/msg/GeoFix"].startswith("RIHS01_")


def test_rosbag2_offers_the_declared_qos(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    export_rosbag2(fb.dir, tmp_path / "bag")
    bag = read_bag(tmp_path / "bag")

    assert bag.qos["/fdr/status"] == (QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, 1)
    assert bag.qos["/imu/data"] == (QosReliability.BEST_EFFORT, QosDurability.VOLATILE, 200)
    # as rcl offers it: a transient-local reader (the recorder's) matches a replay of it
    assert bag.qos["/rosout"] == (QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, 1000)


def test_rosbag2_logs_become_rosout_with_rcl_levels(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    export_rosbag2(fb.dir, tmp_path / "bag")
    rosout = read_bag(tmp_path / "bag").messages["/rosout"]

    assert [(m.level, m.name, m.msg, m.file, m.function, m.line) for _, _, m in rosout] == EXPECTED_ROSOUT
    walls = [r.wall_ns for r in fb.recorded.records_of("log")]
    assert [t for _, t, _ in rosout] == walls
    assert [(m.stamp.sec, m.stamp.nanosec) for _, _, m in rosout] == [divmod(w, 1_000_000_000) for w in walls]


def test_rosbag2_other_records_are_strings_of_their_json(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    export_rosbag2(fb.dir, tmp_path / "bag")
    bag = read_bag(tmp_path / "bag")

    for kind in ("flight_header", "event", "topic", "overrun", "flight_footer"):
        exported = [orjson.loads(m.data) for _, _, m in bag.messages[f"/fdr/record/{kind}"]]
        assert exported == [orjson.loads(r.to_json()) for r in fb.recorded.records_of(kind)]
    assert orjson.loads(bag.messages["/fdr/record/overrun"][0][2].data)["payload"]["dropped_count"] == 7


@pytest.mark.parametrize(
    ("level", "expected"),
    [("DEBUG", 10), ("info", 20), ("WARN", 30), (40, 40), ("FATAL", 50), ("VERBOSE", 0), (None, 0), (999, 0)],
)
def test_log_levels_map_to_rcl_values(tmp_path: Path, level: object, expected: int) -> None:
    fb = FlightBuilder(tmp_path)
    fb.segment([])
    fb.record("log", {"level": level, "component": "vio", "message": "m", "line": "not a number"})
    fb.close()
    export_rosbag2(fb.dir, tmp_path / "bag")
    [(_, _, log)] = read_bag(tmp_path / "bag").messages["/rosout"]
    assert (log.level, log.name, log.line, log.file) == (expected, "vio", 0, "")


# --- refusals and damage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("exporter", [export_mcap, export_rosbag2])
def test_existing_output_is_never_overwritten(tmp_path: Path, exporter: Any) -> None:
    fb = build_flight(tmp_path)
    out = tmp_path / "taken"
    out.write_bytes(b"precious")
    with pytest.raises(ExportOutputExistsError, match=str(out)):
        exporter(fb.dir, out)
    assert out.read_bytes() == b"precious"


def test_existing_output_directory_is_left_alone(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    out = tmp_path / "bag"
    (out / "keep").mkdir(parents=True)
    with pytest.raises(ExportOutputExistsError, match="not overwriting"):
        export_rosbag2(fb.dir, out)
    assert [p.name for p in out.iterdir()] == ["keep"]


@pytest.mark.parametrize("exporter", [export_mcap, export_rosbag2])
def test_missing_or_empty_flight_is_a_typed_error(tmp_path: Path, exporter: Any) -> None:
    with pytest.raises(FlightNotFoundError, match="does not exist"):
        exporter(tmp_path / "nope", tmp_path / "out1")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a segment")
    with pytest.raises(FlightNotFoundError, match="no segment files"):
        exporter(tmp_path / "empty", tmp_path / "out2")
    assert issubclass(FlightNotFoundError, FdrError)
    assert not (tmp_path / "out1").exists()
    assert not (tmp_path / "out2").exists()


def test_failed_export_leaves_no_partial_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fb = build_flight(tmp_path)

    def boom(*_args: object) -> bytes:
        raise RuntimeError("disk unplugged")

    monkeypatch.setattr(export, "_log_cdr", boom)
    monkeypatch.setattr(export, "_mcap_json_channel", boom)
    for exporter, out in ((export_rosbag2, tmp_path / "bag"), (export_mcap, tmp_path / "f.mcap")):
        with pytest.raises(RuntimeError, match="disk unplugged"):
            exporter(fb.dir, out)
        assert not out.exists()


def damaged_flight(root: Path) -> tuple[FlightBuilder, set[int]]:
    """The standard flight with a corrupted IMU frame in segment 0 and a torn last frame; returns the lost indices."""
    fb = build_flight(root)
    # Flip one CDR byte of the third IMU message: its CRC fails and the reader resynchronises after it.
    segment, offset = fb.ros_offsets[3]
    assert fb.recorded.ros[3][0] is IMU
    path = fb.dir / fmt.segment_name(segment)
    data = bytearray(path.read_bytes())
    data[offset + fmt.LENGTH.size + fmt.ROS_PREFIX.size + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    # A cut write at the end of the last segment: a whole IMU frame but its last 9 bytes.
    cut = fmt.encode_frame(fmt.encode_ros_body(IMU.channel_id, 1, fb.wall_ns + 1, serialize_message(imu(99))))[:-9]
    with (fb.dir / fmt.segment_name(1)).open("ab") as stream:
        stream.write(cut)
    return fb, {3}


def test_damaged_flight_exports_everything_recovered(tmp_path: Path) -> None:
    fb, lost = damaged_flight(tmp_path)
    kept = Recorded([m for i, m in enumerate(fb.recorded.ros) if i not in lost], fb.recorded.records)
    mcap_result = export_mcap(fb.dir, tmp_path / "flight.mcap")
    bag_result = export_rosbag2(fb.dir, tmp_path / "bag")

    assert mcap_result.skipped == bag_result.skipped == {"reader_issues": 2}  # the CRC mismatch and the torn tail
    assert mcap_result.topics["/imu/data"] == bag_result.topics["/imu/data"] == 7
    content = read_mcap(tmp_path / "flight.mcap")
    bag = read_bag(tmp_path / "bag")
    for channel in (IMU, VIO, GEOFIX, FDR_STATUS):
        assert_ros_round_trip(kept, channel.topic, [(d, t, x) for d, t, _, x in content.messages[channel.topic]])
        assert_ros_round_trip(kept, channel.topic, bag.messages[channel.topic])
    assert len(content.messages["/fdr/record/flight_footer"]) == 1
    assert "torn_tail" in content.metadata["fdr_flight"]["reader_issues"]
    assert "crc_mismatch" in content.metadata["fdr_flight"]["reader_issues"]


def test_unknown_type_is_skipped_counted_and_warned_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fb = FlightBuilder(tmp_path)
    fb.segment([IMU, PX4])
    fb.ros(IMU, imu(0))
    for i in range(3):
        fb.ros(PX4, None, cdr=b"\x00\x01\x00\x00" + bytes([i]) * 12)
    fb.record("event", {"name": "takeoff", "data": {}})
    fb.record("new-kind.v2", {"from": "a newer writer"})
    fb.record("event", {"name": "clock_before_epoch", "data": {}}, wall_ns=-5)
    fb.close()

    with caplog.at_level(logging.WARNING, logger=export.__name__):
        mcap_result = export_mcap(fb.dir, tmp_path / "flight.mcap")
    unknown = [r for r in caplog.records if "px4_msgs/msg/VehicleStatus" in r.getMessage()]
    assert len(unknown) == 1
    assert unknown[0].levelno == logging.WARNING
    bag_result = export_rosbag2(fb.dir, tmp_path / "bag")

    expected_skips = {"unknown_type:px4_msgs/msg/VehicleStatus": 3, "negative_wall_ns": 1}
    assert mcap_result.skipped == bag_result.skipped == expected_skips
    assert mcap_result.topics == {"/imu/data": 1, "/fdr/record/event": 1, "/fdr/record/new_kind_v2": 1}
    assert bag_result.topics == mcap_result.topics
    content = read_mcap(tmp_path / "flight.mcap")
    assert set(content.channels) == {"/imu/data", "/fdr/record/event", "/fdr/record/new_kind_v2"}
    assert content.channels["/fdr/record/new_kind_v2"] == ("json", "fdr/new-kind.v2", "jsonschema")
    assert content.messages["/fdr/record/new_kind_v2"][0][3]["payload"] == {"from": "a newer writer"}
    assert set(read_bag(tmp_path / "bag").connections) == {
        ("/imu/data", "sensor_msgs/msg/Imu"),
        ("/fdr/record/event", "std_msgs/msg/String"),
        ("/fdr/record/new_kind_v2", "std_msgs/msg/String"),
    }


def test_onboard_types_without_definitions_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fb = build_flight(tmp_path)
    monkeypatch.setattr(rosbag_types, "onboard_msg_dir", lambda: None)
    result = export_mcap(fb.dir, tmp_path / "flight.mcap")
    assert result.skipped == {"unknown_type:onboard/msg/GeoFix": 2, "unknown_type:onboard/msg/FdrStatus": 2}
    assert result.topics["/imu/data"] == 8
    assert "/geoloc/fix" not in result.topics


def test_onboard_msg_dir_prefers_the_install_then_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "prefix" / "share" / "onboard" / "msg"
    installed.mkdir(parents=True)
    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{tmp_path / 'other'}:{tmp_path / 'prefix'}")
    assert rosbag_types.onboard_msg_dir() == installed
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "other"))
    source_msg = Path(__file__).resolve().parents[3] / "msg"
    assert rosbag_types.onboard_msg_dir() == source_msg
    assert (source_msg / "GeoFix.msg").is_file()


def test_json_topic_names_are_valid_ros_names() -> None:
    assert json_topic("log") == "/fdr/record/log"
    assert json_topic("segment_rollover") == "/fdr/record/segment_rollover"
    assert json_topic("new-kind.v2") == "/fdr/record/new_kind_v2"
    assert json_topic("a__b--c") == "/fdr/record/a_b_c"
    assert json_topic("2fast") == "/fdr/record/kind_2fast"
    assert json_topic("") == "/fdr/record/unnamed"


def test_result_counts_match_a_recount_of_the_file(tmp_path: Path) -> None:
    fb = build_flight(tmp_path)
    result = export_mcap(fb.dir, tmp_path / "flight.mcap")
    content = read_mcap(tmp_path / "flight.mcap")
    assert Counter({topic: len(msgs) for topic, msgs in content.messages.items()}) == Counter(result.topics)
