"""ROS stamps <-> integer nanoseconds, the time type of every core."""

from __future__ import annotations

from typing import Any

from rclpy.time import Time

NS_PER_S = 1_000_000_000


def stamp_ns(header: Any) -> int:
    """Nanoseconds of a std_msgs/Header's stamp."""
    return int(header.stamp.sec) * NS_PER_S + int(header.stamp.nanosec)


def time_msg(t_ns: int) -> Any:
    """builtin_interfaces/Time of integer nanoseconds."""
    return Time(nanoseconds=t_ns).to_msg()
