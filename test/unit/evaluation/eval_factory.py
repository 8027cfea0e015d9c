"""Synthetic flights for the evaluation tests: trajectories with known errors, and small rosbag2 bags
(MCAP or sqlite3) holding ground truth, odometry, scenario phases and estimator status, serialised
with the onboard typestore (no rclpy needed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.interfaces import Nodetype
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore
from scipy.spatial.transform import Rotation

from gps_denied_onboard.evaluation.trajectory import Trajectory
from gps_denied_onboard.graph import Frame, Topic, topic_spec
from gps_denied_onboard.rosbag_qos import to_rosbag_qos
from gps_denied_onboard.rosbag_types import onboard_typestore

T0_NS = 1_717_000_000_000_000_000
NS = 1_000_000_000
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
_ZERO_OF_BASE = {"string": "", "bool": False, "float32": 0.0, "float64": 0.0}


def square_path(side_m: float = 10.0, per_side: int = 10, *, rate_hz: float = 10.0, t0_ns: int = T0_NS) -> Trajectory:
    """A closed square at 2 m altitude, flown counter-clockwise, heading along each side."""
    corners = np.array([[0.0, 0.0], [side_m, 0.0], [side_m, side_m], [0.0, side_m], [0.0, 0.0]])
    xy, yaw = [], []
    for k in range(4):
        for s in np.arange(per_side) / per_side:
            xy.append(corners[k] + s * (corners[k + 1] - corners[k]))
            yaw.append(k * np.pi / 2)
    xy.append(corners[4])
    yaw.append(3 * np.pi / 2)
    count = len(xy)
    positions = np.column_stack([np.array(xy), np.full(count, 2.0)])
    quats = Rotation.from_euler("z", np.array(yaw)[:, None]).as_quat(scalar_first=True)
    stamps = t0_ns + np.round(np.arange(count) * NS / rate_hz).astype(np.int64)
    return Trajectory(stamps, positions, quats, name="gt", frame_id=Frame.MAP.value)


def wavy_flight(count: int = 200, *, rate_hz: float = 20.0, t0_ns: int = T0_NS, seed: int = 7) -> Trajectory:
    """A 3-D flight with changing heading, roll and pitch (non-degenerate for every alignment)."""
    rng = np.random.default_rng(seed)
    t = np.arange(count) / rate_hz
    positions = np.column_stack([3.0 * t, 20.0 * np.sin(0.3 * t), 5.0 + 2.0 * np.sin(0.7 * t)])
    euler = np.column_stack([0.3 * t, 0.1 * np.sin(t), 0.05 * np.cos(0.5 * t)]) + rng.normal(0, 0.01, (count, 3))
    quats = Rotation.from_euler("zyx", euler).as_quat(scalar_first=True)
    stamps = t0_ns + np.round(t * NS).astype(np.int64)
    return Trajectory(stamps, positions, quats, name="gt", frame_id=Frame.MAP.value)


def noisy(
    truth: Trajectory, *, seed: int = 1, sigma_m: float = 0.3, sigma_rad: float = 0.05, name: str = "est"
) -> Trajectory:
    """``truth`` with random position and orientation errors (same stamps)."""
    rng = np.random.default_rng(seed)
    positions = truth.positions_xyz + rng.normal(0, sigma_m, truth.positions_xyz.shape)
    rotations = Rotation.from_rotvec(rng.normal(0, sigma_rad, (truth.num_poses, 3))) * truth.rotations()
    return Trajectory(
        truth.stamps_ns, positions, rotations.as_quat(scalar_first=True), name=name, frame_id=truth.frame_id
    )


def _default(store: Typestore, typename: str) -> Any:
    _, fields = store.fielddefs[typename]
    return store.types[typename](**{name: _zero(store, desc) for name, desc in fields})


def _zero(store: Typestore, desc: tuple[Any, Any]) -> Any:
    kind, detail = desc
    if kind == Nodetype.NAME:
        return _default(store, detail)
    if kind == Nodetype.BASE:
        return _ZERO_OF_BASE.get(detail[0], 0)
    (inner_kind, inner), length = detail
    if inner_kind == Nodetype.BASE and inner[0] not in ("string", "bool"):
        return np.zeros(length if kind == Nodetype.ARRAY else 0, dtype=np.dtype(inner[0]))
    return [_zero(store, (inner_kind, inner)) for _ in range(length if kind == Nodetype.ARRAY else 0)]


def _time(store: Typestore, stamp_ns: int) -> Any:
    sec, nanosec = divmod(int(stamp_ns), NS)
    return store.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)


@dataclass(frozen=True)
class BagMsg:
    """One message to write: topic, type, receive stamp, serialised CDR."""

    topic: str
    msg_type: str
    stamp_ns: int
    cdr: bytes


class MessageFactory:
    """CDR of the messages the evaluation reads."""

    def __init__(self) -> None:
        self.store = onboard_typestore()

    def build(self, typename: str) -> Any:
        """A message of ``typename`` with every field zero (then set what matters)."""
        return _default(self.store, typename)

    def odometry(self, topic: str, trajectory: Trajectory, *, frame_id: str | None = None) -> list[BagMsg]:
        """One nav_msgs/Odometry per pose, received 1 ms after its header stamp."""
        msg_type = topic_spec(Topic.GROUND_TRUTH).msg_type
        out = []
        for stamp, p, q in zip(
            trajectory.stamps_ns.tolist(), trajectory.positions_xyz, trajectory.orientations_quat_wxyz, strict=True
        ):
            msg = self.build(msg_type)
            msg.header.stamp = _time(self.store, stamp)
            msg.header.frame_id = frame_id if frame_id is not None else trajectory.frame_id
            msg.child_frame_id = Frame.BASE_LINK.value
            pos, ori = msg.pose.pose.position, msg.pose.pose.orientation
            pos.x, pos.y, pos.z = (float(v) for v in p)
            ori.w, ori.x, ori.y, ori.z = (float(v) for v in q)
            out.append(BagMsg(topic, msg_type, stamp + 1_000_000, bytes(self.store.serialize_cdr(msg, msg_type))))
        return out

    def phase(self, start_ns: int, end_ns: int, kind: int, name: str = "") -> BagMsg:
        """One onboard/msg/ScenarioPhase window."""
        msg_type = topic_spec(Topic.SCENARIO_PHASE).msg_type
        msg = self.build(msg_type)
        msg.header.stamp = _time(self.store, start_ns)
        msg.header.frame_id = Frame.MAP.value
        msg.end = _time(self.store, end_ns)
        msg.kind = kind
        msg.name = name
        cdr = bytes(self.store.serialize_cdr(msg, msg_type))
        return BagMsg(Topic.SCENARIO_PHASE.value, msg_type, start_ns, cdr)

    def status(self, stamps_ns: Sequence[int], sources: Sequence[int], trusts: Sequence[int]) -> list[BagMsg]:
        """onboard/msg/EstimatorStatus messages with the given labels."""
        msg_type = topic_spec(Topic.STATE_STATUS).msg_type
        out = []
        for stamp, source, trust in zip(stamps_ns, sources, trusts, strict=True):
            msg = self.build(msg_type)
            msg.header.stamp = _time(self.store, stamp)
            msg.header.frame_id = Frame.MAP.value
            msg.source, msg.gnss_trust = source, trust
            cdr = bytes(self.store.serialize_cdr(msg, msg_type))
            out.append(BagMsg(Topic.STATE_STATUS.value, msg_type, stamp, cdr))
        return out


def write_eval_bag(
    path: Path, messages: Iterable[BagMsg], storage: str = "mcap", *, extra_topics: Sequence[str] = ()
) -> Path:
    """Write ``messages`` (any order) into a new rosbag2 directory; topics offer their declared QoS.
    ``extra_topics`` (odometry) are recorded with no message, as a recorder that heard no publisher."""
    store = onboard_typestore()
    by_name = {t.value: t for t in Topic}
    with Writer(path, version=9, storage_plugin=STORAGES[storage]) as writer:
        connections: dict[tuple[str, str], Any] = {}
        for topic in extra_topics:
            writer.add_connection(topic, topic_spec(Topic.GROUND_TRUTH).msg_type, typestore=store)
        for msg in sorted(messages, key=lambda m: m.stamp_ns):
            key = (msg.topic, msg.msg_type)
            if key not in connections:
                offered = [to_rosbag_qos(topic_spec(by_name[msg.topic]).qos)] if msg.topic in by_name else []
                connections[key] = writer.add_connection(
                    msg.topic, msg.msg_type, typestore=store, offered_qos_profiles=offered
                )
            writer.write(connections[key], msg.stamp_ns, msg.cdr)
    return path
