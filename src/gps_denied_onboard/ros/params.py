"""Declaring parameters with descriptors, and turning bad values into a typed startup error."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from gps_denied_onboard.ros.entrypoint import EXIT_BAD_CONFIG, NodeStartupError


def declare(
    node: Node,
    name: str,
    default: Any,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    read_only: bool = True,
) -> Any:
    """Declare ``name`` with a descriptor (range, read-only) and return its value.

    An empty list default declares a string array.
    A value from a parameter file or the command line that is out of range or of the wrong
    type is a NodeStartupError naming the parameter and what it accepts.
    """
    descriptor = ParameterDescriptor(description=description, read_only=read_only)
    if minimum is not None and maximum is not None:
        if isinstance(default, int) and not isinstance(default, bool):
            descriptor.integer_range = [IntegerRange(from_value=int(minimum), to_value=int(maximum), step=0)]
        else:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(minimum), to_value=float(maximum))]
    try:
        if isinstance(default, list) and not default:
            # rclpy cannot type an empty list: declare the type, and read "unset" as empty.
            value = node.declare_parameter(name, Parameter.Type.STRING_ARRAY, descriptor).value
            return [] if value is None else list(value)
        return node.declare_parameter(name, default, descriptor).value
    except InvalidParameterValueException as exc:
        accepted = f" (allowed: [{minimum}, {maximum}])" if minimum is not None else ""
        raise NodeStartupError(f"parameter {name!r}: invalid value{accepted}: {exc}", EXIT_BAD_CONFIG) from exc
    except InvalidParameterTypeException as exc:
        raise NodeStartupError(
            f"parameter {name!r}: wrong type, expected {type(default).__name__}: {exc}", EXIT_BAD_CONFIG
        ) from exc


# Parameters rclpy itself declares or reads on every node.
_ALWAYS_ACCEPTED = ("use_sim_time", "start_type_description_service")
_ACCEPTED_PREFIXES = ("qos_overrides.",)


def reject_undeclared(node: Node) -> None:
    """Refuse parameters given to ``node`` (params file, command line) that it never declared:
    a misspelt name in flight.yaml must stop the node, not be silently ignored."""
    overrides = set(node._parameter_overrides)  # rclpy keeps the overrides only there
    unknown = sorted(
        name
        for name in overrides
        if not node.has_parameter(name) and name not in _ALWAYS_ACCEPTED and not name.startswith(_ACCEPTED_PREFIXES)
    )
    if unknown:
        declared = sorted(node._parameters)
        raise NodeStartupError(
            f"{node.get_name()}: unknown parameter(s) {unknown}; this node declares {declared}", EXIT_BAD_CONFIG
        )


def declare_table(node: Node, specs: Iterable[Any]) -> dict[str, object]:
    """Declare every entry of a core's parameter table (``name, default, description, minimum,
    maximum`` as estimator.config.ParameterSpec has them) and return the values by name."""
    return {
        spec.name: declare(node, spec.name, spec.default, spec.description, minimum=spec.minimum, maximum=spec.maximum)
        for spec in specs
    }
