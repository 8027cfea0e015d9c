"""Typed errors of the demo pipeline."""

from __future__ import annotations

from gps_denied_onboard.errors import OnboardError


class DemoError(OnboardError):
    """Base class of every demo error."""


class DemoGraphError(DemoError):
    """The graph could not be run on the flight (a node failed, the replay failed, no flight recorded)."""


class DemoScenarioError(DemoError):
    """The scenario to fly cannot be found or generated."""


class DemoLoadError(DemoError):
    """The competing CPU load asked for could not be started."""


class DemoOptionError(DemoError):
    """A demo option is out of its range; nothing was run."""


class DemoReportError(DemoError):
    """The demo's own summary file could not be written."""
