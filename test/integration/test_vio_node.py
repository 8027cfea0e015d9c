"""vio_node with a real rclpy context: a simulated flight in, health, odometry and landmarks out,
malformed input refused with one WARN per reason while the node keeps tracking.

A driver node plays the simulator's short scenario on the graph's topics and QoS, in stamp order as
the sensors would deliver it (the IMU up to a frame's stamp, then camera_info and the frame), one
frame at a time: it waits for the frame's /vio/health before sending the next, so no frame is
dropped by the node's queue and the run does not depend on the machine's speed.
"""

from __future__ import annotations

import array
import math
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ros_helpers import spin_until, spinning

pytest.importorskip("rclpy", reason="needs rclpy (the ROS 2 Jazzy wheels)")

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO = REPO_ROOT / "config" / "scenarios" / "short.yaml"
FLIGHT_S = 10.0  # 5 s at rest on the ground, then the climb: the VIO initialises and then tracks
TAIL_FRAMES = 10  # frames played after the malformed input
FRAME_TIMEOUT_S = 20.0  # generous bound on one frame's round trip; a healthy node answers in tens of ms
NODE = "vio_node"


def _stamp(msg: Any, t_ns: int) -> None:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)


def _stamp_of(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _epoch_ns() -> int:
    """A stamp epoch of its own per test: a late sample of an earlier test must not read as this test's past."""
    return time.time_ns() // 1_000_000_000 * 1_000_000_000


@pytest.fixture(scope="module")
def flight() -> Any:
    """The first seconds of the short scenario, its frames rendered once for the module."""
    from gps_denied_onboard.sim.flight import generate_flight
    from gps_denied_onboard.sim.scenario import load_scenario

    generated = generate_flight(load_scenario(SCENARIO), duration_s=FLIGHT_S)
    return generated, list(generated.frames())


class _Driver:
    """Publishes the sensors and collects what vio_node publishes (and says on /rosout)."""

    def __init__(self, context: Any) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from nav_msgs.msg import Odometry
        from onboard.msg import VioHealth
        from rcl_interfaces.msg import Log
        from rclpy.node import Node
        from sensor_msgs.msg import CameraInfo, Image, Imu, PointCloud2

        from gps_denied_onboard.graph import Topic
        from gps_denied_onboard.ros.qos import topic_qos

        self.node: Any = Node("vio_test_driver", context=context)
        pub = self.node.create_publisher
        self.image = pub(Image, Topic.CAMERA_IMAGE.value, topic_qos(Topic.CAMERA_IMAGE))
        self.info = pub(CameraInfo, Topic.CAMERA_INFO.value, topic_qos(Topic.CAMERA_INFO))
        self.imu = pub(Imu, Topic.IMU.value, topic_qos(Topic.IMU))
        self.health: list[Any] = []
        self.odometry: list[Any] = []
        self.landmarks: list[Any] = []
        self.diagnostics: list[Any] = []
        self.logs: list[Any] = []
        sub = self.node.create_subscription
        sub(VioHealth, Topic.VIO_HEALTH.value, self.health.append, topic_qos(Topic.VIO_HEALTH))
        sub(Odometry, Topic.VIO_ODOMETRY.value, self.odometry.append, topic_qos(Topic.VIO_ODOMETRY))
        sub(PointCloud2, Topic.VIO_LANDMARKS.value, self.landmarks.append, topic_qos(Topic.VIO_LANDMARKS))
        sub(DiagnosticArray, Topic.DIAGNOSTICS.value, self.diagnostics.append, topic_qos(Topic.DIAGNOSTICS))
        sub(Log, Topic.ROSOUT.value, self._on_log, topic_qos(Topic.ROSOUT))
        self.imu_sent = 0

    def _on_log(self, msg: Any) -> None:
        if msg.name == NODE:
            self.logs.append(msg)

    def log_lines(self, level: int) -> list[str]:
        return [m.msg for m in self.logs if m.level == level]

    @staticmethod
    def imu_msg(t_ns: int, accel: Any, gyro: Any) -> Any:
        from sensor_msgs.msg import Imu

        msg = Imu()
        _stamp(msg, t_ns)
        msg.header.frame_id = "base_link"
        msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = (float(v) for v in accel)
        msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = (float(v) for v in gyro)
        msg.orientation_covariance[0] = -1.0
        return msg

    @staticmethod
    def image_msg(
        t_ns: int,
        image: np.ndarray,
        *,
        encoding: str = "mono8",
        step: int | None = None,
        data: bytes | None = None,
    ) -> Any:
        from sensor_msgs.msg import Image

        msg = Image()
        _stamp(msg, t_ns)
        msg.header.frame_id = "camera"
        msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
        msg.encoding = encoding
        msg.is_bigendian = 0
        msg.step = int(image.shape[1]) if step is None else step
        msg.data = array.array("B", image.tobytes() if data is None else data)
        return msg

    @staticmethod
    def info_msg(t_ns: int, fields: Any, **changes: Any) -> Any:
        from sensor_msgs.msg import CameraInfo

        msg = CameraInfo()
        _stamp(msg, t_ns)
        msg.header.frame_id = "camera"
        msg.width, msg.height = fields.width, fields.height
        msg.distortion_model = fields.distortion_model
        msg.d = [float(v) for v in changes.get("d", fields.d)]
        msg.k = [float(v) for v in changes.get("k", fields.k)]
        msg.r = [float(v) for v in fields.r]
        msg.p = [float(v) for v in fields.p]
        return msg


@contextmanager
def _running(context: Any, vio: Any, driver: _Driver) -> Iterator[Any]:
    """vio_node spun on its own thread (as in its own process); the driver's executor is returned."""
    from rclpy.executors import SingleThreadedExecutor

    background = SingleThreadedExecutor(context=context)
    background.add_node(vio)
    thread = threading.Thread(target=background.spin, daemon=True)
    thread.start()
    try:
        with spinning(context, driver.node) as executor:
            # The node's outputs are reliable: let discovery match them before anything is sent.
            assert spin_until(executor, lambda: _matched(driver), 20.0), "driver and vio_node never matched"
            yield executor
    finally:
        background.shutdown(timeout_sec=5.0)
        thread.join(timeout=5.0)


def _matched(driver: _Driver) -> bool:
    return (
        driver.image.get_subscription_count() > 0
        and driver.imu.get_subscription_count() > 0
        and driver.info.get_subscription_count() > 0
        and driver.node.count_publishers("/vio/health") > 0
    )


def _vio(context: Any, **overrides: Any) -> Any:
    from rclpy.parameter import Parameter

    from gps_denied_onboard.ros.vio_node import VioNode

    params = {"status_rate_hz": 10.0, **overrides}
    parameter: Any = Parameter  # rclpy's constructor is unannotated
    return VioNode(context=context, parameter_overrides=[parameter(k, value=v) for k, v in params.items()])


def _play(driver: _Driver, executor: Any, vio: Any, frames: list[Any], *, flight: Any, epoch_ns: int) -> int:
    """Each frame in turn: the IMU up to its stamp, its camera_info, then the frame, each delivered
    before the next is sent (as a sensor driver's stream arrives); then wait for the frame's health.
    Return the stamp of the last frame."""
    from gps_denied_onboard.graph import Topic

    generated, _ = flight
    imu, fields = generated.imu, generated.camera.camera_info_fields()
    received = vio.interface.received
    t_ns = epoch_ns
    for frame in frames:
        t_ns = epoch_ns + frame.t_ns
        while driver.imu_sent < len(imu) and int(imu.t_ns[driver.imu_sent]) <= frame.t_ns:
            sample = imu.sample(driver.imu_sent, epoch_ns=epoch_ns)
            driver.imu.publish(driver.imu_msg(sample.t_ns, sample.accel_mps2, sample.gyro_radps))
            driver.imu_sent += 1
        spin_until(executor, lambda: received[Topic.IMU] >= driver.imu_sent, FRAME_TIMEOUT_S)
        infos = received[Topic.CAMERA_INFO] + 1
        driver.info.publish(driver.info_msg(t_ns, fields))
        spin_until(executor, partial(_at_least, received, Topic.CAMERA_INFO, infos), FRAME_TIMEOUT_S)
        driver.image.publish(driver.image_msg(t_ns, frame.image))
        spin_until(executor, partial(_has_health, driver, t_ns), FRAME_TIMEOUT_S)
    return t_ns


def _at_least(counter: Any, topic: Any, count: int) -> bool:
    return bool(counter[topic] >= count)


def _has_health(driver: _Driver, stamp_ns: int) -> bool:
    return any(_stamp_of(h) == stamp_ns for h in driver.health)


def _cloud_points(cloud: Any) -> np.ndarray:
    from sensor_msgs.msg import PointField

    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == [
        ("x", 0, PointField.FLOAT32, 1),
        ("y", 4, PointField.FLOAT32, 1),
        ("z", 8, PointField.FLOAT32, 1),
    ]
    assert cloud.point_step == 12
    assert cloud.row_step == 12 * cloud.width
    assert not cloud.is_bigendian
    return np.frombuffer(bytes(cloud.data), dtype="<f4").reshape(cloud.height * cloud.width, 3)


def _assert_covariance(values: Any) -> None:
    cov = np.array(values, dtype=np.float64).reshape(6, 6)
    assert np.all(np.isfinite(cov))
    assert np.allclose(cov, cov.T, rtol=0.0, atol=1e-12 * max(1.0, float(np.abs(cov).max())))
    eigenvalues = np.linalg.eigvalsh(cov)
    assert eigenvalues.min() >= -1e-9 * max(1.0, float(eigenvalues.max())), eigenvalues
    assert np.trace(cov) > 0.0


def _diagnostic_values(driver: _Driver) -> dict[str, str]:
    statuses = [s for array_msg in driver.diagnostics for s in array_msg.status if s.hardware_id == NODE]
    assert statuses, "no /diagnostics from vio_node"
    return {kv.key: kv.value for kv in statuses[-1].values}


def _assert_health(health: list[Any], frame_stamps: list[int]) -> None:
    from onboard.msg import VioHealth

    from gps_denied_onboard.vio.types import VioState

    assert [int(s) for s in (VioState.INITIALIZING, VioState.OK, VioState.DEGRADED, VioState.LOST)] == [
        VioHealth.STATE_INITIALIZING,
        VioHealth.STATE_OK,
        VioHealth.STATE_DEGRADED,
        VioHealth.STATE_LOST,
    ]
    assert health[0].state == VioHealth.STATE_INITIALIZING, health[0]
    assert [_stamp_of(h) for h in health] == frame_stamps, "one health per frame, in order"
    assert all(h.header.frame_id == "odom" for h in health)
    assert all(math.isfinite(h.processing_latency_ms) and h.processing_latency_ms > 0.0 for h in health)
    assert any(h.state in (VioHealth.STATE_OK, VioHealth.STATE_DEGRADED) for h in health), [h.state for h in health]


def _assert_odometry(odometry: list[Any], frame_stamps: set[int]) -> None:
    assert odometry, "no /vio/odometry during the flight"
    for odom in odometry:
        assert (odom.header.frame_id, odom.child_frame_id) == ("odom", "base_link")
        assert _stamp_of(odom) in frame_stamps
        p, q = odom.pose.pose.position, odom.pose.pose.orientation
        assert all(math.isfinite(v) for v in (p.x, p.y, p.z, q.w, q.x, q.y, q.z))
        assert math.isclose(math.sqrt(q.w**2 + q.x**2 + q.y**2 + q.z**2), 1.0, abs_tol=1e-6)
        linear, angular = odom.twist.twist.linear, odom.twist.twist.angular
        assert all(math.isfinite(v) for v in (linear.x, linear.y, linear.z, angular.x, angular.y, angular.z))
        _assert_covariance(odom.pose.covariance)
        _assert_covariance(odom.twist.covariance)
    last = odometry[-1].pose.pose.position
    assert math.hypot(last.x, last.y) < 20.0, "still near where it started (a few seconds of flight)"
    assert abs(last.z) < 30.0


def _assert_landmarks(landmarks: list[Any], frame_stamps: set[int]) -> None:
    assert landmarks, "no /vio/landmarks during the flight"
    for cloud in landmarks:
        assert cloud.header.frame_id == "odom"
        assert _stamp_of(cloud) in frame_stamps
        assert cloud.height == 1
        assert cloud.width > 0
        assert np.all(np.isfinite(_cloud_points(cloud)))
        assert cloud.is_dense


@pytest.mark.timeout(180)
def test_a_simulated_flight_gives_health_odometry_and_landmarks(rclpy_context: Any, flight: Any) -> None:
    from rcl_interfaces.msg import Log

    from gps_denied_onboard.vio.types import VioState

    driver = _Driver(rclpy_context)
    vio = _vio(rclpy_context, landmarks_every_n_frames=2)
    _, frames = flight
    try:
        with _running(rclpy_context, vio, driver) as executor:
            epoch = _epoch_ns()
            _play(driver, executor, vio, frames, flight=flight, epoch_ns=epoch)
            assert spin_until(executor, lambda: len(driver.health) == len(frames), 10.0), (
                f"{len(driver.health)} health messages for {len(frames)} frames"
            )
            spin_until(executor, lambda: len(driver.diagnostics) >= 1, 10.0)

        _assert_health(driver.health, [epoch + f.t_ns for f in frames])
        frame_stamps = {epoch + f.t_ns for f in frames}
        _assert_odometry(driver.odometry, frame_stamps)
        _assert_landmarks(driver.landmarks, frame_stamps)
        values = _diagnostic_values(driver)
        assert int(values["frames_processed"]) >= 1
        assert values["frames_dropped_queue"] == "0"
        assert values["core_errors"] == "0"
        assert values["state"] in {s.name for s in VioState}
        assert vio.stats.core_errors == 0
        assert not vio.stats.rejected, vio.stats.rejected
        assert not [m.msg for m in driver.logs if m.level >= Log.ERROR]
        assert not driver.log_lines(Log.WARN), driver.log_lines(Log.WARN)
    finally:
        vio.destroy_node()
        driver.node.destroy_node()


@pytest.mark.timeout(180)
def test_malformed_inputs_are_refused_once_each_and_the_node_keeps_publishing(rclpy_context: Any, flight: Any) -> None:
    from rcl_interfaces.msg import Log
    from sensor_msgs.msg import CameraInfo

    driver = _Driver(rclpy_context)
    vio = _vio(rclpy_context)
    generated, frames = flight
    fields = generated.camera.camera_info_fields()
    t_ns = 0
    try:
        with _running(rclpy_context, vio, driver) as executor:
            epoch = _epoch_ns()
            split = 0
            while not driver.odometry and split < len(frames) - TAIL_FRAMES:  # until the VIO tracks
                t_ns = _play(driver, executor, vio, frames[split : split + 1], flight=flight, epoch_ns=epoch)
                split += 1
            assert driver.odometry, (
                f"no odometry within the first {split} frames: the bad input must come while tracking"
            )
            image = frames[split - 1].image
            height, width = image.shape
            bad = [
                # an encoding the codec does not know, twice: one WARN, two counted
                (driver.image, driver.image_msg(t_ns + 1_000_000, image, encoding="yuv9")),
                (driver.image, driver.image_msg(t_ns + 2_000_000, image, encoding="yuv9")),
                # data shorter than step * height
                (driver.image, driver.image_msg(t_ns + 3_000_000, image, data=image.tobytes()[: width * (height - 1)])),
                # a frame of another size than camera_info's (the core refuses it, on the worker)
                (driver.image, driver.image_msg(t_ns + 4_000_000, np.zeros((240, 320), dtype=np.uint8))),
                # a frame older than the last one
                (driver.image, driver.image_msg(t_ns - 100_000_000, image)),
                # an IMU sample with NaN
                (driver.imu, driver.imu_msg(t_ns + 1_000_000, (math.nan, 0.0, 9.8), (0.0, 0.0, 0.0))),
                # camera_info with fx = 0, and with 3 plumb_bob coefficients
                (driver.info, driver.info_msg(t_ns, fields, k=(0.0, *fields.k[1:]))),
                (driver.info, driver.info_msg(t_ns, fields, d=fields.d[:3])),
            ]
            for publisher, msg in bad:
                publisher.publish(msg)
                executor.spin_once(timeout_sec=0.01)

            def refused() -> int:
                with vio.stats.lock:
                    return sum(vio.stats.rejected.values())

            assert spin_until(executor, lambda: refused() == len(bad), 20.0), vio.stats.rejected
            # Nothing refused reached the health stream: no frame was processed for a bad image.
            assert max(_stamp_of(h) for h in driver.health) == t_ns
            healthy_before = len(driver.health)
            odometry_before = len(driver.odometry)

            _play(driver, executor, vio, frames[split:], flight=flight, epoch_ns=epoch)
            assert spin_until(executor, lambda: len(driver.health) == len(frames), 10.0)
            spin_until(executor, lambda: any(kv.key.startswith("rejected image") for kv in _last_values(driver)), 5.0)

        assert len(driver.health) > healthy_before
        assert len(driver.odometry) > odometry_before, "odometry goes on after the bad input"
        by_source: dict[str, int] = {}
        for reason, count in vio.stats.rejected.items():
            source = reason.split(":", 1)[0]
            by_source[source] = by_source.get(source, 0) + count
        assert by_source == {"image": 5, "imu": 1, "camera_info": 2}, vio.stats.rejected
        assert vio.stats.core_errors == 0

        warnings = driver.log_lines(Log.WARN)
        expected_once = [
            "encoding 'yuv9' is not supported",
            "bytes of data, expected step * height",
            "320x240 but camera_info says 640x480",
            "is not after the previous frame's",
            "non-finite value",
            "focal lengths must be positive",
            "plumb_bob takes 5 coefficients, got 3",
        ]
        for text in expected_once:
            assert sum(text in line for line in warnings) == 1, (text, warnings)
        assert len(warnings) == len(expected_once), warnings
        assert not [m.msg for m in driver.logs if m.level >= Log.ERROR]

        values = _diagnostic_values(driver)
        assert values["rejected_inputs"] == str(len(bad))
        assert any(key.startswith("rejected image: ") and value == "2" for key, value in values.items()), values

        # A K of the wrong length cannot even be sent: the message type refuses it where it is built.
        with pytest.raises(AssertionError, match="'k' field"):
            CameraInfo().k = [1.0] * 8
    finally:
        vio.destroy_node()
        driver.node.destroy_node()


def _last_values(driver: _Driver) -> list[Any]:
    statuses = [s for array_msg in driver.diagnostics for s in array_msg.status if s.hardware_id == NODE]
    return list(statuses[-1].values) if statuses else []


@pytest.mark.timeout(120)
def test_a_full_queue_drops_the_oldest_frame_and_counts_it(rclpy_context: Any) -> None:
    """The core is held on the first frame while five more arrive: with a queue of four, the oldest
    waiting frame goes, and the newest four are processed in order once the core is free."""
    driver = _Driver(rclpy_context)
    vio = _vio(rclpy_context, image_queue_limit=4)
    entered, release = threading.Event(), threading.Event()
    original = vio.vio.add_image

    def held(t_ns: int, image: np.ndarray) -> Any:
        if not entered.is_set():
            entered.set()
            release.wait(timeout=60.0)
        return original(t_ns, image)

    vio.vio.add_image = held
    from gps_denied_onboard.graph import Topic

    small = np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))
    try:
        with _running(rclpy_context, vio, driver) as executor:
            epoch = _epoch_ns()
            stamps = [epoch + k * 200_000_000 for k in range(6)]
            driver.image.publish(driver.image_msg(stamps[0], small))
            assert spin_until(executor, entered.is_set, 10.0)
            for count, stamp in enumerate(stamps[1:], start=2):
                driver.image.publish(driver.image_msg(stamp, small))
                assert spin_until(executor, partial(_at_least, vio.interface.received, Topic.CAMERA_IMAGE, count), 10.0)
            assert vio.stats.frames_dropped == 1
            release.set()
            assert spin_until(executor, lambda: len(driver.health) == 5, 20.0), len(driver.health)
        assert [_stamp_of(h) for h in driver.health] == [stamps[0], *stamps[2:]]
        assert all(h.reason == "waiting for camera_info" for h in driver.health)
        # Queueing is part of the latency the health reports: the held frames waited for the first.
        assert all(h.processing_latency_ms > 0.0 for h in driver.health)
    finally:
        release.set()
        vio.destroy_node()
        driver.node.destroy_node()


@pytest.mark.timeout(120)
def test_without_the_worker_thread_frames_are_processed_in_the_callback(rclpy_context: Any, flight: Any) -> None:
    """Stepped replay sets worker_thread false: every frame is processed before its callback returns."""
    from gps_denied_onboard.bringup.plan import STEPPED_INLINE_NODES

    assert NODE in STEPPED_INLINE_NODES
    driver = _Driver(rclpy_context)
    vio = _vio(rclpy_context, worker_thread=False)
    _, frames = flight
    try:
        assert vio._worker is None
        with _running(rclpy_context, vio, driver) as executor:
            _play(driver, executor, vio, frames, flight=flight, epoch_ns=_epoch_ns())
            assert spin_until(executor, lambda: len(driver.health) == len(frames), 10.0)
        assert driver.odometry, "the VIO tracks inline as on its thread"
        assert vio.stats.frames_processed == len(frames)
    finally:
        vio.destroy_node()
        driver.node.destroy_node()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"frontend.max_features": 5}, "frontend.max_features"),
        ({"frontend.max_featurez": 100}, "unknown parameter(s) ['frontend.max_featurez']"),
        ({"keyframe.min_interval_s": 2.0, "keyframe.max_interval_s": 1.0}, "keyframe.min_interval_s"),
        ({"frontend.klt_window_px": 20}, "klt_window_px must be odd"),
        ({"image_queue_limit": 0}, "image_queue_limit"),
        ({"worker_thread": "yes"}, "worker_thread"),
    ],
    ids=["out-of-range", "unknown", "inconsistent", "even-window", "queue", "wrong-type"],
)
def test_bad_parameters_stop_the_node_with_a_named_error(
    rclpy_context: Any, overrides: dict[str, Any], message: str
) -> None:
    from gps_denied_onboard.ros.entrypoint import EXIT_BAD_CONFIG, NodeStartupError

    with pytest.raises(NodeStartupError) as info:
        _vio(rclpy_context, **overrides)
    assert message in str(info.value)
    assert info.value.exit_code == EXIT_BAD_CONFIG


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("frontend.max_features:=5", "parameter 'frontend.max_features': invalid value"),
        ("backend.lag_sec:=4.0", "unknown parameter(s) ['backend.lag_sec']"),
    ],
    ids=["out-of-range", "unknown"],
)
def test_the_executable_exits_2_naming_a_bad_parameter(onboard_prefix: Path, argument: str, message: str) -> None:
    executable = onboard_prefix / "lib" / "onboard" / NODE
    proc = subprocess.run(
        [str(executable), "--ros-args", "-p", argument],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert message in out, out
    assert "Traceback" not in out, out


def test_the_installed_flight_yaml_configures_the_node(onboard_prefix: Path) -> None:
    import rclpy
    import yaml
    from rclpy.context import Context
    from rclpy.utilities import try_shutdown

    from gps_denied_onboard.ros.vio_node import VioNode

    params_file = onboard_prefix / "share" / "onboard" / "config" / "flight.yaml"
    section = yaml.safe_load(params_file.read_text())[NODE]["ros__parameters"]
    assert section, "flight.yaml has a vio_node section"
    context = Context()
    rclpy.init(context=context, args=["--ros-args", "--params-file", str(params_file)])
    try:
        node = VioNode(context=context)
        try:
            values = node.config.to_parameters()
            for name, value in section.items():
                actual = values[name] if name in values else getattr(node.settings, name)
                assert actual == value, name
            from gps_denied_onboard.sim.imu import BMI088

            imu = node.config.imu
            for field in (
                "accel_noise_density",
                "gyro_noise_density",
                "accel_bias_random_walk",
                "gyro_bias_random_walk",
            ):
                assert math.isclose(getattr(imu, field), getattr(BMI088, field), rel_tol=1e-3), field
        finally:
            node.destroy_node()
    finally:
        try_shutdown(context=context)


def test_rejection_reasons_mask_numbers_so_a_stream_of_one_fault_is_one_reason() -> None:
    from gps_denied_onboard.ros.vio_node import reason_key

    a = reason_key(
        "image", "image stamp 1717228800200000000 ns is not after the previous frame's 1717228800400000000 ns"
    )
    b = reason_key(
        "image", "image stamp 1717228801200000000 ns is not after the previous frame's 1717228801400000000 ns"
    )
    assert a == b == "image: image stamp # ns is not after the previous frame's # ns"
    assert reason_key("imu", "accel [nan 0. 9.8]") == reason_key("imu", "accel [1.5e-3 -2 inf]")
    assert reason_key("image", "image: encoding 'rgb16'") != reason_key("image", "image: encoding 'rgb8'")
    assert reason_key("image", "image: encoding 'rgb16'") == "image: encoding 'rgb16'", "not prefixed twice"
