"""The common main() of every node executable: init, spin, clean exit on SIGINT/SIGTERM.

Exit codes of every node executable:
    0  clean shutdown (SIGINT, SIGTERM, or the ROS context shut down)
    2  invalid parameters or configuration (the FATAL line names the parameter)
    3  a resource the node cannot run without is unavailable (e.g. the FDR cannot open its flight)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.utilities import ok, try_shutdown

from gps_denied_onboard.errors import OnboardError

EXIT_OK = 0
EXIT_BAD_CONFIG = 2
EXIT_UNAVAILABLE = 3


class NodeStartupError(OnboardError):
    """A node cannot start; ``exit_code`` is what its executable exits with."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_node(factory: Callable[[], Node], args: Sequence[str] | None = None) -> int:
    """Create the node from ``factory`` and spin it until shutdown; return the exit code.

    rclpy's signal handlers turn SIGINT and SIGTERM into a context shutdown, which ends
    the spin with ExternalShutdownException (or KeyboardInterrupt): both are a clean exit.
    A NodeStartupError from the factory is one FATAL line and its exit code.
    """
    try:
        rclpy.init(args=list(args) if args is not None else None)
    except RCLError as exc:  # malformed --ros-args or parameter file: nothing to start yet
        rclpy.logging.get_logger("onboard").fatal(f"invalid ROS arguments or parameter file: {exc}")
        return EXIT_BAD_CONFIG
    except KeyboardInterrupt:  # stopped before rclpy installed its handlers
        return EXIT_OK
    node: Node | None = None
    try:
        node = factory()
        # A stop that arrived while the node was being built has shut the context down: spinning
        # would build an executor on a dead context, whose half-made __del__ prints a traceback.
        if ok():
            rclpy.spin(node)
    except NodeStartupError as exc:
        rclpy.logging.get_logger("onboard").fatal(str(exc))
        return exc.exit_code
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if ok():
            raise
        # Shut down (SIGINT/SIGTERM) while the node was being built: rclpy calls on a dead
        # context fail; that is the stop taking effect, not a fault.
    finally:
        if node is not None:
            node.destroy_node()
        try_shutdown()
    return EXIT_OK
