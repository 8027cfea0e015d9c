"""The graph's pure QoS as rosbag2 stores a publisher's offer, and back (rosbags' Qos type).

The exporter writes offers so ``ros2 bag play`` re-offers latched topics as transient local;
the replay reader turns recorded offers into the QoS it publishes with.
"""

from __future__ import annotations

from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

from gps_denied_onboard.graph.qos import Durability, QosSpec, Reliability

RMW_DEFAULT_DEPTH = 10  # the depth rmw uses for KEEP_ALL or unset offers, and rosbag2's player default


def to_rosbag_qos(spec: QosSpec) -> Qos:
    """A declared QoS as rosbag2 stores a publisher's offer."""
    unset = QosTime(0, 0)  # rmw's "default": no deadline, lifespan or lease
    return Qos(
        history=QosHistory.KEEP_LAST,
        depth=spec.depth,
        reliability=QosReliability.RELIABLE if spec.reliability is Reliability.RELIABLE else QosReliability.BEST_EFFORT,
        durability=(
            QosDurability.TRANSIENT_LOCAL if spec.durability is Durability.TRANSIENT_LOCAL else QosDurability.VOLATILE
        ),
        deadline=unset,
        lifespan=unset,
        liveliness=QosLiveliness.AUTOMATIC,
        liveliness_lease_duration=unset,
        avoid_ros_namespace_conventions=False,
    )


def from_rosbag_qos(offer: Qos, name: str = "bag_offered") -> QosSpec:
    """A recorded publisher's offer as the graph's QoS (KEEP_ALL or depth 0: rmw's default depth)."""
    return QosSpec(
        name,
        Reliability.BEST_EFFORT if offer.reliability is QosReliability.BEST_EFFORT else Reliability.RELIABLE,
        Durability.TRANSIENT_LOCAL if offer.durability is QosDurability.TRANSIENT_LOCAL else Durability.VOLATILE,
        offer.depth if offer.depth >= 1 else RMW_DEFAULT_DEPTH,
    )
