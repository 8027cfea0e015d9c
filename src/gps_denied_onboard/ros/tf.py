"""TF of the graph: map->odom, odom->base_link and the static base_link->camera, through tf2_ros.

tf2_ros is not on PyPI. Where it cannot be imported the helper says so once per node at INFO and
every send is a no-op, so the same node runs on a PyPI-only machine and on a ROS distro.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import Pose, Transform, TransformStamped
from rclpy.clock import Clock
from rclpy.node import Node
from rclpy.time import Time

from gps_denied_onboard.geometry.transforms import Pose3
from gps_denied_onboard.graph.frames import Frame

TF_UNAVAILABLE_MESSAGE = "tf2_ros not installed: TF (map->odom->base_link) is not broadcast"


def _stamp_msg(stamp: Time | TimeMsg) -> TimeMsg:
    return stamp.to_msg() if isinstance(stamp, Time) else stamp


def pose3_to_transform_stamped(pose: Pose3, stamp: Time | TimeMsg, parent: Frame, child: Frame) -> TransformStamped:
    """TransformStamped of T_parent_child (``pose``) at ``stamp``."""
    msg = TransformStamped()
    msg.header.stamp = _stamp_msg(stamp)
    msg.header.frame_id = parent.value
    msg.child_frame_id = child.value
    t, q = msg.transform.translation, msg.transform.rotation
    t.x, t.y, t.z = pose.translation_xyz
    q.w, q.x, q.y, q.z = pose.quat_wxyz
    return msg


def pose3_from_transform(msg: Transform | TransformStamped) -> Pose3:
    """Pose3 of a Transform or TransformStamped; raises InvalidPoseError on a bad quaternion or NaN."""
    transform = msg.transform if isinstance(msg, TransformStamped) else msg
    t, q = transform.translation, transform.rotation
    return Pose3((t.x, t.y, t.z), (q.w, q.x, q.y, q.z))


def pose3_to_pose_msg(pose: Pose3) -> Pose:
    """geometry_msgs/Pose of ``pose``."""
    msg = Pose()
    p, q = msg.position, msg.orientation
    p.x, p.y, p.z = pose.translation_xyz
    q.w, q.x, q.y, q.z = pose.quat_wxyz
    return msg


def pose3_from_pose_msg(msg: Pose) -> Pose3:
    """Pose3 of a geometry_msgs/Pose; raises InvalidPoseError on a bad quaternion or NaN."""
    p, q = msg.position, msg.orientation
    return Pose3((p.x, p.y, p.z), (q.w, q.x, q.y, q.z))


class TfBroadcaster:
    """Broadcasts the graph's transforms for one node; attach it, never subclass the node.

    ``attach`` returns the node's existing helper if it has one, so the INFO line about a
    missing tf2_ros is said once per node however many parts of the node attach.
    """

    _attached: ClassVar[WeakKeyDictionary[Node, TfBroadcaster]] = WeakKeyDictionary()

    def __init__(self, clock: Clock, dynamic: Any | None, static: Any | None, unavailable_reason: str | None) -> None:
        # No reference to the node itself: the registry above must not keep a destroyed node alive.
        self._clock = clock
        self._dynamic = dynamic
        self._static = static
        self.unavailable_reason = unavailable_reason

    @classmethod
    def attach(cls, node: Node) -> TfBroadcaster:
        """The TF helper of ``node``, created on first use."""
        helper = cls._attached.get(node)
        if helper is None:
            helper = cls._create(node)
            cls._attached[node] = helper
        return helper

    @classmethod
    def _create(cls, node: Node) -> TfBroadcaster:
        try:
            tf2_ros = importlib.import_module("tf2_ros")
        except ImportError as exc:
            if exc.name == "tf2_ros":
                reason = TF_UNAVAILABLE_MESSAGE
                node.get_logger().info(reason)
            else:  # installed but broken (e.g. tf2_msgs missing): a fault worth a warning
                reason = f"tf2_ros cannot be imported ({exc}): TF (map->odom->base_link) is not broadcast"
                node.get_logger().warning(reason)
            return cls(node.get_clock(), None, None, reason)
        return cls(node.get_clock(), tf2_ros.TransformBroadcaster(node), tf2_ros.StaticTransformBroadcaster(node), None)

    @property
    def available(self) -> bool:
        """Whether transforms are really broadcast (tf2_ros imported)."""
        return self._dynamic is not None

    def send_map_to_odom(self, stamp: Time | TimeMsg, T_map_odom: Pose3) -> None:
        """Broadcast map->odom: the estimator's correction of the VIO drift."""
        if self._dynamic is not None:
            self._dynamic.sendTransform(pose3_to_transform_stamped(T_map_odom, stamp, Frame.MAP, Frame.ODOM))

    def send_odom_to_base(self, stamp: Time | TimeMsg, T_odom_base: Pose3) -> None:
        """Broadcast odom->base_link: the VIO pose."""
        if self._dynamic is not None:
            self._dynamic.sendTransform(pose3_to_transform_stamped(T_odom_base, stamp, Frame.ODOM, Frame.BASE_LINK))

    def send_static_base_to_camera(self, T_base_camera: Pose3) -> None:
        """Latch base_link->camera (the camera mount) on /tf_static, stamped now."""
        if self._static is not None:
            self._static.sendTransform(
                pose3_to_transform_stamped(T_base_camera, self._clock.now(), Frame.BASE_LINK, Frame.CAMERA)
            )
