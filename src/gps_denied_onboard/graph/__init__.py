"""The one declaration of the ROS graph: topics, message types, QoS, frames and nodes.

Pure data, no rclpy: nodes, the launcher, the FDR and the tests all read it from here.
"""

from gps_denied_onboard.graph.frames import Frame
from gps_denied_onboard.graph.nodes import NODES, NodeSpec, node_spec
from gps_denied_onboard.graph.qos import Durability, QosSpec, Reliability
from gps_denied_onboard.graph.topics import SIMULATOR_ONLY, TOPICS, Topic, TopicSpec, topic_spec

__all__ = [
    "NODES",
    "SIMULATOR_ONLY",
    "TOPICS",
    "Durability",
    "Frame",
    "NodeSpec",
    "QosSpec",
    "Reliability",
    "Topic",
    "TopicSpec",
    "node_spec",
    "topic_spec",
]
