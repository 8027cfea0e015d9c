"""Publishers and subscriptions of a node, created from its graph declaration."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.subscription import Subscription

from gps_denied_onboard.graph.nodes import NodeSpec
from gps_denied_onboard.graph.topics import Topic, topic_spec
from gps_denied_onboard.ros.msg_types import message_class
from gps_denied_onboard.ros.qos import qos_profile


class GraphInterface:
    """Attaches to a node the publishers and subscriptions its NodeSpec declares.

    Subscriptions without a handler only count what arrives, so a node whose core has
    not landed still shows its real interface on the graph without inventing outputs.
    """

    def __init__(
        self,
        node: Node,
        spec: NodeSpec,
        handlers: Mapping[Topic, Callable[[Any], None]] | None = None,
    ) -> None:
        handlers = handlers or {}
        self.spec = spec
        self.received: Counter[Topic] = Counter()
        self.publishers: dict[Topic, Publisher] = {}
        self.subscriptions: dict[Topic, Subscription] = {}
        for topic in spec.publishes:
            declared = topic_spec(topic)
            self.publishers[topic] = node.create_publisher(
                message_class(declared.msg_type), declared.name, qos_profile(declared.qos)
            )
        for topic in spec.subscribes:
            declared = topic_spec(topic)
            self.subscriptions[topic] = node.create_subscription(
                message_class(declared.msg_type),
                declared.name,
                self._counting(topic, handlers.get(topic)),
                qos_profile(declared.qos),
            )

    def _counting(self, topic: Topic, handler: Callable[[Any], None] | None) -> Callable[[Any], None]:
        def on_message(msg: Any) -> None:
            self.received[topic] += 1
            if handler is not None:
                handler(msg)

        return on_message
