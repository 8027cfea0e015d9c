"""ros2 launch onboard flight.launch.py: the five nodes of the graph, from its declaration.

Needs `launch` and `launch_ros` (any ROS 2 distro install; not on PyPI). Where they are
missing, the project's own launcher starts the same graph.
"""

from __future__ import annotations

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from gps_denied_onboard.graph import NODES


def generate_launch_description() -> LaunchDescription:
    """One launch_ros Node per declared node, all reading the same parameter file."""
    default_config = str(Path(get_package_share_directory("onboard")) / "config" / "flight.yaml")
    arguments = [
        DeclareLaunchArgument("config", default_value=default_config, description="ROS 2 parameter file"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of every node"),
        DeclareLaunchArgument("log_level", default_value="info", description="rcutils log level"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="follow /clock (replay)"),
    ]
    nodes = [
        Node(
            package="onboard",
            executable=spec.executable,
            name=spec.name,
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("config"), {"use_sim_time": LaunchConfiguration("use_sim_time")}],
            arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
            output="screen",
        )
        for spec in NODES
    ]
    return LaunchDescription([*arguments, *nodes])
