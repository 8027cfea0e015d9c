"""Trajectory value type and TUM files: validation, exact round trips, one typed error per bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eval_factory import T0_NS, square_path, wavy_flight
from scipy.spatial.transform import Rotation

from gps_denied_onboard.evaluation.errors import InvalidTrajectoryError, TumFormatError
from gps_denied_onboard.evaluation.trajectory import Trajectory, read_tum, write_tum

IDENTITY = [1.0, 0.0, 0.0, 0.0]


def make(
    stamps: list[int], positions: list[list[float]] | None = None, quats: list[list[float]] | None = None
) -> Trajectory:
    count = len(stamps)
    return Trajectory(
        np.array(stamps, dtype=np.int64),
        np.zeros((count, 3)) if positions is None else np.array(positions),
        np.tile(IDENTITY, (count, 1)) if quats is None else np.array(quats),
        name="t",
    )


def test_arrays_are_read_only_copies_and_quaternions_normalised() -> None:
    quat = np.array([[1.0 + 5e-5, 0.0, 0.0, 0.0]])
    trajectory = Trajectory(np.array([5]), np.array([[1.0, 2.0, 3.0]]), quat)
    quat[0, 0] = 7.0
    assert trajectory.orientations_quat_wxyz[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        trajectory.positions_xyz[0, 0] = 9.0


def test_path_length_and_duration_of_a_square() -> None:
    square = square_path(side_m=10.0, per_side=5, rate_hz=10.0)
    assert square.path_length_m() == pytest.approx(40.0)
    assert square.duration_s == pytest.approx(2.0)  # 21 poses at 10 Hz


def test_transformed_maps_positions_and_orientations() -> None:
    rotation = Rotation.from_euler("z", 90, degrees=True)
    base = make([0, 1], [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    moved = base.transformed(rotation.as_matrix(), np.array([10.0, 0.0, 0.0]), 2.0)
    np.testing.assert_allclose(moved.positions_xyz, [[10.0, 2.0, 0.0], [10.0, 4.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(moved.orientations_quat_wxyz[0], rotation.as_quat(scalar_first=True), atol=1e-12)


def test_from_unsorted_sorts_and_drops_repeated_stamps() -> None:
    trajectory = Trajectory.from_unsorted(
        np.array([30, 10, 20, 10]),
        np.array([[3.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [9.0, 0, 0]]),
        np.tile(IDENTITY, (4, 1)),
    )
    assert trajectory.stamps_ns.tolist() == [10, 20, 30]
    assert trajectory.positions_xyz[:, 0].tolist() == [1.0, 2.0, 3.0]  # the first pose of stamp 10 stays


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: make([]), "empty"),
        (lambda: make([0, 0]), "strictly increase"),
        (lambda: make([5, 3]), "strictly increase"),
        (lambda: make([-1]), "must be >= 0"),
        (lambda: make([0], [[np.nan, 0.0, 0.0]]), "positions_xyz of pose 0 .* not finite"),
        (lambda: make([0, 1], None, [IDENTITY, [np.inf, 0.0, 0.0, 0.0]]), "orientations_quat_wxyz of pose 1"),
        (lambda: make([0], None, [[0.0, 0.0, 0.0, 0.0]]), "norm 0"),
        (lambda: make([0], None, [[1.0, 0.1, 0.0, 0.0]]), "not 1 within"),
        (lambda: Trajectory(np.array([0.5]), np.zeros((1, 3)), np.array([IDENTITY])), "integer array"),
        (lambda: Trajectory(np.array([0, 1]), np.zeros((1, 3)), np.array([IDENTITY] * 2)), r"must be \(2, 3\)"),
        (lambda: Trajectory(np.array([0]), np.zeros((1, 3)), np.zeros((1, 3))), r"must be \(1, 4\)"),
    ],
    ids=["empty", "repeated-stamp", "unsorted", "negative-stamp", "nan-position", "inf-quaternion", "zero-quaternion",
         "non-unit-quaternion", "float-stamps", "short-positions", "three-element-quaternions"],
)  # fmt: skip
def test_malformed_trajectory_is_a_typed_error(build: object, message: str) -> None:
    with pytest.raises(InvalidTrajectoryError, match=message):
        build()  # type: ignore[operator]


def test_tum_round_trip_keeps_every_nanosecond_and_float(tmp_path: Path) -> None:
    flight = wavy_flight(50, t0_ns=T0_NS + 123_456_789)
    write_tum(flight, tmp_path / "f.tum")
    back = read_tum(tmp_path / "f.tum")
    assert back.stamps_ns.tolist() == flight.stamps_ns.tolist()
    assert np.array_equal(back.positions_xyz, flight.positions_xyz)
    np.testing.assert_allclose(back.orientations_quat_wxyz, flight.orientations_quat_wxyz, rtol=0, atol=1e-15)
    assert back.name == "f.tum"


def test_tum_reader_takes_comments_blank_lines_tabs_and_the_scalar_last_order(tmp_path: Path) -> None:
    path = tmp_path / "g.tum"
    path.write_text(
        "# t x y z qx qy qz qw\n\n1.5\t1 2 3  0 0 0.7071067811865476 0.7071067811865476\n0.000000001 0 0 0 0 0 0 1\n"
    )
    trajectory = read_tum(path)
    assert trajectory.stamps_ns.tolist() == [1, 1_500_000_000]  # sorted
    np.testing.assert_allclose(trajectory.orientations_quat_wxyz[1], [0.7071067811865476, 0, 0, 0.7071067811865476])
    assert trajectory.positions_xyz[1].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("0 0 0 0 0 0 0\n", r"g.tum:1: a TUM line is 8 numbers .* got 7"),
        ("0 0 0 0 0 0 0 1 9\n", r"g.tum:1: .* got 9"),
        ("# only a comment\n0 0 0 0 0 0 0 1\n0.1 0 0 zero 0 0 0 1\n", r"g.tum:3: not a number"),
        ("0 nan 0 0 0 0 0 1\n", r"g.tum:1: the pose is not finite"),
        ("inf 0 0 0 0 0 0 1\n", r"g.tum:1: not a number"),
        ("0 0 0 0 0 0 0 2\n", r"g.tum:1: the quaternion has norm 2"),
        ("# nothing\n\n", r"holds no pose"),
        ("-1 0 0 0 0 0 0 1\n", r"must be >= 0"),
    ],
    ids=["seven-fields", "nine-fields", "word", "nan", "inf-stamp", "non-unit-quaternion", "empty", "negative-stamp"],
)
def test_bad_tum_file_is_a_typed_error_naming_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "g.tum"
    path.write_text(content)
    with pytest.raises(TumFormatError, match=message):
        read_tum(path)


def test_missing_tum_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(TumFormatError, match=r"cannot read TUM file .*nope\.tum"):
        read_tum(tmp_path / "nope.tum")


def test_binary_tum_file_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "b.tum").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(TumFormatError, match="cannot read TUM file"):
        read_tum(tmp_path / "b.tum")
