"""Typed errors of the VIO core: every rejected input names what was wrong with it."""

from __future__ import annotations

from gps_denied_onboard.common.parameters import ParameterError
from gps_denied_onboard.errors import OnboardError


class VioError(OnboardError):
    """Base of every VIO error."""


class VioConfigError(VioError, ParameterError):
    """A VIO parameter is unknown, of the wrong type or out of its range."""


class VioInputError(VioError):
    """A measurement (image, IMU sample, calibration) is malformed; it is refused, nothing else changes."""
