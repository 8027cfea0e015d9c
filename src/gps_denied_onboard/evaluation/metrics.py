"""Trajectory error metrics on associated (and aligned) pose pairs, with evo's definitions.

- ATE: per pair, translation ``||p_est - p_ref||`` (m) and rotation angle of ``R_ref^T R_est`` (deg).
- RPE: over pose pairs ``(i, j)`` a delta apart (frames, or metres travelled along the estimate
  or, optionally, the reference; consecutive pairs, evo's default), the error of the relative
  motion ``E = (Q_i^-1 Q_j)^-1 (P_i^-1 P_j)``: ``||t(E)||`` (m) and angle of ``R(E)`` (deg).
- Statistics: rmse, mean, median, std (population), min, max, sse, as evo reports them.
- Drift: final and max position error as % of the distance flown (reference path length).
- Per phase: the same statistics on the samples inside each scenario window, per category,
  and outside every window (nominal); spoof detection latency from the estimator's status.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gps_denied_onboard.evaluation.errors import BadOptionError, MetricError
from gps_denied_onboard.evaluation.phases import (
    EstimatorSource,
    GnssTrust,
    PhaseCategory,
    PhaseWindow,
    StatusSeries,
)
from gps_denied_onboard.evaluation.trajectory import Trajectory

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class ErrorStats:
    """Summary statistics of a set of non-negative errors (evo's set, plus the count)."""

    rmse: float
    mean: float
    median: float
    std: float
    min: float
    max: float
    sse: float
    count: int

    @classmethod
    def of(cls, errors: npt.ArrayLike) -> ErrorStats:
        """The statistics of ``errors`` (at least one value)."""
        values = np.asarray(errors, dtype=np.float64)
        if values.size == 0:
            raise MetricError("error statistics need at least one value")
        squared = values**2
        return cls(
            rmse=math.sqrt(float(squared.mean())),
            mean=float(values.mean()),
            median=float(np.median(values)),
            std=float(values.std()),
            min=float(values.min()),
            max=float(values.max()),
            sse=float(squared.sum()),
            count=int(values.size),
        )

    def to_json(self) -> dict[str, Any]:
        """The statistics as a JSON object."""
        return {
            "rmse": self.rmse,
            "mean": self.mean,
            "median": self.median,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "sse": self.sse,
            "count": self.count,
        }


def _check_paired(reference: Trajectory, estimate: Trajectory) -> None:
    if reference.num_poses != estimate.num_poses:
        raise MetricError(
            f"metrics need associated trajectories of one length, got {reference.num_poses} reference "
            f"and {estimate.num_poses} estimate poses"
        )


@dataclass(frozen=True, eq=False)
class AbsoluteErrors:
    """ATE per associated pair: ``translation_m`` and ``rotation_deg``, (N,) each."""

    translation_m: FloatArray
    rotation_deg: FloatArray

    @property
    def translation_stats(self) -> ErrorStats:
        """Statistics of the position errors (m)."""
        return ErrorStats.of(self.translation_m)

    @property
    def rotation_stats(self) -> ErrorStats:
        """Statistics of the orientation errors (deg)."""
        return ErrorStats.of(self.rotation_deg)


def absolute_errors(reference: Trajectory, estimate: Trajectory) -> AbsoluteErrors:
    """ATE of ``estimate`` against ``reference`` (associated, already aligned)."""
    _check_paired(reference, estimate)
    translation = np.linalg.norm(estimate.positions_xyz - reference.positions_xyz, axis=1)
    rotation = np.degrees((reference.rotations().inv() * estimate.rotations()).magnitude())
    return AbsoluteErrors(translation, np.asarray(rotation, dtype=np.float64))


class DeltaUnit(str, enum.Enum):
    """Unit of the RPE delta (evo's ``--delta_unit``)."""

    FRAMES = "f"
    METRES = "m"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RpeOptions:
    """RPE over consecutive pose pairs ``delta`` frames or metres apart; metres are travelled along the
    estimate unless ``pairs_from_reference`` (evo's ``--pairs_from_reference``)."""

    delta: float = 1.0
    unit: DeltaUnit = DeltaUnit.FRAMES
    pairs_from_reference: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.delta) or self.delta <= 0:
            raise BadOptionError(f"the RPE delta must be finite and > 0, got {self.delta}")
        if self.unit is DeltaUnit.FRAMES and not float(self.delta).is_integer():
            raise BadOptionError(f"an RPE delta in frames must be a whole number, got {self.delta}")


def parse_delta_unit(text: str) -> DeltaUnit:
    """The DeltaUnit named ``text`` (``f`` or ``m``)."""
    try:
        return DeltaUnit(text.strip().lower())
    except ValueError:
        raise BadOptionError(f"unknown RPE delta unit {text!r}: use f (frames) or m (metres)") from None


def rpe_pairs(positions_xyz: FloatArray, options: RpeOptions) -> Int64Array:
    """Index pairs ``(i, j)``, (K, 2), of consecutive poses one delta apart (evo's consecutive-pair rule)."""
    count = positions_xyz.shape[0]
    if options.unit is DeltaUnit.FRAMES:
        ids = list(range(0, count, int(options.delta)))
    else:
        steps = np.linalg.norm(np.diff(positions_xyz, axis=0), axis=1).tolist()
        ids, travelled = [0], 0.0
        for i, step in enumerate(steps, start=1):
            travelled += step  # summed one step at a time, so a pair ends where evo's does
            if travelled >= options.delta:
                ids.append(i)
                travelled = 0.0
    return np.array(list(itertools.pairwise(ids)), dtype=np.int64).reshape(-1, 2)


@dataclass(frozen=True, eq=False)
class RelativeErrors:
    """RPE per pose pair: ``pairs`` (K, 2) indices, ``translation_m`` and ``rotation_deg`` (K,)."""

    options: RpeOptions
    pairs: Int64Array
    translation_m: FloatArray
    rotation_deg: FloatArray

    @property
    def translation_stats(self) -> ErrorStats:
        """Statistics of the relative translation errors (m)."""
        return ErrorStats.of(self.translation_m)

    @property
    def rotation_stats(self) -> ErrorStats:
        """Statistics of the relative rotation errors (deg)."""
        return ErrorStats.of(self.rotation_deg)


def relative_errors(reference: Trajectory, estimate: Trajectory, options: RpeOptions) -> RelativeErrors:
    """RPE of ``estimate`` against ``reference`` (associated); no pair for the delta is a MetricError."""
    _check_paired(reference, estimate)
    source = reference if options.pairs_from_reference else estimate
    pairs = rpe_pairs(source.positions_xyz, options)
    if pairs.shape[0] == 0:
        along = "reference" if options.pairs_from_reference else "estimate"
        raise MetricError(
            f"RPE delta {options.delta:g} {options.unit.value} yields no pose pair on {estimate.num_poses} poses "
            f"({source.path_length_m():.3f} m along the {along}): lower the delta"
        )
    i, j = pairs[:, 0], pairs[:, 1]
    ref_rot, est_rot = reference.rotations(), estimate.rotations()
    ref_motion = ref_rot[i].inv().apply(reference.positions_xyz[j] - reference.positions_xyz[i])
    est_motion = est_rot[i].inv().apply(estimate.positions_xyz[j] - estimate.positions_xyz[i])
    ref_turn, est_turn = ref_rot[i].inv() * ref_rot[j], est_rot[i].inv() * est_rot[j]
    # t(E) = R_ref_rel^T (t_est_rel - t_ref_rel): a rotation keeps the norm, so it is skipped.
    translation = np.linalg.norm(est_motion - ref_motion, axis=1)
    rotation = np.degrees((ref_turn.inv() * est_turn).magnitude())
    return RelativeErrors(options, pairs, translation, np.asarray(rotation, dtype=np.float64))


@dataclass(frozen=True)
class Drift:
    """Position error relative to the distance flown (reference path over the associated poses)."""

    distance_m: float
    final_error_m: float
    max_error_m: float
    final_pct: float | None  # None when nothing was flown
    max_pct: float | None


def _pct(error_m: float, distance_m: float) -> float | None:
    return 100.0 * error_m / distance_m if distance_m > 0 else None


def drift(reference: Trajectory, translation_errors_m: FloatArray) -> Drift:
    """Final and max error as a percentage of the reference's path length."""
    if translation_errors_m.shape != (reference.num_poses,):
        raise MetricError(f"drift needs one error per reference pose, got {translation_errors_m.shape}")
    distance = reference.path_length_m()
    final, worst = float(translation_errors_m[-1]), float(translation_errors_m.max())
    return Drift(distance, final, worst, _pct(final, distance), _pct(worst, distance))


@dataclass(frozen=True)
class SliceMetrics:
    """ATE statistics of the samples in a set of time windows, and how much was flown there."""

    samples: int
    duration_s: float  # time spanned by consecutive samples both inside
    distance_m: float  # reference path between consecutive samples both inside
    translation_m: ErrorStats | None  # None when no sample lies inside
    rotation_deg: ErrorStats | None


def slice_metrics(reference: Trajectory, errors: AbsoluteErrors, mask: BoolArray) -> SliceMetrics:
    """The metrics of the samples where ``mask`` is true."""
    both = mask[1:] & mask[:-1]
    steps_m = np.linalg.norm(np.diff(reference.positions_xyz, axis=0), axis=1)
    steps_s = np.diff(reference.stamps_ns) / NS_PER_S
    inside = bool(mask.any())
    return SliceMetrics(
        samples=int(mask.sum()),
        duration_s=float(steps_s[both].sum()),
        distance_m=float(steps_m[both].sum()),
        translation_m=ErrorStats.of(errors.translation_m[mask]) if inside else None,
        rotation_deg=ErrorStats.of(errors.rotation_deg[mask]) if inside else None,
    )


@dataclass(frozen=True)
class WindowMetrics:
    """One scenario window's metrics and how the position error grew across it."""

    index: int  # the window's index in the flight's phase list
    window: PhaseWindow
    metrics: SliceMetrics
    error_at_start_m: float | None  # first and last sample inside the window
    error_at_end_m: float | None

    @property
    def error_growth_m(self) -> float | None:
        """Error at the window's end minus at its start."""
        if self.error_at_start_m is None or self.error_at_end_m is None:
            return None
        return self.error_at_end_m - self.error_at_start_m

    @property
    def growth_pct(self) -> float | None:
        """Error growth as % of the distance flown inside the window (drift while the event lasted)."""
        growth = self.error_growth_m
        return None if growth is None else _pct(growth, self.metrics.distance_m)


@dataclass(frozen=True)
class PhaseMetrics:
    """Metrics per category (nominal, then the categories the flight has) and per window."""

    by_category: dict[PhaseCategory, SliceMetrics]
    windows: tuple[WindowMetrics, ...]


def phase_metrics(reference: Trajectory, errors: AbsoluteErrors, windows: Sequence[PhaseWindow]) -> PhaseMetrics:
    """Slice the ATE by scenario window: each window, each category's union of windows, and nominal."""
    if (count := errors.translation_m.shape[0]) != reference.num_poses:
        raise MetricError(f"phase metrics need one error per reference pose, got {count} for {reference.num_poses}")
    stamps = reference.stamps_ns
    masks = [window.contains(stamps) for window in windows]
    in_any = np.zeros(stamps.shape, dtype=bool)
    by_category_mask: dict[PhaseCategory, BoolArray] = {}
    for window, mask in zip(windows, masks, strict=True):
        in_any |= mask
        by_category_mask[window.category] = by_category_mask.get(window.category, np.zeros_like(mask)) | mask
    by_category = {PhaseCategory.NOMINAL: slice_metrics(reference, errors, ~in_any)}
    for category in PhaseCategory:
        if category in by_category_mask:
            by_category[category] = slice_metrics(reference, errors, by_category_mask[category])
    window_metrics = []
    for index, (window, mask) in enumerate(zip(windows, masks, strict=True)):
        inside = np.flatnonzero(mask)
        first = float(errors.translation_m[inside[0]]) if inside.size else None
        last = float(errors.translation_m[inside[-1]]) if inside.size else None
        window_metrics.append(WindowMetrics(index, window, slice_metrics(reference, errors, mask), first, last))
    return PhaseMetrics(by_category, tuple(window_metrics))


@dataclass(frozen=True)
class SpoofDetection:
    """When the estimator noticed a spoof window: the first status inside it with GNSS no longer trusted
    (REJECTED or PROBATION) or the position no longer from GNSS."""

    index: int  # the window's index in the flight's phase list
    window: PhaseWindow
    detected_ns: int | None
    trigger: str  # e.g. "gnss_trust=REJECTED"; why not detected otherwise

    @property
    def detected(self) -> bool:
        """Whether the estimator reacted inside the window."""
        return self.detected_ns is not None

    @property
    def latency_s(self) -> float | None:
        """Seconds from the window's start to the detection; None when not detected."""
        return None if self.detected_ns is None else (self.detected_ns - self.window.start_ns) / NS_PER_S


_DISTRUST = np.array([GnssTrust.REJECTED, GnssTrust.PROBATION], dtype=np.uint8)


def spoof_detection(windows: Sequence[PhaseWindow], status: StatusSeries | None) -> tuple[SpoofDetection, ...]:
    """Detection of every spoof window (drift or jump) from the estimator's status series."""
    found = []
    for index, window in enumerate(windows):
        if not window.is_spoof:
            continue
        if status is None:
            found.append(SpoofDetection(index, window, None, "not detected: no estimator status in the input"))
            continue
        inside = np.flatnonzero(window.contains(status.stamps_ns))
        if inside.size == 0:
            found.append(SpoofDetection(index, window, None, "not detected: no estimator status inside the window"))
            continue
        distrust = np.isin(status.gnss_trust[inside], _DISTRUST)
        off_gnss = status.source[inside] != EstimatorSource.GNSS
        hits = np.flatnonzero(distrust | off_gnss)
        if hits.size == 0:
            found.append(SpoofDetection(index, window, None, "not detected"))
            continue
        k = int(inside[hits[0]])
        reasons = []
        if distrust[hits[0]]:
            reasons.append(f"gnss_trust={GnssTrust(int(status.gnss_trust[k])).name}")
        if off_gnss[hits[0]]:
            reasons.append(f"source={EstimatorSource(int(status.source[k])).name}")
        found.append(SpoofDetection(index, window, int(status.stamps_ns[k]), ", ".join(reasons)))
    return tuple(found)
