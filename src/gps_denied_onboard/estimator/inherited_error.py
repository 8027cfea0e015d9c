"""The GNSS error the estimate carries and no backend state models: a Schmidt "consider" covariance.

GNSS errors are correlated over tens of seconds (multipath, the atmosphere): fused at 5 Hz as
white noise they drive a backend's position covariance far below the error the estimate actually
inherits from the receiver (on the simulator's default flight the position NEES was ~100x its
expected value). Rather than a bias state in every backend, the facade keeps that error's
covariance beside the backend's and adds it to what it publishes and to the GNSS gate's prior:

- every fused GNSS fix sets it to ``gating.gnss_correlated_fraction`` of the fix's reported
  variance, per axis (a withheld height keeps the vertical as it was);
- while GNSS is not fused it stays: the offset is baked into the estimate;
- a fused independent fix (GeoFix) pulls the estimate toward the truth and shrinks it by the
  scalar Kalman factor of each axis;
- when trusted GNSS is caught drifting, the estimate may have followed it for the detection
  time, by at most the drift test's discrepancy: that much joins it horizontally.
"""

from __future__ import annotations

import math

import numpy as np

from gps_denied_onboard.common.inertial import FloatArray

UNWEIGHTED_VARIANCE_M2 = 1e8  # a (10 km)^2 variance: the component is in the measurement but weighs nothing


class InheritedGnssError:
    """The 3x3 (diagonal) covariance of the GNSS error in the estimate (module docstring)."""

    def __init__(self, correlated_fraction: float) -> None:
        self._fraction = correlated_fraction
        self.covariance_m2: FloatArray = np.zeros((3, 3))

    def clear(self) -> None:
        """Nothing inherited (a new epoch)."""
        self.covariance_m2 = np.zeros((3, 3))

    def gnss_fused(self, fix_covariance_m2: FloatArray) -> None:
        """A GNSS fix with this (as fused) covariance was fused."""
        inherited = np.diag(fix_covariance_m2) * self._fraction
        if fix_covariance_m2[2, 2] >= UNWEIGHTED_VARIANCE_M2:  # its height was withheld
            inherited[2] = self.covariance_m2[2, 2]
        self.covariance_m2 = np.diag(inherited)

    def independent_fix_fused(self, backend_covariance_m2: FloatArray, fix_covariance_m2: FloatArray) -> None:
        """An independent absolute fix (GeoFix) was fused: the inherited error shrinks per axis."""
        consider = np.diag(self.covariance_m2)
        total = np.diag(backend_covariance_m2) + consider
        kept = 1.0 - total / (total + np.diag(fix_covariance_m2))
        self.covariance_m2 = np.diag(consider * kept)

    def gnss_caught_drifting(self, discrepancy_m: float) -> None:
        """Trusted GNSS failed the drift test: what it may have pulled joins the horizontal uncertainty."""
        if math.isfinite(discrepancy_m):
            self.covariance_m2[:2, :2] += np.eye(2) * discrepancy_m**2
