"""Simulated IMU: noise-free samples integrate back to the trajectory; noise matches the MEMS profile."""

from __future__ import annotations

import dataclasses
import math

import gtsam
import numpy as np
import pytest
from sim_motion_helpers import allan_deviation, rotation_error_rad, strapdown

from gps_denied_onboard.common.inertial import ImuNoise
from gps_denied_onboard.sim.errors import ImuConfigError, UnknownImuProfileError
from gps_denied_onboard.sim.imu import (
    ADIS16448,
    BMI088,
    ICM42688P,
    PROFILES,
    MemsProfile,
    ideal_imu,
    mems_profile,
    sample_times_ns,
    simulate_imu,
)
from gps_denied_onboard.sim.trajectory import (
    FigureEight,
    FlightProfile,
    Lawnmower,
    Mission,
    OutAndBack,
    Trajectory,
    plan_trajectory,
)

RATE_HZ = 200.0
MISSIONS: dict[str, Mission] = {
    "lawnmower": Lawnmower(leg_length_m=120.0, leg_spacing_m=40.0, legs=3, start_offset_m=(-60.0, -40.0)),
    "out_and_back": OutAndBack(distance_m=150.0, heading_deg=30.0),
    "figure_eight": FigureEight(radius_m=40.0, heading_deg=-20.0),
}


@pytest.fixture(scope="module")
def static_run() -> tuple[Trajectory, object]:
    """Ten minutes at rest, sampled at 200 Hz with BMI088 noise."""
    trajectory = Trajectory.stationary(600.0, yaw_rad=0.3)
    return trajectory, simulate_imu(trajectory, BMI088, rate_hz=RATE_HZ, rng=np.random.default_rng(2024))


@pytest.mark.parametrize("name", sorted(MISSIONS))
def test_noise_free_imu_integrates_back_to_the_whole_flight(name: str) -> None:
    trajectory = plan_trajectory(MISSIONS[name], FlightProfile())
    imu = simulate_imu(trajectory, BMI088, rate_hz=RATE_HZ, rng=np.random.default_rng(0), noise=False)
    t = imu.t_ns / 1e9
    truth = trajectory.states(t)
    attitude, p, v = strapdown(
        t,
        imu.accel_mps2,
        imu.gyro_radps,
        rotation0=truth.R_map_body[0],
        p0=truth.position_m[0],
        v0=truth.velocity_mps[0],
    )
    # Pure dead reckoning over 100-160 s of flight: only the integrator's O(dt^2) error remains.
    assert trajectory.duration_s > 100.0
    assert rotation_error_rad(attitude, truth.R_map_body).max() < 5e-6
    assert np.abs(v - truth.velocity_mps).max() < 2e-3
    assert np.abs(p - truth.position_m).max() < 0.05


def test_gtsam_preintegration_predicts_the_truth_over_short_windows() -> None:
    """GTSAM's own IMU model (ENU, gravity -z, specific force) agrees with the simulated samples."""
    trajectory = plan_trajectory(MISSIONS["figure_eight"], FlightProfile())
    imu = simulate_imu(trajectory, BMI088, rate_hz=RATE_HZ, rng=np.random.default_rng(0), noise=False)
    truth = trajectory.states(imu.t_ns / 1e9)
    params = gtsam.PreintegrationParams.MakeSharedU(9.80665)
    for name in ("setAccelerometerCovariance", "setGyroscopeCovariance", "setIntegrationCovariance"):
        getattr(params, name)(np.eye(3) * 1e-8)
    bias = gtsam.imuBias.ConstantBias()
    window = int(RATE_HZ)  # 1 s
    checked = 0
    for start in range(0, len(imu) - window, 10 * window):
        pim = gtsam.PreintegratedImuMeasurements(params, bias)
        for k in range(start, start + window):  # the mean of consecutive samples: second order in dt
            accel = 0.5 * (imu.accel_mps2[k] + imu.accel_mps2[k + 1])
            gyro = 0.5 * (imu.gyro_radps[k] + imu.gyro_radps[k + 1])
            pim.integrateMeasurement(accel, gyro, 1.0 / RATE_HZ)
        begin = gtsam.NavState(gtsam.Rot3(truth.R_map_body[start]), truth.position_m[start], truth.velocity_mps[start])
        predicted = pim.predict(begin, bias)
        end = start + window
        assert np.linalg.norm(predicted.position() - truth.position_m[end]) < 5e-3
        assert np.linalg.norm(predicted.velocity() - truth.velocity_mps[end]) < 5e-3
        error = gtsam.Rot3.Logmap(gtsam.Rot3(truth.R_map_body[end]).between(predicted.attitude()))
        assert np.linalg.norm(error) < 1e-4
        checked += 1
    assert checked >= 10


def test_at_rest_the_accelerometer_reads_plus_one_g_up_and_the_gyro_zero() -> None:
    trajectory = Trajectory.stationary(2.0, yaw_rad=1.0)
    imu = simulate_imu(trajectory, ICM42688P, rate_hz=RATE_HZ, rng=np.random.default_rng(0), noise=False)
    assert np.allclose(imu.accel_mps2, [0.0, 0.0, 9.80665], atol=1e-12)
    assert np.allclose(imu.gyro_radps, 0.0, atol=1e-15)


def test_specific_force_is_gravity_free_acceleration_in_the_body_frame() -> None:
    trajectory = plan_trajectory(MISSIONS["out_and_back"], FlightProfile())
    states = trajectory.states(np.linspace(0.0, trajectory.duration_s, 500))
    accel, gyro = ideal_imu(states)
    # Rotating the measured specific force back into map and adding gravity gives the kinematic acceleration.
    accel_map = np.einsum("nij,nj->ni", states.R_map_body, accel) + np.array([0.0, 0.0, -9.80665])
    assert np.abs(accel_map - states.acceleration_mps2).max() < 1e-12
    assert np.array_equal(gyro, states.angular_rate_body_radps)
    # Thrust only: no sideways specific force on a multirotor (body x and y components vanish).
    assert np.abs(accel[:, :2]).max() < 1e-12


def test_white_noise_has_the_profile_density(static_run: tuple[Trajectory, object]) -> None:
    trajectory, imu = static_run
    ideal_accel, ideal_gyro = ideal_imu(trajectory.states(imu.t_ns / 1e9))
    accel_noise = imu.accel_mps2 - ideal_accel - imu.accel_bias_mps2
    gyro_noise = imu.gyro_radps - ideal_gyro - imu.gyro_bias_radps
    # 120 000 samples per axis: the sample std is within 1 % of the truth with overwhelming odds.
    assert np.allclose(accel_noise.std(axis=0), BMI088.accel_noise_density * math.sqrt(RATE_HZ), rtol=0.015)
    assert np.allclose(gyro_noise.std(axis=0), BMI088.gyro_noise_density * math.sqrt(RATE_HZ), rtol=0.015)
    assert np.abs(accel_noise.mean(axis=0)).max() < 5 * accel_noise.std() / math.sqrt(len(imu))
    assert imu.gyro_variance_radps_2() == pytest.approx((BMI088.gyro_noise_density * math.sqrt(RATE_HZ)) ** 2)


def test_allan_deviation_at_short_times_follows_the_noise_density(static_run: tuple[Trajectory, object]) -> None:
    trajectory, imu = static_run
    for tau in (0.05, 0.2, 1.0):
        # The estimate's relative spread is about 1 / sqrt(2 (T / tau)); allow 3.5 of it.
        tolerance = 3.5 / math.sqrt(2.0 * trajectory.duration_s / tau)
        for axis in range(3):
            expected = BMI088.gyro_noise_density / math.sqrt(tau)  # white-noise region: N / sqrt(tau)
            assert allan_deviation(imu.gyro_radps[:, axis], RATE_HZ, tau) == pytest.approx(expected, rel=tolerance)
            expected = BMI088.accel_noise_density / math.sqrt(tau)
            assert allan_deviation(imu.accel_mps2[:, axis], RATE_HZ, tau) == pytest.approx(expected, rel=tolerance)


def test_bias_random_walk_shows_in_the_allan_deviation_at_long_times() -> None:
    # A walk 200 times the BMI088's dominates long averaging times: sigma(tau) = K sqrt(tau / 3).
    profile = dataclasses.replace(BMI088, gyro_bias_random_walk=200 * BMI088.gyro_bias_random_walk)
    trajectory = Trajectory.stationary(2000.0)
    imu = simulate_imu(trajectory, profile, rate_hz=100.0, rng=np.random.default_rng(7))
    n, k = profile.gyro_noise_density, profile.gyro_bias_random_walk
    for tau in (20.0, 50.0):
        expected = math.sqrt(n**2 / tau + k**2 * tau / 3.0)
        measured = np.mean([allan_deviation(imu.gyro_radps[:, axis], 100.0, tau) for axis in range(3)])
        assert measured == pytest.approx(expected, rel=0.2)
    # The true bias increments have variance K^2 dt per step.
    steps = np.diff(imu.gyro_bias_radps, axis=0)
    assert steps.std() == pytest.approx(k * math.sqrt(1.0 / 100.0), rel=0.01)


def test_turn_on_biases_are_uniform_within_the_datasheet_range() -> None:
    trajectory = Trajectory.stationary(0.01)
    starts = np.array(
        [
            simulate_imu(trajectory, ADIS16448, rate_hz=RATE_HZ, rng=np.random.default_rng(seed)).gyro_bias_radps[0]
            for seed in range(600)
        ]
    )
    spread = ADIS16448.gyro_turn_on_bias_radps
    assert np.abs(starts).max() <= spread
    assert starts.std() == pytest.approx(spread / math.sqrt(3.0), rel=0.08)  # uniform on [-a, a]


def test_noise_free_samples_have_zero_bias() -> None:
    imu = simulate_imu(Trajectory.stationary(1.0), BMI088, rate_hz=RATE_HZ, rng=np.random.default_rng(1), noise=False)
    assert not imu.accel_bias_mps2.any()
    assert not imu.gyro_bias_radps.any()


def test_same_seed_same_samples_other_seed_other_noise() -> None:
    trajectory = plan_trajectory(MISSIONS["out_and_back"], FlightProfile())
    a = simulate_imu(trajectory, BMI088, rate_hz=RATE_HZ, rng=np.random.default_rng(5), duration_s=20.0)
    b = simulate_imu(trajectory, BMI088, rate_hz=RATE_HZ, rng=np.random.default_rng(5), duration_s=20.0)
    c = simulate_imu(trajectory, BMI088, rate_hz=RATE_HZ, rng=np.random.default_rng(6), duration_s=20.0)
    assert np.array_equal(a.accel_mps2, b.accel_mps2)
    assert np.array_equal(a.gyro_radps, b.gyro_radps)
    assert not np.array_equal(a.accel_mps2, c.accel_mps2)
    assert np.array_equal(a.t_ns, c.t_ns)


def test_samples_are_stamped_on_the_exact_grid() -> None:
    stamps = sample_times_ns(2.0, 200.0)
    assert len(stamps) == 401
    assert stamps[0] == 0
    assert np.all(np.diff(stamps) == 5_000_000)
    assert list(sample_times_ns(1.0, 3.0)) == [0, 333_333_333, 666_666_667, 1_000_000_000]
    imu = simulate_imu(Trajectory.stationary(3.0), BMI088, rate_hz=RATE_HZ, rng=np.random.default_rng(0))
    sample = imu.sample(10, epoch_ns=1_000)
    assert sample.t_ns == 1_000 + 50_000_000
    assert np.array_equal(sample.accel_mps2, imu.accel_mps2[10])


def test_profiles_carry_the_datasheet_figures_in_kalibr_units() -> None:
    deg, ug = math.pi / 180.0, 9.80665e-6
    assert BMI088.gyro_noise_density == pytest.approx(0.014 * deg)
    assert BMI088.accel_noise_density == pytest.approx(175 * ug)
    assert ICM42688P.gyro_noise_density == pytest.approx(0.0028 * deg)
    assert ICM42688P.accel_noise_density == pytest.approx(70 * ug)
    assert ADIS16448.gyro_noise_density == pytest.approx(0.0135 * deg)
    assert ADIS16448.accel_noise_density == pytest.approx(230 * ug)
    # In-run bias stability 14.5 deg/h read as the Allan floor at 1000 s: K = B sqrt(3 / 1000).
    assert ADIS16448.gyro_bias_random_walk == pytest.approx(14.5 * deg / 3600 * math.sqrt(3e-3))
    assert set(PROFILES) == {"bmi088", "icm42688p", "adis16448"}
    assert mems_profile("icm42688p") is ICM42688P


def test_the_estimator_is_configured_from_the_same_numbers() -> None:
    noise = BMI088.imu_noise()
    assert noise == ImuNoise(
        accel_noise_density=BMI088.accel_noise_density,
        gyro_noise_density=BMI088.gyro_noise_density,
        accel_bias_random_walk=BMI088.accel_bias_random_walk,
        gyro_bias_random_walk=BMI088.gyro_bias_random_walk,
    )


def test_unknown_profile_is_a_typed_error() -> None:
    with pytest.raises(UnknownImuProfileError, match=r"'mpu6050'.*adis16448"):
        mems_profile("mpu6050")


def test_negative_profile_figure_is_a_typed_error() -> None:
    with pytest.raises(ImuConfigError, match="gyro_noise_density"):
        MemsProfile("bad", 1e-3, -1e-4, 0.0, 0.0, 0.0, 0.0, "test")


def test_non_numeric_profile_figure_is_a_typed_error() -> None:
    with pytest.raises(ImuConfigError, match="accel_turn_on_bias_mps2"):
        MemsProfile("bad", 1e-3, 1e-4, 0.0, 0.0, "big", 0.0, "test")  # type: ignore[arg-type]


def test_non_positive_rate_is_a_typed_error() -> None:
    with pytest.raises(ImuConfigError, match="rate_hz"):
        simulate_imu(Trajectory.stationary(1.0), BMI088, rate_hz=0.0, rng=np.random.default_rng(0))


def test_missing_generator_is_a_typed_error() -> None:
    with pytest.raises(ImuConfigError, match=r"numpy\.random\.Generator"):
        simulate_imu(Trajectory.stationary(1.0), BMI088, rate_hz=RATE_HZ, rng=7)  # type: ignore[arg-type]
