"""The take-off origin: checked from the caller's values, or surveyed from GNSS at rest.

``takeoff_prior`` validates what ``StateEstimator.set_takeoff_origin`` is given. The survey
below is what an autopilot calls its home position.

Before take-off the vehicle stands still and GNSS is (assumed) honest; the origin is the mean
of the first ``samples`` valid fixes, provided they agree with each other. Its sigma is the
larger of the fixes' own reported sigma (averaging does not remove a receiver's slowly varying
error) and their scatter. The caller passes the result to ``StateEstimator.set_takeoff_origin``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

from gps_denied_onboard.estimator.errors import EstimatorError, InvalidCallError, InvalidOriginError
from gps_denied_onboard.geometry.errors import GeometryError
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane, check_geodetic


@dataclass(frozen=True)
class TakeoffPrior:
    """The map frame and the initial position and heading prior."""

    origin: LocalTangentPlane
    sigma_horiz_m: float
    sigma_vert_m: float
    yaw_rad: float  # 0 (east) when no heading was given
    sigma_yaw_rad: float


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidCallError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidOriginError(f"{name} must be finite, got {number}")
    return number


def takeoff_prior(
    latitude_deg: object,
    longitude_deg: object,
    altitude_m: object,
    sigma_horiz_m: object,
    sigma_vert_m: object,
    *,
    yaw_rad: object | None,
    sigma_yaw_rad: object | None,
    default_sigma_yaw_rad: float,
) -> TakeoffPrior:
    """The checked prior; InvalidOriginError (or InvalidCallError for a non-number) names the bad value."""
    latitude, longitude, altitude = (
        _number(name, value)
        for name, value in (
            ("latitude_deg", latitude_deg),
            ("longitude_deg", longitude_deg),
            ("altitude_m", altitude_m),
        )
    )
    sigma_h, sigma_v = _number("sigma_horiz_m", sigma_horiz_m), _number("sigma_vert_m", sigma_vert_m)
    if (yaw_rad is None) != (sigma_yaw_rad is None):
        raise InvalidOriginError(
            "sigma_yaw_rad is required with yaw_rad" if yaw_rad is not None else "sigma_yaw_rad given without yaw_rad"
        )
    yaw = 0.0 if yaw_rad is None else _number("yaw_rad", yaw_rad)
    sigma_yaw = default_sigma_yaw_rad if sigma_yaw_rad is None else _number("sigma_yaw_rad", sigma_yaw_rad)
    for name, value in (("sigma_horiz_m", sigma_h), ("sigma_vert_m", sigma_v), ("sigma_yaw_rad", sigma_yaw)):
        if value <= 0.0:
            raise InvalidOriginError(f"{name} must be > 0, got {value}")
    try:
        check_geodetic(latitude, longitude, altitude)
        origin = LocalTangentPlane(latitude, longitude, altitude)
    except GeometryError as exc:
        raise InvalidOriginError(f"take-off origin: {exc}") from exc
    return TakeoffPrior(origin, sigma_h, sigma_v, yaw, sigma_yaw)


VERTICAL_TREND_SIGMAS = (
    4.0  # beyond this many standard errors a vertical trend is motion (at rest: ~0.4 % of surveys, redone)
)
TREND_NOISE_FLOOR_M = 0.5  # the vertical scatter assumed at least (a receiver that smooths its heights)


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
        # A steady climb or descent scatters little but trends: the least-squares vertical displacement
        # over the fixes against its standard error from the scatter about the line (the stated
        # vertical sigma includes the error correlated over minutes, which does not scatter in seconds).
        index = np.arange(self.samples, dtype=np.float64) - (self.samples - 1) / 2.0
        if self.samples >= 4:
            up = enu[:, 2] - float(np.mean(enu[:, 2]))
            slope = float(index @ up / (index @ index))
            residual = up - slope * index
            noise_m = max(float(np.sqrt(residual @ residual / (self.samples - 2))), TREND_NOISE_FLOOR_M)
            displacement = slope * (self.samples - 1)
            standard_error = noise_m / math.sqrt(float(index @ index)) * (self.samples - 1)
            if abs(displacement) > VERTICAL_TREND_SIGMAS * standard_error:
                self._fixes.clear()
                raise OriginSurveyError(
                    f"{self.samples} fixes at rest climb {displacement:+.1f} m "
                    f"(> {VERTICAL_TREND_SIGMAS:g} sigma of their vertical noise): the vehicle is climbing or "
                    "descending; surveying again"
                )
        scatter_h = float(np.sqrt(np.mean(np.sum(enu[:, :2] ** 2, axis=1)) / 2.0))
        scatter_v = float(np.std(enu[:, 2]))
        sigma_h = max(math.sqrt(float(np.mean(fixes[:, 3]))), scatter_h)
        sigma_v = max(math.sqrt(float(np.mean(fixes[:, 4]))), scatter_v)
        return SurveyedOrigin(lat, lon, alt, sigma_h, sigma_v, self.samples)
