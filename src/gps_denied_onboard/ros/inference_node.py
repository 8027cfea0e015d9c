"""inference_node: ROS 2 adapter of the map-matching inference (C7).

The component's core has not landed yet: the node shows its declared interface and
publishes nothing (see PendingComponentNode).
"""

from __future__ import annotations

from gps_denied_onboard.ros.pending import pending_factory, pending_main

main = pending_main("inference_node")
make_node = pending_factory("inference_node")
