"""What the evaluation reads from a rosbag2 bag (MCAP or sqlite3): odometry topics as trajectories,
scenario phase windows and the estimator's status series. Pure: rosbags, no rclpy.

The bag is opened with replay's reader (one place that turns every storage parser failure
into a typed error); messages are decoded with the onboard typestore. Stamps are the
messages' header stamps, as evo uses them, not the recorder's receive times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

from gps_denied_onboard.evaluation.errors import (
    BagNotFoundError,
    BagReadError,
    EvaluationError,
    TopicMissingError,
    TopicTypeError,
)
from gps_denied_onboard.evaluation.phases import PhaseWindow, StatusSeries, phase_kind
from gps_denied_onboard.evaluation.trajectory import Trajectory
from gps_denied_onboard.graph import Topic, topic_spec
from gps_denied_onboard.replay import bag as replay_bag
from gps_denied_onboard.replay import errors as replay_errors
from gps_denied_onboard.rosbag_types import shared_typestore

logger = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
ODOMETRY_TYPE = topic_spec(Topic.GROUND_TRUTH).msg_type  # nav_msgs/msg/Odometry, like every estimate topic
PHASE_TYPE = topic_spec(Topic.SCENARIO_PHASE).msg_type
STATUS_TYPE = topic_spec(Topic.STATE_STATUS).msg_type

T = TypeVar("T")


def _stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


class EvalBag:
    """An open bag for evaluation. A context manager; every failure is a typed EvaluationError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._bag = replay_bag.Bag(path)
        except replay_errors.BagNotFoundError as exc:
            raise BagNotFoundError(str(exc)) from exc
        except replay_errors.ReplayError as exc:
            raise BagReadError(str(exc)) from exc
        self.topic_types = {t.name: t.msg_types for t in self._bag.topics}
        self.topic_counts = {t.name: t.count for t in self._bag.topics}

    def missing_reason(self, topic: str) -> str | None:
        """Why ``topic`` cannot be read (``"not in bag"``, ``"no messages"``), or None when it has messages."""
        if topic not in self.topic_types:
            return "not in bag"
        return "no messages" if self.topic_counts[topic] == 0 else None

    def _check(self, topic: str, msg_type: str) -> None:
        if (reason := self.missing_reason(topic)) is not None:
            raise TopicMissingError(
                f"topic {topic} is {'not in' if reason == 'not in bag' else 'empty in'} bag {self.path}; "
                f"it has {sorted(name for name, count in self.topic_counts.items() if count)}"
            )
        if self.topic_types[topic] != (msg_type,):
            raise TopicTypeError(
                f"topic {topic} in bag {self.path} is {', '.join(self.topic_types[topic])}, not {msg_type}"
            )

    def _decoded(self, topic: str, msg_type: str, convert: Callable[[Any], T]) -> Iterator[T]:
        store = shared_typestore()
        if msg_type not in store.types:
            raise TopicTypeError(f"message type {msg_type} of topic {topic} is unknown here (onboard .msg not found)")
        messages = self._bag.messages(replay_bag.Window(), topics=[topic])
        index = 0
        while True:
            try:
                message = next(messages)
            except StopIteration:
                return
            except replay_errors.ReplayError as exc:
                raise BagReadError(str(exc)) from exc
            try:
                yield convert(store.deserialize_cdr(message.cdr, msg_type))
            except EvaluationError:  # a decoded value the evaluation refuses (an unknown phase kind)
                raise
            except Exception as exc:  # rosbags' CDR decoder raises whatever a bad byte trips
                raise BagReadError(
                    f"cannot decode message {index} of {topic} (bag stamp {message.stamp_ns} ns) in bag "
                    f"{self.path} as {msg_type}: {type(exc).__name__}: {exc}"
                ) from exc
            index += 1

    def read_odometry(self, topic: str) -> Trajectory:
        """The nav_msgs/Odometry topic ``topic`` as a trajectory (header stamps, pose.pose)."""
        self._check(topic, ODOMETRY_TYPE)

        def convert(msg: Any) -> tuple[int, str, tuple[float, ...]]:
            p, q = msg.pose.pose.position, msg.pose.pose.orientation
            return _stamp_ns(msg.header.stamp), str(msg.header.frame_id), (p.x, p.y, p.z, q.w, q.x, q.y, q.z)

        rows = list(self._decoded(topic, ODOMETRY_TYPE, convert))
        frames = sorted({frame for _, frame, _ in rows})
        if len(frames) > 1:
            logger.warning("%s in %s: header frame_id changes between %s; using the first", topic, self.path, frames)
        poses = np.array([pose for _, _, pose in rows], dtype=np.float64)
        return Trajectory.from_unsorted(
            np.array([stamp for stamp, _, _ in rows], dtype=np.int64),
            poses[:, :3],
            poses[:, 3:],
            name=topic,
            frame_id=rows[0][1],
        )

    def read_phases(self, topic: str = Topic.SCENARIO_PHASE.value) -> tuple[PhaseWindow, ...]:
        """The scenario's event windows in start order; none when the bag has no phase topic."""
        if self.missing_reason(topic) is not None:
            return ()
        self._check(topic, PHASE_TYPE)

        def convert(msg: Any) -> PhaseWindow:
            return PhaseWindow(
                kind=phase_kind(int(msg.kind)),
                start_ns=_stamp_ns(msg.header.stamp),
                end_ns=_stamp_ns(msg.end),
                name=str(msg.name),
            )

        return tuple(sorted(self._decoded(topic, PHASE_TYPE, convert), key=lambda w: (w.start_ns, w.end_ns)))

    def read_status(self, topic: str = Topic.STATE_STATUS.value) -> StatusSeries | None:
        """The estimator's source and GNSS trust labels over time; None when the bag has no status topic."""
        if self.missing_reason(topic) is not None:
            return None
        self._check(topic, STATUS_TYPE)

        def convert(msg: Any) -> tuple[int, int, int]:
            return _stamp_ns(msg.header.stamp), int(msg.source), int(msg.gnss_trust)

        rows = np.array(list(self._decoded(topic, STATUS_TYPE, convert)), dtype=np.int64).reshape(-1, 3)
        return StatusSeries.from_unsorted(rows[:, 0], rows[:, 1], rows[:, 2])

    def close(self) -> None:
        """Close the bag (idempotent)."""
        self._bag.close()

    def __enter__(self) -> EvalBag:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
