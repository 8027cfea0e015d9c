"""Typed errors of replay: each names the bag, the option or the value at fault."""

from __future__ import annotations

from gps_denied_onboard.errors import OnboardError


class ReplayError(OnboardError):
    """Base class of every replay error."""


class BagNotFoundError(ReplayError):
    """The bag path does not exist."""


class BagReadError(ReplayError):
    """The path exists but is not a readable rosbag2 bag (no metadata, corrupt storage, bad bytes)."""


class BadRemapError(ReplayError):
    """A ``--remap FROM:=TO`` is malformed, names a topic the bag lacks, or would merge two topics."""


class BadWindowError(ReplayError):
    """``--start``/``--duration`` do not select a part of the bag."""


class BadRateError(ReplayError):
    """``--rate`` is negative or not finite."""
