"""The window's carried prior and the take-off rest detector, in isolation."""

from __future__ import annotations

import gtsam
import numpy as np
from gtsam.symbol_shorthand import B, V, X

from gps_denied_onboard.common.inertial import GRAVITY_MPS2
from gps_denied_onboard.vio.backend import _Prior
from gps_denied_onboard.vio.pipeline import VisualInertialOdometry
from gps_denied_onboard.vio.types import CameraCalibration


def _covariance(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(15, 15)) * 0.1
    return a @ a.T + np.eye(15) * 1e-3  # dense: pose, velocity and bias correlated


def test_joint_prior_is_the_gaussian_of_its_covariance_cross_terms_included() -> None:
    covariance = _covariance(1)
    pose = gtsam.Pose3(gtsam.Rot3.Ypr(0.3, -0.1, 0.05), np.array([1.0, 2.0, 80.0]))
    velocity = np.array([9.0, 1.0, 0.0])
    bias = gtsam.imuBias.ConstantBias(np.array([0.1, -0.15, -0.12]), np.array([0.004, -0.006, 0.013]))
    factor = _Prior(7, pose, velocity, bias, covariance).factor()
    at = gtsam.Values()
    at.insert(X(7), pose)
    at.insert(V(7), velocity)
    at.insert(B(7), bias)
    assert factor.error(at) < 1e-12

    delta = np.random.default_rng(2).normal(size=15) * 0.01  # tangent: pose (6), velocity (3), bias (6)
    moved = gtsam.Values()
    moved.insert(X(7), pose.retract(delta[:6]))
    moved.insert(V(7), velocity + delta[6:9])
    shifted = bias.vector() + delta[9:]
    moved.insert(B(7), gtsam.imuBias.ConstantBias(shifted[:3], shifted[3:]))
    expected = 0.5 * delta @ np.linalg.solve(covariance, delta)
    assert abs(factor.error(moved) - expected) < 1e-6 * expected
    # Dropping the cross terms would give another answer: the correlations are in the factor.
    diagonal_blocks = np.zeros_like(covariance)
    for lo, hi in ((0, 6), (6, 9), (9, 15)):
        diagonal_blocks[lo:hi, lo:hi] = covariance[lo:hi, lo:hi]
    assert abs(expected - 0.5 * delta @ np.linalg.solve(diagonal_blocks, delta)) > 0.05 * expected


def _feed_rest_then_climb(vio: VisualInertialOdometry, bias_z: float, climb_accel: float) -> None:
    """10 s of a level IMU at rest with an accelerometer bias along z, then a gentle vertical take-off
    whose thrust ramps up over 1 s (what the variance tests barely see), both at 200 Hz."""
    image = np.zeros((48, 64), dtype=np.uint8)
    vio.set_calibration(
        CameraCalibration.from_camera_info(64, 48, "plumb_bob", [0.0] * 5, [50, 0, 32, 0, 50, 24, 0, 0, 1])
    )
    for k in range(1, 2401):
        t_ns = k * 5_000_000
        t_s = t_ns / 1e9
        accel_up = 0.0 if t_s < 10.0 else climb_accel * min(1.0, t_s - 10.0)
        vio.add_imu(t_ns, np.array([0.0, 0.0, GRAVITY_MPS2 + accel_up + bias_z]), np.zeros(3))
        if k % 20 == 0:  # 10 Hz frames: black (nothing to track), the propagator still runs
            vio.add_image(t_ns, image)


def test_rest_takes_the_vertical_accelerometer_bias_and_a_gentle_take_off_is_not_zeroed() -> None:
    vio = VisualInertialOdometry()
    _feed_rest_then_climb(vio, bias_z=-0.12, climb_accel=0.5)
    propagator = vio._propagator  # the dead-reckoned state the window will start from
    assert propagator.state is not None
    assert abs(propagator.bias.accelerometer()[2] - (-0.12)) < 0.01
    # 2 s after the take-off: v = 0.5 * 0.5 (ramp) + 0.5 * 1 = 0.75 m/s up, h = 0.5/6 + 0.25 + 0.25 = 0.583 m.
    assert abs(float(propagator.state.velocity()[2]) - 0.75) < 0.03
    assert abs(float(propagator.state.position()[2]) - 0.583) < 0.05
