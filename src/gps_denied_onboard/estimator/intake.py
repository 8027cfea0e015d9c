"""Content checks of the facade's inputs, and the validated measurements they become.

Bad content never raises out of the facade: a check raises ``Rejected`` with an ``IntakeReason``
and the facade turns it into an ``IntakeResult``. Bad *calls* (a wrong argument type) raise
``InvalidCallError``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy.spatial.transform import Rotation

from gps_denied_onboard.common.inertial import FloatArray
from gps_denied_onboard.estimator.errors import InvalidCallError

MAX_ACCEL_MPS2 = 2000.0  # beyond any MEMS accelerometer's range (+-200 g): a corrupt sample
MAX_GYRO_RADPS = 100.0  # beyond any MEMS gyroscope's range (~5700 deg/s)
MIN_PRESSURE_PA, MAX_PRESSURE_PA = 1000.0, 120000.0  # ~30 km altitude to below sea level
QUATERNION_NORM_TOLERANCE = 1e-3  # |q| - 1 allowed before a VIO orientation is refused (float32 producers)
SYMMETRY_TOLERANCE = 1e-9  # relative asymmetry of a covariance still read as symmetric (float rounding)


class IntakeReason(str, enum.Enum):
    """Why a measurement was (not) taken."""

    ACCEPTED = "accepted"
    ORIGIN_NOT_SET = "origin_not_set"
    NOT_INITIALIZED = "not_initialized"
    NOT_FINITE = "not_finite"
    BAD_SHAPE = "bad_shape"
    INVALID_COVARIANCE = "invalid_covariance"
    INVALID_VALUE = "invalid_value"
    WRONG_FRAME = "wrong_frame"
    DUPLICATE_STAMP = "duplicate_stamp"
    OUT_OF_ORDER = "out_of_order"
    FUTURE_STAMP = "future_stamp"
    NO_FIX = "no_fix"
    DISABLED = "disabled"
    VIO_LOST = "vio_lost"


class ResetReason(str, enum.Enum):
    """Why the estimator reset."""

    BACKWARD_TIME_JUMP = "backward_time_jump"  # bag loop / clock reset: re-align from scratch
    FORWARD_TIME_JUMP = "forward_time_jump"  # IMU gap: re-initialise from the last estimate
    BACKEND_FAILURE = "backend_failure"  # the backend raised or went non-finite: same as a forward jump
    VERTICAL_REANCHOR = "vertical_reanchor"  # every baro height refused for baro.reset_after_s: height re-anchored


@dataclass(frozen=True)
class IntakeResult:
    """The outcome of one ``add_*`` call. ``reset`` is set when this stamp made the estimator reset."""

    accepted: bool
    reason: IntakeReason
    detail: str = ""
    reset: ResetReason | None = None


class Rejected(Exception):  # noqa: N818 - control flow inside intake, never escapes the facade
    """A content check failed: the measurement is refused with ``reason``."""

    def __init__(self, reason: IntakeReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VioMessage:
    """One VIO odometry message: pose of base_link in the VIO's odom frame and its body twist."""

    t_ns: int
    position_m: FloatArray  # odom frame
    rotation: FloatArray  # R_odom_body
    velocity_body_mps: FloatArray
    velocity_covariance: FloatArray
    rate_covariance: FloatArray


@dataclass(frozen=True)
class PositionFix:
    """An absolute position in the map frame (GNSS or GeoFix), with a heading for GeoFix."""

    t_ns: int
    position_m: FloatArray  # map ENU
    covariance_m2: FloatArray
    heading_rad: float = math.nan  # yaw of base_link in ENU (0 = east, CCW); NaN: none
    heading_variance_rad2: float = math.nan


@dataclass(frozen=True)
class BaroSample:
    """A static pressure sample."""

    t_ns: int
    pressure_pa: float
    variance_pa2: float


def integer(name: str, value: object) -> int:
    """``value`` as an int; a non-integer type is a bad call (InvalidCallError)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidCallError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def array(name: str, value: object) -> FloatArray:
    """``value`` as a float64 array; a non-numeric value is a bad call."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidCallError(f"{name} must be numeric, got {type(value).__name__}: {exc}") from None


def vector(name: str, value: object, size: int, limit: float = math.inf) -> FloatArray:
    """A finite (size,) vector whose entries are at most ``limit`` in magnitude."""
    values = array(name, value)
    if values.shape != (size,):
        raise Rejected(IntakeReason.BAD_SHAPE, f"{name} must have shape ({size},), got {values.shape}")
    largest = float(np.abs(values).max())  # one reduction: NaN and inf propagate into it (per-sample cost)
    if not math.isfinite(largest):
        raise Rejected(IntakeReason.NOT_FINITE, f"{name} is not finite: {values.tolist()}")
    if largest > limit:
        raise Rejected(IntakeReason.INVALID_VALUE, f"{name} {values.tolist()} beyond any sensor range ({limit:g})")
    return values


def scalar(name: str, value: object) -> float:
    """A finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidCallError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise Rejected(IntakeReason.NOT_FINITE, f"{name} is not finite: {number}")
    return number


def covariance(name: str, value: object, size: int) -> FloatArray:
    """A symmetric positive-definite (size, size) matrix, given as such or row-major flat."""
    matrix = array(name, value)
    if matrix.shape == (size * size,):
        matrix = matrix.reshape(size, size)
    if matrix.shape != (size, size):
        raise Rejected(IntakeReason.BAD_SHAPE, f"{name} must be {size}x{size} (or {size * size} values), "
                                               f"got shape {matrix.shape}")  # fmt: skip
    if not np.all(np.isfinite(matrix)):
        raise Rejected(IntakeReason.NOT_FINITE, f"{name} is not finite")
    scale = max(1.0, float(np.max(np.abs(matrix))))
    if np.max(np.abs(matrix - matrix.T)) > SYMMETRY_TOLERANCE * scale:
        raise Rejected(IntakeReason.INVALID_COVARIANCE, f"{name} is not symmetric")
    diagonal = np.diag(matrix)
    if np.any(diagonal <= 0.0):
        raise Rejected(IntakeReason.INVALID_COVARIANCE, f"{name} has non-positive variances {diagonal.tolist()}")
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise Rejected(IntakeReason.INVALID_COVARIANCE, f"{name} is not positive definite") from None
    return matrix


def rotation_from_quat(quat_wxyz: object) -> FloatArray:
    """The rotation matrix of a unit quaternion (w, x, y, z); a non-unit one is refused."""
    quat = vector("quat_wxyz", quat_wxyz, 4)
    norm = float(np.linalg.norm(quat))
    if abs(norm - 1.0) > QUATERNION_NORM_TOLERANCE:
        raise Rejected(IntakeReason.INVALID_VALUE, f"quat_wxyz has norm {norm:.6f}, not a unit quaternion")
    w, x, y, z = quat / norm
    return np.asarray(Rotation.from_quat([x, y, z, w]).as_matrix(), dtype=np.float64)


def heading(heading_rad: object, variance_rad2: object) -> tuple[float, float]:
    """A GeoFix heading and its variance; NaN heading means none (its variance is then ignored)."""
    if isinstance(heading_rad, bool) or not isinstance(heading_rad, Real):
        raise InvalidCallError(f"heading_rad must be a number, got {type(heading_rad).__name__}")
    value = float(heading_rad)
    if math.isnan(value):
        return math.nan, math.nan
    if not math.isfinite(value):
        raise Rejected(IntakeReason.NOT_FINITE, f"heading_rad is not finite: {value}")
    variance = scalar("heading_variance_rad2", variance_rad2)
    if not 0.0 < variance <= math.pi**2:
        raise Rejected(IntakeReason.INVALID_COVARIANCE, f"heading variance must be in (0, pi^2], got {variance}")
    return math.remainder(value, 2.0 * math.pi), variance
