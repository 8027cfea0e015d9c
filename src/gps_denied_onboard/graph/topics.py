"""Topic names, message types and QoS of the graph: the single home of these facts."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gps_denied_onboard.graph import qos


class Topic(str, enum.Enum):
    """Topic names. Use these, never string literals, anywhere in the code."""

    CAMERA_IMAGE = "/camera/image_raw"
    CAMERA_INFO = "/camera/camera_info"
    IMU = "/imu/data"
    GNSS_FIX = "/gps/fix"
    VIO_ODOMETRY = "/vio/odometry"
    VIO_HEALTH = "/vio/health"
    GEOFIX = "/geoloc/fix"
    STATE_ODOMETRY = "/state/odometry"
    STATE_NAVSAT = "/state/navsat"
    STATE_STATUS = "/state/status"
    THERMAL = "/inference/thermal"
    TILE_STATUS = "/tiles/status"
    UPLOAD_STATUS = "/tiles/upload_status"
    FDR_STATUS = "/fdr/status"
    FLIGHT_STATE = "/flight_state"
    DIAGNOSTICS = "/diagnostics"
    ROSOUT = "/rosout"
    STATE_PATH = "/state/path"
    GEOFIX_MARKERS = "/geoloc/markers"
    VIO_LANDMARKS = "/vio/landmarks"
    BARO = "/baro/pressure"
    EVENTS = "/events"
    GROUND_TRUTH = "/ground_truth/odometry"
    SCENARIO_PHASE = "/ground_truth/phase"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, its ROS message type ("pkg/msg/Name") and its QoS profile."""

    topic: Topic
    msg_type: str
    qos: qos.QosSpec
    purpose: str

    @property
    def name(self) -> str:
        """The topic name as ROS sees it."""
        return self.topic.value


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(Topic.CAMERA_IMAGE, "sensor_msgs/msg/Image", qos.SENSOR_DATA, "downward camera frames"),
    TopicSpec(Topic.CAMERA_INFO, "sensor_msgs/msg/CameraInfo", qos.SENSOR_DATA, "camera intrinsics"),
    TopicSpec(Topic.IMU, "sensor_msgs/msg/Imu", qos.IMU_DATA, "IMU at 200 Hz"),
    TopicSpec(Topic.GNSS_FIX, "sensor_msgs/msg/NavSatFix", qos.STATE, "raw GNSS, untrusted until gated"),
    TopicSpec(Topic.VIO_ODOMETRY, "nav_msgs/msg/Odometry", qos.STATE, "VIO pose in odom"),
    TopicSpec(Topic.VIO_HEALTH, "onboard/msg/VioHealth", qos.STATE, "VIO tracking health"),
    TopicSpec(Topic.GEOFIX, "onboard/msg/GeoFix", qos.STATE, "map-matching absolute fixes"),
    TopicSpec(Topic.STATE_ODOMETRY, "nav_msgs/msg/Odometry", qos.STATE, "fused state in map"),
    TopicSpec(Topic.STATE_NAVSAT, "sensor_msgs/msg/NavSatFix", qos.STATE, "fused state for the autopilot"),
    TopicSpec(Topic.STATE_STATUS, "onboard/msg/EstimatorStatus", qos.STATE, "source label and GNSS trust"),
    TopicSpec(Topic.THERMAL, "onboard/msg/ThermalState", qos.LATCHED_STATUS, "thermal throttle state"),
    TopicSpec(Topic.TILE_STATUS, "onboard/msg/TileCacheStatus", qos.LATCHED_STATUS, "tile cache state"),
    TopicSpec(Topic.UPLOAD_STATUS, "onboard/msg/UploadStatus", qos.LATCHED_STATUS, "snapshot upload"),
    TopicSpec(Topic.FDR_STATUS, "onboard/msg/FdrStatus", qos.LATCHED_STATUS, "flight data recorder health"),
    TopicSpec(Topic.FLIGHT_STATE, "onboard/msg/FlightState", qos.LATCHED_STATUS, "flight phase"),
    TopicSpec(Topic.DIAGNOSTICS, "diagnostic_msgs/msg/DiagnosticArray", qos.DIAGNOSTICS, "ROS diagnostics"),
    TopicSpec(Topic.ROSOUT, "rcl_interfaces/msg/Log", qos.ROSOUT, "every node's log (rcl publishes it)"),
    # Inspection (rviz2 / Foxglove). The path is the whole track: latched, so a late viewer gets it at once.
    TopicSpec(Topic.STATE_PATH, "nav_msgs/msg/Path", qos.LATCHED_STATUS, "fused track in map, thinned"),
    TopicSpec(Topic.GEOFIX_MARKERS, "visualization_msgs/msg/MarkerArray", qos.STATE, "GeoFix matches as markers"),
    TopicSpec(Topic.VIO_LANDMARKS, "sensor_msgs/msg/PointCloud2", qos.SENSOR_DATA, "VIO landmarks in odom"),
    TopicSpec(Topic.BARO, "sensor_msgs/msg/FluidPressure", qos.SENSOR_DATA, "static pressure, altitude aid"),
    TopicSpec(Topic.EVENTS, "onboard/msg/Event", qos.EVENTS, "component decisions and state transitions"),
    # Simulator truth: written into simulated bags for `onboard eval`; no node of the graph consumes it.
    TopicSpec(Topic.GROUND_TRUTH, "nav_msgs/msg/Odometry", qos.STATE, "true base_link pose in map (simulator)"),
    TopicSpec(Topic.SCENARIO_PHASE, "onboard/msg/ScenarioPhase", qos.STATE, "scenario event windows (simulator)"),
)

# Topics only a simulator or a test rig publishes: the graph's nodes never subscribe to them.
SIMULATOR_ONLY: frozenset[Topic] = frozenset({Topic.GROUND_TRUTH, Topic.SCENARIO_PHASE})

_BY_TOPIC = {spec.topic: spec for spec in TOPICS}


def topic_spec(topic: Topic) -> TopicSpec:
    """Return the declaration of ``topic``."""
    return _BY_TOPIC[topic]
