"""Nearest-stamp association: hand-made cases with gaps, tolerance, ties and offsets, and a brute-force oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gps_denied_onboard.evaluation.associate import associate, associated, seconds_to_ns
from gps_denied_onboard.evaluation.errors import AssociationError, BadOptionError
from gps_denied_onboard.evaluation.trajectory import Trajectory


def at(stamps: list[int], name: str = "t") -> Trajectory:
    """Poses whose x position is their stamp, so a pair shows which poses were matched."""
    count = len(stamps)
    positions = np.column_stack([np.array(stamps, dtype=float), np.zeros((count, 2))])
    return Trajectory(np.array(stamps, dtype=np.int64), positions, np.tile([1.0, 0, 0, 0], (count, 1)), name=name)


def pairs(reference: list[int], estimate: list[int], max_diff_ns: int, offset_ns: int = 0) -> list[tuple[int, int]]:
    found = associate(at(reference, "ref"), at(estimate, "est"), max_diff_ns=max_diff_ns, offset_ns=offset_ns)
    return list(zip(found.reference_indices.tolist(), found.estimate_indices.tolist(), strict=True))


def test_each_sparse_estimate_stamp_takes_the_nearest_reference_within_tolerance() -> None:
    reference = [0, 100, 200, 300, 400, 500]
    estimate = [2, 205, 260, 480]  # 260 is 40 from 300, 480 is 20 from 500
    assert pairs(reference, estimate, 10) == [(0, 0), (2, 1)]
    assert pairs(reference, estimate, 25) == [(0, 0), (2, 1), (5, 3)]
    assert pairs(reference, estimate, 40) == [(0, 0), (2, 1), (3, 2), (5, 3)]


def test_a_gap_in_the_reference_leaves_the_estimate_pose_unpaired() -> None:
    assert pairs([0, 100, 200, 400, 500], [0, 300, 500], 50) == [(0, 0), (4, 2)]


def test_the_shorter_reference_drives_when_the_estimate_is_denser() -> None:
    estimate = list(range(0, 1001, 10))
    assert pairs([3, 996], estimate, 5) == [(0, 0), (1, 100)]


def test_a_tie_goes_to_the_earlier_stamp() -> None:
    assert pairs([100, 200, 300], [150], 50) == [(0, 0)]


def test_offset_is_added_to_estimate_stamps() -> None:
    reference = [1000, 2000, 3000]
    assert pairs(reference, [0, 1000, 2000], 1, offset_ns=1000) == [(0, 0), (1, 1), (2, 2)]
    assert pairs(reference, [0, 1000, 2000], 1) == [(0, 1), (1, 2)]


def test_two_stamps_picking_one_pose_keep_only_the_closer_pair() -> None:
    assert pairs([0, 100, 200], [96, 103], 10) == [(1, 1)]  # 103 is 3 from 100, 96 is 4
    assert pairs([0, 100, 200], [95, 105], 10) == [(1, 0)]  # equal: the first stays


def test_association_statistics_and_paired_trajectories() -> None:
    reference, estimate = at([0, 100, 200], "ref"), at([3, 96, 210], "est")
    found = associate(reference, estimate, max_diff_ns=10)
    assert found.count == 3
    assert found.dt_ns.tolist() == [3, -4, 10]
    assert found.mean_abs_dt_s == pytest.approx(17 / 3 / 1e9)
    assert found.max_abs_dt_s == pytest.approx(10e-9)
    ref_pairs, est_pairs = associated(reference, estimate, found)
    assert ref_pairs.positions_xyz[:, 0].tolist() == [0, 100, 200]
    assert est_pairs.positions_xyz[:, 0].tolist() == [3, 96, 210]


def test_no_pose_within_tolerance_is_a_typed_error() -> None:
    with pytest.raises(AssociationError, match=r"no pose of est \(2 poses, .*\) lies within 1e-08 s of a pose of ref"):
        associate(at([0, 100], "ref"), at([50, 150], "est"), max_diff_ns=10)


def test_negative_tolerance_is_a_bad_option() -> None:
    with pytest.raises(BadOptionError, match="tolerance must be >= 0"):
        associate(at([0]), at([0]), max_diff_ns=-1)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.5])
def test_seconds_option_must_be_finite_and_non_negative(value: float) -> None:
    with pytest.raises(BadOptionError, match="--t-max-diff must be finite"):
        seconds_to_ns(value, "--t-max-diff")


def oracle(reference: list[int], estimate: list[int], tol: int) -> list[tuple[int, int]]:
    """The documented rule by brute force: the shorter side drives, nearest (ties earlier), then one-to-one."""
    estimate_drives = len(reference) >= len(estimate)
    driver, other = (estimate, reference) if estimate_drives else (reference, estimate)
    chosen: dict[int, tuple[int, int]] = {}  # other index -> (diff, driver index)
    for d, stamp in enumerate(driver):
        diffs = [abs(o - stamp) for o in other]
        best = min(range(len(other)), key=lambda k: (diffs[k], k))
        if diffs[best] <= tol and (best not in chosen or diffs[best] < chosen[best][0]):
            chosen[best] = (diffs[best], d)
    matched = sorted((d, o) for o, (_, d) in chosen.items())
    return [(o, d) if estimate_drives else (d, o) for d, o in matched]


stamp_lists = st.lists(st.integers(0, 2000), min_size=1, max_size=25, unique=True).map(sorted)


@settings(max_examples=200, deadline=None)
@given(stamp_lists, stamp_lists, st.integers(0, 120))
def test_association_matches_the_brute_force_rule(reference: list[int], estimate: list[int], tol: int) -> None:
    expected = oracle(reference, estimate, tol)
    if not expected:
        with pytest.raises(AssociationError):
            pairs(reference, estimate, tol)
    else:
        assert pairs(reference, estimate, tol) == expected
