"""One node's /diagnostics message: a single DiagnosticStatus with its key/value pairs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


def diagnostic_array(status: DiagnosticStatus, values: Mapping[str, str], stamp: Any) -> DiagnosticArray:
    """``status`` with ``values`` attached, in an array stamped ``stamp`` (builtin_interfaces/Time)."""
    status.values = [KeyValue(key=key, value=value) for key, value in values.items()]
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status]
    return array
