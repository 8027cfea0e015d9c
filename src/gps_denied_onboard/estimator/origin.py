"""The take-off origin from GNSS at rest: what an autopilot calls its home position.

Before take-off the vehicle stands still and GNSS is (assumed) honest; the origin is the mean
of the first ``samples`` valid fixes, provided they agree with each other. Its sigma is the
larger of the fixes' own reported sigma (averaging does not remove a receiver's slowly varying
error) and their scatter. The caller passes the result to ``StateEstimator.set_takeoff_origin``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gps_denied_onboard.estimator.errors import EstimatorError
from gps_denied_onboard.geometry.errors import GeometryError
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane, check_geodetic


class OriginSurveyError(EstimatorError):
    """The fixes collected for the take-off origin disagree too much to be one standing position."""


@dataclass(frozen=True)
class SurveyedOrigin:
    """An origin and the sigmas to give ``set_takeoff_origin``."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    sigma_horiz_m: float
    sigma_vert_m: float
    samples: int


class GnssOriginSurvey:
    """Collects fixes at rest until ``samples`` valid ones agree within ``max_spread_m``."""

    def __init__(self, samples: int, max_spread_m: float) -> None:
        if samples < 1:
            raise OriginSurveyError(f"samples must be >= 1, got {samples}")
        if not max_spread_m > 0.0:
            raise OriginSurveyError(f"max_spread_m must be > 0, got {max_spread_m}")
        self.samples = samples
        self.max_spread_m = max_spread_m
        self._fixes: list[tuple[float, float, float, float, float]] = []  # lat, lon, alt, var_h, var_v
        self.discarded = 0

    def add(self, latitude_deg: float, longitude_deg: float, altitude_m: float, covariance_enu_m2: np.ndarray) -> bool:
        """Take one fix; False (and counted as discarded) if it is unusable (non-finite, no covariance)."""
        covariance = np.asarray(covariance_enu_m2, dtype=np.float64).reshape(3, 3)
        var_h = float(max(covariance[0, 0], covariance[1, 1]))
        var_v = float(covariance[2, 2])
        try:
            check_geodetic(latitude_deg, longitude_deg, altitude_m)
        except GeometryError:
            self.discarded += 1
            return False
        if not (math.isfinite(var_h) and math.isfinite(var_v) and var_h > 0.0 and var_v > 0.0):
            self.discarded += 1
            return False
        self._fixes.append((latitude_deg, longitude_deg, altitude_m, var_h, var_v))
        return True

    def result(self) -> SurveyedOrigin | None:
        """The origin once enough fixes are in, else None. Raises OriginSurveyError if they scatter too far."""
        if len(self._fixes) < self.samples:
            return None
        fixes = np.array(self._fixes[-self.samples :])
        lat, lon, alt = (float(v) for v in fixes[:, :3].mean(axis=0))
        enu = LocalTangentPlane(lat, lon, alt).enu_from_geodetic(fixes[:, 0], fixes[:, 1], fixes[:, 2])
        spread = float(np.max(np.linalg.norm(enu[:, :2], axis=1)))
        if spread > self.max_spread_m:
            self._fixes.clear()  # the vehicle moved or GNSS jumped: start over
            raise OriginSurveyError(
                f"{self.samples} fixes at rest scatter {spread:.1f} m horizontally (> {self.max_spread_m:g} m): "
                "the vehicle is moving or GNSS is not steady; surveying again"
            )
        scatter_h = float(np.sqrt(np.mean(np.sum(enu[:, :2] ** 2, axis=1)) / 2.0))
        scatter_v = float(np.std(enu[:, 2]))
        sigma_h = max(math.sqrt(float(np.mean(fixes[:, 3]))), scatter_h)
        sigma_v = max(math.sqrt(float(np.mean(fixes[:, 4]))), scatter_v)
        return SurveyedOrigin(lat, lon, alt, sigma_h, sigma_v, self.samples)
