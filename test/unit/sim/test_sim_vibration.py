"""Rotor vibration on the simulated IMU: size, spectrum and aliasing, rotor schedule, and clipping."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.signal import welch

from gps_denied_onboard.sim.errors import ImuConfigError, VibrationConfigError
from gps_denied_onboard.sim.imu import BMI088, ICM42688P, ImuSeries, sample_times_ns, simulate_imu
from gps_denied_onboard.sim.trajectory import FlightEvents, FlightProfile, OutAndBack, Trajectory, plan_trajectory
from gps_denied_onboard.sim.vibration import (
    SPOOL_S,
    VibrationConfig,
    check_vibration_config,
    low_pass_response,
    rotor_speed_fraction,
    rotor_vibration,
)

G = 9.80665
SHAKING = VibrationConfig(accel_rms_mps2=0.8, gyro_rms_radps=0.02)
AIRBORNE = FlightEvents(takeoff_s=-10.0, airborne_s=-5.0, landing_s=None, touchdown_s=None)  # rotors on throughout
TRANSPARENT_HZ = 1e6  # a low-pass far above every tone: the vibration as the airframe makes it


def _hover(config: VibrationConfig, rate_hz: float, bandwidth_hz: float, seconds: float = 30.0, seed: int = 0):  # type: ignore[no-untyped-def]
    t = sample_times_ns(seconds, rate_hz) / 1e9
    return rotor_vibration(
        t,
        np.full(len(t), G),
        AIRBORNE,
        config,
        accel_bandwidth_hz=bandwidth_hz,
        gyro_bandwidth_hz=bandwidth_hz,
        rng=np.random.default_rng(seed),
    )


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(values**2, axis=1))))


@pytest.fixture(scope="module")
def flown() -> Trajectory:
    return plan_trajectory(OutAndBack(distance_m=100.0), FlightProfile(rest_before_s=5.0, rest_after_s=3.0))


def test_hover_vibration_has_the_configured_rms_and_axis_weights() -> None:
    vibration = _hover(SHAKING, 2000.0, TRANSPARENT_HZ)
    assert _rms(vibration.accel_mps2) == pytest.approx(0.8, rel=0.05)
    assert _rms(vibration.gyro_radps) == pytest.approx(0.02, rel=0.05)
    per_axis = np.sqrt(np.mean(vibration.accel_mps2**2, axis=0))
    assert per_axis / per_axis[2] == pytest.approx(np.array(SHAKING.accel_axis_weights), rel=0.1)
    assert np.allclose(vibration.rotor_speed, 1.0)
    assert abs(vibration.accel_mps2.mean()) < 0.01  # zero-mean: it is no bias


def test_the_sensor_low_pass_attenuates_each_harmonic_by_its_gain() -> None:
    bandwidth = BMI088.accel_bandwidth_hz
    vibration = _hover(SHAKING, 200.0, bandwidth)
    ratios = np.asarray(SHAKING.harmonics)
    orders = np.arange(1, len(ratios) + 1)
    gains = np.abs(low_pass_response(orders * SHAKING.rotor_hz, bandwidth))
    expected = 0.8 * math.sqrt(np.sum((ratios * gains) ** 2) / np.sum(ratios**2))
    assert _rms(vibration.accel_mps2) == pytest.approx(expected, rel=0.05)
    assert expected < 0.5 * 0.8  # the 115 Hz fundamental is above the 80 Hz bandwidth
    assert abs(low_pass_response(np.array([bandwidth]), bandwidth)[0]) == pytest.approx(1.0 / math.sqrt(2.0))


@pytest.mark.parametrize(("rate_hz", "peak_hz"), [(1000.0, 115.0), (200.0, 85.0)])
def test_the_spectrum_peaks_at_the_rotor_frequency_or_its_alias(rate_hz: float, peak_hz: float) -> None:
    """Sampled fast, the fundamental shows at 115 Hz; at 200 Hz it aliases to 200 - 115 = 85 Hz."""
    vibration = _hover(SHAKING, rate_hz, BMI088.accel_bandwidth_hz)
    frequency, power = welch(vibration.accel_mps2[:, 2], fs=rate_hz, nperseg=int(4 * rate_hz))
    assert frequency[np.argmax(power)] == pytest.approx(peak_hz, abs=2.5)


def test_the_rotor_frequency_follows_the_thrust() -> None:
    thrust = np.array([G, G / math.cos(math.radians(30.0)), 0.5 * G])
    speed = rotor_speed_fraction(np.zeros(3), thrust, AIRBORNE, SHAKING)
    assert speed == pytest.approx(np.sqrt(thrust / G))  # thrust goes as speed squared


def test_rotors_are_stopped_on_the_ground_before_take_off_and_after_touchdown(flown: Trajectory) -> None:
    imu = simulate_imu(
        flown,
        BMI088,
        rate_hz=200.0,
        rng=np.random.default_rng(1),
        vibration=SHAKING,
        vibration_rng=np.random.default_rng(2),
    )
    t = imu.t_ns / 1e9
    events = flown.events
    assert events.touchdown_s is not None
    stopped = (t < events.takeoff_s) | (t >= events.touchdown_s + SPOOL_S)
    flying = (t > events.takeoff_s + SPOOL_S) & (t < events.touchdown_s)
    assert stopped.sum() > 1000
    assert not imu.accel_vibration_mps2[stopped].any()
    assert not imu.gyro_vibration_radps[stopped].any()
    assert 0.1 < _rms(imu.accel_vibration_mps2[flying]) < 0.8  # the 80 Hz low-pass takes its share
    # A vehicle that never takes off never shakes.
    still = simulate_imu(
        Trajectory.stationary(5.0),
        BMI088,
        rate_hz=200.0,
        rng=np.random.default_rng(1),
        vibration=SHAKING,
        vibration_rng=np.random.default_rng(2),
    )
    assert not still.accel_vibration_mps2.any()


def test_rotors_idle_on_the_pad_when_configured(flown: Trajectory) -> None:
    config = dataclasses.replace(SHAKING, idle_before_takeoff_s=3.0)
    events = flown.events
    t = sample_times_ns(flown.duration_s, 1000.0) / 1e9
    thrust = np.full(len(t), G)
    speed = rotor_speed_fraction(t, thrust, events, config)
    idle = (t >= events.takeoff_s - 3.0) & (t < events.takeoff_s)
    assert np.all(speed[idle] == config.idle_speed_fraction)
    assert not speed[t < events.takeoff_s - 3.0].any()
    vibration = rotor_vibration(
        t,
        thrust,
        events,
        config,
        accel_bandwidth_hz=TRANSPARENT_HZ,
        gyro_bandwidth_hz=TRANSPARENT_HZ,
        rng=np.random.default_rng(3),
    )
    hover = (t > events.takeoff_s + SPOOL_S) & (t < events.takeoff_s + 10.0)
    ratio = _rms(vibration.accel_mps2[idle]) / _rms(vibration.accel_mps2[hover])
    assert ratio == pytest.approx(config.idle_speed_fraction**2, rel=0.15)  # an imbalance force: speed squared
    # Without idling, the rotors start with the take-off and reach their speed within SPOOL_S.
    default_speed = rotor_speed_fraction(t, thrust, events, SHAKING)
    assert not default_speed[t < events.takeoff_s].any()
    assert np.all(default_speed[(t >= events.takeoff_s + SPOOL_S) & (t < events.takeoff_s + 5.0)] == 1.0)


def shaken_imu(flown: Trajectory) -> ImuSeries:
    """30 s of BMI088 at 200 Hz with SHAKING, from fixed noise and vibration seeds."""
    return simulate_imu(
        flown,
        BMI088,
        rate_hz=200.0,
        rng=np.random.default_rng(4),
        duration_s=30.0,
        vibration=SHAKING,
        vibration_rng=np.random.default_rng(5),
    )


def test_vibration_leaves_the_imu_noise_streams_alone(flown: Trajectory) -> None:
    quiet = simulate_imu(flown, BMI088, rate_hz=200.0, rng=np.random.default_rng(4), duration_s=30.0)
    shaken = shaken_imu(flown)
    assert np.array_equal(shaken.accel_bias_mps2, quiet.accel_bias_mps2)
    assert np.allclose(shaken.accel_mps2 - shaken.accel_vibration_mps2, quiet.accel_mps2, atol=1e-12)
    assert np.allclose(shaken.gyro_radps - shaken.gyro_vibration_radps, quiet.gyro_radps, atol=1e-12)
    again = shaken_imu(flown)
    assert np.array_equal(again.accel_mps2, shaken.accel_mps2)


def test_the_accelerometer_clips_at_its_range_in_the_data() -> None:
    profile = dataclasses.replace(ICM42688P, accel_range_mps2=9.0)  # below 1 g: every sample at rest clips
    imu = simulate_imu(Trajectory.stationary(2.0), profile, rate_hz=200.0, rng=np.random.default_rng(6))
    assert np.all(imu.accel_mps2[:, 2] == 9.0)
    assert imu.accel_clipped[:, 2].all()
    assert not imu.accel_clipped[:, :2].any()
    assert imu.accel_clipped_samples == len(imu)
    assert imu.gyro_clipped_samples == 0


def test_strong_vibration_saturates_both_sensors(flown: Trajectory) -> None:
    profile = dataclasses.replace(BMI088, accel_range_mps2=2.0 * G, gyro_range_radps=0.5)
    violent = dataclasses.replace(SHAKING, accel_rms_mps2=40.0, gyro_rms_radps=1.5)
    imu = simulate_imu(
        flown,
        profile,
        rate_hz=200.0,
        rng=np.random.default_rng(7),
        vibration=violent,
        vibration_rng=np.random.default_rng(8),
    )
    assert np.abs(imu.accel_mps2).max() == 2.0 * G
    assert np.abs(imu.gyro_radps).max() == 0.5
    assert np.array_equal(imu.accel_clipped, np.abs(imu.accel_mps2) == 2.0 * G)
    assert np.array_equal(imu.gyro_clipped, np.abs(imu.gyro_radps) == 0.5)
    assert 0 < imu.accel_clipped_samples < len(imu)
    assert 0 < imu.gyro_clipped_samples < len(imu)
    # The ideal reference is never clipped.
    ideal = simulate_imu(flown, profile, rate_hz=200.0, rng=np.random.default_rng(7), noise=False)
    assert not ideal.accel_clipped.any()


def test_profiles_carry_their_full_scale_and_filter() -> None:
    assert BMI088.accel_range_mps2 == pytest.approx(16.0 * G)  # the flight-controller setting (max 24 g)
    assert BMI088.gyro_range_radps == pytest.approx(math.radians(2000.0))
    assert (BMI088.accel_bandwidth_hz, BMI088.gyro_bandwidth_hz) == (80.0, 64.0)
    assert ICM42688P.accel_range_mps2 == pytest.approx(16.0 * G)


def test_non_positive_range_is_a_typed_error() -> None:
    with pytest.raises(ImuConfigError, match="accel_range_mps2 must be finite and > 0"):
        dataclasses.replace(BMI088, accel_range_mps2=0.0)
    with pytest.raises(ImuConfigError, match="gyro_bandwidth_hz"):
        dataclasses.replace(BMI088, gyro_bandwidth_hz=math.inf)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"rotor_hz": 0.0}, "rotor_hz"),
        ({"rotor_count": 0}, "rotor_count"),
        ({"accel_rms_mps2": -1.0}, "accel_rms_mps2"),
        ({"idle_speed_fraction": 1.5}, "idle_speed_fraction"),
        ({"harmonics": ()}, "harmonics"),
        ({"harmonics": (0.0, 0.0)}, "harmonics"),
        ({"gyro_axis_weights": (0.0, 0.0, 0.0)}, "gyro_axis_weights"),
        ({"accel_axis_weights": (1.0, -1.0, 1.0)}, "accel_axis_weights"),
    ],
)
def test_bad_vibration_figures_are_typed_errors(change: dict[str, object], fragment: str) -> None:
    with pytest.raises(VibrationConfigError, match=fragment):
        check_vibration_config(dataclasses.replace(SHAKING, **change))  # type: ignore[arg-type]


def test_vibration_without_its_generator_is_a_typed_error(flown: Trajectory) -> None:
    with pytest.raises(ImuConfigError, match="vibration_rng"):
        simulate_imu(flown, BMI088, rate_hz=200.0, rng=np.random.default_rng(0), vibration=SHAKING)
