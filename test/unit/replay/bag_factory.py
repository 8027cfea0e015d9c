"""Small rosbag2 bags written with rosbags' Writer (MCAP or sqlite3), holding real CDR from rclpy.

Shared by the replay unit tests and test/integration/test_replay.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from rosbags.interfaces import Qos
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from gps_denied_onboard.graph import Topic, topic_spec
from gps_denied_onboard.rosbag_qos import to_rosbag_qos
from gps_denied_onboard.rosbag_types import onboard_msg_dir

T0_NS = 1_717_000_000_000_000_000  # the bag's first stamp
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
UNKNOWN_TYPE = "px4_msgs/msg/VehicleStatus"  # not installed here: its topic cannot be replayed


class Msg(NamedTuple):
    """One bag message as written."""

    topic: str
    msg_type: str
    stamp_ns: int
    cdr: bytes


@dataclass(frozen=True)
class WrittenBag:
    """A bag on disk and what went into it, in stamp order."""

    path: Path
    messages: tuple[Msg, ...]

    def on(self, topic: str) -> list[Msg]:
        return [m for m in self.messages if m.topic == topic]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.messages:
            out[m.topic] = out.get(m.topic, 0) + 1
        return out


def typestore() -> Typestore:
    """Jazzy's standard types plus the onboard package's own (for message definitions in the bag)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    msg_dir = onboard_msg_dir()
    assert msg_dir is not None, "onboard .msg files not found"
    types: dict[str, Any] = {}
    for path in sorted(msg_dir.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(encoding="utf-8"), f"onboard/msg/{path.stem}"))
    store.register(types)
    return store


bag_qos = to_rosbag_qos  # the exporter's conversion: a bag written here offers what an exported flight offers


def write_bag(
    path: Path,
    storage: str,
    messages: Iterable[Msg],
    offered: Mapping[str, Sequence[Qos]] | None = None,
) -> WrittenBag:
    """Write ``messages`` (any order) into a new rosbag2 directory with ``storage`` ("mcap" or "sqlite3")."""
    store = typestore()
    offered = offered or {}
    ordered = tuple(sorted(messages, key=lambda m: m.stamp_ns))
    with Writer(path, version=9, storage_plugin=STORAGES[storage]) as writer:
        connections = {}
        for msg in ordered:
            key = (msg.topic, msg.msg_type)
            if key not in connections:
                extra: dict[str, Any] = {"typestore": store}
                if msg.msg_type not in store.types:  # a type this machine lacks: a made-up definition
                    extra = {"msgdef": "uint8 arming_state\n", "rihs01": "RIHS01_" + "ab" * 32}
                connections[key] = writer.add_connection(
                    msg.topic, msg.msg_type, offered_qos_profiles=list(offered.get(msg.topic, ())), **extra
                )
            writer.write(connections[key], msg.stamp_ns, msg.cdr)
    return WrittenBag(path, ordered)


def as_delivered(cdr: bytes) -> bytes:
    """CDR as a DDS reader delivers it, and so as rosbag2 records it: RTPS pads serialized payloads
    to a multiple of 4 bytes (rclpy's serialize_message does not). Bytes already padded travel
    through a replay unchanged."""
    return cdr + bytes(-len(cdr) % 4)


def imu(stamp_ns: int, seq: int) -> bytes:
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Imu

    msg = Imu()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = "imu_link"
    msg.linear_acceleration.z = 9.81 + seq * 1e-3
    msg.angular_velocity.x = seq * 1e-4
    return as_delivered(serialize_message(msg))


def gnss(stamp_ns: int, seq: int) -> bytes:
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import NavSatFix

    msg = NavSatFix()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = "gps"
    msg.latitude = 48.0 + seq * 1e-6
    msg.longitude = 11.0 - seq * 1e-6
    msg.altitude = 500.0 + seq
    return as_delivered(serialize_message(msg))


def flight_state(state: int) -> bytes:
    from onboard.msg import FlightState
    from rclpy.serialization import serialize_message

    return as_delivered(serialize_message(FlightState(state=state, flight_id="replay-test", source="autopilot")))


def flight(duration_s: float = 2.0, t0_ns: int = T0_NS) -> list[Msg]:
    """A short flight: IMU at 200 Hz (best effort), GNSS fixes at 10 Hz (reliable), and three
    flight-state changes (latched). Stamps never tie, so every storage orders them alike."""
    from onboard.msg import FlightState

    out: list[Msg] = []
    imu_type, gps_type = topic_spec(Topic.IMU).msg_type, topic_spec(Topic.GNSS_FIX).msg_type
    for seq in range(round(duration_s * 200)):
        stamp = t0_ns + seq * 5_000_000
        out.append(Msg(Topic.IMU.value, imu_type, stamp, imu(stamp, seq)))
    for seq in range(round(duration_s * 10)):
        stamp = t0_ns + 2_500_000 + seq * 100_000_000
        out.append(Msg(Topic.GNSS_FIX.value, gps_type, stamp, gnss(stamp, seq)))
    states = (FlightState.ON_GROUND, FlightState.TAKING_OFF, FlightState.IN_FLIGHT)
    for i, state in enumerate(states):
        stamp = t0_ns + 1_000_000 + round(i * duration_s / len(states) * 1e9)
        out.append(Msg(Topic.FLIGHT_STATE.value, topic_spec(Topic.FLIGHT_STATE).msg_type, stamp, flight_state(state)))
    return out


def flight_qos() -> dict[str, list[Qos]]:
    """The offers a recorder would have stored for the flight's topics: their declared QoS."""
    return {t.value: [bag_qos(topic_spec(t).qos)] for t in (Topic.IMU, Topic.GNSS_FIX, Topic.FLIGHT_STATE)}


def write_flight(path: Path, storage: str = "mcap", duration_s: float = 2.0) -> WrittenBag:
    """The short flight written as a bag."""
    return write_bag(path, storage, flight(duration_s), flight_qos())
