"""Typed errors of bringup."""

from __future__ import annotations

from gps_denied_onboard.errors import OnboardError


class BringupError(OnboardError):
    """The graph cannot be planned or started: a missing file, a bad launch argument."""
