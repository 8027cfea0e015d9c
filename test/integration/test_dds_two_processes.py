"""Two processes exchange custom onboard messages over DDS on loopback, with declared QoS."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")

from ros_helpers import spin_until, spinning, stop

from gps_denied_onboard.graph import Topic, topic_spec
from gps_denied_onboard.ros.msg_types import message_class
from gps_denied_onboard.ros.qos import qos_profile

PUBLISHER = Path(__file__).with_name("publisher_process.py")


def start_publisher(python: str, topic: Topic, count: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [python, str(PUBLISHER), topic.name, str(count)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "READY", f"publisher did not start: {line!r}"
    return proc


def subscriber(context: Any, topic: Topic) -> tuple[Any, list[Any]]:
    import rclpy

    spec = topic_spec(topic)
    node = rclpy.create_node("test_subscriber", context=context)
    received: list[Any] = []
    node.create_subscription(message_class(spec.msg_type), spec.name, received.append, qos_profile(spec.qos))
    return node, received


def test_geofix_crosses_processes_reliably(rclpy_context: Any, python_executable: str) -> None:
    node, received = subscriber(rclpy_context, Topic.GEOFIX)
    proc = start_publisher(python_executable, Topic.GEOFIX, count=30)
    try:
        with spinning(rclpy_context, node) as executor:
            assert spin_until(executor, lambda: len(received) >= 5, timeout_s=20), (
                f"received {len(received)} GeoFix messages across processes"
            )
        sequence = [int(m.header.frame_id.removeprefix("seq-")) for m in received]
        assert sequence == sorted(sequence), "reliable, single writer: delivery in publish order"
        assert type(received[0]).__module__.startswith("onboard.msg")
    finally:
        stop(proc)
        node.destroy_node()


def test_latched_status_reaches_a_late_subscriber(rclpy_context: Any, python_executable: str) -> None:
    """FdrStatus is transient local depth 1: a subscriber created after publishing gets the last one."""
    proc = start_publisher(python_executable, Topic.FDR_STATUS, count=3)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "PUBLISHED"
        node, received = subscriber(rclpy_context, Topic.FDR_STATUS)
        with spinning(rclpy_context, node) as executor:
            assert spin_until(executor, lambda: len(received) >= 1, timeout_s=20), (
                "late joiner got nothing: transient local durability is not in effect"
            )
            spin_until(executor, lambda: False, timeout_s=0.5)
        assert [m.header.frame_id for m in received] == ["seq-2"], "depth 1: only the last status is kept"
        node.destroy_node()
    finally:
        stop(proc)
