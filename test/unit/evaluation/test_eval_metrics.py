"""ATE/RPE/drift against hand-computed cases; per-phase slices and spoof detection latency on synthetic series."""

from __future__ import annotations

import math

import numpy as np
import pytest
from eval_factory import NS, T0_NS, noisy, square_path
from scipy.spatial.transform import Rotation

from gps_denied_onboard.evaluation.errors import BadOptionError, InvalidPhaseError, InvalidStatusError, MetricError
from gps_denied_onboard.evaluation.metrics import (
    DeltaUnit,
    ErrorStats,
    RpeOptions,
    absolute_errors,
    drift,
    parse_delta_unit,
    phase_metrics,
    relative_errors,
    rpe_pairs,
    spoof_detection,
)
from gps_denied_onboard.evaluation.phases import (
    EstimatorSource,
    GnssTrust,
    PhaseCategory,
    PhaseKind,
    PhaseWindow,
    StatusSeries,
    phase_kind,
)
from gps_denied_onboard.evaluation.trajectory import Trajectory


def shifted(truth: Trajectory, offsets_m: np.ndarray) -> Trajectory:
    return Trajectory(truth.stamps_ns, truth.positions_xyz + offsets_m, truth.orientations_quat_wxyz, name="est")


def test_error_stats_of_hand_values() -> None:
    stats = ErrorStats.of([3.0, 4.0])
    assert stats == ErrorStats(rmse=math.sqrt(12.5), mean=3.5, median=3.5, std=0.5, min=3.0, max=4.0, sse=25.0, count=2)
    with pytest.raises(MetricError, match="at least one value"):
        ErrorStats.of([])


def test_constant_offset_on_a_square_gives_that_offset_as_ate() -> None:
    square = square_path(side_m=10.0, per_side=10)
    errors = absolute_errors(square, shifted(square, np.array([0.3, -0.4, 0.0])))
    stats = errors.translation_stats
    assert stats.rmse == pytest.approx(0.5)
    assert stats.mean == pytest.approx(0.5)
    assert stats.min == pytest.approx(0.5)
    assert stats.max == pytest.approx(0.5)
    assert stats.std == pytest.approx(0.0, abs=1e-12)
    assert stats.sse == pytest.approx(41 * 0.25)
    assert errors.rotation_stats.max == pytest.approx(0.0, abs=1e-6)


def test_a_known_attitude_error_is_measured_in_degrees() -> None:
    square = square_path()
    tilted = square.rotations() * Rotation.from_euler("x", 10.0, degrees=True)  # R_est = R_gt Rx(10)
    estimate = Trajectory(square.stamps_ns, square.positions_xyz, tilted.as_quat(scalar_first=True))
    errors = absolute_errors(square, estimate)
    np.testing.assert_allclose(errors.rotation_deg, 10.0, rtol=1e-9)
    assert errors.translation_stats.max == 0.0


def test_rpe_of_a_constant_offset_is_zero() -> None:
    square = square_path()
    rpe = relative_errors(square, shifted(square, np.array([5.0, 5.0, 1.0])), RpeOptions(1, DeltaUnit.FRAMES))
    assert rpe.translation_stats.max == pytest.approx(0.0, abs=1e-12)
    assert rpe.rotation_stats.max == pytest.approx(0.0, abs=1e-6)
    assert rpe.pairs.shape == (40, 2)


@pytest.mark.parametrize(("delta", "expected_m", "pairs"), [(1, 0.1, 40), (2, 0.2, 20), (8, 0.8, 5), (40, 4.0, 1)])
def test_rpe_in_frames_of_a_steady_drift(delta: int, expected_m: float, pairs: int) -> None:
    square = square_path()  # 41 poses
    drifting = shifted(square, np.arange(41)[:, None] * np.array([0.1, 0.0, 0.0]))
    rpe = relative_errors(square, drifting, RpeOptions(delta, DeltaUnit.FRAMES))
    np.testing.assert_allclose(rpe.translation_m, expected_m, rtol=1e-9)
    assert rpe.pairs.shape == (pairs, 2)
    assert rpe.pairs[0].tolist() == [0, delta]


def test_rpe_rotation_of_a_steady_yaw_drift() -> None:
    square = square_path()
    yaw = Rotation.from_euler("z", np.arange(41)[:, None] * 0.5, degrees=True)
    estimate = Trajectory(square.stamps_ns, square.positions_xyz, (yaw * square.rotations()).as_quat(scalar_first=True))
    rpe = relative_errors(square, estimate, RpeOptions(4, DeltaUnit.FRAMES))
    np.testing.assert_allclose(rpe.rotation_deg, 2.0, rtol=1e-9)


def test_rpe_pairs_in_metres_follow_the_travelled_path() -> None:
    square = square_path(side_m=10.0, per_side=10)  # 1 m steps
    pairs = rpe_pairs(square.positions_xyz, RpeOptions(4.5, DeltaUnit.METRES))
    assert pairs[:, 0].tolist() == list(range(0, 40, 5))
    assert pairs[:, 1].tolist() == list(range(5, 41, 5))


def test_rpe_pairs_from_the_reference_ignore_estimate_jitter() -> None:
    square = square_path()
    zigzag = shifted(square, np.column_stack([np.zeros((41, 2)), 0.5 * (-1.0) ** np.arange(41)]))  # up/down
    from_estimate = relative_errors(square, zigzag, RpeOptions(4.5, DeltaUnit.METRES))
    from_reference = relative_errors(square, zigzag, RpeOptions(4.5, DeltaUnit.METRES, pairs_from_reference=True))
    assert from_reference.pairs.shape == (8, 2)
    assert from_estimate.pairs.shape == (10, 2)  # the zigzag travels sqrt(2) m per 1 m step: 4 steps a pair
    assert from_estimate.pairs[:, 0].tolist() == list(range(0, 40, 4))


def test_rpe_delta_longer_than_the_flight_is_a_typed_error() -> None:
    square = square_path()
    with pytest.raises(MetricError, match=r"RPE delta 500 m yields no pose pair on 41 poses \(40.000 m along"):
        relative_errors(square, square, RpeOptions(500.0, DeltaUnit.METRES))


@pytest.mark.parametrize(
    ("delta", "unit", "message"),
    [
        (0.0, DeltaUnit.FRAMES, "finite and > 0"),
        (-2.0, DeltaUnit.METRES, "finite and > 0"),
        (math.nan, DeltaUnit.METRES, "finite and > 0"),
        (1.5, DeltaUnit.FRAMES, "whole number"),
    ],
)
def test_bad_rpe_options(delta: float, unit: DeltaUnit, message: str) -> None:
    with pytest.raises(BadOptionError, match=message):
        RpeOptions(delta, unit)


def test_unknown_delta_unit_is_a_bad_option() -> None:
    assert parse_delta_unit("M") is DeltaUnit.METRES
    with pytest.raises(BadOptionError, match="unknown RPE delta unit 'd'"):
        parse_delta_unit("d")


def test_metrics_need_paired_trajectories() -> None:
    square = square_path()
    with pytest.raises(MetricError, match="one length, got 41 reference and 40 estimate"):
        absolute_errors(square, square.subset(np.arange(40)))


def test_drift_is_error_over_distance_flown() -> None:
    square = square_path()  # 40 m
    growing = shifted(square, np.linspace(0.0, 2.0, 41)[:, None] * np.array([0.0, 0.0, 1.0]))
    result = drift(square, absolute_errors(square, growing).translation_m)
    assert result.distance_m == pytest.approx(40.0)
    assert result.final_error_m == pytest.approx(2.0)
    assert result.max_error_m == pytest.approx(2.0)
    assert result.final_pct == pytest.approx(5.0)
    assert result.max_pct == pytest.approx(5.0)


def test_drift_of_a_hover_has_no_percentage() -> None:
    hover = Trajectory(np.arange(5), np.zeros((5, 3)), np.tile([1.0, 0, 0, 0], (5, 1)))
    result = drift(hover, np.full(5, 0.3))
    assert result.distance_m == 0.0
    assert result.final_pct is None
    assert result.max_pct is None


def window(kind: PhaseKind, start_s: float, end_s: float, name: str = "") -> PhaseWindow:
    return PhaseWindow(kind, T0_NS + round(start_s * NS), T0_NS + round(end_s * NS), name)


def test_phase_slices_by_window_category_and_nominal() -> None:
    square = square_path(rate_hz=10.0)  # 41 poses, 0.0 .. 4.0 s, 1 m per step
    growing = shifted(square, np.arange(41)[:, None] * np.array([0.1, 0.0, 0.0]))  # error of pose k: 0.1 k
    errors = absolute_errors(square, growing)
    windows = [
        window(PhaseKind.GNSS_DENIED, 1.0, 2.0, "denied-1"),  # poses 10..19
        window(PhaseKind.GNSS_SPOOF_JUMP, 2.5, 3.0, "jump"),  # poses 25..29
        window(PhaseKind.GNSS_SPOOF_DRIFT, 3.0, 3.2, "drift"),  # poses 30, 31
    ]
    result = phase_metrics(square, errors, windows)
    assert list(result.by_category) == [PhaseCategory.NOMINAL, PhaseCategory.DENIED, PhaseCategory.SPOOFED]
    denied = result.by_category[PhaseCategory.DENIED]
    assert denied.samples == 10
    assert denied.translation_m is not None
    assert denied.translation_m.mean == pytest.approx(1.45)
    assert denied.translation_m.max == pytest.approx(1.9)
    assert denied.distance_m == pytest.approx(9.0)
    assert denied.duration_s == pytest.approx(0.9)
    spoofed = result.by_category[PhaseCategory.SPOOFED]
    assert spoofed.samples == 7  # both spoof windows: 25..31
    assert spoofed.translation_m is not None
    assert spoofed.translation_m.mean == pytest.approx(2.8)
    nominal = result.by_category[PhaseCategory.NOMINAL]
    assert nominal.samples == 41 - 17
    outside = [k for k in range(41) if not (10 <= k <= 19 or 25 <= k <= 31)]
    assert nominal.translation_m is not None
    assert nominal.translation_m.rmse == pytest.approx(math.sqrt(np.mean((0.1 * np.array(outside)) ** 2)))
    first = result.windows[0]
    assert first.index == 0
    assert first.window.name == "denied-1"
    assert first.error_at_start_m == pytest.approx(1.0)
    assert first.error_at_end_m == pytest.approx(1.9)
    assert first.error_growth_m == pytest.approx(0.9)
    assert first.growth_pct == pytest.approx(10.0)  # 0.9 m over 9 m flown inside


def test_overlapping_windows_count_once_in_nominal_and_a_window_without_samples_is_empty() -> None:
    square = square_path(rate_hz=10.0)
    errors = absolute_errors(square, shifted(square, np.array([1.0, 0.0, 0.0])))
    windows = [
        window(PhaseKind.GNSS_DENIED, 1.0, 2.0),
        window(PhaseKind.FEATURELESS, 1.5, 2.5),
        window(PhaseKind.SEASONAL_CHANGE, 100.0, 101.0),
    ]
    result = phase_metrics(square, errors, windows)
    assert result.by_category[PhaseCategory.NOMINAL].samples == 41 - 15  # 1.0 .. 2.4 s
    assert result.by_category[PhaseCategory.FEATURELESS].samples == 10
    late = result.windows[2]
    assert late.metrics.samples == 0
    assert late.metrics.translation_m is None
    assert late.error_growth_m is None
    assert late.growth_pct is None


def status(labels: list[tuple[float, int, int]]) -> StatusSeries:
    return StatusSeries(
        np.array([T0_NS + round(t * NS) for t, _, _ in labels], dtype=np.int64),
        np.array([source for _, source, _ in labels], dtype=np.uint8),
        np.array([trust for _, _, trust in labels], dtype=np.uint8),
    )


GNSS, VISUAL = EstimatorSource.GNSS, EstimatorSource.VISUAL
TRUSTED, REJECTED, PROBATION, UNAVAILABLE = (
    GnssTrust.TRUSTED,
    GnssTrust.REJECTED,
    GnssTrust.PROBATION,
    GnssTrust.UNAVAILABLE,
)


def every_tenth(until_s: float, change_s: float, before: tuple[int, int], after: tuple[int, int]) -> StatusSeries:
    return status([(k / 10, *(before if k / 10 < change_s else after)) for k in range(round(until_s * 10))])


@pytest.mark.parametrize(
    ("after", "latency_s", "trigger"),
    [
        ((GNSS, REJECTED), 0.7, "gnss_trust=REJECTED"),
        ((GNSS, PROBATION), 0.7, "gnss_trust=PROBATION"),
        ((VISUAL, TRUSTED), 0.7, "source=VISUAL"),
        ((VISUAL, REJECTED), 0.7, "gnss_trust=REJECTED, source=VISUAL"),
    ],
)
def test_spoof_detection_latency(after: tuple[int, int], latency_s: float, trigger: str) -> None:
    windows = [window(PhaseKind.GNSS_DENIED, 0.5, 1.0), window(PhaseKind.GNSS_SPOOF_JUMP, 2.0, 4.0, "jump")]
    found = spoof_detection(windows, every_tenth(6.0, 2.7, (GNSS, TRUSTED), after))
    assert len(found) == 1
    assert found[0].index == 1
    assert found[0].window.name == "jump"
    assert found[0].detected
    assert found[0].latency_s == pytest.approx(latency_s)
    assert found[0].trigger == trigger


def test_spoof_never_detected_in_its_window() -> None:
    windows = [window(PhaseKind.GNSS_SPOOF_DRIFT, 2.0, 3.0)]
    late = every_tenth(6.0, 3.0, (GNSS, TRUSTED), (GNSS, REJECTED))  # rejects only once the window is over
    (found,) = spoof_detection(windows, late)
    assert not found.detected
    assert found.latency_s is None
    assert found.trigger == "not detected"
    unavailable = every_tenth(6.0, 2.2, (GNSS, TRUSTED), (GNSS, UNAVAILABLE))  # no fix is not a detection
    (found,) = spoof_detection(windows, unavailable)
    assert not found.detected


def test_spoof_detection_without_status() -> None:
    windows = [window(PhaseKind.GNSS_SPOOF_DRIFT, 2.0, 3.0)]
    (found,) = spoof_detection(windows, None)
    assert found.trigger == "not detected: no estimator status in the input"
    (found,) = spoof_detection(windows, status([(0.0, GNSS, TRUSTED), (5.0, GNSS, TRUSTED)]))
    assert found.trigger == "not detected: no estimator status inside the window"


def test_phase_window_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidPhaseError, match="phase j ends at 5 ns, not after its start 5 ns"):
        PhaseWindow(PhaseKind.GNSS_SPOOF_JUMP, 5, 5, "j")


def test_unknown_phase_kind_is_a_typed_error() -> None:
    assert phase_kind(3) is PhaseKind.GNSS_SPOOF_JUMP
    with pytest.raises(InvalidPhaseError, match="unknown scenario phase kind 9"):
        phase_kind(9)


@pytest.mark.parametrize(
    ("source", "trust", "message"),
    [([7], [1], r"source value\(s\) \[7\] are unknown"), ([0], [4], r"gnss_trust value\(s\) \[4\] are unknown")],
)
def test_unknown_status_labels_are_typed_errors(source: list[int], trust: list[int], message: str) -> None:
    with pytest.raises(InvalidStatusError, match=message):
        StatusSeries(np.array([0]), np.array(source), np.array(trust))


def test_status_arrays_of_different_lengths_are_a_typed_error() -> None:
    with pytest.raises(InvalidStatusError, match="one length"):
        StatusSeries.from_unsorted([0, 1], [0], [1, 1])


def test_noisy_estimate_statistics_match_numpy() -> None:
    square = square_path()
    estimate = noisy(square, sigma_m=0.4)
    errors = absolute_errors(square, estimate)
    expected = np.linalg.norm(estimate.positions_xyz - square.positions_xyz, axis=1)
    stats = errors.translation_stats
    assert stats.rmse == pytest.approx(np.sqrt(np.mean(expected**2)))
    assert stats.median == pytest.approx(np.median(expected))
    assert stats.std == pytest.approx(np.std(expected))
