"""vio_node: ROS 2 adapter of the visual-inertial odometry (C1).

The component's core has not landed yet: the node shows its declared interface and
publishes nothing (see PendingComponentNode).
"""

from __future__ import annotations

from gps_denied_onboard.ros.pending import pending_factory, pending_main

main = pending_main("vio_node")
make_node = pending_factory("vio_node")
