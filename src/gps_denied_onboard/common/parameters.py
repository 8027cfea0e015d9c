"""The parameter-table convention every component's configuration follows.

Each tunable is a field of a frozen per-concern dataclass declared with ``param(...)``: its
default, a one-line description and the accepted range (or choices) travel in the field's
metadata. The ROS parameter name is ``<section>.<field>``. A component's ``PARAMETERS`` table
and its validation are both derived from that metadata (``section_specs``, ``validate_fields``),
so a name, a range and its check cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gps_denied_onboard.errors import OnboardError

T = TypeVar("T")
ParameterValue = bool | int | float | str


class ParameterError(OnboardError, ValueError):
    """A parameter value is of the wrong type or out of its range; the message names it and what it accepts."""


def param(
    default: T,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> T:
    """A dataclass field with its ROS parameter description and accepted range (inclusive) or choices."""
    metadata = {"description": description, "minimum": minimum, "maximum": maximum, "choices": choices}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class ParameterSpec:
    """One ROS parameter: dotted name, default, description, range or choices."""

    name: str
    default: ParameterValue
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None


def _accepted(spec: ParameterSpec) -> str:
    if spec.choices is not None:
        return f"one of {list(spec.choices)}"
    if isinstance(spec.default, bool):
        return "a bool"
    kind = "an integer" if isinstance(spec.default, int) else "a finite number"
    if spec.minimum is not None and spec.maximum is not None:
        return f"{kind} in [{spec.minimum:.10g}, {spec.maximum:.10g}]"
    return kind


def check_value(spec: ParameterSpec, value: object, *, error: type[ParameterError] = ParameterError) -> ParameterValue:
    """``value`` converted to the parameter's type, or ``error`` naming it and what it accepts."""
    default = spec.default
    bad = error(f"{spec.name} must be {_accepted(spec)}, got {value!r}")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(default, str):
        if not isinstance(value, str) or (spec.choices is not None and value not in spec.choices):
            raise bad
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    if isinstance(default, int) and not isinstance(value, int):
        raise bad
    number: int | float = value if isinstance(default, int) else float(value)
    if not math.isfinite(number):
        raise bad
    if (spec.minimum is not None and number < spec.minimum) or (spec.maximum is not None and number > spec.maximum):
        raise bad
    return number


def section_specs(
    section: str, config_type: type[Any], *, error: type[ParameterError] = ParameterError
) -> tuple[ParameterSpec, ...]:
    """The parameter entries of one section dataclass, from its fields' metadata."""
    specs = []
    for item in dataclasses.fields(config_type):
        meta = item.metadata
        if "description" not in meta:
            raise error(f"{config_type.__name__}.{item.name} has no parameter description")
        specs.append(
            ParameterSpec(
                name=f"{section}.{item.name}" if section else item.name,
                default=item.default,  # type: ignore[arg-type]
                description=str(meta["description"]),
                minimum=meta.get("minimum"),
                maximum=meta.get("maximum"),
                choices=meta.get("choices"),
            )
        )
    return tuple(specs)


def validate_fields(instance: Any, section: str, *, error: type[ParameterError] = ParameterError) -> None:
    """Check every field of a section dataclass against its metadata (called from ``__post_init__``)."""
    specs = section_specs(section, type(instance), error=error)
    for spec, item in zip(specs, dataclasses.fields(instance), strict=True):
        value = check_value(spec, getattr(instance, item.name), error=error)
        object.__setattr__(instance, item.name, value)  # an int given for a float field becomes a float
