"""The ESKF backend against independent oracles: analytic kinematics, numeric Jacobians, textbook KF updates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from estimator_synthetic import Scenario, trajectory
from scipy.spatial.transform import Rotation

from gps_denied_onboard.common.inertial import ImuNoise, ImuSample
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
from gps_denied_onboard.estimator.config import EskfConfig, SensorGatingConfig
from gps_denied_onboard.estimator.errors import BackendStateError
from gps_denied_onboard.estimator.eskf import EskfBackend, VioMeasurement, kernel_weight

NS = 1_000_000_000
NOISE = ImuNoise(2e-3, 2e-4, 1e-4, 2e-5)


def make_state(covariance: np.ndarray | None = None, **fields: object) -> NavState:
    values: dict[str, object] = {
        "t_ns": NS,
        "position_m": np.array([10.0, -5.0, 30.0]),
        "velocity_mps": np.array([3.0, 1.0, -0.5]),
        "rotation": Rotation.from_euler("ZYX", [0.7, 0.05, -0.1]).as_matrix(),
        "accel_bias_mps2": np.array([0.02, -0.01, 0.03]),
        "gyro_bias_radps": np.array([1e-3, -2e-3, 5e-4]),
        "covariance": np.eye(STATE_DIM) * 0.01 if covariance is None else covariance,
    }
    values.update(fields)
    return NavState(**values)  # type: ignore[arg-type]


def make_backend(state: NavState | None = None, noise: ImuNoise = NOISE, **eskf: float) -> EskfBackend:
    backend = EskfBackend(EskfConfig(**eskf), SensorGatingConfig())
    backend.initialize(state or make_state(), noise)
    return backend


def random_spd(rng: np.random.Generator, scale: float = 0.1) -> np.ndarray:
    a = rng.normal(0, scale, (STATE_DIM, STATE_DIM))
    return a @ a.T + np.eye(STATE_DIM) * scale**2


def boxplus(state: NavState, delta: np.ndarray) -> NavState:
    """x (+) dx in the backend's error convention: R' = Exp(dtheta) R (map-frame attitude error)."""
    return make_state(
        t_ns=state.t_ns,
        position_m=state.position_m + delta[POS],
        velocity_mps=state.velocity_mps + delta[VEL],
        rotation=Rotation.from_rotvec(delta[ATT]).as_matrix() @ state.rotation,
        accel_bias_mps2=state.accel_bias_mps2 + delta[BA],
        gyro_bias_radps=state.gyro_bias_radps + delta[BG],
        covariance=state.covariance,
    )


def boxminus(a: NavState, b: NavState) -> np.ndarray:
    return np.concatenate(
        [
            a.position_m - b.position_m,
            a.velocity_mps - b.velocity_mps,
            Rotation.from_matrix(a.rotation @ b.rotation.T).as_rotvec(),
            a.accel_bias_mps2 - b.accel_bias_mps2,
            a.gyro_bias_radps - b.gyro_bias_radps,
        ]
    )


def test_noise_free_imu_reproduces_the_analytic_trajectory() -> None:
    rate = 200
    t_s = np.arange(0, 20.0 + 1e-9, 1.0 / rate)
    truth = trajectory(t_s, Scenario(rest_s=0.5, ramp_s=3.0), np.zeros(3), 0.4)
    start = make_state(
        t_ns=int(truth.t_ns[0]) + NS,
        position_m=truth.position_m[0],
        velocity_mps=truth.velocity_mps[0],
        rotation=truth.rotation[0],
        accel_bias_mps2=np.zeros(3),
        gyro_bias_radps=np.zeros(3),
    )
    backend = make_backend(start)
    for i in range(1, len(t_s)):
        backend.propagate(ImuSample(int(truth.t_ns[i]) + NS, truth.specific_force_mps2[i], truth.rate_radps[i]))
    end = backend.state()
    # Oracle: the closed-form trajectory. 20 s at up to ~7 m/s, 200 Hz trapezoidal integration.
    assert np.linalg.norm(end.position_m - truth.position_m[-1]) < 0.05
    assert np.linalg.norm(end.velocity_mps - truth.velocity_mps[-1]) < 0.005
    angle = np.linalg.norm(Rotation.from_matrix(end.rotation @ truth.rotation[-1].T).as_rotvec())
    assert angle < 1e-4
    assert np.linalg.norm(truth.position_m[-1] - truth.position_m[0]) > 50.0  # it really flew


def test_at_rest_the_state_stays_put_and_uncertainty_grows_by_the_noise() -> None:
    rotation = Rotation.from_euler("ZYX", [1.0, 0.0, 0.0]).as_matrix()
    state = make_state(
        position_m=np.zeros(3),
        velocity_mps=np.zeros(3),
        rotation=rotation,
        accel_bias_mps2=np.zeros(3),
        gyro_bias_radps=np.zeros(3),
        covariance=np.zeros((STATE_DIM, STATE_DIM)),
    )
    backend = make_backend(state)
    specific_force = rotation.T @ np.array([0.0, 0.0, 9.80665])
    for k in range(1, 201):
        backend.propagate(ImuSample(NS + k * 5_000_000, specific_force, np.zeros(3)))
    end = backend.state()
    assert np.allclose(end.position_m, 0.0, atol=1e-9)
    assert np.allclose(end.velocity_mps, 0.0, atol=1e-9)
    # Oracle after T = 1 s: velocity random walk sa^2 T, plus tilt from gyro noise (sg^2 t) felt through
    # gravity (g^2 sg^2 T^3 / 3) and the accelerometer bias walk (sba^2 T^3 / 3).
    g = 9.80665
    expected_vel = (
        NOISE.accel_noise_density**2 + (g * NOISE.gyro_noise_density) ** 2 / 3 + NOISE.accel_bias_random_walk**2 / 3
    )
    assert end.covariance[3, 3] == pytest.approx(expected_vel, rel=0.01)
    expected_yaw = NOISE.gyro_noise_density**2 + NOISE.gyro_bias_random_walk**2 / 3
    assert end.covariance[8, 8] == pytest.approx(expected_yaw, rel=1e-4)


def transition_matrix(backend_factory: type[EskfBackend], state: NavState, sample: ImuSample) -> np.ndarray:
    """The backend's F, read column by column from rank-one covariances: P1 = F e_i e_i^T F^T + Q."""
    dt = (sample.t_ns - state.t_ns) / NS
    q = np.diag(np.concatenate([np.zeros(3), np.full(3, 4e-6), np.full(3, 4e-8), np.full(3, 1e-8), np.full(3, 4e-10)]))
    columns = []
    for i in range(STATE_DIM):
        p0 = np.zeros((STATE_DIM, STATE_DIM))
        p0[i, i] = 1.0
        backend = backend_factory(EskfConfig(variance_floor=0.0), SensorGatingConfig())
        backend.initialize(make_state(**{**state.__dict__, "covariance": p0}), NOISE)
        backend.propagate(sample)
        m = backend.state().covariance - q * dt
        columns.append(m[:, i] / math.sqrt(m[i, i]))
    return np.stack(columns, axis=1)


def test_transition_matrix_matches_numeric_differentiation_of_the_nominal_propagation() -> None:
    state = make_state()
    sample = ImuSample(state.t_ns + 5_000_000, np.array([0.8, -0.4, 10.3]), np.array([0.3, -0.2, 0.5]))
    f = transition_matrix(EskfBackend, state, sample)

    def propagate(start: NavState) -> NavState:
        backend = make_backend(start)
        backend.propagate(sample)
        return backend.state()

    nominal = propagate(state)
    h = 1e-6
    numeric = np.zeros((STATE_DIM, STATE_DIM))
    for i in range(STATE_DIM):
        delta = np.zeros(STATE_DIM)
        delta[i] = h
        numeric[:, i] = boxminus(propagate(boxplus(state, delta)), nominal) / h
    # F is first order in dt: the numeric one also holds the dt^2/2 terms (<= |a| dt^2 / 2 ~ 1.3e-4).
    np.testing.assert_allclose(f, numeric, atol=2e-4)
    assert abs(f[VEL, ATT][0, 1]) > 0.04, "the attitude -> velocity coupling must be present"


def test_position_update_equals_the_textbook_kalman_update() -> None:
    rng = np.random.default_rng(3)
    prior = make_state(covariance=random_spd(rng))
    backend = make_backend(prior, variance_floor=0.0)
    z = prior.position_m + np.array([0.3, -0.2, 0.1])
    r = np.diag([0.5, 0.4, 0.9])
    outcome = backend.update_position(PositionMeasurement(prior.t_ns, z, r, "gnss"))
    assert outcome.accepted
    # Oracle: the standard-form update K = P H^T S^-1, dx = K nu.
    p = prior.covariance
    h = np.zeros((3, STATE_DIM))
    h[:, POS] = np.eye(3)
    s = h @ p @ h.T + r
    k = p @ h.T @ np.linalg.inv(s)
    dx = k @ (z - prior.position_m)
    expected = boxplus(prior, dx)
    post = backend.state()
    assert outcome.mahalanobis == pytest.approx(
        math.sqrt((z - prior.position_m) @ np.linalg.solve(s, z - prior.position_m))
    )
    np.testing.assert_allclose(post.position_m, expected.position_m, atol=1e-12)
    np.testing.assert_allclose(post.velocity_mps, expected.velocity_mps, atol=1e-12)
    np.testing.assert_allclose(post.accel_bias_mps2, expected.accel_bias_mps2, atol=1e-12)
    np.testing.assert_allclose(post.rotation, expected.rotation, atol=1e-12)
    # Joseph form == (I - KH) P for the optimal gain; the reset Jacobian moves it by O(|dtheta|).
    standard = (np.eye(STATE_DIM) - k @ h) @ p
    np.testing.assert_allclose(post.covariance, standard, atol=5e-3 * float(np.max(np.abs(standard))))
    np.testing.assert_array_equal(post.covariance, post.covariance.T)


def test_a_gated_update_leaves_the_state_untouched() -> None:
    backend = make_backend()
    before = backend.state()
    outcome = backend.update_position(PositionMeasurement(before.t_ns, before.position_m + 50.0, np.eye(3), "geofix"))
    assert not outcome.accepted
    assert outcome.reason.startswith(f"mahalanobis {outcome.mahalanobis:.2f} > gate ")
    after = backend.state()
    for name in ("position_m", "velocity_mps", "rotation", "accel_bias_mps2", "gyro_bias_radps", "covariance"):
        np.testing.assert_array_equal(getattr(after, name), getattr(before, name))


def test_unknown_position_source_is_not_fused() -> None:
    backend = make_backend()
    outcome = backend.update_position(PositionMeasurement(NS, np.zeros(3), np.eye(3), "radar"))
    assert not outcome.accepted
    assert outcome.reason == "unknown position source 'radar'"


@pytest.mark.parametrize(
    ("kernel", "expected"), [(RobustKernel.HUBER, 0.5), (RobustKernel.CAUCHY, 0.2), (RobustKernel.NONE, 1.0)]
)
def test_kernel_weights(kernel: RobustKernel, expected: float) -> None:
    assert kernel_weight(kernel, 2.0, 1.0) == pytest.approx(expected)
    assert kernel_weight(kernel, 0.5, 1.0) == pytest.approx(1.0 if kernel is not RobustKernel.CAUCHY else 0.8)


def test_huber_kernel_inflates_the_measurement_noise_of_an_outlier() -> None:
    covariance = np.diag([4.0] * 3 + [0.01] * 12)
    prior = make_state(covariance=covariance)
    z = prior.position_m + np.array([9.0, 0.0, 0.0])  # 9 m on sqrt(4 + 1): 4.0 sigma
    robust = make_backend(prior, variance_floor=0.0)
    plain = make_backend(prior, variance_floor=0.0)
    robust.update_position(PositionMeasurement(prior.t_ns, z, np.eye(3), "geofix", RobustKernel.HUBER, 1.345))
    plain.update_position(PositionMeasurement(prior.t_ns, z, np.eye(3), "geofix"))
    d = 9.0 / math.sqrt(5.0)
    r_eff = 1.0 * d / 1.345
    expected_robust = 9.0 * 4.0 / (4.0 + r_eff)
    assert robust.state().position_m[0] - prior.position_m[0] == pytest.approx(expected_robust, rel=1e-9)
    assert plain.state().position_m[0] - prior.position_m[0] == pytest.approx(9.0 * 4.0 / 5.0, rel=1e-9)


def test_vio_velocity_update_removes_the_body_velocity_residual() -> None:
    # The velocity-only VIO model (the relative-pose models are tested in test_eskf_cloning.py).
    covariance = np.diag([1.0] * 3 + [0.25] * 3 + [1e-4] * 3 + [1e-4] * 6)
    prior = make_state(covariance=covariance)
    true_velocity = prior.velocity_mps + np.array([0.3, -0.2, 0.1])
    measured = prior.rotation.T @ true_velocity
    assert np.linalg.norm(prior.rotation.T @ prior.velocity_mps - measured) > 0.3
    backend = EskfBackend(EskfConfig(variance_floor=0.0), SensorGatingConfig(), vio_measurement=VioMeasurement.VELOCITY)
    backend.initialize(prior, NOISE)
    outcome = backend.update_vio(
        VioIncrement(
            prior.t_ns - 50_000_000, prior.t_ns, np.eye(3), np.zeros(3), np.eye(6) * 1e-6, measured, np.eye(3) * 1e-8
        )
    )
    assert outcome.accepted  # no anchor needed: this model keeps no clone
    post = backend.state()
    # One update removes the residual up to second-order terms; a wrong H (sign, frame) would leave ~0.1 m/s.
    np.testing.assert_allclose(post.rotation.T @ post.velocity_mps, measured, atol=1e-3)
    # The body velocity also moves the attitude a little, so the map velocity only gets close.
    assert np.linalg.norm(post.velocity_mps - true_velocity) < 0.01 * np.linalg.norm(prior.velocity_mps - true_velocity)


def test_vio_increment_without_an_anchor_is_not_fused_by_default() -> None:
    backend = make_backend()
    outcome = backend.update_vio(
        VioIncrement(NS - 50_000_000, NS, np.eye(3), np.zeros(3), np.eye(6) * 1e-6, np.zeros(3), np.eye(3))
    )
    assert not outcome.accepted
    assert outcome.reason == f"no VIO anchor at t0={NS - 50_000_000} ns"


def test_altitude_update_is_the_scalar_kalman_update() -> None:
    prior = make_state(covariance=np.eye(STATE_DIM) * 0.5)
    backend = make_backend(prior, variance_floor=0.0)
    outcome = backend.update_altitude(AltitudeMeasurement(prior.t_ns, prior.position_m[2] + 1.0, 0.5))
    post = backend.state()
    assert outcome.accepted
    assert post.position_m[2] - prior.position_m[2] == pytest.approx(0.5)
    assert post.covariance[2, 2] == pytest.approx(0.25)
    np.testing.assert_array_equal(post.position_m[:2], prior.position_m[:2])


def test_bias_estimates_are_clamped_to_their_limits() -> None:
    covariance = np.eye(STATE_DIM)
    covariance[POS, BA] = covariance[BA, POS] = np.eye(3) * 0.9
    prior = make_state(covariance=covariance, accel_bias_mps2=np.zeros(3))
    backend = make_backend(prior, accel_bias_limit_mps2=0.6)
    outcome = backend.update_position(PositionMeasurement(prior.t_ns, prior.position_m + 2.0, np.eye(3) * 1e-4, "gnss"))
    assert outcome.accepted  # unclamped, the correction would be 0.9 * 2 = 1.8 m/s^2 per axis
    np.testing.assert_allclose(backend.state().accel_bias_mps2, 0.6)


def test_covariance_stays_symmetric_positive_definite() -> None:
    rng = np.random.default_rng(11)
    backend = make_backend(make_state(covariance=random_spd(rng, 0.05)))
    t = NS
    for k in range(400):
        t += 5_000_000
        backend.propagate(ImuSample(t, rng.normal([0, 0, 9.8], 0.5), rng.normal(0, 0.2, 3)))
        if k % 10 == 0:
            position = backend.state().position_m + rng.normal(0, 0.5, 3)
            backend.update_position(PositionMeasurement(t, position, np.eye(3) * 1e-6, "gnss"))
    covariance = backend.state().covariance
    np.testing.assert_allclose(covariance, covariance.T, rtol=0, atol=1e-14 * float(np.max(np.abs(covariance))))
    assert np.linalg.eigvalsh(covariance)[0] > 0.0


def test_used_before_initialize_is_a_contract_error() -> None:
    backend = EskfBackend(EskfConfig(), SensorGatingConfig())
    with pytest.raises(BackendStateError, match=r"eskf: used before initialize\(\)"):
        backend.state()


def test_non_increasing_imu_stamp_is_a_contract_error() -> None:
    backend = make_backend()
    with pytest.raises(BackendStateError, match=r"IMU stamp 1000000000 not after the state time 1000000000"):
        backend.propagate(ImuSample(NS, np.zeros(3), np.zeros(3)))


def test_initial_covariance_of_the_wrong_shape_is_refused() -> None:
    backend = EskfBackend(EskfConfig(), SensorGatingConfig())
    with pytest.raises(BackendStateError, match=r"initial covariance must be finite 15x15"):
        backend.initialize(make_state(covariance=np.eye(9)), NOISE)
