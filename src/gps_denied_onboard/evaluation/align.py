"""Alignment of an estimate onto its reference: none, SE(3) or Sim(3) Umeyama, or first-pose (origin).

Umeyama (IEEE PAMI 1991) finds ``scale``, ``rotation``, ``translation_m`` minimising
``sum ||ref_i - (scale * rotation @ est_i + translation_m)||^2`` over associated positions; the
result maps every estimate pose (positions and orientations) into the reference frame, as
evo's ``-a`` / ``-as`` / ``--align_origin`` / ``--n_to_align`` do.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gps_denied_onboard.evaluation.errors import AlignmentError, BadOptionError
from gps_denied_onboard.evaluation.trajectory import Trajectory

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


class Alignment(str, enum.Enum):
    """How an estimate is brought into the reference frame before errors are taken."""

    NONE = "none"  # same frame already (the state estimate in map): absolute error is the point
    SE3 = "se3"  # rigid Umeyama: an odometry frame with an arbitrary origin and yaw
    SIM3 = "sim3"  # Umeyama with scale: monocular odometry
    ORIGIN = "origin"  # the first estimate pose put onto the first reference pose

    def __str__(self) -> str:
        return self.value


def parse_alignment(text: str) -> Alignment:
    """The Alignment named ``text``; anything else is a BadOptionError listing the names."""
    try:
        return Alignment(text.strip().lower())
    except ValueError:
        names = ", ".join(a.value for a in Alignment)
        raise BadOptionError(f"unknown alignment {text!r}: use one of {names}") from None


@dataclass(frozen=True, eq=False)
class AlignmentResult:
    """The similarity applied to the estimate: ``x_ref = scale * rotation @ x_est + translation_m``."""

    method: Alignment
    rotation: FloatArray  # (3, 3) R_ref_est
    translation_m: FloatArray  # (3,)
    scale: float
    poses_used: int  # associated poses the alignment was estimated from (0 for none)

    @classmethod
    def identity(cls) -> AlignmentResult:
        """No alignment."""
        return cls(Alignment.NONE, np.eye(3), np.zeros(3), 1.0, 0)

    def apply(self, estimate: Trajectory, *, frame_id: str | None = None) -> Trajectory:
        """``estimate`` mapped into the reference frame."""
        if self.method is Alignment.NONE:
            return estimate
        return estimate.transformed(self.rotation, self.translation_m, self.scale, frame_id=frame_id)

    @property
    def yaw_deg(self) -> float:
        """The heading part of the rotation (about map z), for the report."""
        return float(np.degrees(np.arctan2(self.rotation[1, 0], self.rotation[0, 0])))


def umeyama(
    source_xyz: FloatArray, target_xyz: FloatArray, *, with_scale: bool
) -> tuple[FloatArray, FloatArray, float]:
    """Rotation, translation and scale with ``target ~ scale * rotation @ source + translation`` (least squares)."""
    source = np.asarray(source_xyz, dtype=np.float64)
    target = np.asarray(target_xyz, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 3:
        raise AlignmentError(f"Umeyama needs two (N, 3) point sets of one shape, got {source.shape} and {target.shape}")
    count = source.shape[0]
    if count < 3:
        raise AlignmentError(f"Umeyama alignment needs at least 3 poses, got {count}")
    mean_source, mean_target = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - mean_source, target - mean_target
    variance_source = float((centred_source**2).sum()) / count
    covariance = centred_target.T @ centred_source / count
    u, singular, vt = np.linalg.svd(covariance)
    # Rank < 2: the points lie on a line (or a point), so a rotation about it is undetermined.
    if np.count_nonzero(singular > np.finfo(np.float64).eps * max(1.0, float(singular[0]))) < 2:
        raise AlignmentError(
            f"the {count} associated positions are (nearly) collinear: a rotation about their line is "
            "undetermined, so SE(3)/Sim(3) alignment is not possible; use --topic T:none or T:origin"
        )
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0.0:
        sign[2, 2] = -1.0  # a proper rotation, not a reflection (Umeyama eq. 43)
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(singular) @ sign)) / variance_source if with_scale else 1.0
    translation = mean_target - scale * rotation @ mean_source
    return rotation, translation, scale


def align(
    reference: Trajectory, estimate: Trajectory, method: Alignment, *, poses: int | None = None
) -> AlignmentResult:
    """The alignment of ``estimate`` onto ``reference`` (associated, same length) by ``method``,
    estimated from the first ``poses`` pairs (all when None)."""
    if reference.num_poses != estimate.num_poses:
        raise AlignmentError(
            f"alignment needs associated trajectories of one length, got {reference.num_poses} reference "
            f"and {estimate.num_poses} estimate poses"
        )
    if poses is not None and not 1 <= poses <= reference.num_poses:
        raise BadOptionError(f"alignment poses must be within 1..{reference.num_poses}, got {poses}")
    used = reference.num_poses if poses is None else poses
    if method is Alignment.NONE:
        return AlignmentResult.identity()
    if method is Alignment.ORIGIN:
        rotation = (reference.rotations()[0] * estimate.rotations()[0].inv()).as_matrix()
        translation = reference.positions_xyz[0] - rotation @ estimate.positions_xyz[0]
        return AlignmentResult(method, rotation, translation, 1.0, 1)
    rotation, translation, scale = umeyama(
        estimate.positions_xyz[:used], reference.positions_xyz[:used], with_scale=method is Alignment.SIM3
    )
    if not scale > 0:
        raise AlignmentError(f"Sim(3) alignment found a non-positive scale {scale}: the estimate does not move")
    result = AlignmentResult(method, rotation, translation, scale, used)
    logger.debug("%s alignment of %s: yaw %.3f deg, scale %.6f", method, estimate.name, result.yaw_deg, scale)
    return result
