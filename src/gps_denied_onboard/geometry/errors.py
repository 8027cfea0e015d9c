"""Typed errors of the geometry package."""

from __future__ import annotations

from gps_denied_onboard.errors import OnboardError


class GeometryError(OnboardError):
    """Base class of every geometry error."""


class InvalidPoseError(GeometryError):
    """A pose has a non-finite value, a wrong-sized field or a quaternion that is not unit length."""
