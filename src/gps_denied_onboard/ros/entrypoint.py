"""The common main() of every node executable: init, spin, clean exit on SIGINT/SIGTERM."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.utilities import try_shutdown


def run_node(factory: Callable[[], Node], args: Sequence[str] | None = None) -> int:
    """Create the node from ``factory`` and spin it until shutdown; return the exit code.

    rclpy's signal handlers turn SIGINT and SIGTERM into a context shutdown, which ends
    the spin with ExternalShutdownException (or KeyboardInterrupt): both are a clean exit.
    """
    rclpy.init(args=list(args) if args is not None else None)
    node: Node | None = None
    try:
        node = factory()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        try_shutdown()
    return 0
