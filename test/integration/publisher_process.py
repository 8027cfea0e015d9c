"""Child process: publish one onboard message with the QoS the graph declares for its topic.

Usage: python publisher_process.py TOPIC_ENUM_NAME COUNT
Prints READY once the publisher exists, then publishes COUNT messages (one per 100 ms,
tagging header.frame_id with the sequence number) while matched subscribers appear, and
stays alive until killed so transient-local samples remain available.
"""

from __future__ import annotations

import sys
import time

import rclpy

from gps_denied_onboard.graph import Topic, topic_spec
from gps_denied_onboard.ros.msg_types import message_class
from gps_denied_onboard.ros.qos import qos_profile


def main() -> int:
    topic = Topic[sys.argv[1]]
    count = int(sys.argv[2])
    spec = topic_spec(topic)
    rclpy.init()
    node = rclpy.create_node("test_publisher_process")
    publisher = node.create_publisher(message_class(spec.msg_type), spec.name, qos_profile(spec.qos))
    print("READY", flush=True)
    for seq in range(count):
        msg = message_class(spec.msg_type)()
        msg.header.frame_id = f"seq-{seq}"
        publisher.publish(msg)
        time.sleep(0.1)
    print("PUBLISHED", flush=True)
    try:
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
