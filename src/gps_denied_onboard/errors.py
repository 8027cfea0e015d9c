"""Root of the library's exception hierarchy: every typed error derives from it."""

from __future__ import annotations


class OnboardError(Exception):
    """Base class of every error raised on purpose by gps_denied_onboard."""
