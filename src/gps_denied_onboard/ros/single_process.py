"""`onboard launch flight --single-process`: every node of the graph in one process.

The same ``--ros-args`` as the multi-process launch, given per node; a MultiThreadedExecutor
spins them all. On SIGINT/SIGTERM the nodes are destroyed in stop order, the recorder last.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.utilities import ok, try_shutdown

from gps_denied_onboard.bringup.plan import LaunchArgs, ros_arguments
from gps_denied_onboard.graph.nodes import NODES, NodeSpec, start_order
from gps_denied_onboard.ros.entrypoint import EXIT_OK, NodeStartupError


def make(spec: NodeSpec, cli_args: list[str]) -> Node:
    """Build node ``spec`` from its module's make_node()."""
    module = importlib.import_module(f"gps_denied_onboard.ros.{spec.name}")
    node: Node = module.make_node(cli_args=cli_args)
    return node


def run_in_process(args: LaunchArgs, overlay: Path, nodes: tuple[NodeSpec, ...] = NODES) -> int:
    """Run the graph in this process until SIGINT/SIGTERM; return the exit code."""
    rclpy.init()
    started: list[Node] = []
    executor = MultiThreadedExecutor()
    try:
        for spec in start_order(nodes):
            node = make(spec, ros_arguments(spec, args, overlay))
            started.append(node)
            executor.add_node(node)
        if ok():  # a stop during the start has already shut the context down
            executor.spin()
    except NodeStartupError as exc:
        rclpy.logging.get_logger("onboard").fatal(str(exc))
        return exc.exit_code
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if ok():
            raise
        # SIGINT/SIGTERM shut the context down between the executor's checks (it then fails to
        # build its wait set on the dead context): that is the stop taking effect, not a fault.
    finally:
        executor.shutdown()
        for node in reversed(started):  # stop order: the recorder, started first, goes last
            node.destroy_node()
        try_shutdown()
    return EXIT_OK
