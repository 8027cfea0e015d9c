"""Barometric height in the map frame, with the baro-GNSS height offset estimated.

A barometer measures pressure altitude, which drifts away from GNSS (ellipsoidal) height by
metres per minute as the weather and the airframe's temperature change: on real PX4 logs baro
and GNSS separate by ~2 m within a minute. Fused against a fixed zero reference at 0.2 m noise,
the baro then outvotes GNSS in height and the GNSS gate rejects genuine fixes on altitude.

As PX4's EKF2 does (its baro bias estimator, a scalar filter beside the main one), the offset
``b = h_baro - up`` is a random walk (``baro.offset_random_walk_m_per_sqrt_s``) in its own scalar
Kalman filter: it starts at the mean pressure altitude at the origin (up = 0 there), is observed
by every trusted, vertically consistent GNSS fix (``z = h_baro(t) - up_gnss``), and the backend
fuses ``h_baro - b`` with the offset's variance added to the baro noise. In a GNSS outage the
offset's variance grows, so the baro gives vertical relative motion and only a slowly weakening
absolute height. Baro samples are fused at most every ``baro.fusion_period_s`` (the iSAM2
backend makes a keyframe per update; 25 Hz of baro would dominate its cost for no gain).

A height the backend's gate refuses is kept. When every baro height for ``baro.reset_after_s``
was refused, the estimate's height is what is wrong (an alignment in motion, a vertical velocity
no sensor could correct once the gate locked them out): as PX4's EKF2 resets its height to the
primary height source after a fusion timeout, the facade re-anchors the height and vertical
velocity to a straight-line fit of those refused baro heights (``reanchor``). A GNSS spoofer cannot
reach this path: it uses the barometer alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gps_denied_onboard.common.atmosphere import isa_altitude_m, isa_altitude_slope_m_per_pa
from gps_denied_onboard.estimator.backend import AltitudeMeasurement
from gps_denied_onboard.estimator.config import BaroConfig
from gps_denied_onboard.estimator.intake import BaroSample

NS_PER_S = 1_000_000_000
VERTICAL_RATE_FLOOR_MPS = 0.3  # vertical velocity 1-sigma after a re-anchor at least (a fit of 2 s of baro)


@dataclass(frozen=True)
class _Reading:
    t_ns: int
    height_m: float  # ISA pressure altitude
    variance_m2: float


@dataclass(frozen=True)
class VerticalAnchor:
    """Height and vertical velocity (map frame) from the refused baro heights, with their variances."""

    t_ns: int
    up_m: float
    up_variance_m2: float
    up_rate_mps: float
    up_rate_variance_m2ps2: float
    refused_s: float  # how long every baro height was refused


class BaroAltimeter:
    """Turns pressure samples into map-frame heights; keeps the baro-GNSS offset estimate."""

    def __init__(self, config: BaroConfig) -> None:
        self._config = config
        self.reset()

    def reset(self) -> None:
        """Forget the reference and the offset (a new epoch)."""
        self._reference: list[float] = []
        self._offset_m: float | None = None
        self._offset_var_m2 = 0.0
        self._offset_ns = 0
        self._last: _Reading | None = None
        self._last_fused_ns: int | None = None
        self._refused: list[AltitudeMeasurement] = []

    @property
    def offset_m(self) -> float:
        """Pressure altitude minus map height (NaN before the reference is taken)."""
        return math.nan if self._offset_m is None else self._offset_m

    @property
    def offset_sigma_m(self) -> float:
        """1-sigma of the offset now."""
        return math.sqrt(self._offset_var_m2) if self._offset_m is not None else math.nan

    def add(self, sample: BaroSample, up_estimate_m: float | None) -> AltitudeMeasurement | None:
        """The height to fuse for this sample, or None (reference still being taken, or between fusions).

        ``up_estimate_m`` is the estimate's height, or None before initialisation (at rest, up = 0).
        """
        height_m = float(isa_altitude_m(sample.pressure_pa))
        variance_m2 = isa_altitude_slope_m_per_pa(sample.pressure_pa) ** 2 * sample.variance_pa2
        self._last = _Reading(sample.t_ns, height_m, variance_m2)
        config = self._config
        if self._offset_m is None:
            self._reference.append(height_m - (up_estimate_m or 0.0))
            if len(self._reference) >= config.reference_samples:
                self._offset_m = sum(self._reference) / len(self._reference)
                self._offset_var_m2 = config.reference_sigma_m**2
                self._offset_ns = sample.t_ns
            return None
        if up_estimate_m is None:
            return None
        last = self._last_fused_ns
        if last is not None and sample.t_ns - last < config.fusion_period_s * NS_PER_S:
            return None
        self._last_fused_ns = sample.t_ns
        self._grow(sample.t_ns)
        return AltitudeMeasurement(
            t_ns=sample.t_ns, up_m=height_m - self._offset_m, variance_m2=variance_m2 + self._offset_var_m2
        )

    def refused(self, measurement: AltitudeMeasurement) -> VerticalAnchor | None:
        """The backend refused this height; after ``baro.reset_after_s`` of nothing but refusals, the anchor
        to re-initialise the height from (the streak then starts over)."""
        refused = self._refused
        refused.append(measurement)
        span_s = (measurement.t_ns - refused[0].t_ns) / NS_PER_S
        if len(refused) < 3 or span_s < self._config.reset_after_s:
            return None
        t_s = np.array([(m.t_ns - measurement.t_ns) / NS_PER_S for m in refused])
        up = np.array([m.up_m for m in refused])
        weights = 1.0 / np.array([m.variance_m2 for m in refused])
        # Weighted straight line up(t) = a + b t through the streak, evaluated at its last stamp (t = 0).
        design = np.column_stack([np.ones_like(t_s), t_s])
        information = design.T @ (design * weights[:, None])
        a, b = np.linalg.solve(information, design.T @ (weights * up))
        covariance = np.linalg.inv(information)
        residual = up - design @ np.array([a, b])
        scatter = float(np.sum(weights * residual**2) / max(len(up) - 2, 1))  # > 1: heights noisier than stated
        covariance *= max(scatter, 1.0)
        refused.clear()
        # Each height's variance includes the offset's, which is common to all: it stays in the height.
        offset_variance = self._offset_var_m2
        return VerticalAnchor(
            t_ns=measurement.t_ns,
            up_m=float(a),
            up_variance_m2=float(covariance[0, 0]) + offset_variance,
            up_rate_mps=float(b),
            up_rate_variance_m2ps2=float(covariance[1, 1]) + VERTICAL_RATE_FLOOR_MPS**2,
            refused_s=span_s,
        )

    def fused(self) -> None:
        """The backend took a height: no refusal streak."""
        self._refused.clear()

    def observe_gnss(self, t_ns: int, up_m: float, variance_m2: float) -> None:
        """Update the offset with a trusted GNSS height (the latest baro reading is paired with it)."""
        last = self._last
        if self._offset_m is None or last is None:
            return
        if abs(t_ns - last.t_ns) > self._config.gnss_pairing_s * NS_PER_S:
            return
        self._grow(t_ns)
        innovation = (last.height_m - up_m) - self._offset_m
        innovation_var = self._offset_var_m2 + variance_m2 + last.variance_m2
        if innovation**2 > self._config.offset_gate_sigma**2 * innovation_var:
            return  # a vertical outlier of either sensor: the offset does not chase it
        gain = self._offset_var_m2 / innovation_var
        self._offset_m += gain * innovation
        self._offset_var_m2 *= 1.0 - gain

    def _grow(self, t_ns: int) -> None:
        dt_s = max(0.0, (t_ns - self._offset_ns) / NS_PER_S)
        self._offset_var_m2 += self._config.offset_random_walk_m_per_sqrt_s**2 * dt_s
        self._offset_ns = max(self._offset_ns, t_ns)
