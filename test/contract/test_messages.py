"""The typed contract: every onboard message imports, carries its constants, round-trips CDR."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")

from rclpy.serialization import deserialize_message, serialize_message

from gps_denied_onboard.graph import TOPICS
from gps_denied_onboard.ros.msg_types import UnknownMessageTypeError, message_class

ONBOARD_MESSAGES = (
    "VioHealth",
    "GeoFix",
    "EstimatorStatus",
    "ThermalState",
    "TileCacheStatus",
    "FdrStatus",
    "FdrTopicCounter",
    "FlightState",
    "UploadStatus",
)


def sample(name: str) -> object:
    """A message of type ``name`` with fields set to non-default values (float32 ones exact in binary)."""
    from onboard import msg
    from std_msgs.msg import Header

    header = Header(frame_id="map")
    header.stamp.sec, header.stamp.nanosec = 1_700_000_000, 123_456_789
    builders = {
        "VioHealth": lambda: msg.VioHealth(
            header=header,
            state=msg.VioHealth.STATE_DEGRADED,
            reason="few inliers",
            tracked_features=37,
            inlier_ratio=0.375,
            reinit_count=2,
        ),
        "GeoFix": lambda: msg.GeoFix(
            header=header,
            latitude_deg=50.45,
            longitude_deg=30.52,
            altitude_m=182.5,
            position_covariance_enu_m2=[4.0, 0.1, 0.0, 0.1, 4.0, 0.0, 0.0, 0.0, 9.0],
            heading_rad=math.nan,
            tile_id="z18/1234/5678",
            match_score=0.828125,
            inlier_count=112,
            backend="cpu",
        ),
        "EstimatorStatus": lambda: msg.EstimatorStatus(
            header=header,
            source=msg.EstimatorStatus.SOURCE_VISUAL,
            backend=msg.EstimatorStatus.BACKEND_ESKF,
            gnss_trust=msg.EstimatorStatus.GNSS_REJECTED,
            gnss_reject_reason="delta 350 m > 200 m",
            origin_set=True,
            gnss_rejected=7,
        ),
        "ThermalState": lambda: msg.ThermalState(
            header=header,
            gpu_temp_c=71.5,
            cpu_temp_c=math.nan,
            throttle_level=msg.ThermalState.THROTTLE_LIGHT,
            backend="tensorrt",
        ),
        "TileCacheStatus": lambda: msg.TileCacheStatus(
            header=header, db_connected=True, tiles_total=10, bytes_used=2**33, bytes_budget=2**34, route_coverage=0.875
        ),
        "FdrTopicCounter": lambda: msg.FdrTopicCounter(producer_id="/imu/data", records=10, dropped=1, bytes=640),
        "FdrStatus": lambda: msg.FdrStatus(
            header=header,
            flight_id="f-001",
            records_written=10,
            records_dropped=1,
            topics=[msg.FdrTopicCounter(producer_id="/imu/data", records=10)],
        ),
        "FlightState": lambda: msg.FlightState(
            header=header, state=msg.FlightState.LANDING, flight_id="f-001", source="autopilot"
        ),
        "UploadStatus": lambda: msg.UploadStatus(
            header=header,
            flight_id="f-001",
            state=msg.UploadStatus.UPLOADING,
            bytes_total=100,
            bytes_uploaded=40,
            signing_key_id="k1",
        ),
    }
    return builders[name]()


@pytest.mark.parametrize("name", ONBOARD_MESSAGES)
def test_message_round_trips_through_cdr(name: str) -> None:
    original = sample(name)
    data = serialize_message(original)
    assert isinstance(data, bytes)
    assert len(data) > 0
    restored = deserialize_message(data, type(original))
    # Field-by-field equality; repr() is NaN-safe where == is not. (Bytes of a re-serialisation
    # are no oracle: CDR alignment padding is not guaranteed to be zeroed.)
    assert repr(restored) == repr(original)
    assert restored is not original


def test_enum_constants_are_declared() -> None:
    from onboard import msg

    assert (
        msg.FlightState.UNKNOWN,
        msg.FlightState.ON_GROUND,
        msg.FlightState.TAKING_OFF,
        msg.FlightState.IN_FLIGHT,
        msg.FlightState.LANDING,
    ) == (0, 1, 2, 3, 4)
    assert {
        msg.EstimatorStatus.SOURCE_GNSS,
        msg.EstimatorStatus.SOURCE_VISUAL,
        msg.EstimatorStatus.SOURCE_VIO_ONLY,
        msg.EstimatorStatus.SOURCE_DEAD_RECKONING,
    } == {0, 1, 2, 3}
    assert (msg.EstimatorStatus.BACKEND_ISAM2, msg.EstimatorStatus.BACKEND_ESKF) == (0, 1)
    assert msg.VioHealth.STATE_LOST == 3
    assert msg.UploadStatus.FAILED == 4
    assert msg.ThermalState.THROTTLE_PAUSED == 3


def test_geofix_covariance_is_fixed_3x3() -> None:
    from onboard.msg import GeoFix

    with pytest.raises(AssertionError):
        GeoFix(position_covariance_enu_m2=[1.0] * 6)


def test_every_message_carries_a_header() -> None:
    from onboard import msg

    for name in ONBOARD_MESSAGES:
        if name != "FdrTopicCounter":  # carried inside FdrStatus, which has the header
            assert "header" in getattr(msg, name).get_fields_and_field_types(), name


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
def test_declared_topic_types_resolve(spec: object) -> None:
    from gps_denied_onboard.graph import TopicSpec

    assert isinstance(spec, TopicSpec)
    cls = message_class(spec.msg_type)
    assert cls.__name__ == spec.msg_type.rsplit("/", 1)[1]


@pytest.mark.parametrize(
    ("type_name", "reason"),
    [
        ("onboard/GeoFix", "malformed"),
        ("onboard/srv/GeoFix", "malformed"),
        ("no_such_pkg/msg/X", "not importable"),
        ("onboard/msg/NoSuchMessage", "has no message"),
    ],
)
def test_bad_message_type_names_are_typed_errors(type_name: str, reason: str) -> None:
    with pytest.raises(UnknownMessageTypeError, match=reason):
        message_class(type_name)
