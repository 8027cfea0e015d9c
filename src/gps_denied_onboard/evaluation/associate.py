"""Time association of an estimate with its reference, with evo's ``nearest_time`` semantics.

The trajectory with fewer poses drives (the estimate when both are as long): each of its stamps
is paired with the closest stamp of the other, if within ``max_diff_ns``; a tie goes to the
earlier stamp. ``offset_ns`` is added to the estimate's stamps for the comparison only.
One deviation from evo keeps pairs one-to-one: when two driving stamps pick the same pose,
only the closer pair stays (evo would use that pose twice); sparse estimates never hit this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gps_denied_onboard.evaluation.errors import AssociationError, BadOptionError
from gps_denied_onboard.evaluation.trajectory import Trajectory

logger = logging.getLogger(__name__)

Int64Array = npt.NDArray[np.int64]
NS_PER_S = 1_000_000_000
DEFAULT_MAX_DIFF_S = 0.01  # evo's --t_max_diff default


@dataclass(frozen=True, eq=False)
class Association:
    """Index pairs into the reference and the estimate, in time order, and each pair's stamp difference."""

    reference_indices: Int64Array
    estimate_indices: Int64Array
    dt_ns: Int64Array  # (estimate stamp + offset) - reference stamp, per pair
    reference_poses: int
    estimate_poses: int
    max_diff_ns: int
    offset_ns: int

    @property
    def count(self) -> int:
        """The number of associated pairs."""
        return int(self.reference_indices.shape[0])

    @property
    def mean_abs_dt_s(self) -> float:
        """Mean absolute stamp difference of the pairs."""
        return float(np.abs(self.dt_ns).mean()) / NS_PER_S

    @property
    def max_abs_dt_s(self) -> float:
        """Largest absolute stamp difference of the pairs."""
        return float(np.abs(self.dt_ns).max()) / NS_PER_S


def seconds_to_ns(value_s: float, option: str, *, allow_negative: bool = False) -> int:
    """``value_s`` seconds as integer nanoseconds, checked finite (and >= 0 unless allowed)."""
    if not np.isfinite(value_s) or (value_s < 0 and not allow_negative):
        bound = "finite" if allow_negative else "finite and >= 0"
        raise BadOptionError(f"{option} must be {bound} seconds, got {value_s}")
    return round(value_s * NS_PER_S)


def _nearest(driver: Int64Array, other: Int64Array, max_diff_ns: int) -> tuple[Int64Array, Int64Array]:
    """For each ``driver`` stamp, the index of the closest ``other`` stamp within ``max_diff_ns`` (-1: none)."""
    upper = np.clip(np.searchsorted(other, driver, side="right"), 0, other.size - 1)
    lower = np.clip(upper - 1, 0, other.size - 1)
    diff_upper = np.abs(other[upper] - driver)
    diff_lower = np.abs(driver - other[lower])
    best = np.where(diff_lower <= diff_upper, lower, upper)  # ties to the earlier stamp, as evo
    diff = np.minimum(diff_lower, diff_upper)
    return np.where(diff <= max_diff_ns, best, -1), diff


def associate(reference: Trajectory, estimate: Trajectory, *, max_diff_ns: int, offset_ns: int = 0) -> Association:
    """Pair ``estimate`` poses with ``reference`` poses by nearest stamp (module doc); none at all is an error."""
    if max_diff_ns < 0:
        raise BadOptionError(f"the association tolerance must be >= 0 ns, got {max_diff_ns}")
    reference_stamps = reference.stamps_ns
    estimate_stamps = estimate.stamps_ns + np.int64(offset_ns)
    estimate_drives = reference.num_poses >= estimate.num_poses
    driver, other = (estimate_stamps, reference_stamps) if estimate_drives else (reference_stamps, estimate_stamps)
    match, diff = _nearest(driver, other, max_diff_ns)
    driver_indices = np.flatnonzero(match >= 0)
    other_indices = match[driver_indices]
    diff = diff[driver_indices]
    # One-to-one: of the driving stamps that picked one pose, keep the closest (first on a tie).
    order = np.lexsort((driver_indices, diff, other_indices))
    first = np.ones(order.size, dtype=bool)
    first[1:] = other_indices[order][1:] != other_indices[order][:-1]
    kept = np.sort(order[first])
    if (dropped := order.size - kept.size) > 0:
        logger.info("%s: %d pair(s) reused a pose and were dropped to keep pairs one-to-one", estimate.name, dropped)
    driver_indices, other_indices = driver_indices[kept], other_indices[kept]
    est_idx, ref_idx = (driver_indices, other_indices) if estimate_drives else (other_indices, driver_indices)
    if est_idx.size == 0:
        raise AssociationError(
            f"no pose of {estimate.name or 'the estimate'} ({estimate.num_poses} poses, "
            f"{_span(estimate_stamps)}) lies within {max_diff_ns / NS_PER_S:g} s of a pose of "
            f"{reference.name or 'the reference'} ({reference.num_poses} poses, {_span(reference_stamps)}), "
            f"time offset {offset_ns / NS_PER_S:g} s"
        )
    return Association(
        reference_indices=ref_idx.astype(np.int64),
        estimate_indices=est_idx.astype(np.int64),
        dt_ns=(estimate_stamps[est_idx] - reference_stamps[ref_idx]).astype(np.int64),
        reference_poses=reference.num_poses,
        estimate_poses=estimate.num_poses,
        max_diff_ns=max_diff_ns,
        offset_ns=offset_ns,
    )


def _span(stamps_ns: Int64Array) -> str:
    return f"stamps {stamps_ns[0] / NS_PER_S:.3f}..{stamps_ns[-1] / NS_PER_S:.3f} s"


def associated(reference: Trajectory, estimate: Trajectory, association: Association) -> tuple[Trajectory, Trajectory]:
    """The paired poses as two trajectories of equal length (each keeps its own stamps)."""
    return reference.subset(association.reference_indices), estimate.subset(association.estimate_indices)
