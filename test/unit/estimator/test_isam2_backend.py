"""The iSAM2 backend on its own: incremental vs batch, covariance conventions against independent
oracles (a linear Kalman update, the physics of a tilt error, GTSAM's own marginal), GTSAM
failures turned into resets, gating, robust kernels, bounded window, and config validation."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gps_denied_onboard.common.inertial import GRAVITY_MAP, GRAVITY_MPS2, ImuNoise, ImuSample
from gps_denied_onboard.estimator.backend import (
    ATT,
    BA,
    BG,
    POS,
    STATE_DIM,
    VEL,
    AltitudeMeasurement,
    NavState,
    PositionMeasurement,
    RobustKernel,
    VioIncrement,
)
from gps_denied_onboard.estimator.config import PARAMETERS, EstimatorConfig, SensorGatingConfig
from gps_denied_onboard.estimator.errors import BackendStateError, EstimatorConfigError, EstimatorError

pytest.importorskip("gtsam", reason="the isam2 backend needs the gtsam wheel")

from gps_denied_onboard.estimator.config import Isam2Config
from gps_denied_onboard.estimator.isam2 import Isam2Backend

NS = 1_000_000_000
IMU_DT_NS = 5_000_000  # 200 Hz
NOISE = ImuNoise(accel_noise_density=2e-3, gyro_noise_density=2e-4, accel_bias_random_walk=1e-4,
                 gyro_bias_random_walk=2e-5)  # fmt: skip
SIGMAS = np.array([1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.02, 0.02, 0.1, 0.05, 0.05, 0.05, 0.003, 0.003, 0.003])


def yaw_matrix(yaw_rad: float) -> np.ndarray:
    return Rotation.from_euler("z", yaw_rad).as_matrix()


def initial_state(
    *,
    t_ns: int = 0,
    position_m: np.ndarray | None = None,
    velocity_mps: np.ndarray | None = None,
    rotation: np.ndarray | None = None,
    covariance: np.ndarray | None = None,
) -> NavState:
    return NavState(
        t_ns=t_ns,
        position_m=np.zeros(3) if position_m is None else position_m,
        velocity_mps=np.zeros(3) if velocity_mps is None else velocity_mps,
        rotation=np.eye(3) if rotation is None else rotation,
        accel_bias_mps2=np.zeros(3),
        gyro_bias_radps=np.zeros(3),
        covariance=np.diag(SIGMAS**2) if covariance is None else covariance,
    )


def random_spd(rng: np.random.Generator, sigmas: np.ndarray, correlation: float) -> np.ndarray:
    """A covariance with the given sigmas and random correlations of magnitude up to ``correlation``."""
    a = rng.normal(size=(STATE_DIM, STATE_DIM))
    c = np.eye(STATE_DIM) + correlation * (a + a.T) / (2 * math.sqrt(STATE_DIM))
    c = 0.5 * (c + c.T)
    assert np.all(np.linalg.eigvalsh(c) > 0.1)
    return np.asarray(np.diag(sigmas) @ c @ np.diag(sigmas))


class Circle:
    """Level flight on a circle at constant speed, yaw along the track; exact IMU from the kinematics."""

    def __init__(self, radius_m: float = 30.0, rate_radps: float = 0.15, height_m: float = 20.0) -> None:
        self.r, self.w, self.h = radius_m, rate_radps, height_m

    def truth(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        c, s = math.cos(self.w * t_s), math.sin(self.w * t_s)
        position = np.array([self.r * c, self.r * s, self.h])
        velocity = np.array([-self.r * self.w * s, self.r * self.w * c, 0.0])
        acceleration = np.array([-self.r * self.w**2 * c, -self.r * self.w**2 * s, 0.0])
        return position, velocity, acceleration, yaw_matrix(self.w * t_s + math.pi / 2)

    def imu(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        _, _, acceleration, rotation = self.truth(t_s)
        return rotation.T @ (acceleration - GRAVITY_MAP), np.array([0.0, 0.0, self.w])


def stationary_sample(t_ns: int, rotation: np.ndarray) -> ImuSample:
    return ImuSample(t_ns, rotation.T @ np.array([0.0, 0.0, GRAVITY_MPS2]), np.zeros(3))


def fly_circle(
    backend: Isam2Backend,
    duration_s: float,
    *,
    gnss_period_s: float = 1.0,
    denied: tuple[float, float] = (math.inf, math.inf),
    seed: int = 0,
    accel_bias: np.ndarray | None = None,
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Initialise at the circle's start, fly it with noisy IMU and GNSS; (t, true, estimated) each GNSS period."""
    rng = np.random.default_rng(seed)
    circle = Circle()
    position, velocity, _, rotation = circle.truth(0.0)
    backend.initialize(
        initial_state(position_m=position + rng.normal(0.0, 0.5, 3), velocity_mps=velocity, rotation=rotation), NOISE
    )
    bias = np.zeros(3) if accel_bias is None else accel_bias
    dt_s = IMU_DT_NS / NS
    every = round(gnss_period_s * NS / IMU_DT_NS)
    trace = []
    for k in range(1, round(duration_s * NS / IMU_DT_NS) + 1):
        t_s = k * dt_s
        accel, gyro = circle.imu(t_s)
        accel = accel + bias + rng.normal(0.0, NOISE.accel_noise_density / math.sqrt(dt_s), 3)
        gyro = gyro + rng.normal(0.0, NOISE.gyro_noise_density / math.sqrt(dt_s), 3)
        backend.propagate(ImuSample(k * IMU_DT_NS, accel, gyro))
        if k % every == 0:
            truth = circle.truth(t_s)[0]
            if not denied[0] <= t_s < denied[1]:
                fix = truth + rng.normal(0.0, 0.3, 3)
                outcome = backend.update_position(PositionMeasurement(k * IMU_DT_NS, fix, np.eye(3) * 0.09, "gnss"))
                assert outcome.accepted, outcome
            trace.append((t_s, truth, backend.state().position_m))
    return trace


# --------------------------------------------------------------------------- incremental vs batch
def test_tuned_incremental_smoother_matches_batch_levenberg_marquardt_and_gtsam_defaults_do_not() -> None:
    # A 60 s lag holds the whole 30 s flight: the smoother's own graph solved by batch LM is the reference.
    differences = {}
    for label, config in {
        "tuned": Isam2Config(lag_s=60.0),
        "gtsam_defaults": Isam2Config(lag_s=60.0, relinearize_threshold=0.1, relinearize_skip=10),
    }.items():
        backend = Isam2Backend(config)
        fly_circle(backend, 30.0, denied=(12.0, 24.0), seed=3)
        comparison = backend.compare_with_batch()
        assert comparison.t_ns == tuple(t for t, _ in backend.window_positions())
        assert len(comparison.t_ns) >= 60
        assert comparison.batch_cost <= comparison.incremental_cost + 1e-9
        differences[label] = float(np.max(np.linalg.norm(comparison.incremental_m - comparison.batch_m, axis=1)))
    assert differences["tuned"] < 0.005, differences
    # GTSAM's defaults (check relinearisation every 10th update, threshold 0.1) stay measurably further away.
    assert differences["gtsam_defaults"] > 3 * differences["tuned"], differences


@pytest.mark.parametrize("combined", [True, False], ids=["CombinedImuFactor", "ImuFactor+bias_between"])
def test_window_is_bounded_by_the_lag(combined: bool) -> None:
    config = Isam2Config(lag_s=3.0, keyframe_period_s=0.5, use_combined_imu_factor=combined)
    backend = Isam2Backend(config)
    trace = fly_circle(backend, 20.0, gnss_period_s=1.0)
    # Keyframes every 0.5 s (GNSS ones coincide): about lag / period + 1 of them, 3 keys each.
    assert backend.keyframe_count >= 40
    assert backend.smoother_key_count() <= 3 * (math.ceil(config.lag_s / config.keyframe_period_s) + 2)
    assert len(backend.window_positions()) <= math.ceil(config.lag_s / config.keyframe_period_s) + 2
    errors = [float(np.linalg.norm(est - truth)) for _, truth, est in trace[5:]]
    assert max(errors) < 1.0, errors


# --------------------------------------------------------------------------- covariance conventions
def test_initial_covariance_round_trips_through_gtsam_body_frame_tangents() -> None:
    rng = np.random.default_rng(7)
    covariance = random_spd(rng, SIGMAS, correlation=0.6)
    rotation = Rotation.from_euler("zyx", [2.0, 0.3, -0.2]).as_matrix()
    backend = Isam2Backend()
    backend.initialize(initial_state(rotation=rotation, covariance=covariance), NOISE)
    state = backend.state()
    np.testing.assert_allclose(state.covariance, covariance, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(state.rotation, rotation, atol=1e-12)


def test_position_update_at_one_instant_equals_the_linear_kalman_update() -> None:
    # At a single instant the GPS factor is linear in dp: the smoother's posterior (mean of all 15
    # states through their prior correlations, and covariance) must be the Kalman filter's.
    rng = np.random.default_rng(11)
    prior = random_spd(rng, SIGMAS, correlation=0.5)
    rotation = yaw_matrix(1.2)
    position = np.array([10.0, -4.0, 30.0])
    backend = Isam2Backend()
    backend.initialize(initial_state(position_m=position, rotation=rotation, covariance=prior), NOISE)
    measured = position + np.array([0.3, -0.2, 0.1])
    noise = np.diag([0.2, 0.3, 0.5]) ** 2
    outcome = backend.update_position(PositionMeasurement(0, measured, noise, "gnss"))
    assert outcome.accepted, outcome

    h = np.zeros((3, STATE_DIM))
    h[:, POS] = np.eye(3)
    s = h @ prior @ h.T + noise
    gain = prior @ h.T @ np.linalg.inv(s)
    correction = gain @ (measured - position)
    expected_covariance = (np.eye(STATE_DIM) - gain @ h) @ prior
    assert outcome.mahalanobis == pytest.approx(
        math.sqrt((measured - position) @ np.linalg.solve(s, measured - position))
    )

    state = backend.state()
    # Tolerances: GTSAM retracts Pose3 with its own chart, which couples rotation and translation
    # at second order (|dtheta| |dp| ~ 1e-3 m here); a frame or sign error would be ~0.1-0.3 m.
    np.testing.assert_allclose(state.position_m, position + correction[POS], atol=2e-3)
    np.testing.assert_allclose(state.velocity_mps, correction[VEL], atol=1e-4)
    np.testing.assert_allclose(state.accel_bias_mps2, correction[BA], atol=1e-5)
    np.testing.assert_allclose(state.gyro_bias_radps, correction[BG], atol=1e-6)
    # R_true = Exp(dtheta_map) R: the attitude correction is applied on the left, in the map frame.
    np.testing.assert_allclose(state.rotation, Rotation.from_rotvec(correction[ATT]).as_matrix() @ rotation, atol=1e-4)
    # Covariances compared as correlations: the smoother reports its covariance at the corrected
    # attitude, the Kalman filter at the prior one; that rotation moves entries by ~|dtheta|.
    scale = np.sqrt(np.outer(np.diag(expected_covariance), np.diag(expected_covariance)))
    np.testing.assert_allclose(state.covariance / scale, expected_covariance / scale, atol=0.01)
    np.testing.assert_allclose(np.diag(state.covariance), np.diag(expected_covariance), rtol=0.01)


def test_tilt_uncertainty_about_map_east_grows_north_position_variance_whatever_the_heading() -> None:
    # A tilt error eps about map east mis-projects gravity into a north acceleration eps*g:
    # after t seconds at rest var(north) = (g t^2 / 2)^2 sigma^2, east hardly grows. A dtheta taken
    # in the body frame would, yawed 90 degrees, put that growth on east instead.
    sigma_rad = 0.01
    for yaw_rad in (0.0, math.pi / 2, 2.5):
        rotation = yaw_matrix(yaw_rad)
        variances = np.full(STATE_DIM, 1e-10)
        variances[ATT] = [sigma_rad**2, 1e-10, 1e-10]  # map-frame attitude: east axis only
        backend = Isam2Backend(Isam2Config(keyframe_period_s=5.0, lag_s=20.0))
        backend.initialize(initial_state(rotation=rotation, covariance=np.diag(variances)), NOISE)
        for k in range(1, 201):  # 1 s, no keyframe yet: the IMU prediction's covariance
            backend.propagate(stationary_sample(k * IMU_DT_NS, rotation))
        covariance = backend.state().covariance
        expected_north = (GRAVITY_MPS2 * 1.0**2 / 2) ** 2 * sigma_rad**2
        assert covariance[1, 1] == pytest.approx(expected_north, rel=0.05), yaw_rad
        assert covariance[0, 0] < 0.01 * expected_north, yaw_rad
        _, prior_covariance = backend.position_prior()
        np.testing.assert_allclose(prior_covariance, covariance[POS, POS], rtol=1e-12)


@pytest.mark.parametrize("combined", [True, False], ids=["CombinedImuFactor", "ImuFactor+bias_between"])
def test_predicted_covariance_between_keyframes_equals_the_smoothers_marginal_at_a_new_keyframe(combined: bool) -> None:
    # Between keyframes the covariance is propagated through the IMU factor's linearisation; GTSAM's
    # marginal of a keyframe made at the same instant (with no new information) is the reference.
    rng = np.random.default_rng(5)
    circle = Circle()
    position, velocity, _, rotation = circle.truth(0.0)
    backend = Isam2Backend(Isam2Config(keyframe_period_s=5.0, lag_s=20.0, use_combined_imu_factor=combined))
    backend.initialize(
        initial_state(position_m=position, velocity_mps=velocity, rotation=rotation,
                      covariance=random_spd(rng, SIGMAS, 0.4)),
        NOISE,
    )  # fmt: skip
    for k in range(1, 301):
        accel, gyro = circle.imu(k * IMU_DT_NS / NS)
        backend.propagate(ImuSample(k * IMU_DT_NS, accel, gyro))
    predicted = backend.state()
    assert backend.keyframe_count == 1
    # An increment whose t0 matches no anchor only anchors the next one here (and says so).
    outcome = backend.update_vio(vio_increment(-NS, 300 * IMU_DT_NS, np.eye(3), np.zeros(3)))
    assert not outcome.accepted
    assert "no VIO anchor" in outcome.reason
    assert backend.keyframe_count == 2
    smoothed = backend.state()
    np.testing.assert_allclose(smoothed.position_m, predicted.position_m, atol=1e-6)
    np.testing.assert_allclose(smoothed.covariance, predicted.covariance, rtol=0.02, atol=1e-9)


# --------------------------------------------------------------------------- measurements
def vio_increment(t0_ns: int, t1_ns: int, rotation: np.ndarray, translation_m: np.ndarray) -> VioIncrement:
    return VioIncrement(
        t0_ns=t0_ns,
        t1_ns=t1_ns,
        rotation=rotation,
        translation_m=translation_m,
        covariance=np.diag([1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4]),
        velocity_body_mps=np.zeros(3),
        velocity_covariance=np.eye(3) * 1e-2,
    )


def test_vio_increments_bound_drift_of_a_biased_imu_and_are_statistically_consistent() -> None:
    # Straight and level at 5 m/s north with a 0.05 m/s^2 accelerometer bias nobody told the
    # backend about: IMU alone drifts 0.5 * 0.05 * 20^2 = 10 m in 20 s; 10 Hz VIO holds it.
    rotation = yaw_matrix(math.pi / 2)  # body x = north
    speed = 5.0
    vio_sigma = 0.01
    rng = np.random.default_rng(2)
    final_errors = {}
    for use_vio in (False, True):
        backend = Isam2Backend(Isam2Config(lag_s=4.0))
        backend.initialize(initial_state(velocity_mps=np.array([0.0, speed, 0.0]), rotation=rotation), NOISE)
        last_vio_ns = 0
        mahalanobis_sq = []
        for k in range(1, 4001):
            t_ns = k * IMU_DT_NS
            sample = stationary_sample(t_ns, rotation)
            backend.propagate(ImuSample(t_ns, sample.accel_mps2 + np.array([0.05, 0.0, 0.0]), sample.gyro_radps))
            if use_vio and k % 20 == 0:
                step = speed * (t_ns - last_vio_ns) / NS
                measured = np.array([step, 0.0, 0.0]) + rng.normal(0.0, vio_sigma, 3)
                increment = replace(
                    vio_increment(last_vio_ns, t_ns, np.eye(3), measured),
                    covariance=np.diag([1e-6] * 3 + [vio_sigma**2] * 3),
                )
                outcome = backend.update_vio(increment)  # the first one anchors on the initial keyframe
                assert outcome.accepted, outcome
                mahalanobis_sq.append(outcome.mahalanobis**2)
                last_vio_ns = t_ns
        truth = np.array([0.0, speed * 20.0, 0.0])
        final_errors[use_vio] = float(np.linalg.norm(backend.state().position_m - truth))
        if use_vio:
            # Normalised innovations of 6-dof increments: chi-square with 6 dof has mean 6.
            assert 2.0 < float(np.mean(mahalanobis_sq[20:])) < 12.0, np.mean(mahalanobis_sq[20:])
    assert final_errors[False] > 8.0, final_errors
    assert final_errors[True] < 2.0, final_errors


def test_vio_covariance_is_taken_in_the_start_frame_of_a_rotating_increment() -> None:
    # Yaw 90 degrees in place over 0.1 s; the increment's translation is off by 3 cm along b0's x,
    # where its stated sigma is 1 cm (10 cm along y). Read in b0 that is 3 sigma; read (wrongly) in
    # b1, whose y axis is b0's x, it would look like 0.3 sigma.
    covariance = np.diag(np.full(STATE_DIM, 1e-10))
    backend = Isam2Backend(Isam2Config(keyframe_period_s=1.0, lag_s=5.0))
    backend.initialize(initial_state(covariance=covariance), NOISE)
    rate = (math.pi / 2) / 0.1
    for k in range(1, 21):
        backend.propagate(ImuSample(k * IMU_DT_NS, np.array([0.0, 0.0, GRAVITY_MPS2]), np.array([0.0, 0.0, rate])))
    np.testing.assert_allclose(backend.state().rotation, yaw_matrix(math.pi / 2), atol=1e-9)
    increment = replace(
        vio_increment(0, 20 * IMU_DT_NS, yaw_matrix(math.pi / 2), np.array([0.03, 0.0, 0.0])),
        covariance=np.diag([1e-8, 1e-8, 1e-8, 0.01**2, 0.1**2, 0.1**2]),
    )
    outcome = backend.update_vio(increment)
    assert outcome.accepted, outcome
    assert outcome.mahalanobis == pytest.approx(3.0, rel=0.02)


def test_vio_increment_with_no_imu_sample_inside_is_rejected_not_a_self_loop() -> None:
    backend = Isam2Backend()
    backend.initialize(initial_state(t_ns=IMU_DT_NS), NOISE)
    outcome = backend.update_vio(vio_increment(IMU_DT_NS - 1_000_000, IMU_DT_NS, np.eye(3), np.zeros(3)))
    assert not outcome.accepted
    assert "shorter than one IMU period" in outcome.reason
    assert backend.keyframe_count == 1


def test_huber_kernel_pulls_less_toward_an_outlier_than_the_plain_gaussian() -> None:
    pulls = {}
    for kernel in (RobustKernel.NONE, RobustKernel.HUBER, RobustKernel.CAUCHY):
        backend = Isam2Backend()  # no gating config: only the kernel acts
        backend.initialize(initial_state(), NOISE)
        outlier = PositionMeasurement(0, np.array([8.0, 0.0, 0.0]), np.eye(3) * 0.25, "geofix", kernel, 1.345)
        assert backend.update_position(outlier).accepted
        pulls[kernel] = float(backend.state().position_m[0])
    # Gaussian: the Kalman pull 8 * 1 / (1 + 0.25) = 6.4 m; the kernels cap the outlier's weight.
    assert pulls[RobustKernel.NONE] == pytest.approx(6.4, rel=1e-3)
    assert pulls[RobustKernel.HUBER] < 0.5 * pulls[RobustKernel.NONE], pulls
    assert pulls[RobustKernel.CAUCHY] < pulls[RobustKernel.HUBER], pulls


def test_gated_outlier_is_rejected_with_its_distance_and_leaves_the_state_unchanged() -> None:
    backend = Isam2Backend(gating=SensorGatingConfig())
    backend.initialize(initial_state(), NOISE)
    for k in range(1, 41):
        backend.propagate(stationary_sample(k * IMU_DT_NS, np.eye(3)))
    before = backend.state()
    keyframes = backend.keyframe_count
    outcome = backend.update_position(
        PositionMeasurement(40 * IMU_DT_NS, np.array([60.0, 0.0, 0.0]), np.eye(3), "gnss")
    )
    assert not outcome.accepted
    assert outcome.mahalanobis > 40.0
    assert outcome.reason.startswith("mahalanobis ")
    assert "> gate" in outcome.reason
    after = backend.state()
    assert backend.keyframe_count == keyframes
    for field in ("position_m", "velocity_mps", "rotation", "accel_bias_mps2", "gyro_bias_radps", "covariance"):
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field), err_msg=field)


def test_unknown_position_source_is_rejected() -> None:
    backend = Isam2Backend()
    backend.initialize(initial_state(), NOISE)
    outcome = backend.update_position(PositionMeasurement(0, np.zeros(3), np.eye(3), "lidar"))
    assert not outcome.accepted
    assert "unknown position source 'lidar'" in outcome.reason


def test_altitude_moves_only_height_by_the_kalman_gain() -> None:
    backend = Isam2Backend()
    backend.initialize(initial_state(position_m=np.array([5.0, 6.0, 10.0])), NOISE)
    outcome = backend.update_altitude(AltitudeMeasurement(0, up_m=11.0, variance_m2=1.0))
    assert outcome.accepted, outcome
    state = backend.state()
    # Prior variance 1 m^2, measurement 1 m^2, 1 m residual (one sigma: inside Huber's threshold).
    np.testing.assert_allclose(state.position_m, [5.0, 6.0, 10.5], atol=1e-6)
    assert state.covariance[2, 2] == pytest.approx(0.5, rel=1e-3)
    assert state.covariance[0, 0] == pytest.approx(1.0, rel=1e-6)


# --------------------------------------------------------------------------- GTSAM failures
def test_indeterminant_system_from_gtsam_resets_to_the_last_good_keyframe_without_raising() -> None:
    # A real IndeterminantLinearSystemException: GTSAM's Cholesky cannot factor the first IMU keyframe
    # with a 10 m position prior (the reason QR is the default). Every attempt must come back as a
    # typed outcome; the state stays the IMU prediction from the last good keyframe, never NaN.
    variances = SIGMAS**2
    variances[POS] = 100.0
    backend = Isam2Backend(Isam2Config(factorization="CHOLESKY", keyframe_period_s=0.5))
    backend.initialize(initial_state(covariance=np.diag(variances)), NOISE)
    for k in range(1, 181):
        backend.propagate(stationary_sample(k * IMU_DT_NS, np.eye(3)))
    # One failed periodic keyframe at 0.5 s, retried no earlier than a period later (not every sample).
    assert backend.reset_count == 1
    assert "periodic keyframe update failed in GTSAM: Indeterminate" in backend.last_reset_reason
    outcome = backend.update_position(PositionMeasurement(180 * IMU_DT_NS, np.zeros(3), np.eye(3) * 100.0, "gnss"))
    assert not outcome.accepted
    assert outcome.reason.startswith("gnss update failed in GTSAM: Indeterminate"), outcome.reason
    assert outcome.reason.endswith("reset to the last good keyframe")
    assert backend.reset_count == 2
    state = backend.state()
    assert state.t_ns == 180 * IMU_DT_NS
    assert np.all(np.isfinite(state.covariance))
    np.testing.assert_allclose(state.position_m, 0.0, atol=1e-3)
    assert state.covariance[0, 0] > 100.0  # the prior's uncertainty, not a collapsed one


def test_the_same_scenario_succeeds_with_qr() -> None:
    variances = SIGMAS**2
    variances[POS] = 100.0
    backend = Isam2Backend(Isam2Config(factorization="QR"))
    backend.initialize(initial_state(covariance=np.diag(variances)), NOISE)
    for k in range(1, 201):
        backend.propagate(stationary_sample(k * IMU_DT_NS, np.eye(3)))
    outcome = backend.update_position(PositionMeasurement(200 * IMU_DT_NS, np.ones(3), np.eye(3), "gnss"))
    assert outcome.accepted, outcome
    assert backend.reset_count == 0
    assert backend.state().covariance[0, 0] < 1.0


# --------------------------------------------------------------------------- contract misuse
def test_propagate_before_initialize_is_a_typed_error() -> None:
    with pytest.raises(BackendStateError, match="before initialize"):
        Isam2Backend().propagate(stationary_sample(IMU_DT_NS, np.eye(3)))


def test_imu_stamp_going_backwards_is_a_typed_error() -> None:
    backend = Isam2Backend()
    backend.initialize(initial_state(t_ns=10 * IMU_DT_NS), NOISE)
    backend.propagate(stationary_sample(11 * IMU_DT_NS, np.eye(3)))
    with pytest.raises(BackendStateError, match="must increase"):
        backend.propagate(stationary_sample(11 * IMU_DT_NS, np.eye(3)))
    with pytest.raises(BackendStateError, match="must increase"):
        backend.propagate(stationary_sample(5 * IMU_DT_NS, np.eye(3)))


def test_initial_covariance_that_is_not_positive_definite_is_a_typed_error() -> None:
    covariance = np.diag(SIGMAS**2)
    covariance[4, 4] = -1.0
    with pytest.raises(BackendStateError, match="positive definite"):
        Isam2Backend().initialize(initial_state(covariance=covariance), NOISE)


def test_non_positive_definite_measurement_covariance_is_rejected_not_fused() -> None:
    backend = Isam2Backend()
    backend.initialize(initial_state(), NOISE)
    outcome = backend.update_position(PositionMeasurement(0, np.zeros(3), np.diag([1.0, 0.0, 1.0]), "gnss"))
    assert not outcome.accepted
    assert "positive definite" in outcome.reason
    assert backend.keyframe_count == 1


# --------------------------------------------------------------------------- configuration
def test_default_config_is_valid_and_in_the_estimator_parameter_table() -> None:
    names = {spec.name for spec in PARAMETERS}
    assert {"isam2.lag_s", "isam2.keyframe_period_s", "isam2.relinearize_skip", "isam2.factorization"} <= names
    config = EstimatorConfig.from_parameters({"backend": "isam2", "isam2.lag_s": 8.0, "isam2.relinearize_skip": 2})
    assert config.isam2 == Isam2Config(lag_s=8.0, relinearize_skip=2)
    assert config.to_parameters()["isam2.factorization"] == "QR"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lag_s", 0.1, r"isam2\.lag_s must be a finite number in \[0\.5, 120\]"),
        ("lag_s", math.nan, r"isam2\.lag_s must be"),
        ("keyframe_period_s", 0.0, r"isam2\.keyframe_period_s must be"),
        ("relinearize_threshold", 2.0, r"isam2\.relinearize_threshold must be"),
        ("relinearize_skip", 0, r"isam2\.relinearize_skip must be an integer in \[1, 100\]"),
        ("relinearize_skip", 1.5, r"isam2\.relinearize_skip must be an integer"),
        ("extra_iterations", -1, r"isam2\.extra_iterations must be"),
        ("use_combined_imu_factor", 1, r"isam2\.use_combined_imu_factor must be a bool"),
        ("integration_sigma", 0.0, r"isam2\.integration_sigma must be"),
        ("factorization", "LU", r"isam2\.factorization must be one of \['CHOLESKY', 'QR'\]"),
        ("altitude_kernel", "tukey", r"isam2\.altitude_kernel must be one of"),
        ("vio_kernel", "HUBER", r"isam2\.vio_kernel must be one of"),
        ("vio_anchor_tolerance_s", -0.001, r"isam2\.vio_anchor_tolerance_s must be"),
    ],
)
def test_invalid_config_value_is_a_typed_error_naming_the_parameter(field: str, value: object, message: str) -> None:
    with pytest.raises(EstimatorConfigError, match=message):
        Isam2Config(**{field: value})  # type: ignore[arg-type]


def test_lag_shorter_than_two_keyframe_periods_is_a_typed_error() -> None:
    with pytest.raises(EstimatorConfigError, match=r"isam2\.lag_s \(1\.0\) must hold at least two keyframe periods"):
        Isam2Config(lag_s=1.0, keyframe_period_s=0.8)


def test_unknown_isam2_parameter_is_refused_by_the_table() -> None:
    with pytest.raises(EstimatorConfigError, match=r"unknown estimator parameter\(s\) \['isam2\.lag'\]"):
        EstimatorConfig.from_parameters({"isam2.lag": 5.0})


def test_backend_errors_share_the_estimator_root() -> None:
    assert issubclass(BackendStateError, EstimatorError)
