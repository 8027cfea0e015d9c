"""state_estimator_node with a real rclpy context: messages in, fused state out, bad input survived.

A driver node publishes a vehicle standing at the take-off origin (IMU at rest, GNSS fixes with
noise) on the graph's topics and QoS, one message at a time with the executor spun in between,
and reads what the estimator publishes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import orjson
import pytest
from ros_helpers import spin_until, spinning

pytest.importorskip("rclpy", reason="needs rclpy (the ROS 2 Jazzy wheels)")

ORIGIN = (47.3977, 8.5456, 488.0)  # lat, lon, ellipsoidal height
G = 9.80665
PACE_S = 0.005  # wall time per 5 ms IMU sample: real time, as a real IMU


def _stamp(msg: Any, t_ns: int) -> None:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)


class _Driver:
    """Publishes sensor messages and collects the estimator's outputs."""

    def __init__(self, context: Any) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from nav_msgs.msg import Odometry
        from onboard.msg import EstimatorStatus, Event
        from rclpy.node import Node
        from sensor_msgs.msg import FluidPressure, Imu, NavSatFix

        from gps_denied_onboard.graph import Topic
        from gps_denied_onboard.ros.qos import topic_qos

        self.node = Node("estimator_test_driver", context=context)
        self.imu = self.node.create_publisher(Imu, Topic.IMU.value, topic_qos(Topic.IMU))
        self.gnss = self.node.create_publisher(NavSatFix, Topic.GNSS_FIX.value, topic_qos(Topic.GNSS_FIX))
        self.baro = self.node.create_publisher(FluidPressure, Topic.BARO.value, topic_qos(Topic.BARO))
        self.odometry: list[Any] = []
        self.navsat: list[Any] = []
        self.status: list[Any] = []
        self.events: list[Any] = []
        self.diagnostics: list[Any] = []
        sub = self.node.create_subscription
        sub(Odometry, Topic.STATE_ODOMETRY.value, self.odometry.append, topic_qos(Topic.STATE_ODOMETRY))
        sub(NavSatFix, Topic.STATE_NAVSAT.value, self.navsat.append, topic_qos(Topic.STATE_NAVSAT))
        sub(EstimatorStatus, Topic.STATE_STATUS.value, self.status.append, topic_qos(Topic.STATE_STATUS))
        sub(Event, Topic.EVENTS.value, self.events.append, topic_qos(Topic.EVENTS))
        sub(DiagnosticArray, Topic.DIAGNOSTICS.value, self.diagnostics.append, topic_qos(Topic.DIAGNOSTICS))

    def imu_msg(self, t_ns: int, accel: tuple[float, float, float] = (0.0, 0.0, G)) -> Any:
        from sensor_msgs.msg import Imu

        msg = Imu()
        _stamp(msg, t_ns)
        msg.header.frame_id = "base_link"
        msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = accel
        msg.orientation_covariance[0] = -1.0
        return msg

    def gnss_msg(self, t_ns: int, lat: float, lon: float, alt: float, sigma_m: float = 1.0) -> Any:
        from sensor_msgs.msg import NavSatFix, NavSatStatus

        msg = NavSatFix()
        _stamp(msg, t_ns)
        msg.header.frame_id = "base_link"
        msg.status.status = NavSatStatus.STATUS_FIX
        msg.latitude, msg.longitude, msg.altitude = lat, lon, alt
        msg.position_covariance = [sigma_m**2, 0.0, 0.0, 0.0, sigma_m**2, 0.0, 0.0, 0.0, (2 * sigma_m) ** 2]
        msg.position_covariance_type = NavSatFix.COVARIANCE_TYPE_DIAGONAL_KNOWN
        return msg


@contextmanager
def _running(context: Any, estimator: Any, driver: _Driver) -> Iterator[Any]:
    """The estimator spun on its own thread (as in its own process), the driver's executor returned."""
    from rclpy.executors import SingleThreadedExecutor

    background = SingleThreadedExecutor(context=context)
    background.add_node(estimator)
    thread = threading.Thread(target=background.spin, daemon=True)
    thread.start()
    try:
        with spinning(context, driver.node) as executor:
            yield executor
    finally:
        background.shutdown(timeout_sec=5.0)
        thread.join(timeout=5.0)


def _estimator(context: Any, **overrides: Any) -> Any:
    from rclpy.parameter import Parameter

    from gps_denied_onboard.ros.state_estimator_node import StateEstimatorNode

    params = {
        "origin.mode": "parameters",
        "origin.latitude_deg": ORIGIN[0],
        "origin.longitude_deg": ORIGIN[1],
        "origin.altitude_m": ORIGIN[2],
        "origin.yaw_known": True,
        "origin.yaw_deg": 0.0,
        "output_rate_hz": 50.0,
        "gate.dwell_s": 1.0,  # promote to TRUSTED within the short test
        **overrides,
    }
    return StateEstimatorNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])


def _epoch_ns() -> int:
    """A stamp epoch of its own per test: a late sample of an earlier test (same process, new DDS
    participant) must not read as this test's past."""
    return time.time_ns() // 1_000_000_000 * 1_000_000_000


def _fly_at_rest(driver: _Driver, executor: Any, seconds: float, *, gnss_offset_m: float = 0.0, t0_ns: int) -> int:
    """IMU at 200 Hz and GNSS at 5 Hz of a vehicle standing at the origin; return the last stamp."""
    from gps_denied_onboard.geometry.geodesy import LocalTangentPlane

    ltp = LocalTangentPlane(*ORIGIN)
    rng = np.random.default_rng(7)
    t_ns = t0_ns
    start = time.monotonic()
    for k in range(int(seconds * 200)):
        t_ns = t0_ns + k * 5_000_000
        driver.imu.publish(driver.imu_msg(t_ns))
        if k % 40 == 0:
            east = gnss_offset_m + rng.normal(0.0, 0.5)
            lat, lon, alt = ltp.geodetic_from_enu([east, rng.normal(0.0, 0.5), rng.normal(0.0, 1.0)])
            driver.gnss.publish(driver.gnss_msg(t_ns, float(lat), float(lon), float(alt)))
        # Paced at real time: the estimator sees the arrival order of a real 200 Hz IMU and 5 Hz GNSS.
        deadline = start + (k + 1) * PACE_S
        while (remaining := deadline - time.monotonic()) > 0.0:
            executor.spin_once(timeout_sec=remaining)
    return t_ns


@pytest.mark.timeout(120)
def test_fused_state_is_published_in_map_with_covariance(rclpy_context: Any) -> None:
    driver = _Driver(rclpy_context)
    estimator = _estimator(rclpy_context)
    try:
        with _running(rclpy_context, estimator, driver) as executor:
            _fly_at_rest(driver, executor, 4.0, t0_ns=_epoch_ns())
            assert spin_until(executor, lambda: len(driver.odometry) >= 5 and len(driver.navsat) >= 5, 20.0)
            odom = driver.odometry[-1]
            assert (odom.header.frame_id, odom.child_frame_id) == ("map", "base_link")
            position = np.array([odom.pose.pose.position.x, odom.pose.pose.position.y, odom.pose.pose.position.z])
            assert np.linalg.norm(position[:2]) < 2.0, position  # standing at the origin
            cov = np.array(odom.pose.covariance).reshape(6, 6)
            assert np.allclose(cov, cov.T)
            assert np.all(np.linalg.eigvalsh(cov) > 0.0)
            fix = driver.navsat[-1]
            assert fix.position_covariance_type == fix.COVARIANCE_TYPE_KNOWN
            assert math.isclose(fix.latitude, ORIGIN[0], abs_tol=2e-5)
            assert math.isclose(fix.longitude, ORIGIN[1], abs_tol=3e-5)
            status = driver.status[-1]
            assert status.origin_set
            assert math.isclose(status.origin_latitude_deg, ORIGIN[0])
            assert status.imu_samples > 500
            assert status.gnss_accepted > 5
            assert status.gnss_trust == status.GNSS_TRUSTED
            assert status.source == status.SOURCE_GNSS
            names = {event.name for event in driver.events}
            assert {"origin_set", "estimator_initialized"} <= names, names
            assert all(isinstance(orjson.loads(event.data_json), dict) for event in driver.events)
    finally:
        estimator.destroy_node()
        driver.node.destroy_node()


@pytest.mark.timeout(120)
def test_a_gnss_jump_is_rejected_and_reported(rclpy_context: Any) -> None:
    driver = _Driver(rclpy_context)
    estimator = _estimator(rclpy_context)
    try:
        with _running(rclpy_context, estimator, driver) as executor:
            t_ns = _fly_at_rest(driver, executor, 4.0, t0_ns=_epoch_ns())
            assert spin_until(executor, lambda: bool(driver.status) and driver.status[-1].gnss_accepted > 5, 20.0)
            accepted_before = driver.status[-1].gnss_accepted
            _fly_at_rest(driver, executor, 3.0, gnss_offset_m=500.0, t0_ns=t_ns + 5_000_000)

            def rejected() -> bool:
                return bool(driver.status) and driver.status[-1].gnss_trust == driver.status[-1].GNSS_REJECTED

            assert spin_until(executor, rejected, 20.0)
            status = driver.status[-1]
            assert status.gnss_rejected >= 3
            assert status.gnss_accepted == accepted_before
            assert status.gnss_reject_reason
            odom = driver.odometry[-1]
            assert abs(odom.pose.pose.position.x) < 5.0  # not pulled 500 m east
            assert any(event.name == "gnss_trust_changed" for event in driver.events)
    finally:
        estimator.destroy_node()
        driver.node.destroy_node()


@pytest.mark.timeout(120)
def test_malformed_messages_are_rejected_and_the_node_keeps_running(rclpy_context: Any) -> None:
    driver = _Driver(rclpy_context)
    estimator = _estimator(rclpy_context)
    try:
        with _running(rclpy_context, estimator, driver) as executor:
            t_ns = _fly_at_rest(driver, executor, 4.0, t0_ns=_epoch_ns())
            assert spin_until(executor, lambda: bool(driver.status) and driver.status[-1].gnss_accepted > 3, 20.0)
            before = driver.status[-1]
            bad_fix = driver.gnss_msg(t_ns + 10_000_000, math.nan, ORIGIN[1], ORIGIN[2])
            driver.gnss.publish(bad_fix)
            negative = driver.gnss_msg(t_ns + 20_000_000, *ORIGIN)
            negative.position_covariance = [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0]
            driver.gnss.publish(negative)
            driver.imu.publish(driver.imu_msg(t_ns + 15_000_000, (math.inf, 0.0, G)))
            driver.imu.publish(driver.imu_msg(t_ns - 1_000_000_00))  # 100 ms in the past: out of order
            _fly_at_rest(driver, executor, 2.0, t0_ns=t_ns + 30_000_000)

            def moved_on() -> bool:
                return bool(driver.status) and driver.status[-1].imu_samples > before.imu_samples + 300

            assert spin_until(executor, moved_on, 20.0)
            after = driver.status[-1]
            assert after.gnss_rejected >= before.gnss_rejected + 2
            odom = driver.odometry[-1]
            values = [odom.pose.pose.position.x, odom.pose.pose.position.y, odom.pose.pose.position.z]
            assert all(math.isfinite(v) for v in values)
            assert np.linalg.norm(values[:2]) < 2.0
            assert estimator._worker.errors == 0  # rejected with reasons, never an exception in the core
    finally:
        estimator.destroy_node()
        driver.node.destroy_node()


def test_bad_parameters_stop_the_node_with_a_named_error(rclpy_context: Any) -> None:
    from gps_denied_onboard.ros.entrypoint import EXIT_BAD_CONFIG, NodeStartupError

    with pytest.raises(NodeStartupError, match=r"origin\.mode") as info:
        _estimator(rclpy_context, **{"origin.mode": "somewhere"})
    assert info.value.exit_code == EXIT_BAD_CONFIG
    with pytest.raises(NodeStartupError, match="backend"):
        _estimator(rclpy_context, backend="kalman")
    with pytest.raises(NodeStartupError, match="origin"):
        _estimator(rclpy_context, **{"origin.latitude_deg": 123.0})
