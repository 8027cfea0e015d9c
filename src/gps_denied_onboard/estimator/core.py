"""The StateEstimator facade the state_estimator_node calls: intake, ordering, gate, label, events.

Per measurement: ``add_*`` validates the content (finite, shapes, symmetric positive-definite
covariances, geodetic ranges), checks the stamp (duplicate, older than the fused time, a bag
loop) and queues it; the queue releases measurements in stamp order once they are
``timing.reorder_window_s`` behind the newest stamp. Released IMU samples are propagated;
every other measurement is applied at the latest propagated IMU sample (its stamp or before).
Bad content never raises: the call returns an ``IntakeResult`` with a reason. Bad calls (wrong
argument types, a second origin) raise typed errors.

Start-up: ``set_takeoff_origin`` fixes the map frame (ENU at the origin) and the position and
heading prior; then static alignment over ``init.alignment_duration_s`` of IMU at rest gives
roll/pitch (mean specific force) and the gyro bias (mean rate). Earth rate is ignored (it is
below a MEMS gyro's bias stability).

Late measurements: a non-IMU stamp behind the fused time is a late message, never a clock
reset: it is refused as OUT_OF_ORDER, except a GeoFix up to ``timing.max_measurement_delay_s``
late (map-matching inference takes 100-500 ms after the camera stamp, far beyond the reorder
window). Such a fix is applied at the fused time, moved by the estimated displacement since its
stamp (``v delay``) and with its covariance grown by that displacement's uncertainty:
``P_vv delay^2`` plus ``(0.5 timing.jump_accel_sigma_mps2 delay^2)^2 I`` for the unmodelled
acceleration. A VIO message up to ``vio.max_delay_s`` late (a keyframe solve, a loaded CPU) is
fused too: its increment spans the two application times, so the motion over the change of
delay (``v shift``) is added with its covariance, and the velocity fused now gets
``(timing.jump_accel_sigma_mps2 delay)^2 I`` more covariance. A VIO stamp not after the last
one taken stays out of order.

Resets: the IMU stream is the timebase. An IMU stamp more than ``timing.backward_jump_reset_s``
behind the newest IMU stamp (a bag loop, a clock reset) clears everything but the origin and
re-aligns; an IMU gap beyond ``timing.max_imu_gap_s`` (or a
backend failure) re-initialises the backend from the last estimate with its covariance grown
for the unobserved interval. The estimate is published at the fused time, i.e. about one
reorder window behind the newest IMU sample, with its true stamp.
"""

from __future__ import annotations

import enum
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from gps_denied_onboard.estimator.backend import (
    ATT,
    BA,
    BG,
    GRAVITY_MPS2,
    POS,
    STATE_DIM,
    VEL,
    AltitudeMeasurement,
    FloatArray,
    FusionBackend,
    ImuSample,
    NavState,
    PositionMeasurement,
    RobustKernel,
    VioIncrement,
)
from gps_denied_onboard.estimator.config import EstimatorConfig
from gps_denied_onboard.estimator.errors import InvalidCallError, InvalidOriginError, OriginAlreadySetError
from gps_denied_onboard.estimator.eskf import EskfBackend
from gps_denied_onboard.estimator.gate import GnssSample, GnssTrust, GnssTrustGate, ReferencePoint, TrustTransition
from gps_denied_onboard.estimator.latency import PropagatedMotion, PropagationChain
from gps_denied_onboard.estimator.registry import create_backend
from gps_denied_onboard.geometry.errors import GeometryError
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane, check_geodetic
from gps_denied_onboard.geometry.transforms import roll_pitch_from_specific_force

logger = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
MAX_ACCEL_MPS2 = 2000.0  # beyond any MEMS accelerometer's range (+-200 g): a corrupt sample
MAX_GYRO_RADPS = 100.0  # beyond any MEMS gyroscope's range (~5700 deg/s)
MIN_PRESSURE_PA, MAX_PRESSURE_PA = 1000.0, 120000.0  # ~30 km altitude to below sea level
REST_GRAVITY_TOLERANCE_MPS2 = 1.0  # a mean specific force this far from g is not rest (free fall, wrong units)
QUATERNION_NORM_TOLERANCE = 1e-3  # |q| - 1 allowed before a VIO orientation is refused (float32 producers)
EVENT_QUEUE_LIMIT = 1000  # events kept between drains; the oldest are dropped (and counted) beyond
SYMMETRY_TOLERANCE = 1e-9  # relative asymmetry of a covariance still read as symmetric (float rounding)
# ISA barometric formula (troposphere): h = 44330.77 m * (1 - (p / 101325 Pa) ** 0.190263).
ISA_SCALE_M, ISA_SEA_LEVEL_PA, ISA_EXPONENT = 44330.77, 101325.0, 0.190263

# Event names (Event.msg ``name``), one per kind of decision.
EVENT_ORIGIN_SET = "origin_set"
EVENT_INITIALIZED = "estimator_initialized"
EVENT_RESET = "estimator_reset"
EVENT_GNSS_TRUST = "gnss_trust_changed"
EVENT_SOURCE = "source_changed"
EVENT_VIO_DISCONTINUITY = "vio_discontinuity"
EVENT_ALIGNMENT_WAITING = "alignment_waiting"


class SourceLabel(enum.IntEnum):
    """Source of the horizontal position, with the values of EstimatorStatus.SOURCE_*."""

    GNSS = 0
    VISUAL = 1
    VIO_ONLY = 2
    DEAD_RECKONING = 3


class BackendId(enum.IntEnum):
    """EstimatorStatus.BACKEND_* values."""

    ISAM2 = 0
    ESKF = 1


class Sensor(str, enum.Enum):
    """Measurement streams the facade takes (also their order at equal stamps: IMU first)."""

    IMU = "imu"
    VIO = "vio"
    GEOFIX = "geofix"
    GNSS = "gnss"
    BARO = "baro"


_PRIORITY = {sensor: index for index, sensor in enumerate(Sensor)}


class IntakeReason(str, enum.Enum):
    """Why a measurement was (not) taken."""

    ACCEPTED = "accepted"
    ORIGIN_NOT_SET = "origin_not_set"
    NOT_INITIALIZED = "not_initialized"
    NOT_FINITE = "not_finite"
    BAD_SHAPE = "bad_shape"
    INVALID_COVARIANCE = "invalid_covariance"
    INVALID_VALUE = "invalid_value"
    DUPLICATE_STAMP = "duplicate_stamp"
    OUT_OF_ORDER = "out_of_order"
    FUTURE_STAMP = "future_stamp"
    NO_FIX = "no_fix"
    DISABLED = "disabled"


class ResetReason(str, enum.Enum):
    """Why the estimator reset."""

    BACKWARD_TIME_JUMP = "backward_time_jump"  # bag loop / clock reset: re-align from scratch
    FORWARD_TIME_JUMP = "forward_time_jump"  # IMU gap: re-initialise from the last estimate
    BACKEND_FAILURE = "backend_failure"  # the backend raised or went non-finite: same as a forward jump


@dataclass(frozen=True)
class IntakeResult:
    """The outcome of one ``add_*`` call. ``reset`` is set when this stamp made the estimator reset."""

    accepted: bool
    reason: IntakeReason
    detail: str = ""
    reset: ResetReason | None = None


@dataclass(frozen=True)
class Event:
    """A discrete decision for /events and the flight record (data is JSON-serialisable)."""

    name: str
    stamp_ns: int
    data: Mapping[str, object]


@dataclass(frozen=True)
class Estimate:
    """The fused navigation state and its position in WGS84 (height above the ellipsoid)."""

    state: NavState
    latitude_deg: float
    longitude_deg: float
    altitude_m: float


@dataclass(frozen=True)
class EstimatorSnapshot:
    """Every EstimatorStatus field (same names and enum values), plus a few diagnostics."""

    stamp_ns: int
    source: SourceLabel
    backend: BackendId
    gnss_trust: GnssTrust
    gnss_reject_reason: str
    gnss_innovation_mahalanobis: float
    gnss_horizontal_delta_m: float
    gnss_dwell_s: float
    horizontal_sigma_m: float
    vertical_sigma_m: float
    origin_set: bool
    origin_latitude_deg: float
    origin_longitude_deg: float
    origin_altitude_m: float
    imu_samples: int
    vio_updates: int
    geofix_accepted: int
    geofix_rejected: int
    gnss_accepted: int
    gnss_rejected: int
    update_latency_ms: float
    initialized: bool = False
    resets: int = 0
    gnss_drift_mahalanobis: float = math.nan
    vio_rejected: int = 0
    baro_updates: int = 0
    events_dropped: int = 0


@dataclass(frozen=True)
class _Vio:
    t_ns: int
    position_m: FloatArray  # odom frame
    rotation: FloatArray  # R_odom_body
    velocity_body_mps: FloatArray
    velocity_covariance: FloatArray
    rate_covariance: FloatArray


@dataclass(frozen=True)
class _TakenVio:
    """The VIO message the next increment starts from, and when it was applied."""

    vio: _Vio
    applied_imu_ns: int  # the newest propagated IMU stamp when it was applied
    shift: PropagatedMotion | None  # propagation from its stamp to its application (None: on time)

    @property
    def delay_s(self) -> float:
        """How late it was applied, s."""
        return max(0.0, (self.applied_imu_ns - self.vio.t_ns) / NS_PER_S)


@dataclass(frozen=True)
class _Position:
    t_ns: int
    position_m: FloatArray  # map ENU
    covariance_m2: FloatArray


@dataclass(frozen=True)
class _Baro:
    t_ns: int
    pressure_pa: float
    variance_pa2: float


@dataclass
class _Counters:
    imu_samples: int = 0
    vio_updates: int = 0
    vio_rejected: int = 0
    vio_merged: int = 0  # late VIO messages that arrived bunched and were spanned by the next increment
    geofix_accepted: int = 0
    geofix_rejected: int = 0
    gnss_accepted: int = 0
    gnss_rejected: int = 0
    baro_updates: int = 0
    resets: int = 0


@dataclass
class _GnssStatus:
    reject_reason: str = ""
    mahalanobis: float = math.nan
    horizontal_delta_m: float = math.nan
    drift_mahalanobis: float = math.nan


@dataclass
class _Reference:
    """The VIO displacement chain the gate's drift test compares GNSS with (map axes)."""

    chain_id: int = 0
    t_ns: int | None = None
    position_m: FloatArray = field(default_factory=lambda: np.zeros(3))
    covariance_m2: FloatArray = field(default_factory=lambda: np.zeros((3, 3)))
    velocity_map_mps: FloatArray = field(default_factory=lambda: np.zeros(3))
    velocity_covariance: FloatArray = field(default_factory=lambda: np.zeros((3, 3)))
    attitude_covariance_rad2: FloatArray = field(default_factory=lambda: np.zeros((3, 3)))


class _Rejected(Exception):  # noqa: N818 - control flow inside intake, never escapes the facade
    def __init__(self, reason: IntakeReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- validation helpers
def _integer(name: str, value: object) -> int:
    """``value`` as an int; a non-integer type is a bad call (InvalidCallError)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidCallError(f"{name} must be an int, got {type(value).__name__}")
    return int(value)


def _stamp(t_ns: object) -> int:
    return _integer("t_ns (ns)", t_ns)


def _array(name: str, value: object) -> FloatArray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidCallError(f"{name} must be numeric, got {type(value).__name__}: {exc}") from None


def _vector(name: str, value: object, size: int, limit: float = math.inf) -> FloatArray:
    array = _array(name, value)
    if array.shape != (size,):
        raise _Rejected(IntakeReason.BAD_SHAPE, f"{name} must have shape ({size},), got {array.shape}")
    largest = float(np.abs(array).max())  # one reduction: NaN and inf propagate into it (per-sample cost)
    if not math.isfinite(largest):
        raise _Rejected(IntakeReason.NOT_FINITE, f"{name} is not finite: {array.tolist()}")
    if largest > limit:
        raise _Rejected(IntakeReason.INVALID_VALUE, f"{name} {array.tolist()} beyond any sensor range ({limit:g})")
    return array


def _scalar(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidCallError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise _Rejected(IntakeReason.NOT_FINITE, f"{name} is not finite: {number}")
    return number


def _covariance(name: str, value: object, size: int) -> FloatArray:
    """A symmetric positive-definite (size, size) matrix, given as such or row-major flat."""
    array = _array(name, value)
    if array.shape == (size * size,):
        array = array.reshape(size, size)
    if array.shape != (size, size):
        raise _Rejected(IntakeReason.BAD_SHAPE, f"{name} must be {size}x{size} (or {size * size} values), "
                                                f"got shape {array.shape}")  # fmt: skip
    if not np.all(np.isfinite(array)):
        raise _Rejected(IntakeReason.NOT_FINITE, f"{name} is not finite")
    scale = max(1.0, float(np.max(np.abs(array))))
    if np.max(np.abs(array - array.T)) > SYMMETRY_TOLERANCE * scale:
        raise _Rejected(IntakeReason.INVALID_COVARIANCE, f"{name} is not symmetric")
    diagonal = np.diag(array)
    if np.any(diagonal <= 0.0):
        raise _Rejected(IntakeReason.INVALID_COVARIANCE, f"{name} has non-positive variances {diagonal.tolist()}")
    try:
        np.linalg.cholesky(array)
    except np.linalg.LinAlgError:
        raise _Rejected(IntakeReason.INVALID_COVARIANCE, f"{name} is not positive definite") from None
    return array


def _rotation_from_quat(quat_wxyz: object) -> FloatArray:
    quat = _vector("quat_wxyz", quat_wxyz, 4)
    norm = float(np.linalg.norm(quat))
    if abs(norm - 1.0) > QUATERNION_NORM_TOLERANCE:
        raise _Rejected(IntakeReason.INVALID_VALUE, f"quat_wxyz has norm {norm:.6f}, not a unit quaternion")
    w, x, y, z = quat / norm
    return np.asarray(Rotation.from_quat([x, y, z, w]).as_matrix(), dtype=np.float64)


def pressure_altitude_m(pressure_pa: float) -> float:
    """ISA pressure altitude, m (only differences are used: the reference is the origin's pressure)."""
    return float(ISA_SCALE_M * (1.0 - (pressure_pa / ISA_SEA_LEVEL_PA) ** ISA_EXPONENT))


def _pressure_altitude_slope(pressure_pa: float) -> float:
    """d(altitude)/d(pressure), m/Pa, to turn a pressure variance into a height variance."""
    ratio = pressure_pa / ISA_SEA_LEVEL_PA
    return float(-ISA_SCALE_M * ISA_EXPONENT * ratio ** (ISA_EXPONENT - 1.0) / ISA_SEA_LEVEL_PA)


def _as_float(value: float) -> float:
    return float(value) if math.isfinite(value) else math.nan


# --------------------------------------------------------------------------- facade
class StateEstimator:
    """The C5 state estimator core (see the module docstring). Not thread-safe: one caller at a time."""

    # Per-epoch state, set by _clear_epoch (a backward time jump starts a new epoch).
    _initialized: bool
    _queue: list[tuple[int, int, int, Sensor, Any]]  # heap of (stamp, priority, sequence, sensor, payload)
    _queued: set[tuple[Sensor, int]]
    _sequence: int
    _newest_ns: int | None
    _newest_imu_ns: int | None
    _fused_ns: int | None
    _last_released: dict[Sensor, int]
    _alignment: deque[ImuSample]
    _alignment_waiting_ns: int | None
    _last_imu_ns: int
    _last_good: NavState | None
    _gnss: _GnssStatus
    _source: SourceLabel
    _last_gnss_ns: int | None
    _last_geofix_ns: int | None
    _last_vio_ns: int | None
    _vio_taken: _TakenVio | None  # where the next VIO increment starts
    _reference: _Reference
    _reference_rotation: FloatArray
    _baro_reference: list[float]
    _baro_offset_m: float | None
    _inertial: dict[int, tuple[int, EskfBackend]]  # chain id -> (start stamp, free-inertial copy)
    _inertial_next_id: int

    def __init__(self, config: EstimatorConfig, *, backend: FusionBackend | None = None) -> None:
        """Build with the configured backend (or ``backend``, already constructed, for tests)."""
        if not isinstance(config, EstimatorConfig):
            raise InvalidCallError(f"config must be an EstimatorConfig, got {type(config).__name__}")
        self._config = config
        self._backend = backend if backend is not None else create_backend(config.backend, config)
        self._backend_id = BackendId.ISAM2 if self._backend.name == "isam2" else BackendId.ESKF
        self._imu_noise = config.imu.to_imu_noise()
        self._gate = GnssTrustGate(config.gate)
        self._origin: LocalTangentPlane | None = None
        self._prior_sigmas = (math.nan, math.nan, math.nan)  # horizontal, vertical, yaw
        self._prior_yaw_rad = 0.0
        self._counters = _Counters()
        self._events: deque[Event] = deque(maxlen=EVENT_QUEUE_LIMIT)
        self._events_dropped = 0
        self._update_latency_ms = math.nan
        self._window_ns = round(config.timing.reorder_window_s * NS_PER_S)
        self._jump_ns = round(config.timing.backward_jump_reset_s * NS_PER_S)
        self._max_imu_gap_ns = round(config.timing.max_imu_gap_s * NS_PER_S)
        self._max_delay_ns = round(config.timing.max_measurement_delay_s * NS_PER_S)
        self._max_vio_delay_ns = round(config.vio.max_delay_s * NS_PER_S)
        # The IMU propagation alone over the last vio.max_delay_s, while VIO runs (late VIO).
        self._propagation = PropagationChain(self._max_vio_delay_ns + NS_PER_S // 10)
        self._inertial_window_ns = round(config.gate.inertial_window_s * NS_PER_S)
        self._clear_epoch()

    # ----------------------------------------------------------------------- public API
    @property
    def config(self) -> EstimatorConfig:
        """The configuration this estimator was built with."""
        return self._config

    @property
    def origin(self) -> LocalTangentPlane | None:
        """The map frame (ENU at the take-off origin), once set."""
        return self._origin

    @property
    def initialized(self) -> bool:
        """True once static alignment has started the backend (and until a reset)."""
        return self._initialized

    def set_takeoff_origin(
        self,
        latitude_deg: float,
        longitude_deg: float,
        altitude_m: float,
        sigma_horiz_m: float,
        sigma_vert_m: float,
        *,
        yaw_rad: float | None = None,
        sigma_yaw_rad: float | None = None,
        t_ns: int = 0,
    ) -> None:
        """Fix the map frame at the take-off point and the initial position/heading prior (once).

        ``yaw_rad`` is the heading of base_link in ENU (0 = east, CCW), e.g. the autopilot's compass
        at arming; without it yaw starts at 0 with ``init.default_yaw_sigma_rad``. A second (late)
        call raises OriginAlreadySetError; non-finite or out-of-range values raise InvalidOriginError.
        """
        stamp = _stamp(t_ns)
        if self._origin is not None:
            late = f"late call: {self._counters.imu_samples} IMU samples already taken; " if self._initialized else ""
            raise OriginAlreadySetError(
                f"{late}take-off origin already set to ({self._origin.latitude_deg:.7f}, "
                f"{self._origin.longitude_deg:.7f}, {self._origin.altitude_m:.2f}); the map frame cannot move"
            )
        values = {
            "latitude_deg": latitude_deg,
            "longitude_deg": longitude_deg,
            "altitude_m": altitude_m,
            "sigma_horiz_m": sigma_horiz_m,
            "sigma_vert_m": sigma_vert_m,
        }
        numbers = {name: self._origin_number(name, value) for name, value in values.items()}
        if yaw_rad is not None:
            numbers["yaw_rad"] = self._origin_number("yaw_rad", yaw_rad)
            if sigma_yaw_rad is None:
                raise InvalidOriginError("sigma_yaw_rad is required with yaw_rad")
        sigma_yaw = self._config.init.default_yaw_sigma_rad
        if sigma_yaw_rad is not None:
            sigma_yaw = self._origin_number("sigma_yaw_rad", sigma_yaw_rad)
            if yaw_rad is None:
                raise InvalidOriginError("sigma_yaw_rad given without yaw_rad")
        for name in ("sigma_horiz_m", "sigma_vert_m"):
            if numbers[name] <= 0.0:
                raise InvalidOriginError(f"{name} must be > 0, got {numbers[name]}")
        if sigma_yaw <= 0.0:
            raise InvalidOriginError(f"sigma_yaw_rad must be > 0, got {sigma_yaw}")
        try:
            check_geodetic(numbers["latitude_deg"], numbers["longitude_deg"], numbers["altitude_m"])
            origin = LocalTangentPlane(numbers["latitude_deg"], numbers["longitude_deg"], numbers["altitude_m"])
        except GeometryError as exc:
            raise InvalidOriginError(f"take-off origin: {exc}") from exc
        self._origin = origin
        self._prior_sigmas = (numbers["sigma_horiz_m"], numbers["sigma_vert_m"], sigma_yaw)
        self._prior_yaw_rad = numbers.get("yaw_rad", 0.0)
        self._emit(
            EVENT_ORIGIN_SET,
            stamp,
            latitude_deg=origin.latitude_deg,
            longitude_deg=origin.longitude_deg,
            altitude_m=origin.altitude_m,
            sigma_horiz_m=numbers["sigma_horiz_m"],
            sigma_vert_m=numbers["sigma_vert_m"],
            yaw_rad=numbers.get("yaw_rad"),
            sigma_yaw_rad=sigma_yaw,
        )

    def add_imu(self, sample: ImuSample) -> IntakeResult:
        """Queue one IMU sample (specific force m/s^2, rate rad/s, base_link FLU)."""
        if not isinstance(sample, ImuSample):
            raise InvalidCallError(f"add_imu takes an ImuSample, got {type(sample).__name__}")

        def build(stamp: int) -> ImuSample:
            accel = _vector("accel_mps2", sample.accel_mps2, 3, MAX_ACCEL_MPS2)
            gyro = _vector("gyro_radps", sample.gyro_radps, 3, MAX_GYRO_RADPS)
            return ImuSample(t_ns=stamp, accel_mps2=accel, gyro_radps=gyro)

        return self._intake(Sensor.IMU, sample.t_ns, build)

    def add_vio(
        self,
        t_ns: int,
        position_m: npt.ArrayLike,
        quat_wxyz: npt.ArrayLike,
        velocity_body_mps: npt.ArrayLike,
        twist_covariance: npt.ArrayLike,
    ) -> IntakeResult:
        """Queue one VIO odometry message: pose of base_link in the VIO's odom frame, body twist.

        ``twist_covariance`` is nav_msgs/Odometry's 6x6 (or 36 values) over [linear, angular] in
        base_link. The increment between consecutive poses takes its covariance from the twist
        (velocity noise times the interval): VIO pose covariances are cumulative and their
        difference is ill-conditioned, so the pose covariance is not used.
        """

        def build(stamp: int) -> _Vio:
            position = _vector("position_m", position_m, 3)
            rotation = _rotation_from_quat(quat_wxyz)
            velocity = _vector("velocity_body_mps", velocity_body_mps, 3)
            twist = _covariance("twist_covariance", twist_covariance, 6)
            return _Vio(stamp, position, rotation, velocity, twist[:3, :3].copy(), twist[3:, 3:].copy())

        return self._intake(Sensor.VIO, t_ns, build)

    def add_geofix(
        self,
        t_ns: int,
        latitude_deg: float,
        longitude_deg: float,
        altitude_m: float,
        covariance_enu_m2: npt.ArrayLike,
    ) -> IntakeResult:
        """Queue one map-matching fix (WGS84, ellipsoidal height) with its 3x3 ENU covariance.

        GeoFix.heading_rad is not taken: the backend contract has no heading update.
        """
        return self._intake(
            Sensor.GEOFIX,
            t_ns,
            lambda stamp: self._position(stamp, latitude_deg, longitude_deg, altitude_m, covariance_enu_m2),
        )

    def add_gnss(
        self,
        t_ns: int,
        latitude_deg: float,
        longitude_deg: float,
        altitude_m: float,
        covariance_enu_m2: npt.ArrayLike,
        *,
        fix_status: int,
    ) -> IntakeResult:
        """Queue one GNSS fix; ``fix_status`` is sensor_msgs/NavSatStatus.status (-1 no fix, >= 0 fix)."""
        status = _integer("fix_status", fix_status)

        def build(stamp: int) -> _Position:
            if status < 0:
                raise _Rejected(IntakeReason.NO_FIX, f"receiver reports no fix (status {status})")
            return self._position(stamp, latitude_deg, longitude_deg, altitude_m, covariance_enu_m2)

        return self._intake(Sensor.GNSS, t_ns, build)

    def add_baro(self, t_ns: int, pressure_pa: float, variance_pa2: float) -> IntakeResult:
        """Queue one static pressure sample; heights are relative to the pressure at the origin."""

        def build(stamp: int) -> _Baro:
            if not self._config.baro.enabled:
                raise _Rejected(IntakeReason.DISABLED, "barometric aiding is disabled (baro.enabled)")
            pressure = _scalar("pressure_pa", pressure_pa)
            variance = _scalar("variance_pa2", variance_pa2)
            if not MIN_PRESSURE_PA <= pressure <= MAX_PRESSURE_PA:
                raise _Rejected(
                    IntakeReason.INVALID_VALUE,
                    f"pressure {pressure} Pa outside [{MIN_PRESSURE_PA:g}, {MAX_PRESSURE_PA:g}]",
                )
            if variance <= 0.0:
                raise _Rejected(IntakeReason.INVALID_COVARIANCE, f"pressure variance must be > 0, got {variance}")
            return _Baro(stamp, pressure, variance)

        return self._intake(Sensor.BARO, t_ns, build)

    def flush(self) -> None:
        """Process every queued measurement now (end of input; a test's last step)."""
        self._release(None)

    def estimate(self) -> Estimate | None:
        """The fused state at the fused time with its WGS84 position, or None before initialisation."""
        if not self._initialized or self._origin is None:
            return None
        state = self._backend.state()
        latitude, longitude, altitude = self._origin.geodetic_from_enu(state.position_m)
        return Estimate(state, float(latitude), float(longitude), float(altitude))

    def status(self) -> EstimatorSnapshot:
        """A snapshot of every EstimatorStatus field."""
        horizontal_sigma = vertical_sigma = math.nan
        if self._initialized:
            _, covariance = self._backend.position_prior()
            horizontal_sigma = math.sqrt(max(float(np.linalg.eigvalsh(covariance[:2, :2])[-1]), 0.0))
            vertical_sigma = math.sqrt(max(float(covariance[2, 2]), 0.0))
        origin = self._origin
        counters = self._counters
        return EstimatorSnapshot(
            stamp_ns=self._fused_ns or 0,
            source=self._source,
            backend=self._backend_id,
            gnss_trust=self._gate.trust,
            gnss_reject_reason=self._gnss.reject_reason,
            gnss_innovation_mahalanobis=_as_float(self._gnss.mahalanobis),
            gnss_horizontal_delta_m=_as_float(self._gnss.horizontal_delta_m),
            gnss_dwell_s=self._gate.dwell_s(),
            horizontal_sigma_m=horizontal_sigma,
            vertical_sigma_m=vertical_sigma,
            origin_set=origin is not None,
            origin_latitude_deg=origin.latitude_deg if origin else math.nan,
            origin_longitude_deg=origin.longitude_deg if origin else math.nan,
            origin_altitude_m=origin.altitude_m if origin else math.nan,
            imu_samples=counters.imu_samples,
            vio_updates=counters.vio_updates,
            geofix_accepted=counters.geofix_accepted,
            geofix_rejected=counters.geofix_rejected,
            gnss_accepted=counters.gnss_accepted,
            gnss_rejected=counters.gnss_rejected,
            update_latency_ms=self._update_latency_ms,
            initialized=self._initialized,
            resets=counters.resets,
            gnss_drift_mahalanobis=_as_float(self._gnss.drift_mahalanobis),
            vio_rejected=counters.vio_rejected,
            baro_updates=counters.baro_updates,
            events_dropped=self._events_dropped,
        )

    def drain_events(self) -> list[Event]:
        """Every event since the last drain, oldest first."""
        events = list(self._events)
        self._events.clear()
        return events

    # ----------------------------------------------------------------------- intake
    def _position(
        self, stamp: int, latitude_deg: object, longitude_deg: object, altitude_m: object, covariance: object
    ) -> _Position:
        latitude = _scalar("latitude_deg", latitude_deg)
        longitude = _scalar("longitude_deg", longitude_deg)
        altitude = _scalar("altitude_m", altitude_m)
        matrix = _covariance("covariance_enu_m2", covariance, 3)
        if self._origin is None:
            raise _Rejected(IntakeReason.ORIGIN_NOT_SET, "set_takeoff_origin() has not been called")
        try:
            enu = self._origin.enu_from_geodetic(latitude, longitude, altitude)
        except GeometryError as exc:
            raise _Rejected(IntakeReason.INVALID_VALUE, str(exc)) from None
        return _Position(stamp, np.asarray(enu, dtype=np.float64), matrix)

    def _intake(self, sensor: Sensor, t_ns: object, build: Callable[[int], Any]) -> IntakeResult:
        """Validate, check the stamp, queue and release; every content problem becomes a result."""
        stamp = _stamp(t_ns)
        reset: ResetReason | None = None
        try:
            if stamp < 0:
                raise _Rejected(IntakeReason.INVALID_VALUE, f"negative stamp {stamp} ns")
            if self._origin is None:
                raise _Rejected(IntakeReason.ORIGIN_NOT_SET, "set_takeoff_origin() has not been called")
            payload = build(stamp)
            # Only the timebase (IMU) can reset: another stream far behind is a late message.
            newest_imu = self._newest_imu_ns
            if sensor is Sensor.IMU and newest_imu is not None and stamp < newest_imu - self._jump_ns:
                reset = ResetReason.BACKWARD_TIME_JUMP
                behind_s = (newest_imu - stamp) / NS_PER_S
                self._hard_reset(stamp, reset, f"IMU stamp {behind_s:.3f} s behind the newest IMU stamp")
            if not self._initialized and sensor not in (Sensor.IMU, Sensor.BARO):
                raise _Rejected(IntakeReason.NOT_INITIALIZED, "static alignment has not finished")
            self._check_order(sensor, stamp)
            if sensor is not Sensor.IMU and self._newest_imu_ns is not None:
                ahead_s = (stamp - self._newest_imu_ns) / NS_PER_S
                if ahead_s > self._config.timing.backward_jump_reset_s:
                    # Another clock (GPS time vs system time) or a corrupt stamp: it would make every
                    # later IMU sample look like a bag loop.
                    raise _Rejected(IntakeReason.FUTURE_STAMP, f"stamp {ahead_s:.3f} s ahead of the newest IMU sample")
        except _Rejected as rejected:
            self._count_rejection(sensor)
            logger.debug("%s at %d rejected: %s (%s)", sensor.value, stamp, rejected.reason.value, rejected.detail)
            return IntakeResult(False, rejected.reason, rejected.detail, reset)
        self._sequence += 1
        heapq.heappush(self._queue, (stamp, _PRIORITY[sensor], self._sequence, sensor, payload))
        self._queued.add((sensor, stamp))
        if self._newest_ns is None or stamp > self._newest_ns:
            self._newest_ns = stamp
        if sensor is Sensor.IMU:
            self._newest_imu_ns = stamp
        self._release(self._newest_ns - self._window_ns)
        return IntakeResult(True, IntakeReason.ACCEPTED, "", reset)

    def _check_order(self, sensor: Sensor, stamp: int) -> None:
        last = self._last_released.get(sensor)
        if (sensor, stamp) in self._queued or last == stamp:
            raise _Rejected(IntakeReason.DUPLICATE_STAMP, f"a {sensor.value} sample with stamp {stamp} was taken")
        fused = self._fused_ns
        window_ms = self._config.timing.reorder_window_s * 1e3
        if sensor is Sensor.IMU:
            if (fused is not None and stamp < fused) or (last is not None and stamp < last):
                behind_ms = ((fused or 0) - stamp) / 1e6
                raise _Rejected(
                    IntakeReason.OUT_OF_ORDER,
                    f"stamp {behind_ms:.1f} ms behind the fused time (reorder window {window_ms:.0f} ms)",
                )
            return
        if fused is None or stamp >= fused:
            return
        if sensor is Sensor.GEOFIX and fused - stamp <= self._max_delay_ns:
            return  # inference latency: applied at the fused time with a grown covariance
        if sensor is Sensor.VIO and fused - stamp <= self._max_vio_delay_ns and (last is None or stamp > last):
            return  # VIO latency: shifted to when it is applied, covariance grown
        behind_ms = (fused - stamp) / 1e6
        delay_note = {
            Sensor.GEOFIX: f", GeoFix delay limit {self._config.timing.max_measurement_delay_s * 1e3:.0f} ms",
            Sensor.VIO: f", VIO delay limit {self._config.vio.max_delay_s * 1e3:.0f} ms",
        }.get(sensor, "")
        raise _Rejected(
            IntakeReason.OUT_OF_ORDER,
            f"stamp {behind_ms:.1f} ms behind the fused time: a late {sensor.value} message, dropped "
            f"(reorder window {window_ms:.0f} ms{delay_note}; only the IMU stream can reset the estimator)",
        )

    def _count_rejection(self, sensor: Sensor) -> None:
        if sensor is Sensor.GNSS:
            self._counters.gnss_rejected += 1
        elif sensor is Sensor.GEOFIX:
            self._counters.geofix_rejected += 1
        elif sensor is Sensor.VIO:
            self._counters.vio_rejected += 1

    def _release(self, limit_ns: int | None) -> None:
        """Process queued measurements with stamps up to ``limit_ns`` (all when None), in stamp order."""
        # self._queue, not a local: a reset while processing replaces the queue and drops what was left.
        while self._queue and (limit_ns is None or self._queue[0][0] <= limit_ns):
            stamp, _, _, sensor, payload = heapq.heappop(self._queue)
            self._queued.discard((sensor, stamp))
            self._last_released[sensor] = stamp
            self._fused_ns = stamp if self._fused_ns is None else max(self._fused_ns, stamp)
            try:
                self._process(sensor, payload)
            except Exception as exc:  # noqa: BLE001 - a backend failure must become a reset, never a crashed callback
                logger.warning("estimator backend failed on %s at %d: %s", sensor.value, stamp, exc)
                detail = f"{type(exc).__name__}: {exc}"
                try:
                    self._soft_reset(stamp, ResetReason.BACKEND_FAILURE, detail)
                except Exception as again:  # noqa: BLE001 - the backend refuses even its last good state
                    self._hard_reset(stamp, ResetReason.BACKEND_FAILURE, f"{detail}; restart failed: {again}")

    # ----------------------------------------------------------------------- processing
    def _process(self, sensor: Sensor, payload: Any) -> None:
        if sensor is Sensor.IMU:
            self._process_imu(payload)
        elif sensor is Sensor.BARO:
            self._process_baro(payload)
        elif not self._initialized or payload.t_ns - self._last_imu_ns > self._max_imu_gap_ns:
            # Queued before a reset cleared the initialisation, or no IMU carries the state to its stamp.
            self._count_rejection(sensor)
        elif sensor is Sensor.VIO:
            self._process_vio(payload)
        elif sensor is Sensor.GEOFIX:
            self._process_geofix(payload)
        else:
            self._process_gnss(payload)
        self._update_source(self._fused_ns or 0)

    def _process_imu(self, sample: ImuSample) -> None:
        self._counters.imu_samples += 1
        if not self._initialized:
            self._align(sample)
            return
        gap_ns = sample.t_ns - self._last_imu_ns
        if gap_ns > self._max_imu_gap_ns:
            self._soft_reset(sample.t_ns, ResetReason.FORWARD_TIME_JUMP, f"IMU gap of {gap_ns / NS_PER_S:.3f} s")
        else:
            # While VIO runs, the propagation alone is recorded: a late VIO message is moved by it.
            before = self._backend.state() if self._vio_taken is not None else None
            self._backend.propagate(sample)
            if before is not None:
                self._propagation.step(sample.t_ns, before, self._backend.state())
            self._step_inertial(sample)
        self._last_imu_ns = sample.t_ns
        transition = self._gate.check_timeout(sample.t_ns)
        if transition is not None:
            self._trust_event(transition)

    def _step_inertial(self, sample: ImuSample) -> None:
        """Propagate the free-inertial copies (no update ever), retire old ones and start one per quarter window."""
        chains = self._inertial
        for chain_id, (start_ns, chain) in list(chains.items()):
            if sample.t_ns - start_ns > self._inertial_window_ns:
                del chains[chain_id]
            else:
                chain.propagate(sample)
        newest_start = max((start_ns for start_ns, _ in chains.values()), default=None)
        if newest_start is not None and 4 * (sample.t_ns - newest_start) < self._inertial_window_ns:
            return
        state = self._backend.state()
        covariance = state.covariance.copy()
        # Position error does not enter the dynamics: with it zeroed, the propagated position
        # covariance is that of the displacement since the start.
        covariance[POS, :] = 0.0
        covariance[:, POS] = 0.0
        chain = EskfBackend(self._config.eskf, self._config.gating)
        chain.initialize(replace(state, covariance=covariance), self._imu_noise)
        self._inertial_next_id += 1
        chains[self._inertial_next_id] = (sample.t_ns, chain)

    def _inertial_at(self) -> dict[int, ReferencePoint]:
        """Each live free-inertial copy's position and displacement covariance (at the latest IMU sample)."""
        points = {}
        for chain_id, (_, chain) in self._inertial.items():
            position, covariance = chain.position_prior()
            points[chain_id] = ReferencePoint(position, covariance, chain_id, np.zeros((3, 3)))
        return points

    def _align(self, sample: ImuSample) -> None:
        """Static alignment: roll/pitch from the mean specific force, gyro bias from the mean rate."""
        window = self._alignment
        window.append(sample)
        duration_ns = round(self._config.init.alignment_duration_s * NS_PER_S)
        while len(window) > 1 and sample.t_ns - window[1].t_ns >= duration_ns:
            window.popleft()
        if sample.t_ns - window[0].t_ns < duration_ns:
            return
        accel = np.array([s.accel_mps2 for s in window])
        gyro = np.array([s.gyro_radps for s in window])
        mean_accel = accel.mean(axis=0)
        accel_std = float(accel.std(axis=0).max())
        gyro_std = float(gyro.std(axis=0).max())
        gravity_error = abs(float(np.linalg.norm(mean_accel)) - GRAVITY_MPS2)
        init = self._config.init
        if (
            accel_std > init.max_accel_std_mps2
            or gyro_std > init.max_gyro_std_radps
            or gravity_error > REST_GRAVITY_TOLERANCE_MPS2
        ):
            if self._alignment_waiting_ns is None or sample.t_ns - self._alignment_waiting_ns >= NS_PER_S:
                self._alignment_waiting_ns = sample.t_ns
                self._emit(
                    EVENT_ALIGNMENT_WAITING,
                    sample.t_ns,
                    accel_std_mps2=accel_std,
                    gyro_std_radps=gyro_std,
                    gravity_error_mps2=gravity_error,
                )
            return  # the window slides on: alignment starts once the last duration is all at rest
        roll, pitch = roll_pitch_from_specific_force(mean_accel)
        rotation = Rotation.from_euler("ZYX", [self._prior_yaw_rad, pitch, roll]).as_matrix()
        sigma_h, sigma_v, sigma_yaw = self._prior_sigmas
        variances = np.concatenate(
            [
                [sigma_h**2, sigma_h**2, sigma_v**2],
                np.full(3, init.velocity_sigma_mps**2),
                [init.tilt_sigma_rad**2, init.tilt_sigma_rad**2, sigma_yaw**2],
                np.full(3, init.accel_bias_sigma_mps2**2),
                np.full(3, init.gyro_bias_sigma_radps**2),
            ]
        )
        state = NavState(
            t_ns=sample.t_ns,
            position_m=np.zeros(3),
            velocity_mps=np.zeros(3),
            rotation=np.asarray(rotation, dtype=np.float64),
            accel_bias_mps2=np.zeros(3),
            gyro_bias_radps=gyro.mean(axis=0),
            covariance=np.diag(variances),
        )
        self._backend.initialize(state, self._imu_noise)
        self._initialized = True
        self._last_imu_ns = sample.t_ns
        self._last_good = state
        window.clear()
        self._emit(
            EVENT_INITIALIZED,
            sample.t_ns,
            roll_rad=roll,
            pitch_rad=pitch,
            yaw_rad=self._prior_yaw_rad,
            gyro_bias_radps=[float(b) for b in state.gyro_bias_radps],
            samples=int(accel.shape[0]),
        )

    def _process_vio(self, vio: _Vio) -> None:
        taken = self._vio_taken
        if taken is None:
            self._take_vio(vio)
            self._restart_reference(vio, "")
            return
        previous = taken.vio
        dt_s = (vio.t_ns - previous.t_ns) / NS_PER_S
        rotation = previous.rotation.T @ vio.rotation
        translation = previous.rotation.T @ (vio.position_m - previous.position_m)
        angle = float(np.linalg.norm(Rotation.from_matrix(rotation).as_rotvec()))
        limits = self._config.vio
        problem = ""
        if dt_s > limits.max_gap_s:
            problem = f"gap of {dt_s:.3f} s"
        elif float(np.linalg.norm(translation)) > limits.max_speed_mps * dt_s:
            problem = f"jump of {float(np.linalg.norm(translation)):.2f} m in {dt_s:.3f} s"
        elif angle > limits.max_rate_radps * dt_s:
            problem = f"rotation of {angle:.2f} rad in {dt_s:.3f} s"
        if problem:
            self._take_vio(vio)
            self._counters.vio_rejected += 1
            self._restart_reference(vio, problem)
            return
        if self._last_imu_ns == taken.applied_imu_ns:
            # Late messages arrive bunched: no IMU sample since the last one was applied, so there is
            # no state to tie this one to. It is skipped; the next increment spans both (increments
            # come from the VIO's poses, so nothing is lost but this message's velocity).
            self._counters.vio_merged += 1
            return
        now = self._take_vio(vio)
        covariance = np.zeros((6, 6))
        covariance[:3, :3] = vio.rate_covariance * dt_s**2
        covariance[3:, 3:] = vio.velocity_covariance * dt_s**2
        # Rotated with the attitude at the increment's start (kept from the previous VIO message);
        # the drift test's reference follows the stamps, not when the increment is applied.
        reference = self._reference
        r_map_body = self._reference_rotation
        reference.position_m = reference.position_m + r_map_body @ translation
        reference.covariance_m2 = reference.covariance_m2 + r_map_body @ covariance[3:, 3:] @ r_map_body.T
        increment = VioIncrement(
            t0_ns=previous.t_ns,
            t1_ns=vio.t_ns,
            rotation=rotation,
            translation_m=translation,
            covariance=covariance,
            velocity_body_mps=vio.velocity_body_mps,
            velocity_covariance=vio.velocity_covariance,
        )
        if taken.shift is not None or now.shift is not None:
            increment = self._applied_late(increment, taken, now)
        outcome = self._timed(lambda: self._backend.update_vio(increment))
        if outcome.accepted:
            self._counters.vio_updates += 1
            self._last_vio_ns = vio.t_ns
        else:
            self._counters.vio_rejected += 1
        state = self._after_update()
        self._set_reference_velocity(vio, state)

    def _take_vio(self, vio: _Vio) -> _TakenVio:
        """``vio`` becomes the start of the next increment, applied now."""
        late = self._last_imu_ns > vio.t_ns
        taken = _TakenVio(vio, self._last_imu_ns, self._propagation.since(vio.t_ns) if late else None)
        self._vio_taken = taken
        return taken

    def _applied_late(self, increment: VioIncrement, start: _TakenVio, end: _TakenVio) -> VioIncrement:
        """The increment moved onto the states it is applied between, when either end came late.

        The backend ties it to the states at the two application times, each its own delay after
        the stamps. The estimate's own motion over those delays (IMU-propagated, fractions of a
        second) moves it there: ``T_applied = S0^-1 T S1`` with ``S = T_est(stamp)^-1 T_est(applied)``;
        the IMU noise over the delays is added to its covariance.
        """
        r0, p0 = (start.shift.rotation, start.shift.translation_m) if start.shift else (np.eye(3), np.zeros(3))
        r1, p1 = (end.shift.rotation, end.shift.translation_m) if end.shift else (np.eye(3), np.zeros(3))
        rotation, translation = increment.rotation, increment.translation_m
        span_s = start.delay_s + end.delay_s
        # What the estimate's own motion over the delays gets wrong: its velocity and gyro-bias errors
        # over the change of delay (the part common to both ends cancels), and the IMU noise.
        change_s = abs(end.delay_s - start.delay_s)
        imu = self._config.imu
        covariance = increment.covariance.copy()
        cov = self._backend.state().covariance
        velocity_var = float(np.max(np.linalg.eigvalsh(cov[VEL, VEL])))
        gyro_bias_var = float(np.max(np.linalg.eigvalsh(cov[BG, BG])))
        covariance[:3, :3] += np.eye(3) * (imu.gyro_noise_density**2 * span_s + gyro_bias_var * change_s**2)
        covariance[3:, 3:] += np.eye(3) * (imu.accel_noise_density**2 * span_s**3 + velocity_var * change_s**2)
        velocity_body, velocity_covariance = self._velocity_now(end)
        return replace(
            increment,
            rotation=r0.T @ rotation @ r1,
            translation_m=r0.T @ (translation + rotation @ p1 - p0),
            covariance=covariance,
            velocity_body_mps=velocity_body,
            velocity_covariance=velocity_covariance,
        )

    def _velocity_now(self, taken: _TakenVio) -> tuple[FloatArray, FloatArray]:
        """A late VIO body velocity carried to the fused time by the propagation since its stamp.

        The backends fuse it as a measurement of the velocity now; adding the propagated change of
        body velocity makes the residual the one at the stamp (the error state barely moves in a
        fraction of a second), with the accelerometer noise over the delay added. Without a
        recorded propagation the velocity is kept and the unmodelled acceleration is added instead.
        """
        vio, motion, delay_s = taken.vio, taken.shift, taken.delay_s
        if motion is None:
            grown = (self._config.timing.jump_accel_sigma_mps2 * delay_s) ** 2
            return vio.velocity_body_mps, vio.velocity_covariance + np.eye(3) * grown
        noise = self._config.imu.accel_noise_density**2 * delay_s
        return vio.velocity_body_mps + motion.body_velocity_change_mps, vio.velocity_covariance + np.eye(3) * noise

    def _forget_vio(self) -> None:
        """After a reset no VIO increment starts before it, and no recorded propagation moves one."""
        self._vio_taken = None
        self._propagation.clear()

    def _restart_reference(self, vio: _Vio, problem: str) -> None:
        """Start a new VIO chain: no increment across a reset/jump/gap, and the drift test restarts."""
        self._reference = _Reference(chain_id=self._reference.chain_id + 1)
        self._set_reference_velocity(vio, self._backend.state())
        if problem:
            logger.info("VIO discontinuity at %d: %s", vio.t_ns, problem)
            self._emit(EVENT_VIO_DISCONTINUITY, vio.t_ns, reason=problem)

    def _set_reference_velocity(self, vio: _Vio, state: NavState) -> None:
        reference = self._reference
        reference.t_ns = vio.t_ns
        self._reference_rotation = state.rotation
        reference.velocity_map_mps = state.rotation @ vio.velocity_body_mps
        reference.velocity_covariance = state.rotation @ vio.velocity_covariance @ state.rotation.T
        reference.attitude_covariance_rad2 = state.covariance[ATT, ATT].copy()

    def _reference_at(self, t_ns: int) -> ReferencePoint | None:
        """The VIO displacement at ``t_ns`` (extrapolated from the last VIO message), or None if stale."""
        reference = self._reference
        if reference.t_ns is None:
            return None
        age_s = (t_ns - reference.t_ns) / NS_PER_S
        if age_s > self._config.gate.reference_max_age_s or age_s < 0.0:
            return None
        return ReferencePoint(
            position_m=reference.position_m + reference.velocity_map_mps * age_s,
            covariance_m2=reference.covariance_m2 + reference.velocity_covariance * age_s**2,
            chain_id=reference.chain_id,
            attitude_covariance_rad2=reference.attitude_covariance_rad2,
        )

    def _process_geofix(self, fix: _Position) -> None:
        gating = self._config.gating
        position, covariance = fix.position_m, fix.covariance_m2
        delay_s = (self._last_imu_ns - fix.t_ns) / NS_PER_S
        if delay_s > 0.0:
            # Late (inference latency): carried to the fused time by the estimated motion since its stamp.
            state = self._backend.state()
            accel_sigma_m = 0.5 * self._config.timing.jump_accel_sigma_mps2 * delay_s**2
            position = position + state.velocity_mps * delay_s
            covariance = covariance + state.covariance[VEL, VEL] * delay_s**2 + np.eye(3) * accel_sigma_m**2
        measurement = PositionMeasurement(
            t_ns=fix.t_ns,
            position_m=position,
            covariance_m2=covariance,
            source="geofix",
            kernel=RobustKernel(gating.geofix_kernel),
            kernel_threshold=gating.geofix_kernel_threshold,
        )
        outcome = self._timed(lambda: self._backend.update_position(measurement))
        if outcome.accepted:
            self._counters.geofix_accepted += 1
            self._last_geofix_ns = fix.t_ns
        else:
            self._counters.geofix_rejected += 1
            logger.debug("GeoFix at %d rejected by the backend: %s", fix.t_ns, outcome.reason)
        self._after_update()

    def _process_gnss(self, fix: _Position) -> None:
        prior_position, prior_covariance = self._backend.position_prior()
        decision = self._gate.assess(
            GnssSample(fix.t_ns, fix.position_m, fix.covariance_m2),
            prior_position,
            prior_covariance,
            self._reference_at(fix.t_ns),
            self._inertial_at(),
        )
        status = self._gnss
        status.mahalanobis = decision.mahalanobis
        status.horizontal_delta_m = decision.horizontal_delta_m
        status.drift_mahalanobis = decision.drift_mahalanobis
        for transition in decision.transitions:
            self._trust_event(transition)
        if not decision.consistent:
            self._counters.gnss_rejected += 1
            status.reject_reason = decision.reason
            return
        if not decision.fuse:
            return
        gating = self._config.gating
        measurement = PositionMeasurement(
            t_ns=fix.t_ns,
            position_m=fix.position_m,
            covariance_m2=fix.covariance_m2,
            source="gnss",
            kernel=RobustKernel(gating.gnss_kernel),
            kernel_threshold=gating.gnss_kernel_threshold,
        )
        outcome = self._timed(lambda: self._backend.update_position(measurement))
        if outcome.accepted:
            self._counters.gnss_accepted += 1
            self._last_gnss_ns = fix.t_ns
        else:
            self._counters.gnss_rejected += 1
            status.reject_reason = f"backend: {outcome.reason}"
        self._after_update()

    def _process_baro(self, baro: _Baro) -> None:
        height_m = pressure_altitude_m(baro.pressure_pa)
        if self._baro_offset_m is None:
            # Reference: the origin's pressure (at rest, up = 0) or the estimate's height if baro starts later.
            up_m = float(self._backend.position_prior()[0][2]) if self._initialized else 0.0
            self._baro_reference.append(height_m - up_m)
            if len(self._baro_reference) >= self._config.baro.reference_samples:
                self._baro_offset_m = float(np.mean(self._baro_reference))
            return
        if not self._initialized:
            return
        slope = _pressure_altitude_slope(baro.pressure_pa)
        measurement = AltitudeMeasurement(
            t_ns=baro.t_ns, up_m=height_m - self._baro_offset_m, variance_m2=slope**2 * baro.variance_pa2
        )
        outcome = self._timed(lambda: self._backend.update_altitude(measurement))
        if outcome.accepted:
            self._counters.baro_updates += 1
        self._after_update()

    # ----------------------------------------------------------------------- bookkeeping
    def _timed(self, update: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        outcome = update()
        self._update_latency_ms = (time.perf_counter() - start) * 1e3
        return outcome

    def _after_update(self) -> NavState:
        """Keep the last good state for recovery; a non-finite one is a backend failure."""
        state = self._backend.state()
        finite = all(
            np.all(np.isfinite(value))
            for value in (state.position_m, state.velocity_mps, state.rotation, state.covariance)
        )
        if not finite:
            raise FloatingPointError(f"backend {self._backend.name} produced a non-finite state")
        self._last_good = state
        return state

    def _update_source(self, t_ns: int) -> None:
        timeouts = self._config.source

        def recent(last_ns: int | None, timeout_s: float) -> bool:
            return last_ns is not None and t_ns - last_ns <= timeout_s * NS_PER_S

        if self._gate.trust is GnssTrust.TRUSTED and recent(self._last_gnss_ns, timeouts.gnss_timeout_s):
            source = SourceLabel.GNSS
        elif recent(self._last_geofix_ns, timeouts.geofix_timeout_s):
            source = SourceLabel.VISUAL
        elif recent(self._last_vio_ns, timeouts.vio_timeout_s):
            source = SourceLabel.VIO_ONLY
        else:
            source = SourceLabel.DEAD_RECKONING
        if source is not self._source:
            previous, self._source = self._source, source
            self._emit(EVENT_SOURCE, t_ns, previous=previous.name, current=source.name)

    def _trust_event(self, transition: TrustTransition) -> None:
        logger.info("GNSS trust %s -> %s: %s", transition.previous.name, transition.current.name, transition.reason)
        self._emit(
            EVENT_GNSS_TRUST,
            transition.t_ns,
            previous=transition.previous.name,
            current=transition.current.name,
            reason=transition.reason,
        )

    def _emit(self, name: str, stamp_ns: int, **data: object) -> None:
        if len(self._events) == self._events.maxlen:
            self._events_dropped += 1
        self._events.append(Event(name=name, stamp_ns=stamp_ns, data=data))

    def _clear_epoch(self) -> None:
        """Everything that a backward time jump throws away (the origin and counters stay)."""
        self._initialized = False
        self._queue = []
        self._queued = set()
        self._sequence = 0
        self._newest_ns = None
        self._newest_imu_ns = None
        self._fused_ns = None
        self._last_released = {}
        self._alignment = deque()
        self._alignment_waiting_ns = None
        self._last_imu_ns = 0
        self._last_good = None
        self._gate.reset()
        self._gnss = _GnssStatus()
        self._source = SourceLabel.DEAD_RECKONING
        self._last_gnss_ns = None
        self._last_geofix_ns = None
        self._last_vio_ns = None
        self._forget_vio()
        self._reference = _Reference()
        self._reference_rotation = np.eye(3)
        self._baro_reference = []
        self._baro_offset_m = None
        self._inertial = {}
        self._inertial_next_id = 0

    def _hard_reset(self, stamp_ns: int, reason: ResetReason, detail: str) -> None:
        """Drop the epoch (queue, backend start, gate, VIO chain) and re-align; the origin stays."""
        logger.warning("estimator reset (%s): %s", reason.value, detail)
        previous_source = self._source
        self._clear_epoch()
        self._counters.resets += 1
        self._emit(EVENT_RESET, stamp_ns, reason=reason.value, detail=detail)
        if previous_source is not SourceLabel.DEAD_RECKONING:
            self._emit(EVENT_SOURCE, stamp_ns, previous=previous_source.name, current=SourceLabel.DEAD_RECKONING.name)

    def _soft_reset(self, stamp_ns: int, reason: ResetReason, detail: str) -> None:
        """Re-initialise the backend at ``stamp_ns`` from the last good state, grown over the unobserved time."""
        last = self._last_good
        if last is None or not self._initialized:
            self._hard_reset(stamp_ns, reason, f"no good state to restart from: {detail}")
            return
        logger.warning("estimator reset (%s): %s", reason.value, detail)
        gap_s = max((stamp_ns - last.t_ns) / NS_PER_S, 0.0)
        timing = self._config.timing
        accel_var = timing.jump_accel_sigma_mps2**2
        covariance = np.zeros((STATE_DIM, STATE_DIM))
        old = last.covariance
        covariance[POS, POS] = old[POS, POS] + old[VEL, VEL] * gap_s**2 + np.eye(3) * accel_var * gap_s**4 / 4.0
        covariance[VEL, VEL] = old[VEL, VEL] + np.eye(3) * accel_var * gap_s**2
        covariance[ATT, ATT] = old[ATT, ATT] + np.eye(3) * (timing.jump_rate_sigma_radps * gap_s) ** 2
        covariance[BA, BA] = old[BA, BA]
        covariance[BG, BG] = old[BG, BG]
        state = NavState(
            t_ns=stamp_ns,
            position_m=last.position_m + last.velocity_mps * gap_s,
            velocity_mps=last.velocity_mps.copy(),
            rotation=last.rotation.copy(),
            accel_bias_mps2=last.accel_bias_mps2.copy(),
            gyro_bias_radps=last.gyro_bias_radps.copy(),
            covariance=0.5 * (covariance + covariance.T),
        )
        self._backend.initialize(state, self._imu_noise)
        self._last_good = state
        self._last_imu_ns = stamp_ns
        self._forget_vio()  # no VIO increment across the unobserved interval
        self._reference = _Reference(chain_id=self._reference.chain_id + 1)
        self._inertial.clear()  # no free-inertial copy across the unobserved interval
        self._counters.resets += 1
        self._emit(EVENT_RESET, stamp_ns, reason=reason.value, detail=detail, gap_s=gap_s)

    @staticmethod
    def _origin_number(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, Real):
            raise InvalidCallError(f"{name} must be a number, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidOriginError(f"{name} must be finite, got {number}")
        return number
