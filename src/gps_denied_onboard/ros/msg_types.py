"""Message classes looked up by their ROS type name ("pkg/msg/Name") with importlib.

rosidl_runtime_py is not on PyPI, so this small lookup stands in for its get_message().
"""

from __future__ import annotations

import importlib
from typing import Any

from gps_denied_onboard.errors import OnboardError


class UnknownMessageTypeError(OnboardError):
    """A message type name is malformed or its package is not installed."""


def message_class(type_name: str) -> type[Any]:
    """Return the Python class of ``type_name``, e.g. ``"sensor_msgs/msg/Imu"``."""
    parts = type_name.split("/")
    if len(parts) != 3 or parts[1] != "msg" or not all(parts):
        raise UnknownMessageTypeError(f"malformed message type {type_name!r}: expected 'pkg/msg/Name'")
    package, _, name = parts
    try:
        module = importlib.import_module(f"{package}.msg")
    except ImportError as exc:
        raise UnknownMessageTypeError(f"message package {package!r} of {type_name!r} is not importable: {exc}") from exc
    try:
        cls: type[Any] = getattr(module, name)
    except AttributeError:
        raise UnknownMessageTypeError(f"package {package!r} has no message {name!r}") from None
    return cls
