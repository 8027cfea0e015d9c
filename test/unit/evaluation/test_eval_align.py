"""Umeyama SE(3)/Sim(3) and origin alignment: known transforms recovered, scipy's Kabsch as an oracle."""

from __future__ import annotations

import numpy as np
import pytest
from eval_factory import noisy, wavy_flight
from scipy.spatial.transform import Rotation

from gps_denied_onboard.evaluation.align import Alignment, AlignmentResult, align, parse_alignment, umeyama
from gps_denied_onboard.evaluation.errors import AlignmentError, BadOptionError
from gps_denied_onboard.evaluation.trajectory import Trajectory

R_ODOM = Rotation.from_euler("zyx", [40.0, 5.0, -3.0], degrees=True).as_matrix()
T_ODOM = np.array([12.0, -7.0, 3.5])


def test_se3_recovers_a_known_rigid_transform_exactly() -> None:
    truth = wavy_flight(100)
    estimate = truth.transformed(R_ODOM, T_ODOM)  # x_est = R x + t, so x = R^T x_est - R^T t
    result = align(truth, estimate, Alignment.SE3)
    np.testing.assert_allclose(result.rotation, R_ODOM.T, atol=1e-12)
    np.testing.assert_allclose(result.translation_m, -R_ODOM.T @ T_ODOM, atol=1e-9)
    assert result.scale == 1.0
    assert result.poses_used == 100
    aligned = result.apply(estimate)
    np.testing.assert_allclose(aligned.positions_xyz, truth.positions_xyz, atol=1e-9)
    angle = (truth.rotations().inv() * aligned.rotations()).magnitude()
    assert angle.max() < 1e-9


def test_sim3_recovers_a_known_scale() -> None:
    truth = wavy_flight(100)
    estimate = Trajectory(truth.stamps_ns, 0.25 * truth.positions_xyz @ R_ODOM.T + T_ODOM, truth.orientations_quat_wxyz)
    result = align(truth, estimate, Alignment.SIM3)
    assert result.scale == pytest.approx(4.0, rel=1e-12)
    np.testing.assert_allclose(result.apply(estimate).positions_xyz, truth.positions_xyz, atol=1e-9)
    rigid = align(truth, estimate, Alignment.SE3)
    assert rigid.scale == 1.0  # SE(3) never scales: a wrong-scale estimate keeps its error


def test_se3_with_noise_agrees_with_scipy_kabsch_and_least_squares_scale() -> None:
    truth = wavy_flight(150)
    estimate = noisy(truth, sigma_m=0.5).transformed(R_ODOM, T_ODOM)
    result = align(truth, estimate, Alignment.SIM3)
    ref_c = truth.positions_xyz - truth.positions_xyz.mean(axis=0)
    est_c = estimate.positions_xyz - estimate.positions_xyz.mean(axis=0)
    kabsch, _ = Rotation.align_vectors(ref_c, est_c)
    np.testing.assert_allclose(result.rotation, kabsch.as_matrix(), atol=1e-10)
    rotated = est_c @ kabsch.as_matrix().T
    scale = float((rotated * ref_c).sum() / (est_c**2).sum())  # least squares given the rotation
    assert result.scale == pytest.approx(scale, rel=1e-10)


def test_a_mirrored_cloud_still_gets_a_proper_rotation() -> None:
    truth = wavy_flight(60)
    mirrored = truth.positions_xyz * np.array([1.0, -1.0, 1.0])
    rotation, _, _ = umeyama(mirrored, truth.positions_xyz, with_scale=False)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_origin_alignment_puts_the_first_pose_on_the_reference() -> None:
    truth = wavy_flight(50)
    estimate = noisy(truth, sigma_m=0.2, sigma_rad=0.1).transformed(R_ODOM, T_ODOM)
    result = align(truth, estimate, Alignment.ORIGIN)
    aligned = result.apply(estimate)
    np.testing.assert_allclose(aligned.positions_xyz[0], truth.positions_xyz[0], atol=1e-9)
    assert (truth.rotations()[0].inv() * aligned.rotations()[0]).magnitude() < 1e-9
    assert result.poses_used == 1


def test_alignment_on_the_first_poses_only_leaves_later_drift_visible() -> None:
    truth = wavy_flight(100)
    drifted = truth.positions_xyz.copy()
    drifted[50:] += np.linspace(0.0, 5.0, 50)[:, None] * np.array([1.0, 0.0, 0.0])
    estimate = Trajectory(truth.stamps_ns, drifted, truth.orientations_quat_wxyz).transformed(R_ODOM, T_ODOM)
    result = align(truth, estimate, Alignment.SE3, poses=50)
    error = np.linalg.norm(result.apply(estimate).positions_xyz - truth.positions_xyz, axis=1)
    assert error[:50].max() < 1e-9
    assert error[-1] == pytest.approx(5.0)


def test_none_is_the_identity() -> None:
    truth = wavy_flight(10)
    result = align(truth, truth, Alignment.NONE)
    assert result.apply(truth) is truth
    assert result.method is Alignment.NONE
    assert result.poses_used == 0


def test_collinear_positions_cannot_be_aligned() -> None:
    line = np.column_stack([np.arange(10.0), np.zeros(10), np.zeros(10)])
    straight = Trajectory(np.arange(10), line, np.tile([1.0, 0, 0, 0], (10, 1)))
    with pytest.raises(AlignmentError, match="collinear"):
        align(straight, straight, Alignment.SE3)


def test_two_poses_are_too_few_for_umeyama() -> None:
    truth = wavy_flight(2)
    with pytest.raises(AlignmentError, match="at least 3 poses, got 2"):
        align(truth, truth, Alignment.SIM3)


def test_unpaired_trajectories_cannot_be_aligned() -> None:
    with pytest.raises(AlignmentError, match="one length, got 10 reference and 9 estimate"):
        align(wavy_flight(10), wavy_flight(9), Alignment.SE3)


def test_alignment_span_out_of_range_is_a_bad_option() -> None:
    truth = wavy_flight(10)
    with pytest.raises(BadOptionError, match=r"within 1..10, got 11"):
        align(truth, truth, Alignment.SE3, poses=11)


def test_parse_alignment() -> None:
    assert parse_alignment(" SIM3 ") is Alignment.SIM3
    with pytest.raises(BadOptionError, match="unknown alignment 'affine': use one of none, se3, sim3, origin"):
        parse_alignment("affine")


def test_yaw_of_the_alignment() -> None:
    rotation = Rotation.from_euler("z", 30, degrees=True).as_matrix()
    assert AlignmentResult(Alignment.SE3, rotation, np.zeros(3), 1.0, 3).yaw_deg == pytest.approx(30.0)
