"""The ESKF's VIO relative-pose update by stochastic cloning, against independent oracles: numeric
Jacobians on the manifold, a textbook EKF update on a hand-built augmented state, and synthetic
VIO-only flights (yaw drift under a gyro bias, gaps, outliers, NEES)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from estimator_synthetic import Flight, NoiseModel, Scenario, simulate
from scipy.spatial.transform import Rotation
from scipy.stats import chi2
from test_estimator_eskf import make_state

from gps_denied_onboard.common.inertial import ImuNoise, ImuSample
from gps_denied_onboard.estimator.backend import (
    ATT,
    BA,
    BG,
    POS,
    STATE_DIM,
    VEL,
    HeadingMeasurement,
    NavState,
    PositionMeasurement,
    UpdateOutcome,
    VioIncrement,
)
from gps_denied_onboard.estimator.config import EskfConfig, SensorGatingConfig
from gps_denied_onboard.estimator.eskf import (
    AUGMENTED_DIM,
    CLONE_ATT,
    CLONE_POS,
    EskfBackend,
    VioMeasurement,
    relative_pose,
    relative_pose_jacobian,
    relative_pose_residual,
)

NS = 1_000_000_000
IMU_DT_NS = 5_000_000
NOISE = ImuNoise(2e-3, 2e-4, 1e-4, 2e-5)
POSE = np.r_[POS, ATT]


def exp_so3(rotvec: np.ndarray) -> np.ndarray:
    return Rotation.from_rotvec(rotvec).as_matrix()


def log_so3(rotation: np.ndarray) -> np.ndarray:
    return Rotation.from_matrix(rotation).as_rotvec()


def make_backend(
    state: NavState | None = None,
    noise: ImuNoise = NOISE,
    vio_measurement: VioMeasurement = VioMeasurement.RELATIVE_POSE,
    **eskf: float,
) -> EskfBackend:
    backend = EskfBackend(EskfConfig(**eskf), SensorGatingConfig(), vio_measurement=vio_measurement)
    backend.initialize(state or make_state(), noise)
    return backend


def random_spd(rng: np.random.Generator, dim: int = STATE_DIM, scale: float = 0.1) -> np.ndarray:
    a = rng.normal(0, scale, (dim, dim))
    return a @ a.T + np.eye(dim) * scale**2


def increment(
    t0_ns: int,
    t1_ns: int,
    rotation: np.ndarray,
    translation_m: np.ndarray,
    covariance: np.ndarray,
    *,
    velocity_body_mps: np.ndarray | None = None,
) -> VioIncrement:
    return VioIncrement(
        t0_ns,
        t1_ns,
        rotation,
        translation_m,
        covariance,
        np.zeros(3) if velocity_body_mps is None else velocity_body_mps,
        np.eye(3) * 0.01,
    )


# --------------------------------------------------------------------------- the augmented state by hand


@dataclass(frozen=True)
class Augmented:
    """The live nominal state and the clone's pose, with (+) in the backend's error convention."""

    live: NavState
    position_c_m: np.ndarray
    R_map_c: np.ndarray

    def boxplus(self, delta: np.ndarray) -> Augmented:
        live = self.live
        return Augmented(
            replace(
                live,
                position_m=live.position_m + delta[POS],
                velocity_mps=live.velocity_mps + delta[VEL],
                rotation=exp_so3(delta[ATT]) @ live.rotation,
                accel_bias_mps2=live.accel_bias_mps2 + delta[BA],
                gyro_bias_radps=live.gyro_bias_radps + delta[BG],
            ),
            self.position_c_m + delta[CLONE_POS],
            exp_so3(delta[CLONE_ATT]) @ self.R_map_c,
        )

    def measure(self) -> Measured:
        """h(x): the relative pose now in the clone's frame (first principles) and the body velocity now."""
        T_map_c = np.eye(4)
        T_map_c[:3, :3], T_map_c[:3, 3] = self.R_map_c, self.position_c_m
        T_map_now = np.eye(4)
        T_map_now[:3, :3], T_map_now[:3, 3] = self.live.rotation, self.live.position_m
        T_c_now = np.linalg.inv(T_map_c) @ T_map_now
        return Measured(T_c_now[:3, :3], T_c_now[:3, 3], self.live.rotation.T @ self.live.velocity_mps)


@dataclass(frozen=True)
class Measured:
    """A VIO measurement: the increment T_c_now and the body velocity at its end."""

    rotation: np.ndarray
    translation_m: np.ndarray
    velocity_body_mps: np.ndarray

    def minus(self, other: Measured, *, velocity: bool = False) -> np.ndarray:
        """self (-) other: [Log(R_a R_b^T), t_a - t_b] (left perturbation, body frame at t0) [, v_a - v_b]."""
        parts = [log_so3(self.rotation @ other.rotation.T), self.translation_m - other.translation_m]
        if velocity:
            parts.append(self.velocity_body_mps - other.velocity_body_mps)
        return np.concatenate(parts)


def numeric_jacobian(x: Augmented, *, velocity: bool = False, step: float = 1e-6) -> np.ndarray:
    nominal = x.measure()
    jacobian = np.zeros((9 if velocity else 6, AUGMENTED_DIM))
    for i in range(AUGMENTED_DIM):
        delta = np.zeros(AUGMENTED_DIM)
        delta[i] = step
        plus, minus = x.boxplus(delta).measure(), x.boxplus(-delta).measure()
        jacobian[:, i] = (plus.minus(nominal, velocity=velocity) - minus.minus(nominal, velocity=velocity)) / (2 * step)
    return jacobian


def anchored_and_moved(
    rng: np.random.Generator, steps: int = 20, mode: VioMeasurement = VioMeasurement.RELATIVE_POSE
) -> tuple[EskfBackend, NavState]:
    """A backend anchored at NS and propagated ``steps`` IMU samples in a turn; returns it and the anchor state."""
    backend = make_backend(make_state(covariance=random_spd(rng, scale=0.05)), vio_measurement=mode, variance_floor=0.0)
    anchor = backend.state()
    backend.anchor_vio(NS)
    for k in range(1, steps + 1):
        backend.propagate(ImuSample(NS + k * IMU_DT_NS, np.array([0.6, -0.3, 10.1]), np.array([0.2, -0.1, 0.6])))
    return backend, anchor


# --------------------------------------------------------------------------- model and update oracles


def test_relative_pose_jacobian_matches_numeric_differentiation_on_the_manifold() -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        live = make_state(
            position_m=rng.normal(0, 20, 3), rotation=exp_so3(rng.normal(0, 1.0, 3)), velocity_mps=rng.normal(0, 3, 3)
        )
        x = Augmented(live, live.position_m + rng.normal(0, 5, 3), exp_so3(rng.normal(0, 1.0, 3)))
        analytic = relative_pose_jacobian(x.position_c_m, x.R_map_c, x.live.position_m)
        np.testing.assert_allclose(analytic, numeric_jacobian(x), atol=1e-6)
        # The prediction itself is the first-principles T_c^-1 T_now.
        rotation, translation = relative_pose(x.position_c_m, x.R_map_c, live.position_m, live.rotation)
        np.testing.assert_allclose(rotation, x.measure().rotation, atol=1e-12)
        np.testing.assert_allclose(translation, x.measure().translation_m, atol=1e-12)


def test_residual_is_measured_minus_predicted_in_the_increments_frame() -> None:
    rng = np.random.default_rng(2)
    x = Augmented(make_state(), np.array([3.0, 1.0, 28.0]), exp_so3(np.array([0.1, -0.2, 0.4])))
    true_error = rng.normal(0, 0.01, 6)  # [dtheta, dp] of the measurement about the prediction, frame b0
    predicted = x.measure()
    inc = increment(
        0, 1, exp_so3(true_error[:3]) @ predicted.rotation, predicted.translation_m + true_error[3:], np.eye(6)
    )
    residual = relative_pose_residual(inc, x.position_c_m, x.R_map_c, x.live.position_m, x.live.rotation)
    np.testing.assert_allclose(residual, true_error, atol=1e-12)


def test_propagation_carries_the_clone_cross_covariance_with_the_live_transition() -> None:
    rng = np.random.default_rng(4)
    prior = random_spd(rng, scale=0.05)
    quiet = ImuNoise(0.0, 0.0, 0.0, 0.0)  # no process noise: P_lc = Phi P0 S^T exactly
    backend = make_backend(make_state(covariance=prior), noise=quiet, variance_floor=0.0)
    backend.anchor_vio(NS)
    samples = [
        ImuSample(NS + k * IMU_DT_NS, np.array([0.6, -0.3, 10.1]), np.array([0.2, -0.1, 0.6])) for k in range(1, 11)
    ]
    for sample in samples:
        backend.propagate(sample)
    joint = backend.joint_covariance()
    # Oracle: Phi read from the 15-state propagation of unit covariances (as test_estimator_eskf does per step).
    phi = np.zeros((STATE_DIM, STATE_DIM))
    for i in range(STATE_DIM):
        p0 = np.zeros((STATE_DIM, STATE_DIM))
        p0[i, i] = 1.0
        unit = make_backend(make_state(covariance=p0), noise=quiet, variance_floor=0.0)
        for sample in samples:
            unit.propagate(sample)
        p1 = unit.state().covariance
        phi[:, i] = p1[:, i] / math.sqrt(p1[i, i])
    assert joint.shape == (AUGMENTED_DIM, AUGMENTED_DIM)
    np.testing.assert_allclose(joint[:STATE_DIM, STATE_DIM:], phi @ prior[:, POSE], atol=1e-12)
    np.testing.assert_allclose(joint[STATE_DIM:, STATE_DIM:], prior[np.ix_(POSE, POSE)], atol=1e-15)
    np.testing.assert_allclose(joint[:STATE_DIM, :STATE_DIM], phi @ prior @ phi.T, atol=1e-12)


@pytest.mark.parametrize("mode", [VioMeasurement.RELATIVE_POSE, VioMeasurement.RELATIVE_POSE_VELOCITY])
def test_vio_update_equals_the_textbook_ekf_update_on_the_augmented_state(mode: VioMeasurement) -> None:
    rng = np.random.default_rng(5)
    backend, anchor = anchored_and_moved(rng, mode=mode)
    prior_joint = backend.joint_covariance()
    prior = backend.state()
    x = Augmented(prior, anchor.position_m, anchor.rotation)
    with_velocity = mode is VioMeasurement.RELATIVE_POSE_VELOCITY
    # A measurement a few sigma of its noise off the prediction.
    predicted = x.measure()
    r = np.diag([2e-5] * 3 + [1e-4] * 3 + [4e-3] * 3)
    offset = np.array([0.004, -0.003, 0.006, 0.01, -0.02, 0.015, 0.1, -0.05, 0.08])
    measured = Measured(
        exp_so3(offset[:3]) @ predicted.rotation,
        predicted.translation_m + offset[3:6],
        predicted.velocity_body_mps + offset[6:],
    )
    inc = VioIncrement(
        NS, prior.t_ns, measured.rotation, measured.translation_m, r[:6, :6], measured.velocity_body_mps, r[6:, 6:]
    )
    outcome = backend.update_vio(inc)
    assert outcome.accepted, outcome.reason
    # Oracle: the standard-form EKF with H by finite differences of h on the manifold.
    dim = 9 if with_velocity else 6
    h = numeric_jacobian(x, velocity=with_velocity)
    nu = measured.minus(predicted, velocity=with_velocity)
    s = h @ prior_joint @ h.T + r[:dim, :dim]
    k = prior_joint @ h.T @ np.linalg.inv(s)
    dx = k @ nu
    expected = x.boxplus(dx).live
    post = backend.state()
    assert outcome.mahalanobis == pytest.approx(math.sqrt(nu @ np.linalg.solve(s, nu)), rel=1e-6)
    np.testing.assert_allclose(post.position_m, expected.position_m, atol=1e-9)
    np.testing.assert_allclose(post.velocity_mps, expected.velocity_mps, atol=1e-9)
    np.testing.assert_allclose(post.rotation, expected.rotation, atol=1e-9)
    np.testing.assert_allclose(post.accel_bias_mps2, expected.accel_bias_mps2, atol=1e-9)
    np.testing.assert_allclose(post.gyro_bias_radps, expected.gyro_bias_radps, atol=1e-9)
    assert np.linalg.norm(dx[ATT]) > 1e-3, "the update must turn the live attitude"
    # Joseph form == (I - KH) P for the optimal gain; the attitude reset moves it by O(|dtheta|).
    standard = ((np.eye(AUGMENTED_DIM) - k @ h) @ prior_joint)[:STATE_DIM, :STATE_DIM]
    np.testing.assert_allclose(post.covariance, standard, atol=2e-2 * float(np.max(np.abs(standard))))
    np.testing.assert_array_equal(post.covariance, post.covariance.T)
    # Afterwards the pose now is the new clone: fully correlated with the live pose.
    joint = backend.joint_covariance()
    np.testing.assert_array_equal(joint[STATE_DIM:, STATE_DIM:], post.covariance[np.ix_(POSE, POSE)])
    np.testing.assert_array_equal(joint[:STATE_DIM, STATE_DIM:], post.covariance[:, POSE])


def test_a_position_update_also_corrects_the_clone() -> None:
    rng = np.random.default_rng(6)
    backend, anchor = anchored_and_moved(rng)
    prior_joint = backend.joint_covariance()
    prior = backend.state()
    z = prior.position_m + np.array([0.2, -0.1, 0.3])
    noise = np.eye(3) * 0.05
    assert backend.update_position(PositionMeasurement(prior.t_ns, z, noise, "gnss")).accepted
    h = np.zeros((3, AUGMENTED_DIM))
    h[:, POS] = np.eye(3)
    k = prior_joint @ h.T @ np.linalg.inv(h @ prior_joint @ h.T + noise)
    dx = k @ (z - prior.position_m)
    # The clone moved with it: a relative-pose measurement equal to the corrected prediction is now a null update.
    measured = Augmented(prior, anchor.position_m, anchor.rotation).boxplus(dx).measure()
    before = backend.state()
    outcome = backend.update_vio(increment(NS, prior.t_ns, measured.rotation, measured.translation_m, np.eye(6) * 1e-4))
    assert outcome.accepted
    assert outcome.mahalanobis < 1e-6
    np.testing.assert_allclose(backend.state().position_m, before.position_m, atol=1e-9)


def test_initialize_drops_the_clone() -> None:
    backend = make_backend()
    backend.anchor_vio(NS)
    assert backend.joint_covariance().shape == (AUGMENTED_DIM, AUGMENTED_DIM)
    backend.initialize(make_state(), NOISE)
    assert backend.joint_covariance().shape == (STATE_DIM, STATE_DIM)
    backend.propagate(ImuSample(NS + IMU_DT_NS, np.array([0.0, 0.0, 9.8]), np.zeros(3)))
    outcome = backend.update_vio(increment(NS, NS + IMU_DT_NS, np.eye(3), np.zeros(3), np.eye(6) * 1e-4))
    assert not outcome.accepted
    assert outcome.reason == f"no VIO anchor at t0={NS} ns"


def test_heading_update_turns_the_yaw() -> None:
    prior = make_state(covariance=np.eye(STATE_DIM) * 0.01)
    backend = make_backend(prior, variance_floor=0.0)
    yaw = math.atan2(prior.rotation[1, 0], prior.rotation[0, 0])
    outcome = backend.update_heading(HeadingMeasurement(prior.t_ns, yaw + 0.1, 0.01))
    assert outcome.accepted
    post = backend.state()
    # Equal prior and measurement variance on the yaw: half the residual is taken.
    assert math.atan2(post.rotation[1, 0], post.rotation[0, 0]) - yaw == pytest.approx(0.05, rel=0.05)


# --------------------------------------------------------------------------- the anchor contract


def turn(backend: EskfBackend, t_ns: int, steps: int) -> int:
    """Propagate ``steps`` IMU samples of a gentle turn after ``t_ns``; returns the last stamp."""
    for k in range(1, steps + 1):
        backend.propagate(ImuSample(t_ns + k * IMU_DT_NS, np.array([0.3, -0.2, 9.9]), np.array([0.05, -0.02, 0.3])))
    return t_ns + steps * IMU_DT_NS


def predicted_increment(backend: EskfBackend, anchor: NavState, t0_ns: int) -> VioIncrement:
    """The increment the backend predicts from ``anchor`` to now: a perfect VIO."""
    now = backend.state()
    rotation, translation = relative_pose(anchor.position_m, anchor.rotation, now.position_m, now.rotation)
    return increment(t0_ns, now.t_ns, rotation, translation, np.diag([1e-6] * 3 + [1e-4] * 3))


def test_without_an_anchor_the_increment_is_refused_and_the_next_one_fuses() -> None:
    backend = make_backend()
    t1 = turn(backend, NS, 10)
    before = backend.state()
    outcome = backend.update_vio(increment(NS, t1, np.eye(3), np.zeros(3), np.eye(6) * 1e-4))
    assert not outcome.accepted
    assert math.isnan(outcome.mahalanobis)
    assert outcome.reason == f"no VIO anchor at t0={NS} ns"
    after = backend.state()
    for name in ("position_m", "velocity_mps", "rotation", "covariance"):
        np.testing.assert_array_equal(getattr(after, name), getattr(before, name))
    # It anchored now at t1: the next increment, from t1, fuses.
    t2 = turn(backend, t1, 10)
    assert backend.update_vio(predicted_increment(backend, after, t1)).accepted
    # An increment whose start is not the anchor's stamp is refused too (and re-anchors at its t1).
    turn(backend, t2, 10)
    wrong = predicted_increment(backend, backend.state(), t1)
    outcome = backend.update_vio(wrong)
    assert not outcome.accepted
    assert outcome.reason == f"no VIO anchor at t0={t1} ns"


def test_a_gated_increment_leaves_the_live_state_untouched_but_re_anchors() -> None:
    backend = make_backend()
    anchor = backend.state()
    backend.anchor_vio(NS)
    t1 = turn(backend, NS, 10)
    outlier = predicted_increment(backend, anchor, NS)
    outlier = replace(outlier, translation_m=outlier.translation_m + np.array([2.0, 0.0, 0.0]))
    before = backend.state()
    outcome = backend.update_vio(outlier)
    assert not outcome.accepted
    assert outcome.reason.startswith(f"mahalanobis {outcome.mahalanobis:.2f} > gate ")
    after = backend.state()
    for name in ("position_m", "velocity_mps", "rotation", "accel_bias_mps2", "gyro_bias_radps", "covariance"):
        np.testing.assert_array_equal(getattr(after, name), getattr(before, name))
    # Re-anchored at t1 on the state now: the clone is a fresh copy of the live pose.
    joint = backend.joint_covariance()
    np.testing.assert_array_equal(joint[STATE_DIM:, STATE_DIM:], after.covariance[np.ix_(POSE, POSE)])
    turn(backend, t1, 10)
    assert backend.update_vio(predicted_increment(backend, after, t1)).accepted


def test_the_velocity_model_keeps_no_clone() -> None:
    backend = make_backend(vio_measurement=VioMeasurement.VELOCITY)
    backend.anchor_vio(NS)
    assert backend.joint_covariance().shape == (STATE_DIM, STATE_DIM)
    t1 = turn(backend, NS, 10)
    now = backend.state()
    measured = now.rotation.T @ now.velocity_mps
    outcome = backend.update_vio(increment(NS - 1, t1, np.eye(3), np.zeros(3), np.eye(6), velocity_body_mps=measured))
    assert outcome.accepted  # no anchor needed
    assert outcome.mahalanobis < 1e-9


def test_a_non_positive_definite_increment_covariance_is_refused() -> None:
    backend = make_backend()
    backend.anchor_vio(NS)
    t1 = turn(backend, NS, 4)
    outcome = backend.update_vio(increment(NS, t1, np.eye(3), np.zeros(3), -np.eye(6)))
    assert not outcome.accepted
    assert outcome.reason == "VIO increment covariance is not symmetric positive definite"


# --------------------------------------------------------------------------- VIO-only synthetic flights


@dataclass(frozen=True)
class FlightRun:
    """A backend driven directly (no facade) through a GNSS-free flight: per-second estimates, VIO outcomes."""

    flight: Flight
    truth_indices: list[int]
    states: list[NavState]
    outcomes: list[tuple[VioIncrement, UpdateOutcome]]

    def attitude_error(self, k: int) -> np.ndarray:
        """Map-frame rotation error Log(R_true R_est^T) of the k-th estimate (the backend's convention)."""
        return log_so3(self.flight.truth.rotation[self.truth_indices[k]] @ self.states[k].rotation.T)

    def position_error_m(self, k: int) -> np.ndarray:
        return self.flight.truth.position_m[self.truth_indices[k]] - self.states[k].position_m


def vio_increments(flight: Flight) -> dict[int, VioIncrement | None]:
    """Each VIO stamp -> the increment from the previous message (None for the first: it anchors)."""
    out: dict[int, VioIncrement | None] = {}
    previous: tuple[int, np.ndarray, np.ndarray] | None = None
    for m in flight.measurements:
        if m.kind != "vio":
            continue
        w, x, y, z = np.asarray(m.args["quat_wxyz"])
        rotation = Rotation.from_quat([x, y, z, w]).as_matrix()
        position = np.asarray(m.args["position_m"])
        out[m.t_ns] = None
        if previous is not None:
            t0_ns, p0, r0 = previous
            dt_s = (m.t_ns - t0_ns) / NS
            twist = np.asarray(m.args["twist_covariance"])  # [linear, angular], as the simulator draws it
            covariance = np.zeros((6, 6))
            covariance[:3, :3] = twist[3:, 3:] * dt_s**2
            covariance[3:, 3:] = twist[:3, :3] * dt_s**2
            velocity = np.asarray(m.args["velocity_body_mps"])
            out[m.t_ns] = VioIncrement(
                t0_ns, m.t_ns, r0.T @ rotation, r0.T @ (position - p0), covariance, velocity, twist[:3, :3]
            )
        previous = (m.t_ns, position, rotation)
    return out


def vio_only_scenario(seed: int, duration_s: float, **fields: object) -> Scenario:
    """A GNSS-free flight, IMU at 200 Hz, VIO at 20 Hz, no random gyro bias (tests add their own)."""
    return Scenario(
        seed=seed,
        duration_s=duration_s,
        imu_rate_hz=200,
        gnss_rate_hz=0.0,
        vio_rate_hz=20.0,
        noise=NoiseModel(gyro_bias_sigma=0.0),
        **fields,  # type: ignore[arg-type]
    )


def fly(
    scenario: Scenario,
    mode: VioMeasurement = VioMeasurement.RELATIVE_POSE,
    *,
    gyro_bias_z_radps: float = 0.0,
    draw_initial_error: bool = False,
) -> FlightRun:
    """The backend alone through the flight from its first IMU sample, with a gyro z bias it is not told of.

    The prior knows position to 0.1 m (the denied leg starts from a fix), yaw to the scenario's compass
    sigma, the gyro bias to 3 mrad/s; ``draw_initial_error`` starts the estimate off the truth by a draw
    from that prior (for NEES), else on it (for drift).
    """
    flight = simulate(scenario)
    truth, noise = flight.truth, scenario.noise
    sigmas = np.concatenate(
        [[0.1] * 3, [0.05] * 3, [0.005, 0.005, noise.yaw_prior_sigma_rad], [noise.accel_bias_sigma] * 3, [0.003] * 3]
    )
    covariance = np.diag(sigmas**2)
    rng = np.random.default_rng(scenario.seed + 7919)
    error = rng.multivariate_normal(np.zeros(STATE_DIM), covariance) if draw_initial_error else np.zeros(STATE_DIM)
    start = make_state(  # error = truth (-) estimate
        t_ns=int(truth.t_ns[0]),
        position_m=truth.position_m[0] - error[POS],
        velocity_mps=truth.velocity_mps[0] - error[VEL],
        rotation=exp_so3(-error[ATT]) @ truth.rotation[0],
        accel_bias_mps2=truth.accel_bias_mps2[0] - error[BA],
        gyro_bias_radps=truth.gyro_bias_radps[0] - error[BG],
        covariance=covariance,
    )
    backend = EskfBackend(EskfConfig(), SensorGatingConfig(), vio_measurement=mode)
    backend.initialize(
        start,
        ImuNoise(
            noise.accel_noise_density,
            noise.gyro_noise_density,
            noise.accel_bias_random_walk,
            noise.gyro_bias_random_walk,
        ),
    )
    bias = np.array([0.0, 0.0, gyro_bias_z_radps])
    increments = vio_increments(flight)
    run = FlightRun(flight, [], [], [])
    for m in flight.measurements:
        if m.kind == "imu" and m.t_ns > truth.t_ns[0]:
            sample = m.args["sample"]
            assert isinstance(sample, ImuSample)
            backend.propagate(ImuSample(sample.t_ns, sample.accel_mps2, sample.gyro_radps + bias))
            i = truth.index(m.t_ns)
            if i % scenario.imu_rate_hz == 0:
                run.truth_indices.append(i)
                run.states.append(backend.state())
        elif m.kind == "vio":
            inc = increments[m.t_ns]
            if inc is None:
                backend.anchor_vio(m.t_ns)
            else:
                run.outcomes.append((inc, backend.update_vio(inc)))
    return run


def test_yaw_no_longer_follows_the_gyro_bias_without_gnss() -> None:
    """60 s of VIO-only flight with an unknown 2 mrad/s gyro z bias (0.12 rad of drift if unestimated)."""
    bias, seeds = 0.002, (0, 1, 2)
    final_yaw: dict[VioMeasurement, list[float]] = {}
    for mode in (VioMeasurement.VELOCITY, VioMeasurement.RELATIVE_POSE):
        final_yaw[mode] = []
        for seed in seeds:
            run = fly(vio_only_scenario(seed, 62.0), mode, gyro_bias_z_radps=bias)
            assert all(outcome.accepted for _, outcome in run.outcomes)
            yaw = [abs(run.attitude_error(k)[2]) for k in range(len(run.states))]
            final_yaw[mode].append(yaw[-1])
            if mode is VioMeasurement.RELATIVE_POSE:
                assert max(yaw) < 0.04, (seed, max(yaw))
                # The relative rotation observes the gyro bias itself.
                truth_bias = run.flight.truth.gyro_bias_radps[run.truth_indices[-1], 2] + bias
                assert abs(run.states[-1].gyro_bias_radps[2] - truth_bias) < 3e-4
    print(
        f"\n[|yaw error| after 60 s VIO-only, gyro z bias {bias} rad/s] "
        f"velocity-only {np.round(final_yaw[VioMeasurement.VELOCITY], 4)} "
        f"relative pose {np.round(final_yaw[VioMeasurement.RELATIVE_POSE], 4)}"
    )
    assert np.mean(final_yaw[VioMeasurement.RELATIVE_POSE]) < 0.02  # the drift is 6x below the bias's 0.12 rad


def test_an_increment_bridging_a_two_second_vio_gap_fuses() -> None:
    run = fly(vio_only_scenario(3, 20.0, vio_off=((10.0, 12.0),)), gyro_bias_z_radps=0.002)
    spans_s = [(inc.t1_ns - inc.t0_ns) / NS for inc, _ in run.outcomes]
    bridge = int(np.argmax(spans_s))
    assert spans_s[bridge] == pytest.approx(2.05)
    inc, outcome = run.outcomes[bridge]
    assert outcome.accepted, outcome.reason
    assert all(outcome.accepted for _, outcome in run.outcomes)
    # The gap costs little: the estimate stays on the VIO's own drift.
    k = next(k for k, i in enumerate(run.truth_indices) if run.flight.truth.t_ns[i] >= inc.t1_ns)
    assert np.linalg.norm(run.position_error_m(k)) < 0.3
    assert np.linalg.norm(run.attitude_error(k)) < 0.02


def test_pose_nees_is_chi_square_consistent_in_vio_only_flight() -> None:
    """ANEES of position + attitude (6 dof) over 8 VIO-only flights of 30 s, starting off the truth by a
    draw from the prior, every 5 s, against the two-sided 99 % region (as test_estimator_nees.py)."""
    runs, dof = 8, 6
    instants = np.arange(4, 30, 5)  # samples are one per second
    nees = np.zeros((runs, len(instants)))
    for r in range(runs):
        run = fly(vio_only_scenario(100 + r, 30.0), gyro_bias_z_radps=0.002, draw_initial_error=True)
        # Nothing observes the absolute yaw: its sigma must not shrink (first-estimate Jacobians).
        assert math.sqrt(run.states[-1].covariance[8, 8]) > 0.047
        for j, k in enumerate(instants):
            e = np.concatenate([run.position_error_m(k), run.attitude_error(k)])
            p = run.states[k].covariance[np.ix_(POSE, POSE)]
            nees[r, j] = e @ np.linalg.solve(p, e)
    low, high = chi2.ppf([0.005, 0.995], runs * dof) / runs
    anees = nees.mean(axis=0)
    print(f"\n[NEES eskf VIO-only] pose (6 dof) ANEES {np.round(anees, 2).tolist()} bounds [{low:.2f}, {high:.2f}]")
    assert np.mean((anees >= low) & (anees <= high)) >= 0.8, anees
    assert low <= anees.mean() <= high, anees
