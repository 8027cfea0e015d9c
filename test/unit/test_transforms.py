"""Pose3: validation, identity, compose/inverse round trips against 4x4 matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gps_denied_onboard.errors import OnboardError
from gps_denied_onboard.geometry.errors import GeometryError, InvalidPoseError
from gps_denied_onboard.geometry.transforms import UNIT_QUATERNION_TOLERANCE, Pose3


def random_pose(rng: np.random.Generator) -> Pose3:
    quat = rng.normal(size=4)
    return Pose3(tuple(rng.uniform(-100.0, 100.0, size=3)), tuple(quat / np.linalg.norm(quat)))  # type: ignore[arg-type]


def yaw(angle_rad: float, translation_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Pose3:
    return Pose3(translation_xyz, (math.cos(angle_rad / 2), 0.0, 0.0, math.sin(angle_rad / 2)))


POSES = [random_pose(np.random.default_rng(seed)) for seed in range(20)]


def test_identity_is_neutral_and_its_own_inverse() -> None:
    identity = Pose3.identity()
    assert identity.inverse().is_close(identity)
    np.testing.assert_array_equal(identity.as_matrix(), np.eye(4))
    for pose in POSES:
        assert pose.compose(identity).is_close(pose)
        assert identity.compose(pose).is_close(pose)


@pytest.mark.parametrize("pose", POSES)
def test_pose_composed_with_its_inverse_is_identity(pose: Pose3) -> None:
    assert pose.compose(pose.inverse()).is_close(Pose3.identity(), atol=1e-9)
    assert pose.inverse().compose(pose).is_close(Pose3.identity(), atol=1e-9)
    assert pose.inverse().inverse().is_close(pose, atol=1e-9)


@pytest.mark.parametrize(("a_b", "b_c"), list(zip(POSES[:10], POSES[10:], strict=True)))
def test_compose_matches_the_matrix_product_and_maps_points_through_both(a_b: Pose3, b_c: Pose3) -> None:
    a_c = a_b.compose(b_c)
    np.testing.assert_allclose(a_c.as_matrix(), a_b.as_matrix() @ b_c.as_matrix(), atol=1e-9)
    point_c = (1.5, -2.0, 30.0)
    np.testing.assert_allclose(a_c.transform_point(point_c), a_b.transform_point(b_c.transform_point(point_c)))
    # (T_a_b T_b_c)^-1 = T_c_b T_b_a
    assert a_c.inverse().is_close(b_c.inverse().compose(a_b.inverse()), atol=1e-9)


def test_rotation_convention_parent_from_child() -> None:
    # base_link yawed 90 degrees left in map, 10 m east: its x axis (forward) points north.
    map_base = yaw(math.pi / 2, (10.0, 0.0, 0.0))
    np.testing.assert_allclose(map_base.transform_point((1.0, 0.0, 0.0)), (10.0, 1.0, 0.0), atol=1e-12)
    np.testing.assert_allclose(map_base.inverse().transform_point((10.0, 1.0, 0.0)), (1.0, 0.0, 0.0), atol=1e-12)


def test_rotation_matrix_is_orthonormal() -> None:
    for pose in POSES:
        rotation = pose.rotation_matrix()
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_q_and_minus_q_are_the_same_rotation() -> None:
    pose = yaw(0.3, (1.0, 2.0, 3.0))
    flipped = Pose3(pose.translation_xyz, tuple(-v for v in pose.quat_wxyz))  # type: ignore[arg-type]
    assert pose.is_close(flipped)
    assert not pose.is_close(yaw(0.31, (1.0, 2.0, 3.0)), atol=1e-6)


def test_quaternion_within_tolerance_is_stored_normalised() -> None:
    scale = 1.0 + UNIT_QUATERNION_TOLERANCE / 2
    pose = Pose3((0, 0, 0), (scale, 0, 0, 0))
    assert pose.quat_wxyz == (1.0, 0.0, 0.0, 0.0)
    assert all(isinstance(v, float) for v in (*pose.translation_xyz, *pose.quat_wxyz))


@pytest.mark.parametrize(
    ("translation", "quat", "message"),
    [
        ((0, 0, 0), (0, 0, 0, 0), "not a unit quaternion"),
        ((0, 0, 0), (1, 1, 0, 0), "not a unit quaternion"),
        ((0, 0, 0), (1.0 + 10 * UNIT_QUATERNION_TOLERANCE, 0, 0, 0), "not a unit quaternion"),
        ((0, 0, 0), (math.nan, 0, 0, 0), "quat_wxyz must be finite"),
        ((0, 0, 0), (math.inf, 0, 0, 0), "quat_wxyz must be finite"),
        ((math.nan, 0, 0), (1, 0, 0, 0), "translation_xyz must be finite"),
        ((0, -math.inf, 0), (1, 0, 0, 0), "translation_xyz must be finite"),
        ((0, 0), (1, 0, 0, 0), "translation_xyz must have 3 values"),
        ((0, 0, 0), (1, 0, 0), "quat_wxyz must have 4 values"),
        ((0, 0, "x"), (1, 0, 0, 0), "translation_xyz must be 3 numbers"),
    ],
)
def test_bad_values_raise_a_typed_error(translation: object, quat: object, message: str) -> None:
    with pytest.raises(InvalidPoseError, match=message) as caught:
        Pose3(translation, quat)  # type: ignore[arg-type]
    assert isinstance(caught.value, GeometryError)
    assert isinstance(caught.value, OnboardError)


def test_pose_is_frozen() -> None:
    pose = Pose3.identity()
    with pytest.raises(AttributeError):
        pose.translation_xyz = (1.0, 2.0, 3.0)  # type: ignore[misc]
