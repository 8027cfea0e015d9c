"""Rotor vibration at the IMU: harmonics of the rotor speed, the sensor's anti-alias low-pass, sampling.

Each of ``rotor_count`` rotors shakes the airframe at its rotation rate and at multiples of it
(imbalance at 1x, blade passage at 2x for two blades, ...). A rotor's speed follows the thrust
(thrust goes as speed squared, so the speed as ``sqrt(|a - g| / g)``: 1 in hover, more in a bank)
with a fixed per-rotor offset and a slow random wander (the attitude controller), so each
harmonic is a cluster of close tones that beat. The amplitude goes as speed squared, as an
imbalance force does: zero with the rotors stopped, small at idle.

A MEMS IMU low-pass filters before it decimates to its output rate. Each tone is passed through
that filter (a second-order Butterworth at the profile's bandwidth) at its instantaneous frequency
(the tones change over seconds, the filter responds in milliseconds) and the result is sampled at
the output rate: what passes the filter above the output's Nyquist frequency aliases, as it does
on a real IMU. No per-sample loop runs at the sensor's internal rate: the tones are analytic.

Rotor schedule (from the trajectory's flight events): stopped on the ground before take-off, or
idling for ``idle_before_takeoff_s`` before it (a vehicle armed on the pad); spooling up over the
first ``SPOOL_S`` of the take-off (the trajectory moves by micrometres then); following the
thrust in flight; spooling down over ``SPOOL_S`` at touchdown (disarmed), stopped after.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from gps_denied_onboard.common.inertial import GRAVITY_MPS2
from gps_denied_onboard.sim.errors import VibrationConfigError
from gps_denied_onboard.sim.trajectory import FlightEvents

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

SPOOL_S = 0.5  # a multirotor's motors reach speed (or stop) in about half a second
SPEED_WANDER_TIME_S = 0.5  # correlation time of a rotor's speed wander (attitude control activity)


@dataclass(frozen=True)
class VibrationConfig:
    """Rotor vibration at the IMU mount, before the sensor's low-pass; zero RMS figures: none."""

    rotor_hz: float = 115.0  # rotor rotation rate in hover (rev/s): the fundamental
    rotor_count: int = 4
    harmonics: tuple[float, ...] = (1.0, 0.5, 0.25)  # relative amplitudes at 1x, 2x, 3x ... rotor_hz
    accel_rms_mps2: float = 0.0  # RMS of the vibration vector (all axes together) in hover
    accel_axis_weights: tuple[float, float, float] = (0.5, 0.5, 1.0)  # x y z; z, the thrust axis, shakes most
    gyro_rms_radps: float = 0.0  # RMS of the angular vibration vector in hover
    gyro_axis_weights: tuple[float, float, float] = (1.0, 1.0, 0.5)
    speed_jitter: float = 0.01  # 1-sigma per-rotor speed offset and wander (fraction); 0: the tones coincide
    idle_speed_fraction: float = 0.35  # idle speed, a fraction of the hover speed
    idle_before_takeoff_s: float = 0.0  # rotors idle on the ground this long before take-off; 0: stopped

    @property
    def active(self) -> bool:
        """Whether there is any vibration to simulate."""
        return self.accel_rms_mps2 > 0.0 or self.gyro_rms_radps > 0.0


@dataclass(frozen=True)
class VibrationSeries:
    """The vibration in each IMU sample (N of them), after the sensor's low-pass."""

    rotor_speed: FloatArray  # (N,) the rotors' nominal speed, a fraction of the hover speed
    accel_mps2: FloatArray  # (N, 3) base_link axes
    gyro_radps: FloatArray  # (N, 3)


def check_vibration_config(config: VibrationConfig) -> None:
    """Raise VibrationConfigError unless every figure is usable."""
    if not (math.isfinite(config.rotor_hz) and config.rotor_hz > 0):
        raise VibrationConfigError(f"vibration.rotor_hz must be a finite number > 0, got {config.rotor_hz}")
    if isinstance(config.rotor_count, bool) or not isinstance(config.rotor_count, int) or config.rotor_count < 1:
        raise VibrationConfigError(f"vibration.rotor_count must be an integer >= 1, got {config.rotor_count!r}")
    for name in ("accel_rms_mps2", "gyro_rms_radps", "speed_jitter", "idle_before_takeoff_s"):
        value = getattr(config, name)
        if not (math.isfinite(value) and value >= 0):
            raise VibrationConfigError(f"vibration.{name} must be a finite number >= 0, got {value}")
    if not (math.isfinite(config.idle_speed_fraction) and 0.0 <= config.idle_speed_fraction <= 1.0):
        raise VibrationConfigError(f"vibration.idle_speed_fraction must be in [0, 1], got {config.idle_speed_fraction}")
    for name in ("harmonics", "accel_axis_weights", "gyro_axis_weights"):
        values = np.asarray(getattr(config, name), dtype=np.float64)
        if values.size == 0 or not np.all(np.isfinite(values)) or values.min() < 0 or not values.any():
            raise VibrationConfigError(
                f"vibration.{name} must be finite numbers >= 0, not all zero, got {getattr(config, name)}"
            )


def rotor_speed_fraction(
    t_s: FloatArray, thrust_mps2: FloatArray, events: FlightEvents, config: VibrationConfig
) -> FloatArray:
    """Rotor speed (N,) as a fraction of hover at ``t_s``, from the specific force magnitude ``thrust_mps2``."""
    t = np.asarray(t_s, dtype=np.float64)
    flying = np.sqrt(np.asarray(thrust_mps2, dtype=np.float64) / GRAVITY_MPS2)
    takeoff = events.takeoff_s
    on_pad = config.idle_speed_fraction if config.idle_before_takeoff_s > 0 else 0.0
    before = np.where(t >= takeoff - config.idle_before_takeoff_s, on_pad, 0.0)
    after = on_pad + (flying - on_pad) * np.clip((t - takeoff) / SPOOL_S, 0.0, 1.0)
    speed = np.where(t < takeoff, before, after)
    if events.touchdown_s is not None:
        speed = speed * (1.0 - np.clip((t - events.touchdown_s) / SPOOL_S, 0.0, 1.0))
    return np.asarray(speed, dtype=np.float64)


def low_pass_response(frequency_hz: FloatArray, bandwidth_hz: float) -> ComplexArray:
    """The complex gain of a second-order Butterworth low-pass with its -3 dB point at ``bandwidth_hz``."""
    x = np.asarray(frequency_hz, dtype=np.float64) / bandwidth_hz
    return np.asarray(1.0 / (1.0 - x * x + 1j * math.sqrt(2.0) * x), dtype=np.complex128)


def rotor_vibration(
    t_s: FloatArray,
    thrust_mps2: FloatArray,
    events: FlightEvents,
    config: VibrationConfig,
    *,
    accel_bandwidth_hz: float,
    gyro_bandwidth_hz: float,
    rng: np.random.Generator,
) -> VibrationSeries:
    """The filtered vibration at the sample times ``t_s`` (a uniform grid), with ``thrust_mps2`` = |a - g| there."""
    check_vibration_config(config)
    t = np.asarray(t_s, dtype=np.float64)
    count, rotors = len(t), config.rotor_count
    speed = rotor_speed_fraction(t, thrust_mps2, events, config)
    # One draw order, fixed: rotor speed offsets, their wander, accelerometer phases, gyroscope phases.
    offsets = rng.standard_normal(rotors) * config.speed_jitter
    wander = _wander(rng, count, rotors, config.speed_jitter, float(np.median(np.diff(t))) if count > 1 else 1.0)
    harmonics = np.asarray(config.harmonics, dtype=np.float64)
    accel_phase = rng.uniform(0.0, 2.0 * math.pi, size=(rotors, len(harmonics), 3))
    gyro_phase = rng.uniform(0.0, 2.0 * math.pi, size=(rotors, len(harmonics), 3))
    amplitude = speed * speed  # an imbalance force goes as speed squared
    dt = np.diff(t, prepend=t[:1])
    rotor_hz = config.rotor_hz * speed[None, :] * (1.0 + offsets[:, None] + wander.T)  # (rotors, N)
    cycles = np.cumsum(0.5 * (rotor_hz + np.concatenate([rotor_hz[:, :1], rotor_hz[:, :-1]], axis=1)) * dt, axis=1)
    accel_scale = _per_axis_scale(config.accel_rms_mps2, config.accel_axis_weights, harmonics, rotors)
    gyro_scale = _per_axis_scale(config.gyro_rms_radps, config.gyro_axis_weights, harmonics, rotors)
    accel = _tones(rotor_hz, cycles, amplitude, harmonics, phase=accel_phase, bandwidth_hz=accel_bandwidth_hz)
    gyro = _tones(rotor_hz, cycles, amplitude, harmonics, phase=gyro_phase, bandwidth_hz=gyro_bandwidth_hz)
    return VibrationSeries(speed, accel * accel_scale, gyro * gyro_scale)


def _tones(
    rotor_hz: FloatArray,
    cycles: FloatArray,
    amplitude: FloatArray,
    harmonics: FloatArray,
    *,
    phase: FloatArray,
    bandwidth_hz: float,
) -> FloatArray:
    """The sum (N, 3) of every rotor's harmonics through the low-pass, per unit axis scale."""
    out = np.zeros((len(amplitude), 3))
    for rotor in range(rotor_hz.shape[0]):
        for index, ratio in enumerate(harmonics):
            if ratio == 0.0:
                continue
            order = index + 1
            gain = low_pass_response(order * rotor_hz[rotor], bandwidth_hz)
            angle = 2.0 * math.pi * order * cycles[rotor] + np.angle(gain)
            envelope = ratio * amplitude * np.abs(gain)
            # sin(angle + phase) per axis, expanded so that sin and cos are taken once per tone.
            sine = (envelope * np.sin(angle))[:, None]
            cosine = (envelope * np.cos(angle))[:, None]
            out += sine * np.cos(phase[rotor, index]) + cosine * np.sin(phase[rotor, index])
    return out


def _per_axis_scale(rms: float, weights: tuple[float, float, float], harmonics: FloatArray, rotors: int) -> FloatArray:
    """Per-axis tone amplitude per unit harmonic ratio whose vector RMS over all tones is ``rms``."""
    w = np.asarray(weights, dtype=np.float64)
    # A sine of amplitude A has mean square A^2 / 2; the rotors' and harmonics' tones are incoherent.
    power = rotors * float(np.sum(harmonics**2)) * float(np.sum(w**2)) / 2.0
    return np.asarray(rms * w / math.sqrt(power), dtype=np.float64)


def _wander(rng: np.random.Generator, count: int, rotors: int, sigma: float, dt_s: float) -> FloatArray:
    """Each rotor's slow relative speed wander (count, rotors): first-order Gauss-Markov."""
    white = rng.standard_normal((count, rotors))
    if count == 0 or sigma == 0.0:
        return np.zeros((count, rotors))
    phi = math.exp(-dt_s / SPEED_WANDER_TIME_S)
    out = np.empty_like(white)
    out[0] = white[0]
    if count > 1:
        out[1:], _ = lfilter([math.sqrt(1.0 - phi * phi)], [1.0, -phi], white[1:], axis=0, zi=phi * white[:1])
    return np.asarray(out * sigma, dtype=np.float64)
