"""vio_node: ROS 2 adapter of the visual-inertial odometry (C1).

Four things, as every node here: declare the parameters (the core's table plus the node's own),
build the frozen VioConfig, feed the core, convert messages. The IMU goes straight into the core
from its callback (``add_imu`` is thread-safe and O(1)); camera frames are decoded in their
callback and queued for one worker thread that owns the expensive ``add_image`` (tens of ms), so
the executor keeps taking 200 Hz IMU meanwhile. A full queue drops the oldest frame, counted.
The worker publishes what each frame produced: /vio/health (every frame), /vio/odometry and
odom->base_link on TF (while tracking), /vio/landmarks (every few frames). A timer publishes
/diagnostics. With ``worker_thread`` false (stepped deterministic replay) frames are processed
inline in the image callback.

Malformed input of any kind is refused with a WARN once per distinct reason and counted; no
exception leaves a callback or stops the worker.
"""

from __future__ import annotations

import array
import importlib
import math
import re
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from nav_msgs.msg import Odometry
from onboard.msg import VioHealth
from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import PointCloud2, PointField

from gps_denied_onboard.geometry.errors import GeometryError
from gps_denied_onboard.geometry.transforms import Pose3
from gps_denied_onboard.graph import Frame, Topic, node_spec
from gps_denied_onboard.ros.diagnostics import diagnostic_array
from gps_denied_onboard.ros.entrypoint import EXIT_BAD_CONFIG, EXIT_UNAVAILABLE, NodeStartupError, run_node
from gps_denied_onboard.ros.graph_interface import GraphInterface
from gps_denied_onboard.ros.params import declare, declare_table, reject_undeclared
from gps_denied_onboard.ros.stamps import stamp_ns, time_msg
from gps_denied_onboard.ros.tf import TfBroadcaster
from gps_denied_onboard.vio.config import PARAMETERS, VioConfig
from gps_denied_onboard.vio.errors import VioConfigError, VioError, VioInputError
from gps_denied_onboard.vio.image_codec import decode_image
from gps_denied_onboard.vio.pipeline import VisualInertialOdometry
from gps_denied_onboard.vio.types import CameraCalibration, FrameResult, VioHealthReport, VioOdometry, VioState

NODE_NAME = "vio_node"
WORKER_JOIN_TIMEOUT_S = 5.0
IMU_POLL_S = 0.002  # the worker's poll while a frame waits for its IMU samples
MAX_REASONS_IN_DIAGNOSTICS = 20  # distinct rejection reasons listed on /diagnostics; the rest are summed
# A number standing alone (not part of a name such as mono16 or yuv9), NaN and inf included.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\b(?:nan|inf)\b", re.IGNORECASE)
_LEVELS = {
    VioState.OK: DiagnosticStatus.OK,
    VioState.INITIALIZING: DiagnosticStatus.WARN,
    VioState.DEGRADED: DiagnosticStatus.WARN,
    VioState.LOST: DiagnosticStatus.ERROR,
}


@dataclass(frozen=True)
class NodeSettings:
    """The node's own parameters (the core's are in VioConfig)."""

    worker_thread: bool
    image_queue_limit: int
    publish_landmarks: bool
    landmarks_every_n_frames: int
    status_rate_hz: float
    imu_wait_s: float


@dataclass(frozen=True)
class _Image:
    """A decoded camera frame waiting for the worker."""

    t_ns: int
    image: np.ndarray
    arrival_ns: int  # steady clock, when its message reached the callback


_WorkItem = _Image | CameraCalibration


def reason_key(source: str, message: str) -> str:
    """The reason a rejection is logged and counted under: its message with the numbers masked,
    so a stream of one fault (every stamp differs) is said once, two faults twice."""
    masked = _NUMBER.sub("#", message)
    return masked if masked.startswith(f"{source}:") else f"{source}: {masked}"


def _cloud_xyz32_by_hand(header: Any, points: np.ndarray) -> PointCloud2:
    cloud = PointCloud2()
    cloud.header = header
    cloud.height = 1
    cloud.width = len(points)
    cloud.fields = [
        PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1) for i, name in enumerate("xyz")
    ]
    cloud.is_bigendian = False
    cloud.point_step = 12
    cloud.row_step = 12 * len(points)
    cloud.is_dense = True
    cloud.data = array.array("B", np.ascontiguousarray(points, dtype="<f4").tobytes())
    return cloud


def _cloud_builder() -> Callable[[Any, np.ndarray], PointCloud2]:
    """sensor_msgs_py's create_cloud_xyz32 where a ROS distro has it, else the same layout by hand."""
    try:
        point_cloud2 = importlib.import_module("sensor_msgs_py.point_cloud2")
    except ImportError:
        return _cloud_xyz32_by_hand
    create: Callable[[Any, np.ndarray], PointCloud2] = point_cloud2.create_cloud_xyz32
    return create


class _Stats:
    """What /diagnostics reports; written by the callbacks and the worker, read by the timer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames_processed = 0
        self.frames_dropped = 0
        self.core_errors = 0
        self.rejected: Counter[str] = Counter()
        self.last_health: VioHealthReport | None = None
        self.last_latency_ms = math.nan


class VioNode(Node):
    """Visual-inertial odometry of the downward camera and the IMU, in the odom frame."""

    def __init__(
        self,
        *,
        context: Context | None = None,
        parameter_overrides: list[Parameter] | None = None,
        cli_args: list[str] | None = None,
    ) -> None:
        super().__init__(NODE_NAME, context=context, parameter_overrides=parameter_overrides, cli_args=cli_args)
        self.settings, self.config = self._read_parameters()
        reject_undeclared(self)
        try:
            self.vio = VisualInertialOdometry(self.config)
        except VioConfigError as exc:
            raise NodeStartupError(f"{NODE_NAME}: {exc}", EXIT_BAD_CONFIG) from exc
        except VioError as exc:  # e.g. GTSAM cannot be imported
            raise NodeStartupError(f"visual-inertial odometry cannot start: {exc}", EXIT_UNAVAILABLE) from exc
        self.stats = _Stats()
        self._warned: set[str] = set()
        self._warned_lock = threading.Lock()
        self._core_error_logged = False
        self._applied_calibration: tuple[Any, ...] | None = None
        self._last_image_ns: int | None = None
        self._frames_since_landmarks = 0
        self._make_cloud = _cloud_builder()
        self._queue: deque[_WorkItem] = deque()
        self._queued_images = 0
        self._cv = threading.Condition()
        self._stopping = False
        self._worker: threading.Thread | None = None
        # Everything the node says at start-up is said before its interface appears on the graph:
        # a launcher or test that acts once the topics exist must not race the rest of __init__.
        self.tf = TfBroadcaster.attach(self)
        mount = self.config.camera_mount
        self.tf.send_static_base_to_camera(Pose3.from_rotation_matrix(mount.t_body_camera_m, mount.R_body_camera))
        s = self.settings
        self.get_logger().info(
            f"visual-inertial odometry: {self.config.frontend.max_features} features, "
            f"smoother lag {self.config.backend.lag_s:g} s, camera tilt {mount.tilt_deg:g} deg; frames processed "
            + (f"on a worker thread (queue {s.image_queue_limit})" if s.worker_thread else "inline (stepped)")
        )
        self.interface = GraphInterface(
            self,
            node_spec(NODE_NAME),
            handlers={
                Topic.CAMERA_INFO: self._on_camera_info,
                Topic.IMU: self._on_imu,
                Topic.CAMERA_IMAGE: self._on_image,
            },
        )
        self._pub = self.interface.publishers
        if s.worker_thread:
            self._worker = threading.Thread(target=self._run_worker, name="vio_worker", daemon=True)
            self._worker.start()
        self.create_timer(1.0 / s.status_rate_hz, self._publish_diagnostics)

    # ------------------------------------------------------------------ parameters
    def _read_parameters(self) -> tuple[NodeSettings, VioConfig]:
        values = declare_table(self, PARAMETERS)
        try:
            config = VioConfig.from_parameters(values)
        except VioConfigError as exc:
            raise NodeStartupError(f"{NODE_NAME}: {exc}", EXIT_BAD_CONFIG) from exc
        d = declare
        settings = NodeSettings(
            worker_thread=d(
                self,
                "worker_thread",
                True,
                "process frames on a worker thread (false: inline in the image callback, for stepped replay)",
            ),
            image_queue_limit=d(
                self,
                "image_queue_limit",
                4,
                "camera frames waiting for the worker; beyond it the oldest is dropped (and counted)",
                minimum=1,
                maximum=1000,
            ),
            publish_landmarks=d(self, "publish_landmarks", True, "publish the smoother's landmarks on /vio/landmarks"),
            landmarks_every_n_frames=d(
                self,
                "landmarks_every_n_frames",
                5,
                "publish /vio/landmarks at most once per this many processed frames",
                minimum=1,
                maximum=10000,
            ),
            status_rate_hz=d(self, "status_rate_hz", 1.0, "rate of /diagnostics, Hz", minimum=0.1, maximum=10.0),
            imu_wait_s=d(
                self,
                "imu_wait_s",
                0.05,
                "how long a frame waits for the IMU samples up to its stamp (worker thread only), s",
                minimum=0.0,
                maximum=1.0,
            ),
        )
        return settings, config

    # ------------------------------------------------------------------ intake (executor thread)
    def _on_camera_info(self, msg: Any) -> None:
        try:
            key = (int(msg.width), int(msg.height), str(msg.distortion_model), tuple(msg.d), tuple(msg.k))
            if key == self._applied_calibration:
                return  # camera_info repeats with every frame; only a change matters
            calibration = CameraCalibration.from_camera_info(msg.width, msg.height, msg.distortion_model, msg.d, msg.k)
        except VioInputError as exc:
            self._reject("camera_info", exc)
            return
        except Exception as exc:  # noqa: BLE001 - a callback must never raise into the executor
            self._on_core_error("camera_info", exc)
            return
        self._applied_calibration = key
        self._submit(calibration)

    def _on_imu(self, msg: Any) -> None:
        try:
            a, w = msg.linear_acceleration, msg.angular_velocity
            accepted = self.vio.add_imu(stamp_ns(msg.header), np.array([a.x, a.y, a.z]), np.array([w.x, w.y, w.z]))
        except VioInputError as exc:
            self._reject("imu", exc)
            return
        except Exception as exc:  # noqa: BLE001 - a callback must never raise into the executor
            self._on_core_error("imu", exc)
            return
        if not accepted:
            self._reject("imu", "stamp not after the previous sample (out of order or duplicate)")

    def _on_image(self, msg: Any) -> None:
        arrival_ns = time.monotonic_ns()
        try:
            t_ns = stamp_ns(msg.header)
            if self._last_image_ns is not None and t_ns <= self._last_image_ns:
                raise VioInputError(f"image stamp {t_ns} ns is not after the previous frame's {self._last_image_ns} ns")
            image = decode_image(
                msg.encoding, msg.height, msg.width, msg.step, msg.data, is_bigendian=bool(msg.is_bigendian)
            )
        except VioInputError as exc:
            self._reject("image", exc)
            return
        except Exception as exc:  # noqa: BLE001 - a callback must never raise into the executor
            self._on_core_error("image", exc)
            return
        self._last_image_ns = t_ns
        self._submit(_Image(t_ns, image, arrival_ns))

    def _submit(self, item: _WorkItem) -> None:
        """Hand a frame or a calibration to the worker, or process it here when there is none."""
        if not self.settings.worker_thread:
            self._process(item)
            return
        with self._cv:
            if isinstance(item, _Image):
                if self._queued_images >= self.settings.image_queue_limit:
                    self._drop_oldest_image()
                self._queued_images += 1
            self._queue.append(item)
            self._cv.notify()

    def _drop_oldest_image(self) -> None:
        """Called with the queue lock held. Calibrations stay: they apply to the frames after them."""
        for index, queued in enumerate(self._queue):
            if isinstance(queued, _Image):
                del self._queue[index]
                self._queued_images -= 1
                with self.stats.lock:
                    self.stats.frames_dropped += 1
                return

    # ------------------------------------------------------------------ worker
    def _run_worker(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                item = self._queue.popleft()
                if isinstance(item, _Image):
                    self._queued_images -= 1
            self._process(item)

    def _process(self, item: _WorkItem) -> None:
        """Feed one item to the core and publish what it produced; never raises."""
        try:
            if isinstance(item, CameraCalibration):
                if self.vio.set_calibration(item):
                    self.get_logger().info(
                        f"camera calibration {item.width}x{item.height}, fx {item.fx:.1f} fy {item.fy:.1f}, "
                        f"cx {item.cx:.1f} cy {item.cy:.1f}, {item.distortion_model} {list(item.D)}: "
                        "the VIO (re)initialises"
                    )
                return
            if self.settings.worker_thread:
                self._wait_for_imu(item.t_ns)
            result = self.vio.add_image(item.t_ns, item.image)
        except VioInputError as exc:
            self._reject("image" if isinstance(item, _Image) else "camera_info", exc)
            return
        except Exception as exc:  # noqa: BLE001 - a core bug must not kill the thread that tracks the vehicle
            self._on_core_error("core", exc)
            return
        try:
            self._publish(item, result)
        except Exception as exc:  # noqa: BLE001 - e.g. a malformed core output; the next frame may be fine
            self._on_core_error("publish", exc)

    def _wait_for_imu(self, t_ns: int) -> None:
        """The camera and IMU streams arrive independently: give the IMU a moment to reach the frame.
        Inline (stepped replay) there is nothing to wait for: the bag is played in stamp order."""
        deadline = time.monotonic() + self.settings.imu_wait_s
        while not self.vio.imu_covers(t_ns) and not self._stopping and time.monotonic() < deadline:
            time.sleep(IMU_POLL_S)

    # ------------------------------------------------------------------ outputs (worker thread, or inline)
    def _publish(self, frame: _Image, result: FrameResult) -> None:
        if self._stopping:
            return
        latency_ms = (time.monotonic_ns() - frame.arrival_ns) / 1e6  # arrival to (odometry) publish
        odometry = result.odometry
        if odometry is not None:
            self._pub[Topic.VIO_ODOMETRY].publish(self._odometry_msg(odometry))
            self._send_tf(odometry)
        self._frames_since_landmarks += 1
        landmarks = np.asarray(result.landmarks_odom_m, dtype=np.float64).reshape(-1, 3)
        landmarks = landmarks[np.all(np.isfinite(landmarks), axis=1)]
        if (
            self.settings.publish_landmarks
            and len(landmarks)
            and self._frames_since_landmarks >= self.settings.landmarks_every_n_frames
        ):
            self._frames_since_landmarks = 0
            self._pub[Topic.VIO_LANDMARKS].publish(self._landmarks_msg(result.health.t_ns, landmarks))
        self._pub[Topic.VIO_HEALTH].publish(self._health_msg(result.health, latency_ms))
        with self.stats.lock:
            self.stats.frames_processed += 1
            self.stats.last_health = result.health
            self.stats.last_latency_ms = latency_ms

    def _odometry_msg(self, odometry: VioOdometry) -> Odometry:
        msg = Odometry()
        msg.header.stamp = time_msg(odometry.t_ns)
        msg.header.frame_id = Frame.ODOM.value
        msg.child_frame_id = Frame.BASE_LINK.value
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        p.x, p.y, p.z = (float(v) for v in odometry.position_m)
        q.w, q.x, q.y, q.z = (float(v) for v in odometry.quat_wxyz)
        msg.pose.covariance = np.asarray(odometry.pose_covariance, dtype=np.float64).reshape(36)
        twist = msg.twist.twist
        twist.linear.x, twist.linear.y, twist.linear.z = (float(v) for v in odometry.velocity_body_mps)
        twist.angular.x, twist.angular.y, twist.angular.z = (float(v) for v in odometry.angular_velocity_body_radps)
        msg.twist.covariance = np.asarray(odometry.twist_covariance, dtype=np.float64).reshape(36)
        return msg

    def _send_tf(self, odometry: VioOdometry) -> None:
        if not self.tf.available:
            return
        try:
            T_odom_base = Pose3(tuple(odometry.position_m), tuple(odometry.quat_wxyz))
        except GeometryError as exc:
            self._warn_once("tf: odometry pose is not a valid transform", f"odom->base_link not broadcast: {exc}")
            return
        self.tf.send_odom_to_base(time_msg(odometry.t_ns), T_odom_base)

    def _health_msg(self, health: VioHealthReport, latency_ms: float) -> VioHealth:
        msg = VioHealth()
        msg.header.stamp = time_msg(health.t_ns)
        msg.header.frame_id = Frame.ODOM.value
        msg.state = int(health.state)
        msg.reason = health.reason
        msg.tracked_features = int(health.tracked_features)
        msg.inlier_ratio = float(health.inlier_ratio)
        msg.keyframe_rate_hz = float(health.keyframe_rate_hz)
        ab, gb = msg.accel_bias_mps2, msg.gyro_bias_radps
        ab.x, ab.y, ab.z = (float(v) for v in health.accel_bias_mps2)
        gb.x, gb.y, gb.z = (float(v) for v in health.gyro_bias_radps)
        msg.processing_latency_ms = float(latency_ms)  # arrival to publish: queueing included
        msg.reinit_count = int(health.reinit_count)
        return msg

    def _landmarks_msg(self, t_ns: int, points: np.ndarray) -> PointCloud2:
        cloud = PointCloud2()
        cloud.header.stamp = time_msg(t_ns)
        cloud.header.frame_id = Frame.ODOM.value
        return self._make_cloud(cloud.header, points.astype(np.float32))

    def _publish_diagnostics(self) -> None:
        with self.stats.lock:
            health = self.stats.last_health
            processed, dropped, errors = self.stats.frames_processed, self.stats.frames_dropped, self.stats.core_errors
            rejected = self.stats.rejected.copy()
            latency_ms = self.stats.last_latency_ms
        status = DiagnosticStatus()
        status.name = f"{NODE_NAME}: visual-inertial odometry"
        status.hardware_id = NODE_NAME
        if health is None:
            status.level, status.message = DiagnosticStatus.WARN, "no camera frame processed yet"
        else:
            status.level = _LEVELS[VioState(health.state)]
            status.message = health.state.name + (f": {health.reason}" if health.reason else "")
        if errors:
            status.level = DiagnosticStatus.ERROR
            status.message += f"; {errors} core errors"
        values = {
            "state": "none" if health is None else VioState(health.state).name,
            "reason": "" if health is None else health.reason,
            "tracked_features": "0" if health is None else str(health.tracked_features),
            "inlier_ratio": "nan" if health is None else f"{health.inlier_ratio:.3f}",
            "reinit_count": "0" if health is None else str(health.reinit_count),
            "frames_processed": str(processed),
            "frames_dropped_queue": str(dropped),
            "core_errors": str(errors),
            "latency_ms": f"{latency_ms:.1f}",  # arrival to publish, queueing included
            "core_processing_ms": "nan" if health is None else f"{health.processing_latency_ms:.1f}",
            "rejected_inputs": str(sum(rejected.values())),
        }
        listed = rejected.most_common(MAX_REASONS_IN_DIAGNOSTICS)
        values.update({f"rejected {reason}": str(count) for reason, count in listed})
        if len(rejected) > len(listed):
            values["rejected (other reasons)"] = str(sum(rejected.values()) - sum(c for _, c in listed))
        self._pub[Topic.DIAGNOSTICS].publish(diagnostic_array(status, values, self.get_clock().now().to_msg()))

    # ------------------------------------------------------------------ faults
    def _reject(self, source: str, error: VioInputError | str) -> None:
        """Count a refused input under its reason; say so at WARN the first time that reason occurs."""
        message = str(error)
        key = reason_key(source, message)
        with self.stats.lock:
            self.stats.rejected[key] += 1
        self._warn_once(key, f"{source} refused: {message} (said once per reason; counted on /diagnostics)")

    def _warn_once(self, key: str, text: str) -> None:
        with self._warned_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        self.get_logger().warning(text)

    def _on_core_error(self, where: str, exc: BaseException) -> None:
        with self.stats.lock:
            self.stats.core_errors += 1
        with self._warned_lock:
            first = not self._core_error_logged
            self._core_error_logged = True
        if first:
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.get_logger().error(
                f"VIO {where} raised {type(exc).__name__}: {exc} (input skipped; further errors are only counted)\n"
                + trace
            )

    def destroy_node(self) -> None:
        """Stop the worker (queued frames are dropped) before the node goes."""
        with self._cv:
            self._stopping = True
            self._queue.clear()
            self._cv.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=WORKER_JOIN_TIMEOUT_S)
        super().destroy_node()


def make_node(*, context: Context | None = None, cli_args: list[str] | None = None) -> Node:
    """The node, for the single-process launcher."""
    return VioNode(context=context, cli_args=cli_args)


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the `vio_node` executable."""
    factory: Callable[[], Node] = VioNode
    return run_node(factory, args)
