"""state_estimator_node: ROS 2 adapter of the state estimator (C5).

Four things, as every node here: declare the parameters (the core's table plus the node's own),
build the frozen configs, feed the core, convert messages. Callbacks only convert a message to
plain values and queue it; one worker thread owns the StateEstimator (an iSAM2 keyframe update
takes milliseconds, and the executor must keep taking 200 Hz IMU meanwhile). A timer publishes
the latest fused state at ``output_rate_hz`` whatever the input jitter: /state/odometry (map,
full covariance), /state/navsat (what an autopilot bridge forwards), /state/status, /state/path,
/events and /diagnostics, and map->odom on TF where tf2_ros exists.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Odometry, Path
from onboard.msg import EstimatorStatus, VioHealth
from onboard.msg import Event as EventMsg
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import NavSatFix, NavSatStatus

from gps_denied_onboard.common.inertial import ImuSample
from gps_denied_onboard.estimator.backend import ATT, POS, VEL
from gps_denied_onboard.estimator.config import PARAMETERS, EstimatorConfig
from gps_denied_onboard.estimator.core import StateEstimator
from gps_denied_onboard.estimator.errors import EstimatorConfigError, EstimatorError
from gps_denied_onboard.estimator.origin import GnssOriginSurvey, OriginSurveyError
from gps_denied_onboard.estimator.status import Estimate, EstimatorSnapshot, Event, SourceLabel
from gps_denied_onboard.geometry.errors import GeometryError
from gps_denied_onboard.geometry.transforms import Pose3
from gps_denied_onboard.graph import Frame, Topic, node_spec
from gps_denied_onboard.ros.diagnostics import diagnostic_array
from gps_denied_onboard.ros.entrypoint import EXIT_BAD_CONFIG, EXIT_UNAVAILABLE, NodeStartupError, run_node
from gps_denied_onboard.ros.graph_interface import GraphInterface
from gps_denied_onboard.ros.params import declare, declare_table, reject_undeclared
from gps_denied_onboard.ros.stamps import NS_PER_S, stamp_ns, time_msg
from gps_denied_onboard.ros.tf import TfBroadcaster

NODE_NAME = "state_estimator_node"
ORIGIN_MODES = ("parameters", "first_gnss")
TF_PAIRING_TOLERANCE_NS = 60_000_000  # a VIO pose pairs with a fused state this close in time (one VIO period)
HISTORY_LENGTH = 400  # fused poses kept for pairing with VIO stamps (8 s at 50 Hz)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeSettings:
    """The node's own parameters (the core's are in EstimatorConfig)."""

    output_rate_hz: float
    status_rate_hz: float
    origin_mode: str
    origin_latitude_deg: float
    origin_longitude_deg: float
    origin_altitude_m: float
    origin_sigma_horiz_m: float
    origin_sigma_vert_m: float
    origin_yaw_known: bool
    origin_yaw_deg: float
    origin_sigma_yaw_deg: float
    origin_gnss_samples: int
    origin_gnss_max_spread_m: float
    gnss_default_sigma_h_m: float
    gnss_default_sigma_v_m: float
    baro_default_variance_pa2: float
    path_spacing_s: float
    path_max_poses: int
    queue_limit: int
    worker_thread: bool


@dataclass(frozen=True)
class _Output:
    """What the worker hands the publishing timer after each batch."""

    estimate: Estimate | None
    status: EstimatorSnapshot
    gyro_radps: np.ndarray


class _Worker:
    """Owns the StateEstimator on its own thread; fed by a bounded queue of plain-value calls."""

    def __init__(
        self, core: StateEstimator, queue_limit: int, on_error: Callable[[BaseException], None], *, threaded: bool
    ) -> None:
        self.core = core
        self._threaded = threaded
        self.on_inline_output: Callable[[], None] | None = None  # stepped mode: called after each call
        self._queue: deque[Callable[[], None]] = deque()
        self._limit = queue_limit
        self._cv = threading.Condition()
        self._stop = False
        self.dropped = 0
        self.errors = 0
        self._on_error = on_error
        self._events: deque[Event] = deque(maxlen=1000)
        self._output: _Output | None = None
        self.last_gyro = np.zeros(3)
        self._thread = threading.Thread(target=self._run, name="state_estimator_worker", daemon=True)
        if threaded:
            self._thread.start()

    def submit(self, call: Callable[[], None]) -> None:
        """Queue a call; above the limit the oldest queued call is dropped (and counted).
        Without the thread (stepped replay) the call runs here and now."""
        if not self._threaded:
            self._execute(call)
            self._publish_output()
            if self.on_inline_output is not None:
                self.on_inline_output()
            return
        with self._cv:
            if len(self._queue) >= self._limit:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(call)
            self._cv.notify()

    @property
    def depth(self) -> int:
        """Calls waiting."""
        return len(self._queue)

    def take(self) -> tuple[_Output | None, list[Event]]:
        """The latest output and the events since the last take."""
        with self._cv:
            events = list(self._events)
            self._events.clear()
            return self._output, events

    def latest(self) -> _Output | None:
        """The latest output, leaving the events for ``take``."""
        with self._cv:
            return self._output

    def stop(self) -> None:
        """Finish the queued calls, flush the core's reorder window, stop the thread."""
        if not self._threaded:
            self.core.flush()
            self._publish_output()
            return
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stop:
                    self._cv.wait()
                batch = list(self._queue)
                self._queue.clear()
                stopping = self._stop
            for call in batch:
                self._execute(call)
            if stopping:
                self.core.flush()
            self._publish_output()
            if stopping:
                return

    def _execute(self, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - a core bug must not kill the thread that keeps the vehicle located
            self.errors += 1
            self._on_error(exc)

    def _publish_output(self) -> None:
        output = _Output(self.core.estimate(), self.core.status(), self.last_gyro.copy())
        events = self.core.drain_events()
        with self._cv:
            self._output = output
            self._events.extend(events)


class StateEstimatorNode(Node):
    """Fuses IMU, VIO, GeoFix, GNSS (gated) and baro into the vehicle's state in the map frame."""

    def __init__(
        self,
        *,
        context: Context | None = None,
        parameter_overrides: list[Parameter] | None = None,
        cli_args: list[str] | None = None,
    ) -> None:
        super().__init__(NODE_NAME, context=context, parameter_overrides=parameter_overrides, cli_args=cli_args)
        self.settings, config = self._read_parameters()
        reject_undeclared(self)
        try:
            core = StateEstimator(config)
        except EstimatorError as exc:  # e.g. isam2 selected where GTSAM cannot be imported
            raise NodeStartupError(f"state estimator cannot start: {exc}", EXIT_UNAVAILABLE) from exc
        self._survey: GnssOriginSurvey | None = None
        if self.settings.origin_mode == "parameters":
            self._set_origin_from_parameters(core)
        else:
            self._survey = GnssOriginSurvey(self.settings.origin_gnss_samples, self.settings.origin_gnss_max_spread_m)
        self._error_logged = False
        self._worker = _Worker(
            core, self.settings.queue_limit, self._on_worker_error, threaded=self.settings.worker_thread
        )
        self._last_vio: tuple[int, Pose3] | None = None
        self._history: deque[tuple[int, Pose3]] = deque(maxlen=HISTORY_LENGTH)
        self._path = Path()
        self._path.header.frame_id = Frame.MAP.value
        self._last_path_ns: int | None = None
        self._last_published_ns: int | None = None
        self._rejected_logged: set[str] = set()
        # Everything the node says at start-up is said before its interface appears on the graph:
        # a launcher or test that acts once the topics exist must not race the rest of __init__.
        self.tf = TfBroadcaster.attach(self)
        self.get_logger().info(
            f"state estimator: backend {config.backend}, origin from {self.settings.origin_mode}, "
            f"output {self.settings.output_rate_hz:g} Hz"
        )
        spec = node_spec(NODE_NAME)
        self.interface = GraphInterface(
            self,
            spec,
            handlers={
                Topic.IMU: self._on_imu,
                Topic.VIO_ODOMETRY: self._on_vio,
                Topic.VIO_HEALTH: self._on_vio_health,
                Topic.GEOFIX: self._on_geofix,
                Topic.GNSS_FIX: self._on_gnss,
                Topic.BARO: self._on_baro,
            },
        )
        self._pub = self.interface.publishers
        self._period_ns = round(NS_PER_S / self.settings.output_rate_hz)
        self._next_output_ns: int | None = None
        if self.settings.worker_thread:
            self.create_timer(1.0 / self.settings.output_rate_hz, self._publish_state)
        else:  # stepped replay: outputs on a grid of the fused (sim) time, so two runs publish the same
            self._worker.on_inline_output = self._publish_state_on_grid
        self.create_timer(1.0 / self.settings.status_rate_hz, self._publish_diagnostics)

    # ------------------------------------------------------------------ parameters
    def _read_parameters(self) -> tuple[NodeSettings, EstimatorConfig]:
        values = declare_table(self, PARAMETERS)
        try:
            config = EstimatorConfig.from_parameters(values)
        except EstimatorConfigError as exc:
            raise NodeStartupError(f"{NODE_NAME}: {exc}", EXIT_BAD_CONFIG) from exc
        d = declare
        settings = NodeSettings(
            output_rate_hz=d(self, "output_rate_hz", 50.0, "rate of /state/*, Hz", minimum=1.0, maximum=400.0),
            status_rate_hz=d(self, "status_rate_hz", 1.0, "rate of /diagnostics, Hz", minimum=0.1, maximum=10.0),
            origin_mode=d(self, "origin.mode", "first_gnss", f"where the take-off origin comes from: {ORIGIN_MODES}"),
            origin_latitude_deg=d(self, "origin.latitude_deg", 0.0, "origin.mode=parameters: WGS84 latitude, deg"),
            origin_longitude_deg=d(self, "origin.longitude_deg", 0.0, "origin.mode=parameters: WGS84 longitude, deg"),
            origin_altitude_m=d(self, "origin.altitude_m", 0.0, "origin.mode=parameters: ellipsoidal height, m"),
            origin_sigma_horiz_m=d(
                self, "origin.sigma_horiz_m", 2.0, "origin.mode=parameters: 1-sigma, m", minimum=0.01, maximum=1000.0
            ),
            origin_sigma_vert_m=d(
                self, "origin.sigma_vert_m", 3.0, "origin.mode=parameters: 1-sigma, m", minimum=0.01, maximum=1000.0
            ),
            origin_yaw_known=d(self, "origin.yaw_known", False, "a heading prior is given (compass at arming)"),
            origin_yaw_deg=d(
                self,
                "origin.yaw_deg",
                0.0,
                "heading of base_link, ENU (0 = east, CCW), deg",
                minimum=-360.0,
                maximum=360.0,
            ),
            origin_sigma_yaw_deg=d(
                self, "origin.sigma_yaw_deg", 10.0, "1-sigma of origin.yaw_deg, deg", minimum=0.1, maximum=180.0
            ),
            origin_gnss_samples=d(
                self,
                "origin.gnss_samples",
                10,
                "origin.mode=first_gnss: fixes averaged at rest",
                minimum=1,
                maximum=600,
            ),
            origin_gnss_max_spread_m=d(
                self,
                "origin.gnss_max_spread_m",
                10.0,
                "first_gnss: largest scatter at rest, m",
                minimum=0.1,
                maximum=1e3,
            ),
            gnss_default_sigma_h_m=d(
                self,
                "gnss.default_sigma_h_m",
                3.0,
                "used when a fix's covariance is UNKNOWN, m",
                minimum=0.1,
                maximum=1e3,
            ),
            gnss_default_sigma_v_m=d(
                self,
                "gnss.default_sigma_v_m",
                5.0,
                "used when a fix's covariance is UNKNOWN, m",
                minimum=0.1,
                maximum=1e3,
            ),
            baro_default_variance_pa2=d(
                self,
                "baro.default_variance_pa2",
                4.0,
                "used when FluidPressure.variance is 0, Pa^2",
                minimum=1e-3,
                maximum=1e6,
            ),
            path_spacing_s=d(
                self, "path.spacing_s", 1.0, "one /state/path pose per this, s", minimum=0.05, maximum=60.0
            ),
            path_max_poses=d(self, "path.max_poses", 3600, "poses kept in /state/path", minimum=10, maximum=100000),
            queue_limit=d(
                self,
                "queue_limit",
                4096,
                "calls queued for the worker; the oldest dropped beyond",
                minimum=64,
                maximum=1 << 20,
            ),
            worker_thread=d(
                self,
                "worker_thread",
                True,
                "run the core on its own thread (false: inline in the callbacks, for stepped deterministic replay)",
            ),
        )
        if settings.origin_mode not in ORIGIN_MODES:
            raise NodeStartupError(
                f"{NODE_NAME}: origin.mode must be one of {list(ORIGIN_MODES)}, got {settings.origin_mode!r}",
                EXIT_BAD_CONFIG,
            )
        return settings, config

    def _yaw_prior(self) -> tuple[float | None, float | None]:
        """(yaw_rad, sigma_yaw_rad) of the compass heading at arming, or (None, None) when not given."""
        s = self.settings
        if not s.origin_yaw_known:
            return None, None
        return math.radians(s.origin_yaw_deg), math.radians(s.origin_sigma_yaw_deg)

    def _set_origin_from_parameters(self, core: StateEstimator) -> None:
        s = self.settings
        yaw_rad, sigma_yaw_rad = self._yaw_prior()
        try:
            core.set_takeoff_origin(
                s.origin_latitude_deg,
                s.origin_longitude_deg,
                s.origin_altitude_m,
                s.origin_sigma_horiz_m,
                s.origin_sigma_vert_m,
                yaw_rad=yaw_rad,
                sigma_yaw_rad=sigma_yaw_rad,
            )
        except EstimatorError as exc:
            raise NodeStartupError(f"{NODE_NAME}: origin parameters: {exc}", EXIT_BAD_CONFIG) from exc

    # ------------------------------------------------------------------ intake (executor thread: convert, queue)
    def _on_imu(self, msg: Any) -> None:
        t_ns = stamp_ns(msg.header)
        a, w = msg.linear_acceleration, msg.angular_velocity
        sample = ImuSample(t_ns, np.array([a.x, a.y, a.z]), np.array([w.x, w.y, w.z]))
        worker = self._worker

        def call() -> None:
            worker.last_gyro = sample.gyro_radps
            self._note(worker.core.add_imu(sample), "imu")

        worker.submit(call)

    def _on_vio_health(self, msg: Any) -> None:
        healthy = int(msg.state) != VioHealth.STATE_LOST  # odometry while INITIALIZING/OK/DEGRADED is usable
        worker = self._worker
        worker.submit(lambda: worker.core.set_vio_health(healthy))

    def _on_vio(self, msg: Any) -> None:
        t_ns = stamp_ns(msg.header)
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        v = msg.twist.twist.linear
        position = np.array([p.x, p.y, p.z])
        quat_wxyz = np.array([q.w, q.x, q.y, q.z])
        twist_cov = np.array(msg.twist.covariance, dtype=np.float64)
        with contextlib.suppress(GeometryError):  # a malformed pose: the core rejects it; TF keeps the last good one
            self._last_vio = (t_ns, Pose3((p.x, p.y, p.z), (q.w, q.x, q.y, q.z)))
        worker = self._worker
        velocity = np.array([v.x, v.y, v.z])
        worker.submit(lambda: self._note(worker.core.add_vio(t_ns, position, quat_wxyz, velocity, twist_cov), "vio"))

    def _on_geofix(self, msg: Any) -> None:
        t_ns = stamp_ns(msg.header)
        cov = np.array(msg.position_covariance_enu_m2, dtype=np.float64)
        lat, lon, alt = float(msg.latitude_deg), float(msg.longitude_deg), float(msg.altitude_m)
        heading, heading_var, frame = float(msg.heading_rad), float(msg.heading_variance_rad2), str(msg.header.frame_id)
        worker = self._worker

        def call() -> None:
            result = worker.core.add_geofix(
                t_ns, lat, lon, alt, cov, heading_rad=heading, heading_variance_rad2=heading_var, frame_id=frame
            )
            self._note(result, "geofix")

        worker.submit(call)

    def _on_gnss(self, msg: Any) -> None:
        t_ns = stamp_ns(msg.header)
        lat, lon, alt = float(msg.latitude), float(msg.longitude), float(msg.altitude)
        status = int(msg.status.status)
        if int(msg.position_covariance_type) == NavSatFix.COVARIANCE_TYPE_UNKNOWN:
            s = self.settings
            cov = np.diag([s.gnss_default_sigma_h_m**2, s.gnss_default_sigma_h_m**2, s.gnss_default_sigma_v_m**2])
        else:
            cov = np.array(msg.position_covariance, dtype=np.float64)
        worker = self._worker

        def call() -> None:
            if self._survey is not None and status >= 0:
                self._survey_step(t_ns, lat, lon, alt, cov)
                return
            self._note(worker.core.add_gnss(t_ns, lat, lon, alt, cov, fix_status=status), "gnss")

        worker.submit(call)

    def _on_baro(self, msg: Any) -> None:
        t_ns = stamp_ns(msg.header)
        variance = float(msg.variance) or self.settings.baro_default_variance_pa2
        pressure = float(msg.fluid_pressure)
        worker = self._worker
        worker.submit(lambda: self._note(worker.core.add_baro(t_ns, pressure, variance), "baro"))

    # ------------------------------------------------------------------ worker thread helpers
    def _survey_step(self, t_ns: int, lat: float, lon: float, alt: float, cov: np.ndarray) -> None:
        survey = self._survey
        assert survey is not None
        survey.add(lat, lon, alt, cov)
        try:
            origin = survey.result()
        except OriginSurveyError as exc:
            self.get_logger().warning(str(exc))
            return
        if origin is None:
            return
        yaw_rad, sigma_yaw_rad = self._yaw_prior()
        self._worker.core.set_takeoff_origin(
            origin.latitude_deg,
            origin.longitude_deg,
            origin.altitude_m,
            origin.sigma_horiz_m,
            origin.sigma_vert_m,
            t_ns=t_ns,
            yaw_rad=yaw_rad,
            sigma_yaw_rad=sigma_yaw_rad,
        )
        self._survey = None
        self.get_logger().info(
            f"take-off origin from {origin.samples} GNSS fixes at rest: {origin.latitude_deg:.7f}, "
            f"{origin.longitude_deg:.7f}, {origin.altitude_m:.2f} m (sigma {origin.sigma_horiz_m:.2f} m horizontal)"
        )

    def _note(self, result: Any, sensor: str) -> None:
        """Say once per (sensor, reason) that measurements are being rejected; counters carry the rest."""
        if result.accepted:
            return
        key = f"{sensor}:{result.reason.value}"
        if key not in self._rejected_logged:
            self._rejected_logged.add(key)
            self.get_logger().warning(f"{sensor} measurement rejected ({result.reason.value}): {result.detail}")

    def _on_worker_error(self, exc: BaseException) -> None:
        if not self._error_logged:
            self._error_logged = True
            logger.error("state estimator core raised; the call was skipped", exc_info=exc)
            self.get_logger().error(f"state estimator core raised {type(exc).__name__}: {exc} (call skipped)")

    # ------------------------------------------------------------------ outputs (executor thread)
    def _publish_state_on_grid(self) -> None:
        output = self._worker.latest()
        if output is None:
            return
        stamp_ns = output.status.stamp_ns
        if self._next_output_ns is not None and stamp_ns < self._next_output_ns:
            return
        self._next_output_ns = (stamp_ns // self._period_ns + 1) * self._period_ns
        self._publish_state()

    def _publish_state(self) -> None:
        output, events = self._worker.take()
        for event in events:
            self._publish_event(event)
        if output is None:
            return
        self._pub[Topic.STATE_STATUS].publish(self._status_msg(output.status))
        estimate = output.estimate
        if estimate is None or estimate.state.t_ns == self._last_published_ns:
            return
        self._last_published_ns = estimate.state.t_ns
        self._pub[Topic.STATE_ODOMETRY].publish(self._odometry_msg(estimate, output.gyro_radps))
        self._pub[Topic.STATE_NAVSAT].publish(self._navsat_msg(estimate))
        self._update_path_and_tf(estimate)

    def _odometry_msg(self, estimate: Estimate, gyro_radps: np.ndarray) -> Odometry:
        state = estimate.state
        msg = Odometry()
        msg.header.stamp = time_msg(state.t_ns)
        msg.header.frame_id = Frame.MAP.value
        msg.child_frame_id = Frame.BASE_LINK.value
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        p.x, p.y, p.z = (float(v) for v in state.position_m)
        q.x, q.y, q.z, q.w = (float(v) for v in Rotation.from_matrix(state.rotation).as_quat())
        cov = state.covariance
        pose_cov = np.zeros((6, 6))  # ROS order [x y z rot_x rot_y rot_z], map-frame rotation error
        pose_cov[:3, :3] = cov[POS, POS]
        pose_cov[:3, 3:] = cov[POS, ATT]
        pose_cov[3:, :3] = cov[ATT, POS]
        pose_cov[3:, 3:] = cov[ATT, ATT]
        msg.pose.covariance = pose_cov.reshape(-1).tolist()
        r_body_map = state.rotation.T
        v_body = r_body_map @ state.velocity_mps
        w_body = gyro_radps - state.gyro_bias_radps
        msg.twist.twist.linear.x, msg.twist.twist.linear.y, msg.twist.twist.linear.z = (float(v) for v in v_body)
        msg.twist.twist.angular.x, msg.twist.twist.angular.y, msg.twist.twist.angular.z = (float(v) for v in w_body)
        twist_cov = np.zeros((6, 6))  # twist is in child_frame_id (base_link)
        twist_cov[:3, :3] = r_body_map @ cov[VEL, VEL] @ r_body_map.T
        twist_cov[3:, 3:] = cov[12:15, 12:15]  # gyro bias uncertainty dominates the angular-rate error
        msg.twist.covariance = twist_cov.reshape(-1).tolist()
        return msg

    def _navsat_msg(self, estimate: Estimate) -> NavSatFix:
        msg = NavSatFix()
        msg.header.stamp = time_msg(estimate.state.t_ns)
        msg.header.frame_id = Frame.BASE_LINK.value
        msg.status.status = NavSatStatus.STATUS_FIX
        msg.status.service = NavSatStatus.SERVICE_GPS
        msg.latitude, msg.longitude, msg.altitude = estimate.latitude_deg, estimate.longitude_deg, estimate.altitude_m
        msg.position_covariance = estimate.state.covariance[POS, POS].reshape(-1).tolist()  # ENU, as NavSatFix wants
        msg.position_covariance_type = NavSatFix.COVARIANCE_TYPE_KNOWN
        return msg

    def _status_msg(self, snap: EstimatorSnapshot) -> EstimatorStatus:
        msg = EstimatorStatus()
        msg.header.stamp = time_msg(snap.stamp_ns)
        msg.header.frame_id = Frame.MAP.value
        msg.source = int(snap.source)
        msg.backend = int(snap.backend)
        msg.gnss_trust = int(snap.gnss_trust)
        msg.gnss_reject_reason = snap.gnss_reject_reason
        msg.gnss_innovation_mahalanobis = float(snap.gnss_innovation_mahalanobis)
        msg.gnss_horizontal_delta_m = float(snap.gnss_horizontal_delta_m)
        msg.gnss_dwell_s = float(snap.gnss_dwell_s)
        msg.horizontal_sigma_m = float(snap.horizontal_sigma_m)
        msg.vertical_sigma_m = float(snap.vertical_sigma_m)
        msg.origin_set = bool(snap.origin_set)
        msg.origin_latitude_deg = float(snap.origin_latitude_deg)
        msg.origin_longitude_deg = float(snap.origin_longitude_deg)
        msg.origin_altitude_m = float(snap.origin_altitude_m)
        msg.imu_samples = snap.imu_samples
        msg.vio_updates = snap.vio_updates
        msg.geofix_accepted = snap.geofix_accepted
        msg.geofix_rejected = snap.geofix_rejected
        msg.gnss_accepted = snap.gnss_accepted
        msg.gnss_rejected = snap.gnss_rejected
        msg.update_latency_ms = float(snap.update_latency_ms)
        msg.vio_received = snap.vio_received
        msg.vio_not_fused = snap.vio_not_fused
        msg.fusion_delay_ms = float(snap.fusion_delay_ms)
        msg.baro_gnss_offset_m = float(snap.baro_gnss_offset_m)
        msg.gnss_vertical_rejected = snap.gnss_vertical_rejected
        return msg

    def _publish_event(self, event: Event) -> None:
        msg = EventMsg()
        msg.header.stamp = time_msg(event.stamp_ns)
        msg.header.frame_id = Frame.MAP.value
        msg.node = NODE_NAME
        msg.name = event.name
        msg.data_json = orjson.dumps(event.data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS).decode()
        self._pub[Topic.EVENTS].publish(msg)
        if event.name in ("gnss_trust_changed", "estimator_reset", "source_changed"):
            self.get_logger().warning(f"{event.name}: {msg.data_json}")  # WARN: the recorder keeps it with the logs
        else:
            self.get_logger().info(f"{event.name}: {msg.data_json}")

    def _update_path_and_tf(self, estimate: Estimate) -> None:
        state = estimate.state
        T_map_base = Pose3.from_rotation_matrix(state.position_m, state.rotation)
        self._history.append((state.t_ns, T_map_base))
        if self._last_path_ns is None or state.t_ns - self._last_path_ns >= self.settings.path_spacing_s * NS_PER_S:
            self._last_path_ns = state.t_ns
            pose = PoseStamped()
            pose.header.stamp = time_msg(state.t_ns)
            pose.header.frame_id = Frame.MAP.value
            pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = T_map_base.translation_xyz
            o = pose.pose.orientation
            o.w, o.x, o.y, o.z = T_map_base.quat_wxyz
            self._path.poses.append(pose)
            if len(self._path.poses) > self.settings.path_max_poses:
                del self._path.poses[0]
            self._path.header.stamp = pose.header.stamp
            self._pub[Topic.STATE_PATH].publish(self._path)
        if self._last_vio is not None and self.tf.available:
            vio_ns, T_odom_base = self._last_vio
            paired = min(self._history, key=lambda item: abs(item[0] - vio_ns))
            if abs(paired[0] - vio_ns) <= TF_PAIRING_TOLERANCE_NS:
                self.tf.send_map_to_odom(time_msg(vio_ns), paired[1].compose(T_odom_base.inverse()))

    def _publish_diagnostics(self) -> None:
        output = self._worker.latest()
        if output is None:
            return
        snap = output.status
        status = DiagnosticStatus()
        status.name = f"{NODE_NAME}: fused state"
        status.hardware_id = NODE_NAME
        if not snap.origin_set or not snap.initialized:
            status.level, status.message = DiagnosticStatus.WARN, "waiting for the take-off origin and alignment"
        elif snap.source in (SourceLabel.GNSS, SourceLabel.VISUAL):
            status.level, status.message = DiagnosticStatus.OK, f"absolute source {snap.source.name}"
        else:
            status.level, status.message = DiagnosticStatus.WARN, f"relative navigation only ({snap.source.name})"
        if self._worker.dropped or self._worker.errors:
            status.level = DiagnosticStatus.ERROR
            status.message += f"; {self._worker.dropped} inputs dropped, {self._worker.errors} core errors"
        values = {
            "source": snap.source.name,
            "gnss_trust": snap.gnss_trust.name,
            "horizontal_sigma_m": f"{snap.horizontal_sigma_m:.2f}",
            "queue_depth": str(self._worker.depth),
            "inputs_dropped": str(self._worker.dropped),
            "core_errors": str(self._worker.errors),
            "resets": str(snap.resets),
            "update_latency_ms": f"{snap.update_latency_ms:.2f}",
            "fusion_delay_ms": f"{snap.fusion_delay_ms:.1f}",
            "vio_received": str(snap.vio_received),
            "vio_fused": str(snap.vio_updates),
            **{f"vio_not_fused.{reason}": str(count) for reason, count in snap.vio_not_fused_by_reason.items()},
            "baro_gnss_offset_m": f"{snap.baro_gnss_offset_m:.2f}",
            "gnss_vertical_rejected": str(snap.gnss_vertical_rejected),
            "accel_clipped": str(snap.accel_clipped),
            "geofix_heading_accepted": str(snap.geofix_heading_accepted),
            "geofix_heading_rejected": str(snap.geofix_heading_rejected),
        }
        self._pub[Topic.DIAGNOSTICS].publish(diagnostic_array(status, values, self.get_clock().now().to_msg()))

    def destroy_node(self) -> None:
        """Stop the worker (flushing what is queued) before the node goes."""
        self._worker.stop()
        super().destroy_node()


def make_node(*, context: Context | None = None, cli_args: list[str] | None = None) -> Node:
    """The node, for the single-process launcher."""
    return StateEstimatorNode(context=context, cli_args=cli_args)


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the `state_estimator_node` executable."""
    factory: Callable[[], Node] = StateEstimatorNode
    return run_node(factory, args)
