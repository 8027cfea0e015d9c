"""GNSS fixes with scenario events (denial, jamming, spoofing) and a barometer, from the true trajectory.

GNSS error model: white noise plus a first-order Gauss-Markov error per axis (multipath and the
atmosphere make real receivers' errors correlated over tens of seconds). The reported covariance
(sensor_msgs/NavSatFix, ENU, diagonal known) is the sum of both variances, so it is honest
outside the events.

Events, each over a window ``[start_s, end_s)`` of flight time:

- denial: the receiver has no fix. It keeps publishing at its rate with ``STATUS_NO_FIX``, NaN
  latitude/longitude/altitude and an unknown covariance, as u-blox and Septentrio drivers do, so
  a consumer sees a live receiver without a position (``DeniedOutput.SILENT`` drops the messages
  instead, like a disconnected receiver).
- jamming: fixes continue, but the noise grows (ramped) to ``sigma_m`` and the reported
  covariance grows with it: positions scatter, and the receiver says so.
- spoof drift: an offset grows along ``direction_deg`` at ``rate_mps`` (the rate ramped up over
  ``ramp_s``, so the fix moves smoothly), while the reported covariance stays nominal: that is
  what makes a spoof dangerous. At the window's end the receiver re-acquires the true signals
  and the offset vanishes.
- spoof jump: a constant offset for the whole window, covariance nominal.

Barometer: static pressure of the ISA troposphere at the true altitude (ellipsoidal height is used
for the geopotential one: the offset between them is a constant the QNH absorbs), plus white noise
and a slow Gauss-Markov drift (temperature, weather). On top, the baro altitude is offset from the
true (and so from the GNSS) altitude by ``initial_offset_m`` growing at ``offset_drift_m_per_min``:
a sensor warming in its enclosure and the day's weather make baro and GNSS heights separate by
metres per minute on real PX4 logs. The direction is up, down, or drawn per seed.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from gps_denied_onboard.common.atmosphere import ISA_SEA_LEVEL_PRESSURE_PA, isa_pressure_pa
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane
from gps_denied_onboard.sim.errors import GnssConfigError
from gps_denied_onboard.sim.imu import NS_PER_S, sample_times_ns
from gps_denied_onboard.sim.trajectory import Trajectory

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

JAM_VERTICAL_FACTOR = 1.5  # vertical error grows faster than horizontal (VDOP > HDOP under jamming)


class DriftDirection(str, enum.Enum):
    """Which way the baro altitude drifts from the GNSS altitude."""

    UP = "up"  # the baro reads ever higher
    DOWN = "down"
    RANDOM = "random"  # up or down, drawn from the scenario's seed

    def __str__(self) -> str:
        return self.value


class DeniedOutput(str, enum.Enum):
    """What the receiver publishes during a denial window."""

    NO_FIX = "no_fix"  # messages continue with STATUS_NO_FIX and NaN position
    SILENT = "silent"  # no messages at all

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class GnssConfig:
    """Receiver rate and nominal errors (1-sigma per axis)."""

    rate_hz: float = 5.0
    horizontal_sigma_m: float = 0.8  # white
    vertical_sigma_m: float = 1.5
    correlated_horizontal_sigma_m: float = 1.0  # Gauss-Markov
    correlated_vertical_sigma_m: float = 2.0
    correlation_time_s: float = 60.0
    denied_output: DeniedOutput = DeniedOutput.NO_FIX

    def nominal_variance_enu_m2(self) -> FloatArray:
        """The reported per-axis variance (east, north, up) outside jamming."""
        horizontal = self.horizontal_sigma_m**2 + self.correlated_horizontal_sigma_m**2
        vertical = self.vertical_sigma_m**2 + self.correlated_vertical_sigma_m**2
        return np.array([horizontal, horizontal, vertical])


@dataclass(frozen=True)
class GnssDenial:
    """No fix in ``[start_s, end_s)``."""

    name: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class GnssJamming:
    """Noise (and reported sigma) grows to ``sigma_m`` over ``ramp_s`` and stays until ``end_s``."""

    name: str
    start_s: float
    end_s: float
    sigma_m: float = 30.0
    ramp_s: float = 5.0


@dataclass(frozen=True)
class GnssSpoofDrift:
    """An offset drifting at ``rate_mps`` along ``direction_deg`` (ENU: 0 = east, counter-clockwise)."""

    name: str
    start_s: float
    end_s: float
    rate_mps: float = 2.0
    direction_deg: float = 90.0
    ramp_s: float = 5.0  # the drift speed ramps from 0 to rate_mps over this time

    def direction_enu(self) -> FloatArray:
        """Unit drift direction (east, north, up)."""
        angle = math.radians(self.direction_deg)
        return np.array([math.cos(angle), math.sin(angle), 0.0])


@dataclass(frozen=True)
class GnssSpoofJump:
    """A constant offset ``offset_enu_m`` over the window."""

    name: str
    start_s: float
    end_s: float
    offset_enu_m: tuple[float, float, float] = (50.0, 0.0, 0.0)


GnssEvent = GnssDenial | GnssJamming | GnssSpoofDrift | GnssSpoofJump


def _in_window(event: GnssEvent, t_s: FloatArray) -> npt.NDArray[np.bool_]:
    return (t_s >= event.start_s) & (t_s < event.end_s)


def spoof_offset_enu_m(event: GnssSpoofDrift | GnssSpoofJump, t_s: npt.ArrayLike) -> FloatArray:
    """The offset (N, 3) the spoofer adds at ``t_s`` (zero outside its window)."""
    t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
    inside = _in_window(event, t)
    if isinstance(event, GnssSpoofJump):
        return np.where(inside[:, None], np.asarray(event.offset_enu_m, dtype=np.float64), 0.0)
    tau = np.clip(t - event.start_s, 0.0, None)
    ramp, rate = event.ramp_s, event.rate_mps
    # Speed ramps linearly to rate_mps over ramp_s: distance is quadratic, then linear (C1 offset).
    if ramp > 0:
        distance = np.where(tau < ramp, rate * tau**2 / (2.0 * ramp), rate * (tau - ramp / 2.0))
    else:
        distance = rate * tau
    return np.where(inside[:, None], distance[:, None] * event.direction_enu(), 0.0)


def jamming_sigma_m(event: GnssJamming, t_s: npt.ArrayLike) -> FloatArray:
    """The extra horizontal 1-sigma error (N,) the jammer causes at ``t_s`` (zero outside its window)."""
    t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
    fraction = np.clip((t - event.start_s) / event.ramp_s, 0.0, 1.0) if event.ramp_s > 0 else np.ones_like(t)
    return np.where(_in_window(event, t), fraction * event.sigma_m, 0.0)


@dataclass(frozen=True)
class GnssSeries:
    """GNSS messages (N of them): what the receiver reports, and the truth behind it."""

    t_ns: Int64Array  # (N,) from the start of the flight
    fix: BoolArray  # (N,) the receiver has a fix (else NavSatStatus.STATUS_NO_FIX)
    latitude_deg: FloatArray  # (N,) WGS84; NaN without a fix
    longitude_deg: FloatArray
    altitude_m: FloatArray  # above the ellipsoid
    variance_enu_m2: FloatArray  # (N, 3) reported diagonal (east, north, up); 0 without a fix
    position_enu_m: FloatArray  # (N, 3) the reported position in map ENU; NaN without a fix
    true_position_enu_m: FloatArray  # (N, 3)

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])


def gauss_markov(rng: np.random.Generator, count: int, sigma: FloatArray, tau_s: float, dt_s: float) -> FloatArray:
    """A stationary first-order Gauss-Markov sequence (count, len(sigma)), exactly discretised."""
    sigma = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    white = rng.standard_normal((count, sigma.size))
    if count == 0:
        return white
    phi = math.exp(-dt_s / tau_s)
    out = np.empty_like(white)
    out[0] = white[0]
    if count > 1:
        filtered, _ = lfilter([math.sqrt(1.0 - phi * phi)], [1.0, -phi], white[1:], axis=0, zi=phi * white[:1])
        out[1:] = filtered
    return np.asarray(out * sigma, dtype=np.float64)


def simulate_gnss(
    trajectory: Trajectory,
    ltp: LocalTangentPlane,
    config: GnssConfig,
    events: tuple[GnssEvent, ...],
    *,
    rng: np.random.Generator,
    duration_s: float | None = None,
) -> GnssSeries:
    """GNSS fixes at ``config.rate_hz`` over the trajectory (or its first ``duration_s``)."""
    check_gnss_config(config)
    span = trajectory.duration_s if duration_s is None else min(duration_s, trajectory.duration_s)
    t_ns = sample_times_ns(span, config.rate_hz)
    t = t_ns / NS_PER_S
    count = len(t)
    truth = trajectory.position_m(t)
    # One draw order, fixed: white noise, Gauss-Markov error, jamming scatter.
    white = rng.standard_normal((count, 3)) * np.array(
        [config.horizontal_sigma_m, config.horizontal_sigma_m, config.vertical_sigma_m]
    )
    correlated = gauss_markov(
        rng,
        count,
        np.array(
            [
                config.correlated_horizontal_sigma_m,
                config.correlated_horizontal_sigma_m,
                config.correlated_vertical_sigma_m,
            ]
        ),
        config.correlation_time_s,
        1.0 / config.rate_hz,
    )
    scatter = rng.standard_normal((count, 3))
    variance = np.tile(config.nominal_variance_enu_m2(), (count, 1))
    error = white + correlated
    fix = np.ones(count, dtype=bool)
    for event in events:
        if isinstance(event, GnssDenial):
            fix &= ~_in_window(event, t)
        elif isinstance(event, GnssJamming):
            sigma = jamming_sigma_m(event, t)[:, None] * np.array([1.0, 1.0, JAM_VERTICAL_FACTOR])
            error = error + scatter * sigma
            variance = variance + sigma**2
        else:
            error = error + spoof_offset_enu_m(event, t)
    reported = truth + error
    latitude, longitude, altitude = ltp.geodetic_from_enu(reported)
    nan = np.full(count, np.nan)
    series = GnssSeries(
        t_ns=t_ns,
        fix=fix,
        latitude_deg=np.where(fix, latitude, nan),
        longitude_deg=np.where(fix, longitude, nan),
        altitude_m=np.where(fix, altitude, nan),
        variance_enu_m2=np.where(fix[:, None], variance, 0.0),
        position_enu_m=np.where(fix[:, None], reported, np.nan),
        true_position_enu_m=truth,
    )
    if config.denied_output is DeniedOutput.SILENT:
        series = _select(series, fix)
    logger.debug("GNSS: %d messages, %d without a fix", len(series), int(np.count_nonzero(~series.fix)))
    return series


def _select(series: GnssSeries, keep: npt.NDArray[np.bool_]) -> GnssSeries:
    return GnssSeries(
        t_ns=series.t_ns[keep],
        fix=series.fix[keep],
        latitude_deg=series.latitude_deg[keep],
        longitude_deg=series.longitude_deg[keep],
        altitude_m=series.altitude_m[keep],
        variance_enu_m2=series.variance_enu_m2[keep],
        position_enu_m=series.position_enu_m[keep],
        true_position_enu_m=series.true_position_enu_m[keep],
    )


def check_gnss_config(config: GnssConfig) -> None:
    """Raise GnssConfigError unless every figure is usable."""
    if not (math.isfinite(config.rate_hz) and 0 < config.rate_hz <= 100):
        raise GnssConfigError(f"gnss.rate_hz must be in (0, 100], got {config.rate_hz}")
    for name in (
        "horizontal_sigma_m",
        "vertical_sigma_m",
        "correlated_horizontal_sigma_m",
        "correlated_vertical_sigma_m",
    ):
        value = getattr(config, name)
        if not (math.isfinite(value) and value >= 0):
            raise GnssConfigError(f"gnss.{name} must be a finite number >= 0, got {value}")
    if not (math.isfinite(config.correlation_time_s) and config.correlation_time_s > 0):
        raise GnssConfigError(f"gnss.correlation_time_s must be a finite number > 0, got {config.correlation_time_s}")


# --- barometer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaroConfig:
    """Barometer rate, noise and drift (Pa); at sea level 1 Pa is about 8.3 cm."""

    rate_hz: float = 25.0
    noise_pa: float = 3.0  # white, incl. propeller wash
    drift_sigma_pa: float = 15.0  # Gauss-Markov drift (weather, temperature)
    drift_time_s: float = 300.0
    sea_level_pressure_pa: float = ISA_SEA_LEVEL_PRESSURE_PA  # the day's QNH
    initial_offset_m: float = 0.0  # baro minus true altitude at t = 0
    offset_drift_m_per_min: float = 0.0  # how fast that offset grows
    offset_drift_direction: DriftDirection = DriftDirection.RANDOM


@dataclass(frozen=True)
class BaroSeries:
    """Static pressure samples (N of them) for sensor_msgs/FluidPressure."""

    t_ns: Int64Array  # (N,)
    pressure_pa: FloatArray  # (N,) measured
    true_pressure_pa: FloatArray  # (N,)
    variance_pa2: float  # white-noise variance (FluidPressure.variance)
    altitude_offset_m: FloatArray  # (N,) the baro-minus-true altitude offset in each sample

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])


def simulate_baro(
    trajectory: Trajectory,
    origin_altitude_m: float,
    config: BaroConfig,
    *,
    rng: np.random.Generator,
    duration_s: float | None = None,
) -> BaroSeries:
    """Barometer samples at ``config.rate_hz``; the map origin is ``origin_altitude_m`` above sea level."""
    check_baro_config(config)
    span = trajectory.duration_s if duration_s is None else min(duration_s, trajectory.duration_s)
    t_ns = sample_times_ns(span, config.rate_hz)
    count = len(t_ns)
    t_s = t_ns / NS_PER_S
    altitude = origin_altitude_m + trajectory.position_m(t_s)[:, 2]
    true_pressure = isa_pressure_pa(altitude, config.sea_level_pressure_pa)
    # One draw order, fixed: drift, white noise, then the offset's direction (if drawn).
    drift = gauss_markov(rng, count, np.array([config.drift_sigma_pa]), config.drift_time_s, 1.0 / config.rate_hz)
    noise = rng.standard_normal(count) * config.noise_pa
    offset = config.initial_offset_m + _drift_sign(config, rng) * config.offset_drift_m_per_min * t_s / 60.0
    offset_pressure = isa_pressure_pa(altitude + offset, config.sea_level_pressure_pa)
    return BaroSeries(t_ns, offset_pressure + drift[:, 0] + noise, true_pressure, config.noise_pa**2, offset)


def _drift_sign(config: BaroConfig, rng: np.random.Generator) -> float:
    if config.offset_drift_direction is DriftDirection.UP:
        return 1.0
    if config.offset_drift_direction is DriftDirection.DOWN:
        return -1.0
    return 1.0 if rng.random() < 0.5 else -1.0


def check_baro_config(config: BaroConfig) -> None:
    """Raise GnssConfigError unless every barometer figure is usable."""
    if not (math.isfinite(config.rate_hz) and 0 < config.rate_hz <= 1000):
        raise GnssConfigError(f"baro.rate_hz must be in (0, 1000], got {config.rate_hz}")
    for name in ("noise_pa", "drift_sigma_pa", "offset_drift_m_per_min"):
        value = getattr(config, name)
        if not (math.isfinite(value) and value >= 0):
            raise GnssConfigError(f"baro.{name} must be a finite number >= 0, got {value}")
    if not (math.isfinite(config.drift_time_s) and config.drift_time_s > 0):
        raise GnssConfigError(f"baro.drift_time_s must be a finite number > 0, got {config.drift_time_s}")
    if not math.isfinite(config.initial_offset_m):
        raise GnssConfigError(f"baro.initial_offset_m must be a finite number, got {config.initial_offset_m}")
    if not (math.isfinite(config.sea_level_pressure_pa) and 80_000 <= config.sea_level_pressure_pa <= 110_000):
        raise GnssConfigError(
            f"baro.sea_level_pressure_pa must be in [80000, 110000] Pa, got {config.sea_level_pressure_pa}"
        )
