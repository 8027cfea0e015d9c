"""Typed errors of the state estimator package.

Bad measurement *content* never raises (the facade rejects it with a reason); these errors are
for bad configuration and bad *calls*.
"""

from __future__ import annotations

from gps_denied_onboard.common.parameters import ParameterError
from gps_denied_onboard.errors import OnboardError


class EstimatorError(OnboardError):
    """Base class of every state estimator error."""


class EstimatorConfigError(EstimatorError, ParameterError):
    """A configuration value or parameter name is invalid; the message names it and what it accepts."""


class UnknownBackendError(EstimatorConfigError):
    """A backend name that the registry does not know; the message lists the known ones."""


class BackendUnavailableError(EstimatorError):
    """A known backend whose module or heavy dependency (GTSAM) cannot be imported here."""


class InvalidOriginError(EstimatorError):
    """A take-off origin or prior that is not finite, out of range, or has a non-positive sigma."""


class OriginAlreadySetError(EstimatorError):
    """``set_takeoff_origin`` called again: the map frame is fixed once measurements may flow."""


class OriginNotSetError(EstimatorError):
    """An operation that needs the take-off origin (the map frame) before it was set."""


class InvalidCallError(EstimatorError, TypeError):
    """A facade method called with arguments of the wrong type (a programming error, not bad data)."""


class BackendStateError(EstimatorError):
    """A backend used outside its contract (before ``initialize``, non-increasing IMU stamps) or given an
    unusable initial state; the facade never does this, so it signals a programming error."""
