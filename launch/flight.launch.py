"""ros2 launch onboard flight.launch.py: the flight graph, from its one declaration.

Arguments: config, fdr_root, namespace, log_level, use_sim_time — the same as
`onboard launch flight`, which starts the same processes where `launch` is not installed.
Each node comes from gps_denied_onboard.graph.NODES (executable, parameter file,
remappings); the recorder is declared first so it is up before anyone else talks.
"""

from __future__ import annotations

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from gps_denied_onboard.bringup.plan import LOG_LEVELS
from gps_denied_onboard.graph.nodes import start_order

ARGUMENTS = {
    "config": "ROS 2 parameter file (default: the installed config/flight.yaml)",
    "fdr_root": "flight data recorder root directory (empty: the default data root)",
    "namespace": "namespace of every node",
    "log_level": f"rcutils log level: {', '.join(LOG_LEVELS)}",
    "use_sim_time": "follow /clock (bag replay)",
}


def generate_launch_description() -> LaunchDescription:
    """One launch_ros Node per declared node, in start order, all reading the same parameter file."""
    share = Path(get_package_share_directory("onboard"))
    flight_yaml = str(share / "config" / "flight.yaml")
    defaults = {"config": flight_yaml, "fdr_root": "", "namespace": "", "log_level": "info", "use_sim_time": "false"}
    arguments = [
        DeclareLaunchArgument(name, default_value=defaults[name], description=text) for name, text in ARGUMENTS.items()
    ]
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    nodes = []
    for spec in start_order():
        overrides: dict[str, object] = {"use_sim_time": use_sim_time}
        if spec.name == "fdr_node":
            overrides["fdr_root"] = LaunchConfiguration("fdr_root")
        nodes.append(
            Node(
                package="onboard",
                executable=spec.executable,
                name=spec.name,
                namespace=LaunchConfiguration("namespace"),
                parameters=[LaunchConfiguration("config"), overrides],
                remappings=list(spec.remappings),
                arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
                output="screen",
                sigterm_timeout="10",
            )
        )
    return LaunchDescription([*arguments, *nodes])
