"""A node whose component core has not landed yet: real interface, no fabricated output."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter

from gps_denied_onboard.graph.nodes import node_spec
from gps_denied_onboard.ros.entrypoint import run_node
from gps_denied_onboard.ros.graph_interface import GraphInterface
from gps_denied_onboard.ros.params import reject_undeclared
from gps_denied_onboard.ros.tf import TfBroadcaster


class PendingComponentNode(Node):
    """Declares the node's publishers and subscriptions and publishes nothing.

    Used only until the component's core is built; the node says so once at INFO.
    """

    def __init__(
        self,
        name: str,
        *,
        context: Context | None = None,
        parameter_overrides: list[Parameter] | None = None,
        cli_args: list[str] | None = None,
    ) -> None:
        super().__init__(name, context=context, parameter_overrides=parameter_overrides, cli_args=cli_args)
        spec = node_spec(name)
        reject_undeclared(self)  # its component's parameters arrive with its core
        # Said before the interface exists, so anyone who sees the interface can see this line.
        self.get_logger().info(
            f"{spec.component}: core not built yet; declaring its interface "
            f"({len(spec.publishes)} publishers, {len(spec.subscribes)} subscriptions) and publishing nothing"
        )
        # The node owns these transforms: attaching says once where tf2_ros is missing that TF is
        # off; nothing is sent until the core computes real poses.
        self.tf = TfBroadcaster.attach(self) if spec.broadcasts_tf else None
        self.interface = GraphInterface(self, spec)


def pending_factory(name: str) -> Callable[..., Node]:
    """The make_node() of a pending node module (used by the single-process launcher)."""

    def make_node(*, context: Context | None = None, cli_args: list[str] | None = None) -> Node:
        return PendingComponentNode(name, context=context, cli_args=cli_args)

    return make_node


def pending_main(name: str) -> Callable[[Sequence[str] | None], int]:
    """Build the main() of a pending node executable."""

    def main(args: Sequence[str] | None = None) -> int:
        return run_node(lambda: PendingComponentNode(name), args)

    main.pending = True  # type: ignore[attr-defined]  # lets the tests tell pending nodes from built ones
    return main
