"""A trajectory as validated arrays: integer stamps, positions and scalar-first unit quaternions.

TUM text files (``timestamp tx ty tz qx qy qz qw``: seconds, metres, scalar-last quaternion,
the format evo reads) are read and written here; bag topics are read by ``bag_input``.
Stamps are parsed from their decimal text, so nanoseconds survive a write-then-read.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from gps_denied_onboard.evaluation.errors import InvalidTrajectoryError, TumFormatError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]

NS_PER_S = 1_000_000_000
# |q| may differ from 1 by this much: TUM files written with 6 decimals are off by up to ~1e-6,
# float32 producers by ~1e-7; anything further is a producer bug, not rounding.
UNIT_QUATERNION_TOLERANCE = 1e-4
TUM_FIELDS = 8


def _frozen(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Trajectory:
    """N poses of a body in one frame: ``stamps_ns`` (N,) strictly increasing, ``positions_xyz`` (N, 3)
    in metres and ``orientations_quat_wxyz`` (N, 4), Hamilton, R_frame_body. Arrays are read-only copies."""

    stamps_ns: Int64Array
    positions_xyz: FloatArray
    orientations_quat_wxyz: FloatArray
    name: str = ""
    frame_id: str = ""

    def __post_init__(self) -> None:
        label = self.name or "trajectory"
        stamps = np.asarray(self.stamps_ns)
        if stamps.ndim != 1 or stamps.dtype.kind not in "iu":
            raise InvalidTrajectoryError(
                f"{label}: stamps_ns must be a 1-D integer array, got shape {stamps.shape} dtype {stamps.dtype}"
            )
        count = stamps.shape[0]
        if count == 0:
            raise InvalidTrajectoryError(f"{label}: the trajectory is empty (no poses)")
        positions = np.array(self.positions_xyz, dtype=np.float64)
        quats = np.array(self.orientations_quat_wxyz, dtype=np.float64)
        if positions.shape != (count, 3):
            raise InvalidTrajectoryError(f"{label}: positions_xyz must be ({count}, 3), got {positions.shape}")
        if quats.shape != (count, 4):
            raise InvalidTrajectoryError(f"{label}: orientations_quat_wxyz must be ({count}, 4), got {quats.shape}")
        stamps = stamps.astype(np.int64)
        if stamps[0] < 0:
            raise InvalidTrajectoryError(f"{label}: stamps must be >= 0 ns, the first is {int(stamps[0])}")
        if count > 1 and (bad := np.flatnonzero(np.diff(stamps) <= 0)).size:
            i = int(bad[0])
            raise InvalidTrajectoryError(
                f"{label}: stamps must strictly increase; pose {i + 1} at {int(stamps[i + 1])} ns "
                f"follows pose {i} at {int(stamps[i])} ns"
            )
        for field, values in (("positions_xyz", positions), ("orientations_quat_wxyz", quats)):
            if (bad_rows := np.flatnonzero(~np.isfinite(values).all(axis=1))).size:
                i = int(bad_rows[0])
                raise InvalidTrajectoryError(
                    f"{label}: {field} of pose {i} (stamp {int(stamps[i])} ns) is not finite: {values[i].tolist()}"
                )
        norms = np.linalg.norm(quats, axis=1)
        if (off := np.flatnonzero(np.abs(norms - 1.0) > UNIT_QUATERNION_TOLERANCE)).size:
            i = int(off[0])
            raise InvalidTrajectoryError(
                f"{label}: the quaternion of pose {i} (stamp {int(stamps[i])} ns) has norm {norms[i]:.9g}, "
                f"not 1 within {UNIT_QUATERNION_TOLERANCE}: {quats[i].tolist()}"
            )
        object.__setattr__(self, "stamps_ns", _frozen(stamps))
        object.__setattr__(self, "positions_xyz", _frozen(positions))
        object.__setattr__(self, "orientations_quat_wxyz", _frozen(quats / norms[:, None]))

    @classmethod
    def from_unsorted(
        cls,
        stamps_ns: npt.ArrayLike,
        positions_xyz: npt.ArrayLike,
        orientations_quat_wxyz: npt.ArrayLike,
        *,
        name: str = "",
        frame_id: str = "",
    ) -> Trajectory:
        """Build from poses in any order: sorted by stamp, a repeated stamp keeps its first pose (logged)."""
        stamps = np.asarray(stamps_ns)
        if stamps.ndim != 1 or stamps.dtype.kind not in "iu":
            raise InvalidTrajectoryError(f"{name or 'trajectory'}: stamps_ns must be a 1-D integer array")
        order = np.argsort(stamps, kind="stable")
        sorted_stamps = stamps[order]
        keep = np.ones(sorted_stamps.shape[0], dtype=bool)
        keep[1:] = np.diff(sorted_stamps) != 0
        if (dropped := int((~keep).sum())) > 0:
            logger.warning("%s: %d pose(s) repeat an earlier stamp and are dropped", name or "trajectory", dropped)
        if not np.all(order[:-1] < order[1:]):
            logger.info("%s: poses were not in stamp order; sorted them", name or "trajectory")
        chosen = order[keep]
        return cls(
            sorted_stamps[keep],
            np.asarray(positions_xyz, dtype=np.float64)[chosen],
            np.asarray(orientations_quat_wxyz, dtype=np.float64)[chosen],
            name=name,
            frame_id=frame_id,
        )

    @property
    def num_poses(self) -> int:
        """The number of poses."""
        return int(self.stamps_ns.shape[0])

    def __len__(self) -> int:
        return self.num_poses

    @property
    def duration_s(self) -> float:
        """Time from the first pose to the last."""
        return float(self.stamps_ns[-1] - self.stamps_ns[0]) / NS_PER_S

    def path_length_m(self) -> float:
        """Length of the polyline through the positions (distance flown)."""
        return float(np.linalg.norm(np.diff(self.positions_xyz, axis=0), axis=1).sum())

    def rotations(self) -> Rotation:
        """The orientations as one scipy Rotation stack (R_frame_body)."""
        return Rotation.from_quat(self.orientations_quat_wxyz, scalar_first=True)

    def subset(self, indices: npt.ArrayLike) -> Trajectory:
        """The poses at ``indices`` (increasing), same name and frame."""
        picked = np.asarray(indices, dtype=np.int64)
        return Trajectory(
            self.stamps_ns[picked],
            self.positions_xyz[picked],
            self.orientations_quat_wxyz[picked],
            name=self.name,
            frame_id=self.frame_id,
        )

    def transformed(
        self, rotation: FloatArray, translation_m: FloatArray, scale: float = 1.0, *, frame_id: str | None = None
    ) -> Trajectory:
        """Every pose mapped by the similarity ``x -> scale * rotation @ x + translation_m`` (orientations rotated)."""
        positions = scale * self.positions_xyz @ np.asarray(rotation).T + np.asarray(translation_m)
        quats = (Rotation.from_matrix(rotation) * self.rotations()).as_quat(scalar_first=True)
        return Trajectory(
            self.stamps_ns,
            positions,
            quats,
            name=self.name,
            frame_id=self.frame_id if frame_id is None else frame_id,
        )


def _stamp_ns(token: str) -> int:
    value = Decimal(token)  # exact: a float would lose ~100 ns at epoch-sized stamps
    if not value.is_finite():
        raise InvalidOperation
    return int((value * NS_PER_S).to_integral_value(rounding=ROUND_HALF_EVEN))


def read_tum(path: Path, *, name: str | None = None) -> Trajectory:
    """Read a TUM trajectory file (``#`` comments and blank lines skipped; fields split on whitespace)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: evo accepts a BOM too
    except (OSError, UnicodeDecodeError) as exc:
        raise TumFormatError(f"cannot read TUM file {path}: {exc}") from exc
    stamps: list[int] = []
    rows: list[list[float]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != TUM_FIELDS:
            raise TumFormatError(
                f"{path}:{lineno}: a TUM line is {TUM_FIELDS} numbers (t x y z qx qy qz qw), "
                f"got {len(fields)}: {line!r}"
            )
        try:
            stamp = _stamp_ns(fields[0])
            values = [float(f) for f in fields[1:]]
        except (InvalidOperation, ValueError):
            raise TumFormatError(f"{path}:{lineno}: not a number in {line!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise TumFormatError(f"{path}:{lineno}: the pose is not finite: {line!r}")
        norm = math.sqrt(sum(v * v for v in values[3:]))
        if abs(norm - 1.0) > UNIT_QUATERNION_TOLERANCE:
            raise TumFormatError(f"{path}:{lineno}: the quaternion has norm {norm:.9g}, not 1: {line!r}")
        stamps.append(stamp)
        rows.append(values)
    if not rows:
        raise TumFormatError(f"TUM file {path} holds no pose")
    poses = np.array(rows)
    quats_xyzw = poses[:, 3:]
    try:
        return Trajectory.from_unsorted(
            np.array(stamps, dtype=np.int64),
            poses[:, :3],
            np.roll(quats_xyzw, 1, axis=1),
            name=path.name if name is None else name,
        )
    except InvalidTrajectoryError as exc:  # negative stamps: every other check ran per line above
        raise TumFormatError(f"TUM file {path}: {exc}") from exc


def _format_stamp(stamp_ns: int) -> str:
    seconds, nanoseconds = divmod(int(stamp_ns), NS_PER_S)
    return f"{seconds}.{nanoseconds:09d}"


def write_tum(trajectory: Trajectory, path: Path) -> None:
    """Write ``trajectory`` as a TUM file; stamps keep every nanosecond, floats round-trip exactly."""
    quats_xyzw = np.roll(trajectory.orientations_quat_wxyz, -1, axis=1)
    lines = [
        " ".join([_format_stamp(stamp), *(repr(float(v)) for v in position), *(repr(float(v)) for v in quat)])
        for stamp, position, quat in zip(
            trajectory.stamps_ns.tolist(), trajectory.positions_xyz, quats_xyzw, strict=True
        )
    ]
    try:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise TumFormatError(f"cannot write TUM file {path}: {exc}") from exc
