"""Rigid transforms T_parent_child as a validated value type.

Conventions: ``T_a_b`` maps a point expressed in frame b into frame a, so
``T_a_c = T_a_b.compose(T_b_c)``; quaternions are Hamilton, scalar first (``quat_wxyz``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from gps_denied_onboard.geometry.errors import InvalidPoseError

UNIT_QUATERNION_TOLERANCE = 1e-6  # |q| may differ from 1 by this much (float rounding in producers)

Vector3 = tuple[float, float, float]
QuatWxyz = tuple[float, float, float, float]


def _finite_floats(name: str, values: Iterable[float], size: int) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise InvalidPoseError(f"{name} must be {size} numbers, got {values!r}: {exc}") from None
    if len(out) != size:
        raise InvalidPoseError(f"{name} must have {size} values, got {len(out)}: {out}")
    if not all(math.isfinite(v) for v in out):
        raise InvalidPoseError(f"{name} must be finite, got {out}")
    return out


def _quat_multiply(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


@dataclass(frozen=True)
class Pose3:
    """A rigid transform T_parent_child: translation in metres and a unit quaternion (w, x, y, z).

    The quaternion must have unit norm within UNIT_QUATERNION_TOLERANCE; it is stored normalised.
    """

    translation_xyz: Vector3
    quat_wxyz: QuatWxyz

    def __post_init__(self) -> None:
        translation = _finite_floats("translation_xyz", self.translation_xyz, 3)
        quat = np.array(_finite_floats("quat_wxyz", self.quat_wxyz, 4))
        norm = float(np.linalg.norm(quat))
        if abs(norm - 1.0) > UNIT_QUATERNION_TOLERANCE:
            raise InvalidPoseError(
                f"quat_wxyz {tuple(quat.tolist())} has norm {norm:.9g}: not a unit quaternion "
                f"(tolerance {UNIT_QUATERNION_TOLERANCE})"
            )
        object.__setattr__(self, "translation_xyz", translation)
        object.__setattr__(self, "quat_wxyz", tuple((quat / norm).tolist()))

    @classmethod
    def from_rotation_matrix(cls, translation_xyz: Iterable[float], R_parent_child: npt.ArrayLike) -> Pose3:
        """The transform of a translation and a 3x3 rotation matrix."""
        x, y, z, w = Rotation.from_matrix(np.asarray(R_parent_child, dtype=np.float64)).as_quat()
        return cls(tuple(translation_xyz), (float(w), float(x), float(y), float(z)))  # type: ignore[arg-type]

    @classmethod
    def identity(cls) -> Pose3:
        """The transform that maps every frame onto itself."""
        return cls((0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0))

    def rotation_matrix(self) -> npt.NDArray[np.float64]:
        """The 3x3 rotation matrix R_parent_child."""
        w, x, y, z = self.quat_wxyz
        return np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
            ]
        )

    def as_matrix(self) -> npt.NDArray[np.float64]:
        """The 4x4 homogeneous matrix of this transform."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.rotation_matrix()
        matrix[:3, 3] = self.translation_xyz
        return matrix

    def transform_point(self, point_xyz: Iterable[float]) -> Vector3:
        """Map a point expressed in the child frame into the parent frame."""
        p = self.rotation_matrix() @ np.asarray(tuple(point_xyz), dtype=float) + np.asarray(self.translation_xyz)
        return (float(p[0]), float(p[1]), float(p[2]))

    def compose(self, other: Pose3) -> Pose3:
        """T_a_c = T_a_b.compose(T_b_c)."""
        translation = self.rotation_matrix() @ np.asarray(other.translation_xyz) + np.asarray(self.translation_xyz)
        quat = _quat_multiply(np.asarray(self.quat_wxyz), np.asarray(other.quat_wxyz))
        return Pose3(_vector3(translation), _quat4(quat / np.linalg.norm(quat)))

    def inverse(self) -> Pose3:
        """T_b_a from T_a_b."""
        w, x, y, z = self.quat_wxyz
        translation = -(self.rotation_matrix().T @ np.asarray(self.translation_xyz))
        return Pose3(_vector3(translation), (w, -x, -y, -z))

    def is_close(self, other: Pose3, *, atol: float = 1e-9) -> bool:
        """Same transform within ``atol`` (q and -q are the same rotation)."""
        q, r = np.asarray(self.quat_wxyz), np.asarray(other.quat_wxyz)
        return bool(
            np.allclose(self.translation_xyz, other.translation_xyz, rtol=0.0, atol=atol)
            and min(np.abs(q - r).max(), np.abs(q + r).max()) <= atol
        )


def _vector3(v: npt.NDArray[np.float64]) -> Vector3:
    return (float(v[0]), float(v[1]), float(v[2]))


def _quat4(q: npt.NDArray[np.float64]) -> QuatWxyz:
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


def roll_pitch_from_specific_force(mean_accel_mps2: Iterable[float]) -> tuple[float, float]:
    """Roll and pitch (rad, ZYX Euler) of a body at rest from its mean accelerometer reading.

    At rest the specific force points up, so in base_link (FLU) it is R_world_body^T @ (0, 0, g).
    """
    ax, ay, az = (float(v) for v in mean_accel_mps2)
    return math.atan2(ay, az), math.atan2(-ax, math.hypot(ay, az))
