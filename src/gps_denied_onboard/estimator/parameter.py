"""How a configuration field carries its ROS parameter description: one helper, imported by every
config section (estimator.config and the backends' own sections), so the metadata has one shape."""

from __future__ import annotations

from dataclasses import field
from typing import TypeVar

T = TypeVar("T")


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
