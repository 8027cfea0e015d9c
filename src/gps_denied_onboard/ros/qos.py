"""Conversion of the graph's pure QoS declarations into rclpy QoSProfile objects."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from gps_denied_onboard.graph.qos import Durability, QosSpec, Reliability
from gps_denied_onboard.graph.topics import Topic, topic_spec

_RELIABILITY = {
    Reliability.RELIABLE: ReliabilityPolicy.RELIABLE,
    Reliability.BEST_EFFORT: ReliabilityPolicy.BEST_EFFORT,
}
_DURABILITY = {
    Durability.VOLATILE: DurabilityPolicy.VOLATILE,
    Durability.TRANSIENT_LOCAL: DurabilityPolicy.TRANSIENT_LOCAL,
}


def qos_profile(spec: QosSpec) -> QoSProfile:
    """Return the rclpy profile for a declared QoS spec."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=spec.depth,
        reliability=_RELIABILITY[spec.reliability],
        durability=_DURABILITY[spec.durability],
    )


def topic_qos(topic: Topic) -> QoSProfile:
    """Return the rclpy profile declared for ``topic``."""
    return qos_profile(topic_spec(topic).qos)


def reliability_of(profile: QoSProfile) -> Reliability:
    """The pure reliability of an rclpy profile (anything not best effort counts as reliable)."""
    return Reliability.BEST_EFFORT if profile.reliability == ReliabilityPolicy.BEST_EFFORT else Reliability.RELIABLE


def durability_of(profile: QoSProfile) -> Durability:
    """The pure durability of an rclpy profile (anything not transient local counts as volatile)."""
    return Durability.TRANSIENT_LOCAL if profile.durability == DurabilityPolicy.TRANSIENT_LOCAL else Durability.VOLATILE
