"""TfBroadcaster on real rclpy nodes: one INFO line and no-op sends without tf2_ros, the graph's frames with it,
and the Pose3 <-> geometry_msgs conversions."""

from __future__ import annotations

import math
import sys
import time
import types
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")

from ros_helpers import spin_until, spinning

from gps_denied_onboard.geometry.errors import InvalidPoseError
from gps_denied_onboard.geometry.transforms import Pose3
from gps_denied_onboard.graph import Frame
from gps_denied_onboard.ros.tf import (
    TF_UNAVAILABLE_MESSAGE,
    TfBroadcaster,
    pose3_from_pose_msg,
    pose3_from_transform,
    pose3_to_pose_msg,
    pose3_to_transform_stamped,
)

MAP_ODOM = Pose3((12.0, -3.5, 0.25), (math.cos(0.1), 0.0, 0.0, math.sin(0.1)))
ODOM_BASE = Pose3((100.0, 40.0, 120.0), (math.cos(0.4), 0.0, 0.0, math.sin(0.4))).compose(
    Pose3((0.0, 0.0, 0.0), (math.cos(0.05), 0.0, math.sin(0.05), 0.0))  # yawed 46 degrees, pitched 6
)
# Downward optical frame: camera z (optical axis) = base -z, camera x (image right) = base -y.
BASE_CAMERA = Pose3((0.1, 0.0, -0.05), (0.0, 0.7071067811865476, -0.7071067811865476, 0.0))


def rosout_watcher(context: Any) -> tuple[Any, list[Any]]:
    """A node collecting /rosout; transient local, so it also gets lines logged before it matched."""
    import rclpy
    from rcl_interfaces.msg import Log
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    node = rclpy.create_node("rosout_watcher", context=context)
    lines: list[Any] = []
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=1000,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )
    node.create_subscription(Log, "/rosout", lines.append, qos)
    return node, lines


def test_without_tf2_ros_one_info_line_per_node_and_sends_are_no_ops(
    rclpy_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rclpy
    from rcl_interfaces.msg import Log

    monkeypatch.setitem(sys.modules, "tf2_ros", None)  # missing even where a distro provides it
    watcher, lines = rosout_watcher(rclpy_context)
    subject = rclpy.create_node("tf_subject", context=rclpy_context)
    other = rclpy.create_node("tf_other", context=rclpy_context)

    tf = TfBroadcaster.attach(subject)
    assert TfBroadcaster.attach(subject) is tf, "a second attach must reuse the node's helper"
    assert not tf.available
    assert tf.unavailable_reason == TF_UNAVAILABLE_MESSAGE
    assert not TfBroadcaster.attach(other).available
    for _ in range(100):
        tf.send_map_to_odom(subject.get_clock().now(), MAP_ODOM)
        tf.send_odom_to_base(subject.get_clock().now().to_msg(), ODOM_BASE)
        tf.send_static_base_to_camera(BASE_CAMERA)

    def said(name: str) -> list[Any]:
        return [m for m in lines if m.name == name and m.msg == TF_UNAVAILABLE_MESSAGE]

    with spinning(rclpy_context, watcher) as executor:
        assert spin_until(executor, lambda: said("tf_subject") and said("tf_other"), timeout_s=10), [
            (m.name, m.msg) for m in lines
        ]
        deadline = time.monotonic() + 0.5  # room for a duplicate to show up
        spin_until(executor, lambda: time.monotonic() > deadline, timeout_s=1)
    assert len(said("tf_subject")) == 1, "the line is said once per node, however often it attaches or sends"
    assert len(said("tf_other")) == 1, "each node says it (not once per process)"
    assert said("tf_subject")[0].level == Log.INFO
    assert subject.count_publishers("/tf") == 0
    assert subject.count_publishers("/tf_static") == 0
    for node in (watcher, subject, other):
        node.destroy_node()


class StubBroadcaster:
    """Stands in for tf2_ros.TransformBroadcaster / StaticTransformBroadcaster: records what is sent."""

    instances: list[StubBroadcaster]

    def __init__(self, node: Any) -> None:
        self.node = node
        self.sent: list[Any] = []
        self.instances.append(self)

    def sendTransform(self, transform: Any) -> None:  # noqa: N802 (tf2_ros' name)
        self.sent.append(transform)


def stub_tf2_ros() -> types.ModuleType:
    module = types.ModuleType("tf2_ros")
    module.TransformBroadcaster = type("TransformBroadcaster", (StubBroadcaster,), {"instances": []})  # type: ignore[attr-defined]
    module.StaticTransformBroadcaster = type("StaticTransformBroadcaster", (StubBroadcaster,), {"instances": []})  # type: ignore[attr-defined]
    return module


def test_with_tf2_ros_sends_the_graph_frames(rclpy_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import rclpy

    stub = stub_tf2_ros()
    monkeypatch.setitem(sys.modules, "tf2_ros", stub)
    node = rclpy.create_node("tf_stubbed", context=rclpy_context)
    tf = TfBroadcaster.attach(node)
    assert tf.available
    assert tf.unavailable_reason is None
    (dynamic,) = stub.TransformBroadcaster.instances
    (static,) = stub.StaticTransformBroadcaster.instances
    assert dynamic.node is node
    assert static.node is node

    stamp = node.get_clock().now()
    tf.send_map_to_odom(stamp, MAP_ODOM)
    tf.send_odom_to_base(stamp.to_msg(), ODOM_BASE)
    before_static = node.get_clock().now().nanoseconds
    tf.send_static_base_to_camera(BASE_CAMERA)

    sent = [(m.header.frame_id, m.child_frame_id, pose3_from_transform(m)) for m in dynamic.sent]
    assert [(parent, child) for parent, child, _ in sent] == [("map", "odom"), ("odom", "base_link")]
    assert sent[0][2].is_close(MAP_ODOM)
    assert sent[1][2].is_close(ODOM_BASE)
    assert all(m.header.stamp == stamp.to_msg() for m in dynamic.sent)
    (camera,) = static.sent
    assert (camera.header.frame_id, camera.child_frame_id) == ("base_link", "camera")
    assert pose3_from_transform(camera).is_close(BASE_CAMERA)
    assert camera.header.stamp.sec * 10**9 + camera.header.stamp.nanosec >= before_static
    node.destroy_node()


def test_broken_tf2_ros_is_a_warning_naming_the_cause(rclpy_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import rclpy

    real_import = importlib.import_module

    def import_module(name: str, package: str | None = None) -> Any:
        if name == "tf2_ros":
            raise ModuleNotFoundError("No module named 'tf2_msgs'", name="tf2_msgs")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", import_module)
    node = rclpy.create_node("tf_broken", context=rclpy_context)
    tf = TfBroadcaster.attach(node)
    assert not tf.available
    assert tf.unavailable_reason is not None
    assert "tf2_msgs" in tf.unavailable_reason
    tf.send_map_to_odom(node.get_clock().now(), MAP_ODOM)
    node.destroy_node()


def test_real_tf2_ros_buffer_resolves_map_to_camera(rclpy_context: Any) -> None:
    tf2_ros = pytest.importorskip("tf2_ros", reason="needs tf2_ros (not on PyPI)")
    import rclpy
    from rclpy.time import Time

    node = rclpy.create_node("tf_real", context=rclpy_context)
    listener_node = rclpy.create_node("tf_listener", context=rclpy_context)
    buffer = tf2_ros.Buffer()
    tf2_ros.TransformListener(buffer, listener_node)
    tf = TfBroadcaster.attach(node)
    assert tf.available
    tf.send_static_base_to_camera(BASE_CAMERA)
    with spinning(rclpy_context, node, listener_node) as executor:

        def resolved() -> bool:
            stamp = node.get_clock().now()
            tf.send_map_to_odom(stamp, MAP_ODOM)
            tf.send_odom_to_base(stamp, ODOM_BASE)
            return bool(buffer.can_transform("map", "camera", Time()))

        assert spin_until(executor, resolved, timeout_s=10), "map->camera never resolved from /tf and /tf_static"
    looked_up = pose3_from_transform(buffer.lookup_transform("map", "camera", Time()))
    assert looked_up.is_close(MAP_ODOM.compose(ODOM_BASE).compose(BASE_CAMERA), atol=1e-9)
    listener_node.destroy_node()
    node.destroy_node()


def test_transform_stamped_round_trip_keeps_frames_stamp_and_pose() -> None:
    from builtin_interfaces.msg import Time as TimeMsg

    stamp = TimeMsg(sec=1_700_000_000, nanosec=123_456_789)
    msg = pose3_to_transform_stamped(ODOM_BASE, stamp, Frame.ODOM, Frame.BASE_LINK)
    assert (msg.header.frame_id, msg.child_frame_id) == ("odom", "base_link")
    assert msg.header.stamp == stamp
    assert (msg.transform.rotation.w, msg.transform.rotation.x) == ODOM_BASE.quat_wxyz[:2]
    assert pose3_from_transform(msg) == ODOM_BASE
    assert pose3_from_transform(msg.transform) == ODOM_BASE


def test_pose_msg_round_trip() -> None:
    msg = pose3_to_pose_msg(BASE_CAMERA)
    q = msg.orientation
    assert (msg.position.x, msg.position.z, q.x, q.y, q.z, q.w) == (0.1, -0.05, *BASE_CAMERA.quat_wxyz[1:], 0.0)
    assert pose3_from_pose_msg(msg) == BASE_CAMERA


def test_bad_messages_raise_the_typed_error() -> None:
    from geometry_msgs.msg import Pose, Transform

    zero_rotation = Transform()
    zero_rotation.rotation.w = 0.0
    with pytest.raises(InvalidPoseError, match="not a unit quaternion"):
        pose3_from_transform(zero_rotation)
    nan_position = Pose()
    nan_position.position.y = math.nan
    with pytest.raises(InvalidPoseError, match="translation_xyz must be finite"):
        pose3_from_pose_msg(nan_position)
