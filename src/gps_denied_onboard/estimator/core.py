"""The StateEstimator facade the state_estimator_node calls: intake, ordering, gate, label, events.

Per measurement: ``add_*`` validates the content (estimator.intake), checks the stamp (duplicate,
late, a bag loop) and queues it; the queue (estimator.ordering) releases measurements in stamp
order up to the fusion horizon, which waits for late VIO. Released IMU samples are propagated;
every other measurement is applied at the latest propagated IMU sample (its stamp or before).
Bad content never raises: the call returns an ``IntakeResult`` with a reason. Bad calls (wrong
argument types, a second origin) raise typed errors.

Start-up: ``set_takeoff_origin`` fixes the map frame (ENU at the origin) and the position and
heading prior; then static alignment (estimator.alignment) starts the backend.

Outputs: ``estimate()`` is the fused state carried to the newest IMU sample by the output
predictor (estimator.output); ``status()`` snapshots every EstimatorStatus field; events say
every decision. VIO (estimator.vio_fusion) and barometric height (estimator.baro) have their own
modules; the GNSS spoofing gate is estimator.gate.

GNSS errors are correlated over tens of seconds; the error the estimate inherits from the receiver
is carried beside the backend's covariance (estimator.inherited_error) and is part of what is
published and of the GNSS gate's prior.

Late measurements: a GeoFix up to ``timing.max_measurement_delay_s`` behind the fused time is
applied at the fused time, moved by the estimated displacement since its stamp (``v delay``),
its covariance grown by ``P_vv delay^2 + (0.5 timing.jump_accel_sigma_mps2 delay^2)^2 I``. Any
other late message is refused and counted.

Resets: the IMU stream is the timebase. An IMU stamp more than ``timing.backward_jump_reset_s``
behind the newest IMU stamp (a bag loop, a clock reset) clears everything but the origin and
re-aligns; an IMU gap beyond ``timing.max_imu_gap_s`` (or a backend failure) re-initialises the
backend from the last estimate with its covariance grown for the unobserved interval.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from gps_denied_onboard.common.inertial import ImuSample
from gps_denied_onboard.estimator import intake, resets
from gps_denied_onboard.estimator.alignment import Aligned, StaticAlignment, Waiting
from gps_denied_onboard.estimator.backend import (
    POS,
    VEL,
    FusionBackend,
    HeadingMeasurement,
    NavState,
    PositionMeasurement,
    RobustKernel,
)
from gps_denied_onboard.estimator.baro import BaroAltimeter, VerticalAnchor
from gps_denied_onboard.estimator.config import EstimatorConfig
from gps_denied_onboard.estimator.errors import InvalidCallError, OriginAlreadySetError
from gps_denied_onboard.estimator.gate import GnssCheck, GnssSample, GnssTrust, GnssTrustGate, TrustTransition
from gps_denied_onboard.estimator.inertial_reference import InertialReference
from gps_denied_onboard.estimator.inherited_error import UNWEIGHTED_VARIANCE_M2, InheritedGnssError
from gps_denied_onboard.estimator.intake import (
    MAX_ACCEL_MPS2,
    MAX_GYRO_RADPS,
    MAX_PRESSURE_PA,
    MIN_PRESSURE_PA,
    BaroSample,
    IntakeReason,
    IntakeResult,
    PositionFix,
    Rejected,
    ResetReason,
    VioMessage,
)
from gps_denied_onboard.estimator.ordering import MeasurementQueue, Sensor
from gps_denied_onboard.estimator.origin import takeoff_prior
from gps_denied_onboard.estimator.output import OutputPredictor
from gps_denied_onboard.estimator.registry import create_backend
from gps_denied_onboard.estimator.status import (
    EVENT_ACCEL_CLIPPING,
    EVENT_ALIGNMENT_WAITING,
    EVENT_GEOFIX_REJECTED,
    EVENT_GNSS_TRUST,
    EVENT_INITIALIZED,
    EVENT_ORIGIN_SET,
    EVENT_RESET,
    EVENT_SOURCE,
    EVENT_VIO_DISCONTINUITY,
    EVENT_VIO_NOT_FUSED,
    BackendId,
    Estimate,
    EstimatorSnapshot,
    Event,
    SourceLabel,
)
from gps_denied_onboard.estimator.vio_fusion import VioDrop, VioFusion
from gps_denied_onboard.geometry.errors import GeometryError
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane
from gps_denied_onboard.graph.frames import Frame

logger = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
EVENT_QUEUE_LIMIT = 1000  # events kept between drains; the oldest are dropped (and counted) beyond
DROP_EVENT_PERIOD_NS = NS_PER_S  # at most one vio_not_fused event per reason per second (with the count)
OUTPUT_MARGIN_NS = NS_PER_S // 5  # IMU kept ahead of the fused time beyond the longest wait


@dataclass
class _Counters:
    imu_samples: int = 0
    geofix_accepted: int = 0
    geofix_rejected: int = 0
    gnss_accepted: int = 0
    gnss_rejected: int = 0
    gnss_vertical_rejected: int = 0
    baro_updates: int = 0
    resets: int = 0
    accel_clipped: int = 0
    geofix_heading_accepted: int = 0
    geofix_heading_rejected: int = 0


@dataclass
class _GnssStatus:
    reject_reason: str = ""
    mahalanobis: float = math.nan
    horizontal_delta_m: float = math.nan
    drift_mahalanobis: float = math.nan


def _as_float(value: float) -> float:
    return float(value) if math.isfinite(value) else math.nan


def _finite(state: NavState) -> bool:
    return all(
        bool(np.all(np.isfinite(value)))
        for value in (state.position_m, state.velocity_mps, state.rotation, state.covariance)
    )


class StateEstimator:
    """The C5 state estimator core (see the module docstring). Not thread-safe: one caller at a time."""

    # Per-epoch state, set by _clear_epoch (a backward time jump starts a new epoch).
    _initialized: bool
    _alignment_waiting_ns: int | None
    _last_imu_ns: int
    _last_good: NavState | None
    _gnss: _GnssStatus
    _source: SourceLabel
    _last_gnss_ns: int | None
    _last_geofix_ns: int | None
    _last_vio_ns: int | None

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
        timing = config.timing
        self._jump_ns = round(timing.backward_jump_reset_s * NS_PER_S)
        self._max_imu_gap_ns = round(timing.max_imu_gap_s * NS_PER_S)
        vio_wait_ns = round(config.vio.max_delay_s * NS_PER_S)
        self._queue = MeasurementQueue(
            round(timing.reorder_window_s * NS_PER_S), vio_wait_ns, round(timing.max_measurement_delay_s * NS_PER_S)
        )
        self._output = OutputPredictor(vio_wait_ns + round(timing.reorder_window_s * NS_PER_S) + OUTPUT_MARGIN_NS)
        self._vio = VioFusion(config.vio, config.gate.reference_max_age_s)
        self._baro = BaroAltimeter(config.baro)
        self._inertial = InertialReference(
            round(config.gate.inertial_window_s * NS_PER_S), config.eskf, config.gating, self._imu_noise
        )
        self._alignment = StaticAlignment(config.init)
        self._inherited = InheritedGnssError(config.gating.gnss_correlated_fraction)
        self._vio_healthy = True
        self._drop_events: dict[VioDrop, int] = {}  # reason -> stamp of its last event
        self._clip_event_ns: int | None = None
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
        stamp = intake.integer("t_ns (ns)", t_ns)
        if self._origin is not None:
            late = f"late call: {self._counters.imu_samples} IMU samples already taken; " if self._initialized else ""
            raise OriginAlreadySetError(
                f"{late}take-off origin already set to ({self._origin.latitude_deg:.7f}, "
                f"{self._origin.longitude_deg:.7f}, {self._origin.altitude_m:.2f}); the map frame cannot move"
            )
        prior = takeoff_prior(
            latitude_deg,
            longitude_deg,
            altitude_m,
            sigma_horiz_m,
            sigma_vert_m,
            yaw_rad=yaw_rad,
            sigma_yaw_rad=sigma_yaw_rad,
            default_sigma_yaw_rad=self._config.init.default_yaw_sigma_rad,
        )
        origin = prior.origin
        self._origin = origin
        self._prior_sigmas = (prior.sigma_horiz_m, prior.sigma_vert_m, prior.sigma_yaw_rad)
        self._prior_yaw_rad = prior.yaw_rad
        self._emit(
            EVENT_ORIGIN_SET,
            stamp,
            latitude_deg=origin.latitude_deg,
            longitude_deg=origin.longitude_deg,
            altitude_m=origin.altitude_m,
            sigma_horiz_m=prior.sigma_horiz_m,
            sigma_vert_m=prior.sigma_vert_m,
            yaw_rad=prior.yaw_rad if yaw_rad is not None else None,
            sigma_yaw_rad=prior.sigma_yaw_rad,
        )

    def add_imu(self, sample: ImuSample) -> IntakeResult:
        """Queue one IMU sample (specific force m/s^2, rate rad/s, base_link FLU)."""
        if not isinstance(sample, ImuSample):
            raise InvalidCallError(f"add_imu takes an ImuSample, got {type(sample).__name__}")

        def build(stamp: int) -> ImuSample:
            accel = intake.vector("accel_mps2", sample.accel_mps2, 3, MAX_ACCEL_MPS2)
            gyro = intake.vector("gyro_radps", sample.gyro_radps, 3, MAX_GYRO_RADPS)
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
        base_link; the increments' covariance comes from it (estimator.vio_fusion).
        """

        def build(stamp: int) -> VioMessage:
            if not self._vio_healthy:
                raise Rejected(IntakeReason.VIO_LOST, "/vio/health says LOST: its odometry is not used")
            position = intake.vector("position_m", position_m, 3)
            rotation = intake.rotation_from_quat(quat_wxyz)
            velocity = intake.vector("velocity_body_mps", velocity_body_mps, 3)
            twist = intake.covariance("twist_covariance", twist_covariance, 6)
            return VioMessage(stamp, position, rotation, velocity, twist[:3, :3].copy(), twist[3:, 3:].copy())

        return self._intake(Sensor.VIO, t_ns, build)

    def set_vio_health(self, healthy: bool) -> None:
        """What /vio/health says: OK or DEGRADED (healthy) or not (INITIALIZING, LOST).

        While not healthy, VIO odometry is refused (VIO_LOST) and the fusion stops waiting for it.
        """
        if isinstance(healthy, bool) is False:
            raise InvalidCallError(f"healthy must be a bool, got {type(healthy).__name__}")
        if self._vio_healthy and not healthy:
            self._queue.stop_waiting_for_vio()
        self._vio_healthy = healthy

    def add_geofix(
        self,
        t_ns: int,
        latitude_deg: float,
        longitude_deg: float,
        altitude_m: float,
        covariance_enu_m2: npt.ArrayLike,
        *,
        heading_rad: float = math.nan,
        heading_variance_rad2: float = math.nan,
        frame_id: str = Frame.MAP.value,
    ) -> IntakeResult:
        """Queue one map-matching fix (WGS84, ellipsoidal height) with its 3x3 ENU covariance.

        ``heading_rad`` is base_link's yaw in ENU (0 = east, CCW) with its variance; NaN: none.
        ``frame_id`` is the message's header frame: the covariance is ENU at the fix, i.e. map axes.
        """

        def build(stamp: int) -> PositionFix:
            if frame_id != Frame.MAP.value:
                raise Rejected(IntakeReason.WRONG_FRAME, f"GeoFix frame_id {frame_id!r}, expected {Frame.MAP.value!r}")
            heading, variance = intake.heading(heading_rad, heading_variance_rad2)
            fix = self._position(stamp, latitude_deg, longitude_deg, altitude_m, covariance_enu_m2)
            return PositionFix(fix.t_ns, fix.position_m, fix.covariance_m2, heading, variance)

        return self._intake(Sensor.GEOFIX, t_ns, build)

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
        status = intake.integer("fix_status", fix_status)

        def build(stamp: int) -> PositionFix:
            if status < 0:
                raise Rejected(IntakeReason.NO_FIX, f"receiver reports no fix (status {status})")
            return self._position(stamp, latitude_deg, longitude_deg, altitude_m, covariance_enu_m2)

        return self._intake(Sensor.GNSS, t_ns, build)

    def add_baro(self, t_ns: int, pressure_pa: float, variance_pa2: float) -> IntakeResult:
        """Queue one static pressure sample; heights are relative to the pressure at the origin."""

        def build(stamp: int) -> BaroSample:
            if not self._config.baro.enabled:
                raise Rejected(IntakeReason.DISABLED, "barometric aiding is disabled (baro.enabled)")
            pressure = intake.scalar("pressure_pa", pressure_pa)
            variance = intake.scalar("variance_pa2", variance_pa2)
            if not MIN_PRESSURE_PA <= pressure <= MAX_PRESSURE_PA:
                raise Rejected(
                    IntakeReason.INVALID_VALUE,
                    f"pressure {pressure} Pa outside [{MIN_PRESSURE_PA:g}, {MAX_PRESSURE_PA:g}]",
                )
            if variance <= 0.0:
                raise Rejected(IntakeReason.INVALID_COVARIANCE, f"pressure variance must be > 0, got {variance}")
            return BaroSample(stamp, pressure, variance)

        return self._intake(Sensor.BARO, t_ns, build)

    def flush(self) -> None:
        """Process every queued measurement now (end of input; a test's last step)."""
        self._release(None)

    def estimate(self) -> Estimate | None:
        """The fused state carried to the newest IMU sample, with its WGS84 position; None before initialisation."""
        if not self._initialized or self._origin is None:
            return None
        fused = self._backend.state()
        state = self._output.predict(fused, self._imu_noise)
        covariance = state.covariance.copy()
        covariance[POS, POS] += self._inherited.covariance_m2
        state = replace(state, covariance=covariance)
        latitude, longitude, altitude = self._origin.geodetic_from_enu(state.position_m)
        return Estimate(state, float(latitude), float(longitude), float(altitude), fused_ns=fused.t_ns)

    def status(self) -> EstimatorSnapshot:
        """A snapshot of every EstimatorStatus field."""
        horizontal_sigma = vertical_sigma = math.nan
        if self._initialized:
            covariance = self._backend.position_prior()[1] + self._inherited.covariance_m2
            horizontal_sigma = math.sqrt(max(float(np.linalg.eigvalsh(covariance[:2, :2])[-1]), 0.0))
            vertical_sigma = math.sqrt(max(float(covariance[2, 2]), 0.0))
        origin = self._origin
        counters = self._counters
        vio = self._vio.counts
        queue = self._queue
        delay_ms = math.nan
        if queue.newest_imu_ns is not None and queue.fused_ns is not None:
            delay_ms = max(0.0, (queue.newest_imu_ns - queue.fused_ns) / 1e6)
        return EstimatorSnapshot(
            stamp_ns=queue.fused_ns or 0,
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
            vio_updates=vio.fused,
            geofix_accepted=counters.geofix_accepted,
            geofix_rejected=counters.geofix_rejected,
            gnss_accepted=counters.gnss_accepted,
            gnss_rejected=counters.gnss_rejected,
            update_latency_ms=self._update_latency_ms,
            initialized=self._initialized,
            resets=counters.resets,
            gnss_drift_mahalanobis=_as_float(self._gnss.drift_mahalanobis),
            vio_rejected=vio.not_fused,
            baro_updates=counters.baro_updates,
            events_dropped=self._events_dropped,
            vio_received=vio.received,
            vio_not_fused=vio.not_fused,
            vio_anchored=vio.anchored,
            vio_not_fused_by_reason=vio.by_reason(),
            fusion_delay_ms=delay_ms,
            baro_gnss_offset_m=_as_float(self._baro.offset_m),
            gnss_vertical_rejected=counters.gnss_vertical_rejected,
            accel_clipped=counters.accel_clipped,
            geofix_heading_accepted=counters.geofix_heading_accepted,
            geofix_heading_rejected=counters.geofix_heading_rejected,
        )

    def drain_events(self) -> list[Event]:
        """Every event since the last drain, oldest first."""
        events = list(self._events)
        self._events.clear()
        return events

    # ----------------------------------------------------------------------- intake
    def _position(
        self, stamp: int, latitude_deg: object, longitude_deg: object, altitude_m: object, covariance: object
    ) -> PositionFix:
        latitude = intake.scalar("latitude_deg", latitude_deg)
        longitude = intake.scalar("longitude_deg", longitude_deg)
        altitude = intake.scalar("altitude_m", altitude_m)
        matrix = intake.covariance("covariance_enu_m2", covariance, 3)
        if self._origin is None:
            raise Rejected(IntakeReason.ORIGIN_NOT_SET, "set_takeoff_origin() has not been called")
        try:
            enu = self._origin.enu_from_geodetic(latitude, longitude, altitude)
        except GeometryError as exc:
            raise Rejected(IntakeReason.INVALID_VALUE, str(exc)) from None
        return PositionFix(stamp, np.asarray(enu, dtype=np.float64), matrix)

    def _intake(self, sensor: Sensor, t_ns: object, build: Callable[[int], Any]) -> IntakeResult:
        """Validate, check the stamp, queue and release; every content problem becomes a result."""
        stamp = intake.integer("t_ns (ns)", t_ns)
        reset: ResetReason | None = None
        queue = self._queue
        try:
            if stamp < 0:
                raise Rejected(IntakeReason.INVALID_VALUE, f"negative stamp {stamp} ns")
            if self._origin is None:
                raise Rejected(IntakeReason.ORIGIN_NOT_SET, "set_takeoff_origin() has not been called")
            payload = build(stamp)
            # Only the timebase (IMU) can reset: another stream far behind is a late message.
            newest_imu = queue.newest_imu_ns
            if sensor is Sensor.IMU and newest_imu is not None and stamp < newest_imu - self._jump_ns:
                reset = ResetReason.BACKWARD_TIME_JUMP
                behind_s = (newest_imu - stamp) / NS_PER_S
                self._hard_reset(stamp, reset, f"IMU stamp {behind_s:.3f} s behind the newest IMU stamp")
            if not self._initialized and sensor not in (Sensor.IMU, Sensor.BARO):
                raise Rejected(IntakeReason.NOT_INITIALIZED, "static alignment has not finished")
            if sensor is Sensor.VIO:
                queue.note_vio(stamp)
            queue.check(sensor, stamp, self._config.timing.reorder_window_s * 1e3)
            if sensor is not Sensor.IMU and queue.newest_imu_ns is not None:
                ahead_s = (stamp - queue.newest_imu_ns) / NS_PER_S
                if ahead_s > self._config.timing.backward_jump_reset_s:
                    # Another clock (GPS time vs system time) or a corrupt stamp: it would make every
                    # later IMU sample look like a bag loop.
                    raise Rejected(IntakeReason.FUTURE_STAMP, f"stamp {ahead_s:.3f} s ahead of the newest IMU sample")
        except Rejected as rejected:
            self._count_rejection(sensor, stamp, rejected.reason)
            logger.debug("%s at %d rejected: %s (%s)", sensor.value, stamp, rejected.reason.value, rejected.detail)
            return IntakeResult(False, rejected.reason, rejected.detail, reset)
        queue.push(sensor, stamp, payload)
        if sensor is Sensor.IMU:
            self._output.add(payload)
        self._release(queue.horizon_ns())
        return IntakeResult(True, IntakeReason.ACCEPTED, "", reset)

    def _count_rejection(self, sensor: Sensor, stamp: int, reason: IntakeReason) -> None:
        if sensor is Sensor.GNSS:
            self._counters.gnss_rejected += 1
        elif sensor is Sensor.GEOFIX:
            self._counters.geofix_rejected += 1
        elif sensor is Sensor.VIO:
            drop = {
                IntakeReason.OUT_OF_ORDER: VioDrop.LATE,
                IntakeReason.DUPLICATE_STAMP: VioDrop.DUPLICATE,
                IntakeReason.NOT_INITIALIZED: VioDrop.NOT_INITIALIZED,
                IntakeReason.ORIGIN_NOT_SET: VioDrop.NOT_INITIALIZED,
                IntakeReason.VIO_LOST: VioDrop.LOST,
            }.get(reason, VioDrop.INVALID)
            self._vio_dropped(drop, stamp, reason.value)

    def _vio_dropped(self, drop: VioDrop, stamp: int, detail: str) -> None:
        """Count one VIO message not fused (unless the chain already did) and say so, rate-limited."""
        if drop not in (VioDrop.GAP, VioDrop.JUMP, VioDrop.GATED, VioDrop.MERGED, VioDrop.NO_ANCHOR):
            self._vio.count_drop(drop)
        last = self._drop_events.get(drop)
        if last is None or stamp - last >= DROP_EVENT_PERIOD_NS or stamp < last:
            self._drop_events[drop] = stamp
            count = self._vio.counts.dropped[drop]
            self._emit(EVENT_VIO_NOT_FUSED, stamp, reason=drop.value, detail=detail, count=count)

    def _release(self, limit_ns: int | None) -> None:
        """Process queued measurements with stamps up to ``limit_ns`` (all when None), in stamp order."""
        queue = self._queue
        for stamp, sensor, payload in queue.release(limit_ns):
            try:
                self._process(sensor, payload)
            except Exception as exc:  # noqa: BLE001 - a backend failure must become a reset, never a crashed callback
                logger.warning("estimator backend failed on %s at %d: %s", sensor.value, stamp, exc)
                detail = f"{type(exc).__name__}: {exc}"
                try:
                    self._soft_reset(stamp, ResetReason.BACKEND_FAILURE, detail)
                except Exception as again:  # noqa: BLE001 - the backend refuses even its last good state
                    self._hard_reset(stamp, ResetReason.BACKEND_FAILURE, f"{detail}; restart failed: {again}")
        if queue.fused_ns is not None:
            self._output.trim(queue.fused_ns)

    # ----------------------------------------------------------------------- processing
    def _process(self, sensor: Sensor, payload: Any) -> None:
        if sensor is Sensor.IMU:
            self._process_imu(payload)
        elif sensor is Sensor.BARO:
            self._process_baro(payload)
        elif not self._initialized or payload.t_ns - self._last_imu_ns > self._max_imu_gap_ns:
            # Queued before a reset cleared the initialisation, or no IMU carries the state to its stamp.
            if sensor is Sensor.VIO:
                self._vio_dropped(VioDrop.IMU_GAP, payload.t_ns, "no IMU sample carries the state to its stamp")
            else:
                self._count_rejection(sensor, payload.t_ns, IntakeReason.NOT_INITIALIZED)
        elif sensor is Sensor.VIO:
            self._process_vio(payload)
        elif sensor is Sensor.GEOFIX:
            self._process_geofix(payload)
        else:
            self._process_gnss(payload)
        self._update_source(self._queue.fused_ns or 0)

    def _process_imu(self, sample: ImuSample) -> None:
        self._counters.imu_samples += 1
        if not self._initialized:
            self._align(sample)
            return
        gap_ns = sample.t_ns - self._last_imu_ns
        if gap_ns > self._max_imu_gap_ns:
            self._soft_reset(sample.t_ns, ResetReason.FORWARD_TIME_JUMP, f"IMU gap of {gap_ns / NS_PER_S:.3f} s")
        else:
            self._backend.propagate(sample)
            if float(np.max(np.abs(sample.accel_mps2))) >= self._config.gate.accel_clip_mps2:
                self._clipped(sample.t_ns)
            else:
                self._inertial.step(sample, self._backend.state())
        self._last_imu_ns = sample.t_ns
        transition = self._gate.check_timeout(sample.t_ns)
        if transition is not None:
            self._trust_event(transition)

    def _clipped(self, t_ns: int) -> None:
        """A clipped accelerometer sample: no free-inertial copy may span it (its displacement would be wrong)."""
        self._counters.accel_clipped += 1
        self._inertial.clear()
        if self._clip_event_ns is None or t_ns - self._clip_event_ns >= NS_PER_S or t_ns < self._clip_event_ns:
            self._clip_event_ns = t_ns
            self._emit(EVENT_ACCEL_CLIPPING, t_ns, count=self._counters.accel_clipped)

    def _align(self, sample: ImuSample) -> None:
        result = self._alignment.add(sample, self._prior_yaw_rad, self._prior_sigmas)
        if isinstance(result, Waiting):
            if self._alignment_waiting_ns is None or sample.t_ns - self._alignment_waiting_ns >= NS_PER_S:
                self._alignment_waiting_ns = sample.t_ns
                self._emit(
                    EVENT_ALIGNMENT_WAITING,
                    sample.t_ns,
                    accel_std_mps2=result.accel_std_mps2,
                    gyro_std_radps=result.gyro_std_radps,
                    gravity_error_mps2=result.gravity_error_mps2,
                )
            return
        if not isinstance(result, Aligned):
            return
        state = result.state
        self._backend.initialize(state, self._imu_noise)
        self._initialized = True
        self._last_imu_ns = sample.t_ns
        self._after_update()
        self._emit(
            EVENT_INITIALIZED,
            sample.t_ns,
            roll_rad=result.roll_rad,
            pitch_rad=result.pitch_rad,
            yaw_rad=self._prior_yaw_rad,
            gyro_bias_radps=[float(b) for b in state.gyro_bias_radps],
            samples=result.samples,
        )

    def _process_vio(self, vio: VioMessage) -> None:
        start = time.perf_counter()
        outcome = self._vio.process(vio, self._backend, self._last_imu_ns)
        self._update_latency_ms = (time.perf_counter() - start) * 1e3
        self._after_update()
        if outcome.fused or outcome.drop is None:
            self._last_vio_ns = vio.t_ns
        elif outcome.drop in (VioDrop.GATED, VioDrop.MERGED, VioDrop.NO_ANCHOR):
            self._last_vio_ns = vio.t_ns  # VIO runs; this one message did not fit
            self._vio_dropped(outcome.drop, vio.t_ns, outcome.detail)
        if outcome.restarted and outcome.drop is not None:
            logger.info("VIO discontinuity at %d: %s", vio.t_ns, outcome.detail)
            self._emit(EVENT_VIO_DISCONTINUITY, vio.t_ns, reason=outcome.detail)
            self._vio_dropped(outcome.drop, vio.t_ns, outcome.detail)
            self._last_vio_ns = vio.t_ns

    def _process_geofix(self, fix: PositionFix) -> None:
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
            self._inherited.independent_fix_fused(self._backend.position_prior()[1], covariance)
        else:
            self._counters.geofix_rejected += 1
            logger.debug("GeoFix at %d rejected by the backend: %s", fix.t_ns, outcome.reason)
            self._emit(EVENT_GEOFIX_REJECTED, fix.t_ns, part="position", reason=outcome.reason)
        self._after_update()
        if outcome.accepted and math.isfinite(fix.heading_rad):
            # A fix whose position is an outlier says nothing trustworthy about heading either.
            heading = HeadingMeasurement(fix.t_ns, fix.heading_rad, fix.heading_variance_rad2)
            turned = self._timed(lambda: self._backend.update_heading(heading))
            if turned.accepted:
                self._counters.geofix_heading_accepted += 1
            else:
                self._counters.geofix_heading_rejected += 1
                self._emit(EVENT_GEOFIX_REJECTED, fix.t_ns, part="heading", reason=turned.reason)
            self._after_update()

    def _process_gnss(self, fix: PositionFix) -> None:
        prior_position, prior_covariance = self._backend.position_prior()
        decision = self._gate.assess(
            GnssSample(fix.t_ns, fix.position_m, fix.covariance_m2),
            prior_position,
            prior_covariance + self._inherited.covariance_m2,
            self._vio.reference_at(fix.t_ns),
            self._inertial.points(),
        )
        status = self._gnss
        status.mahalanobis = decision.mahalanobis
        status.horizontal_delta_m = decision.horizontal_delta_m
        status.drift_mahalanobis = decision.drift_mahalanobis
        for transition in decision.transitions:
            self._trust_event(transition)
            if (
                transition.previous is GnssTrust.TRUSTED
                and transition.current is GnssTrust.REJECTED
                and decision.failed is GnssCheck.DRIFT
            ):
                self._inherited.gnss_caught_drifting(decision.drift_discrepancy_m)
        if not decision.consistent:
            self._counters.gnss_rejected += 1
            status.reject_reason = decision.reason
            return
        if not decision.fuse:
            return
        gating = self._config.gating
        covariance = fix.covariance_m2
        if not decision.fuse_vertical:
            # Its height failed the vertical check alone: east/north are fused, the height carries no weight.
            self._counters.gnss_vertical_rejected += 1
            covariance = covariance.copy()
            covariance[2, :] = covariance[:, 2] = 0.0
            covariance[2, 2] = UNWEIGHTED_VARIANCE_M2
        measurement = PositionMeasurement(
            t_ns=fix.t_ns,
            position_m=fix.position_m,
            covariance_m2=covariance,
            source="gnss",
            kernel=RobustKernel(gating.gnss_kernel),
            kernel_threshold=gating.gnss_kernel_threshold,
        )
        outcome = self._timed(lambda: self._backend.update_position(measurement))
        if outcome.accepted:
            self._counters.gnss_accepted += 1
            self._last_gnss_ns = fix.t_ns
            self._inherited.gnss_fused(covariance)
            if decision.fuse_vertical:
                self._baro.observe_gnss(fix.t_ns, float(fix.position_m[2]), float(fix.covariance_m2[2, 2]))
        else:
            self._counters.gnss_rejected += 1
            status.reject_reason = f"backend: {outcome.reason}"
        self._after_update()

    def _process_baro(self, baro: BaroSample) -> None:
        up_m = float(self._backend.position_prior()[0][2]) if self._initialized else None
        measurement = self._baro.add(baro, up_m)
        if measurement is None:
            return
        outcome = self._timed(lambda: self._backend.update_altitude(measurement))
        if outcome.accepted:
            self._counters.baro_updates += 1
            self._baro.fused()
        else:
            anchor = self._baro.refused(measurement)
            if anchor is not None:
                self._reanchor_vertical(anchor, outcome.reason)
        self._after_update()

    def _reanchor_vertical(self, anchor: VerticalAnchor, reason: str) -> None:
        """Re-initialise the backend with the height and vertical velocity from the baro (estimator.baro)."""
        state = self._backend.state()
        reanchored = resets.vertical_reanchored(state, anchor)
        moved_m = anchor.up_m - float(state.position_m[2])
        rate_error = anchor.up_rate_mps - float(state.velocity_mps[2])
        logger.warning(
            "estimator height re-anchored to the baro: %.1f m, vertical velocity %+.2f m/s (%s)",
            moved_m, rate_error, reason,
        )  # fmt: skip
        self._backend.initialize(reanchored, self._imu_noise)
        self._last_good = reanchored
        self._vio.restart()  # the backend forgot its VIO anchor
        self._inertial.clear()  # free-inertial copies carry the old vertical
        self._counters.resets += 1
        self._emit(
            EVENT_RESET,
            anchor.t_ns,
            reason=ResetReason.VERTICAL_REANCHOR.value,
            detail=f"every baro height refused for {anchor.refused_s:.1f} s ({reason})",
            height_change_m=moved_m,
            vertical_velocity_change_mps=rate_error,
        )

    # ----------------------------------------------------------------------- bookkeeping
    def _timed(self, update: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        outcome = update()
        self._update_latency_ms = (time.perf_counter() - start) * 1e3
        return outcome

    def _after_update(self) -> None:
        """Keep the last good state for recovery (a non-finite one is a backend failure); biases to the output."""
        state = self._backend.state()
        if not _finite(state):
            raise FloatingPointError(f"backend {self._backend.name} produced a non-finite state")
        self._last_good = state
        self._output.set_biases(state.accel_bias_mps2, state.gyro_bias_radps)

    def _update_source(self, t_ns: int) -> None:
        timeouts = self._config.source

        def recent(last_ns: int | None, timeout_s: float) -> bool:
            return last_ns is not None and t_ns - last_ns <= timeout_s * NS_PER_S

        if self._gate.trust is GnssTrust.TRUSTED and recent(self._last_gnss_ns, timeouts.gnss_timeout_s):
            source = SourceLabel.GNSS
        elif recent(self._last_geofix_ns, timeouts.geofix_timeout_s):
            source = SourceLabel.VISUAL
        elif self._vio_healthy and recent(self._last_vio_ns, timeouts.vio_timeout_s):
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
        self._queue.clear()
        self._alignment.clear()
        self._alignment_waiting_ns = None
        self._last_imu_ns = 0
        self._last_good = None
        self._gate.reset()
        self._gnss = _GnssStatus()
        self._source = SourceLabel.DEAD_RECKONING
        self._last_gnss_ns = None
        self._last_geofix_ns = None
        self._last_vio_ns = None
        self._inherited.clear()
        self._vio.restart()
        self._output.clear()
        self._baro.reset()
        self._inertial.clear()

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
        state = resets.carried_over_gap(last, stamp_ns, self._config.timing)
        self._backend.initialize(state, self._imu_noise)
        self._last_good = state
        self._last_imu_ns = stamp_ns
        self._vio.restart()  # no VIO increment across the unobserved interval
        self._inertial.clear()  # no free-inertial copy across it either
        self._counters.resets += 1
        self._emit(EVENT_RESET, stamp_ns, reason=reason.value, detail=detail, gap_s=gap_s)
