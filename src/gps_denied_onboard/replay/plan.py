"""What a replay publishes and how: one publisher per bag topic with its QoS, /clock, the topics
skipped and why, and the subscribers to wait for. Pure decisions, no rclpy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from gps_denied_onboard.graph.nodes import NODES, NodeSpec
from gps_denied_onboard.graph.qos import Durability, QosSpec, Reliability
from gps_denied_onboard.graph.topics import TOPICS
from gps_denied_onboard.replay.bag import BagTopic, Window, is_topic_name
from gps_denied_onboard.replay.errors import BadRemapError, ReplayError

CLOCK_TOPIC = "/clock"
# /clock is offered reliable although rosbag2's player offers rclcpp's ClockQoS (best effort, depth 1):
# a reliable offer still matches the best-effort readers that follow sim time (rclpy's TimeSource,
# rclcpp's ClockQoS), and a reliable reader (a recorder adapting to it, a test) then gets every tick,
# where a best-effort offer would not match it at all. Volatile: a late joiner must not start at a
# stale time. KEEP_LAST never blocks the replay; the depth is raised like a reliable topic's (below).
CLOCK_QOS = QosSpec("replay_clock", Reliability.RELIABLE, Durability.VOLATILE, 100)
# A topic neither declared by the graph nor recorded with QoS (rosbag2 < v4): rmw's default profile.
DEFAULT_QOS = QosSpec("rmw_default", Reliability.RELIABLE, Durability.VOLATILE, 10)
# A reliable KEEP_LAST writer overwrites samples not yet acknowledged; a history as deep as the
# window lets a fast replay (--rate 0) outrun its readers without losing any. Capped for memory.
MAX_HISTORY_DEPTH = 10_000
DEFAULT_WAIT_FOR_SUBSCRIBERS_S = 2.0
DEFAULT_QUIET_S = 0.02

SKIP_CLOCK = "the replayer publishes /clock from the bag stamps; `--remap /clock:=/bag/clock` replays the recorded one"
SKIP_EMPTY = "no messages in the window"

_DECLARED_QOS = {spec.name: spec.qos for spec in TOPICS}


@dataclass(frozen=True)
class ReplayOptions:
    """Everything a replay is asked to do, validated."""

    bag: Path
    rate: float | None = 1.0  # real-time factor; None: as fast as possible (ignored when deterministic)
    window: Window = field(default_factory=Window)
    remaps: Mapping[str, str] = field(default_factory=dict)  # bag topic -> published topic
    wait_for_subscribers_s: float = DEFAULT_WAIT_FOR_SUBSCRIBERS_S
    deterministic: bool = False
    quiet_s: float = DEFAULT_QUIET_S  # deterministic: no callback ready for this long = the graph is idle

    def __post_init__(self) -> None:
        if not math.isfinite(self.wait_for_subscribers_s) or self.wait_for_subscribers_s < 0:
            raise ReplayError(
                f"--wait-for-subscribers must be a finite number of seconds >= 0, got {self.wait_for_subscribers_s}"
            )
        if not math.isfinite(self.quiet_s) or self.quiet_s <= 0:
            raise ReplayError(f"--quiet-period must be a finite number of seconds > 0, got {self.quiet_s}")


@dataclass(frozen=True)
class TopicPlan:
    """One replayed topic: its name in the bag and as published, its type, QoS, and messages in the window."""

    bag_topic: str
    topic: str
    msg_type: str
    qos: QosSpec
    count: int


@dataclass(frozen=True)
class ReplayPlan:
    """The publishers of a replay, and the bag topics left out with the reason for each."""

    topics: tuple[TopicPlan, ...]
    skipped: Mapping[str, str]  # bag topic -> reason
    clock_qos: QosSpec


def agreed_offer(offered: Sequence[QosSpec]) -> QosSpec | None:
    """The recorded publishers' QoS when they agree on reliability and durability (the deepest depth),
    else None: like ``ros2 bag play``, disagreeing offers fall back to the default profile."""
    if not offered or len({(q.reliability, q.durability) for q in offered}) != 1:
        return None
    return max(offered, key=lambda q: q.depth)


def deep_history(qos: QosSpec, count: int) -> QosSpec:
    """A reliable profile whose history holds ``count`` messages (at most MAX_HISTORY_DEPTH). A
    transient-local late joiner then receives the history replayed so far, as it would have live."""
    if qos.reliability is not Reliability.RELIABLE:
        return qos
    return replace(qos, depth=max(qos.depth, min(count, MAX_HISTORY_DEPTH)))


def publish_qos(topic: str, offered: Sequence[QosSpec], count: int) -> QosSpec:
    """The QoS ``topic`` is replayed with: the graph's declaration for a declared topic, else the QoS
    its recorded publishers agreed on, else rmw's default; reliable ones with a deep history."""
    base = _DECLARED_QOS.get(topic) or agreed_offer(offered) or DEFAULT_QOS
    return deep_history(base, count)


def plan_topics(topics: Sequence[BagTopic], outputs: Mapping[str, str], counts: Mapping[str, int]) -> ReplayPlan:
    """Publishers for the bag's ``topics`` published under ``outputs`` (bag name -> published name),
    with ``counts`` messages each in the window. Topics that cannot be replayed are skipped with a reason."""
    planned: list[TopicPlan] = []
    skipped: dict[str, str] = {}
    for topic in topics:
        output = outputs.get(topic.name, topic.name)
        count = counts.get(topic.name, 0)
        if output == CLOCK_TOPIC and topic.name != CLOCK_TOPIC:
            raise BadRemapError(f"cannot remap {topic.name} onto {CLOCK_TOPIC}: the replayer publishes {CLOCK_TOPIC}")
        if output == CLOCK_TOPIC:
            skipped[topic.name] = SKIP_CLOCK
        elif not is_topic_name(output):
            skipped[topic.name] = "not a valid ROS 2 topic name"
        elif len(topic.msg_types) != 1:
            skipped[topic.name] = f"{len(topic.msg_types)} message types on one topic: {list(topic.msg_types)}"
        elif count == 0:
            skipped[topic.name] = SKIP_EMPTY
        else:
            qos = publish_qos(output, topic.offered_qos, count)
            planned.append(TopicPlan(topic.name, output, topic.msg_types[0], qos, count))
    clock = deep_history(CLOCK_QOS, sum(p.count for p in planned))
    return ReplayPlan(tuple(planned), skipped, clock)


def expected_subscribers(topic: str, nodes: Sequence[NodeSpec] = NODES, *, sim_time: bool = True) -> int:
    """Subscriptions the declared ``nodes``, run in one process, make on ``topic``: its declared
    subscribers (after their remappings), the recorder (it subscribes to every topic), and, on
    /clock, each node's time source when the nodes follow sim time."""
    count = 0
    for spec in nodes:
        remaps = dict(spec.remappings)
        subscribed = {remaps.get(t.value, t.value) for t in spec.subscribes}
        if spec.subscribes_all or topic in subscribed:
            count += 1
        if sim_time and topic == CLOCK_TOPIC:
            count += 1
    return count
