"""The simulator's rosbag2 output reads back identically with rosbags: types, stamps, frames, values, QoS."""

from __future__ import annotations

import dataclasses
import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import Reader
from scipy.spatial.transform import Rotation

from conftest import mounted_tmpfs
from gps_denied_onboard.graph import Frame, Topic, topic_spec
from gps_denied_onboard.rosbag_qos import to_rosbag_qos
from gps_denied_onboard.rosbag_types import onboard_typestore
from gps_denied_onboard.sim.bag import TF_STATIC_TOPIC, BagSummary, flight_id_of, write_flight_bag
from gps_denied_onboard.sim.errors import BagOutputExistsError, BagWriteError
from gps_denied_onboard.sim.flight import Flight, FlightPhase, PhaseKind, generate_flight
from gps_denied_onboard.sim.scenario import Scenario, resolve_scenario

DURATION_S = 20.0  # the short scenario's first 20 s: take-off, climb, lake, part of the denial
STORE = onboard_typestore()
SIM_TOPICS = (
    Topic.IMU,
    Topic.GNSS_FIX,
    Topic.BARO,
    Topic.CAMERA_IMAGE,
    Topic.CAMERA_INFO,
    Topic.GROUND_TRUTH,
    Topic.SCENARIO_PHASE,
    Topic.FLIGHT_STATE,
)


@dataclasses.dataclass
class ReadBack:
    """Everything in a bag, per topic: (log time, message, raw bytes)."""

    msgtypes: dict[str, str]
    offers: dict[str, list[Any]]
    messages: dict[str, list[tuple[int, Any, bytes]]]
    metadata_custom: dict[str, str]


def read_bag(path: Path) -> ReadBack:
    messages: dict[str, list[tuple[int, Any, bytes]]] = defaultdict(list)
    with Reader(path) as reader:
        msgtypes = {c.topic: c.msgtype for c in reader.connections}
        offers = {c.topic: list(c.ext.offered_qos_profiles) for c in reader.connections}
        for connection, stamp_ns, data in reader.messages():
            message = STORE.deserialize_cdr(data, connection.msgtype)
            messages[connection.topic].append((stamp_ns, message, bytes(data)))
    metadata = yaml.safe_load((path / "metadata.yaml").read_text(encoding="utf-8"))
    return ReadBack(msgtypes, offers, dict(messages), metadata["rosbag2_bagfile_information"]["custom_data"])


def stamp_ns(message: Any) -> int:
    stamp = message.header.stamp
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


@pytest.fixture(scope="module")
def short_scenario() -> Scenario:
    return resolve_scenario("short")


@pytest.fixture(scope="module")
def written(short_scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> tuple[Flight, BagSummary, ReadBack]:
    flight = generate_flight(short_scenario, duration_s=DURATION_S)
    summary = write_flight_bag(flight, tmp_path_factory.mktemp("sim") / "bag")
    return flight, summary, read_bag(summary.path)


def test_a_rosbag2_directory_with_mcap_storage_and_metadata(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    _, summary, _ = written
    assert (summary.path / "metadata.yaml").is_file()
    assert [p.suffix for p in summary.path.iterdir() if p.name != "metadata.yaml"] == [".mcap"]


def test_every_topic_has_the_graph_type_and_the_right_count(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, summary, bag = written
    for topic in SIM_TOPICS:
        assert bag.msgtypes[topic.value] == topic_spec(topic).msg_type
    assert bag.msgtypes[TF_STATIC_TOPIC] == "tf2_msgs/msg/TFMessage"
    expected = {
        Topic.IMU.value: int(DURATION_S * 200) + 1,
        Topic.GNSS_FIX.value: int(DURATION_S * 5) + 1,
        Topic.BARO.value: int(DURATION_S * 25) + 1,
        Topic.CAMERA_IMAGE.value: int(DURATION_S * 5) + 1,
        Topic.CAMERA_INFO.value: int(DURATION_S * 5) + 1,
        Topic.GROUND_TRUTH.value: int(DURATION_S * 50) + 1,
        Topic.SCENARIO_PHASE.value: len(flight.phases),
        Topic.FLIGHT_STATE.value: 3,  # on the ground, taking off, in flight
        TF_STATIC_TOPIC: 1,
    }
    assert {topic: len(items) for topic, items in bag.messages.items()} == expected
    assert summary.counts == expected


def test_stamps_are_sim_time_monotonic_and_equal_to_log_times(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    epoch = flight.scenario.start_time_ns
    periods = {
        Topic.IMU: 5_000_000,
        Topic.GNSS_FIX: 200_000_000,
        Topic.BARO: 40_000_000,
        Topic.GROUND_TRUTH: 20_000_000,
    }
    for topic, items in bag.messages.items():
        log_times = [log_time for log_time, _, _ in items]
        assert log_times == sorted(log_times), topic
        if topic == TF_STATIC_TOPIC:
            headers = [stamp_ns(t) for _, m, _ in items for t in m.transforms]
        else:
            headers = [stamp_ns(m) for _, m, _ in items]
        assert headers == log_times, topic  # log time is the header stamp
        assert min(headers) >= epoch
    for topic, period in periods.items():
        stamps = np.array([log_time for log_time, _, _ in bag.messages[topic.value]])
        assert stamps[0] == epoch
        assert np.all(np.diff(stamps) == period), topic


def test_frame_ids(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    _, _, bag = written
    frames = {
        Topic.IMU: Frame.BASE_LINK.value,
        Topic.GNSS_FIX: Frame.BASE_LINK.value,
        Topic.BARO: Frame.BASE_LINK.value,
        Topic.CAMERA_IMAGE: Frame.CAMERA.value,
        Topic.CAMERA_INFO: Frame.CAMERA.value,
        Topic.GROUND_TRUTH: Frame.MAP.value,
        Topic.SCENARIO_PHASE: Frame.MAP.value,
    }
    for topic, frame in frames.items():
        assert {m.header.frame_id for _, m, _ in bag.messages[topic.value]} == {frame}, topic
    assert {m.child_frame_id for _, m, _ in bag.messages[Topic.GROUND_TRUTH.value]} == {"base_link"}
    (tf,) = bag.messages[TF_STATIC_TOPIC][0][1].transforms
    assert (tf.header.frame_id, tf.child_frame_id) == ("base_link", "camera")


def test_imu_gnss_and_baro_values_read_back_exactly(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    imu = bag.messages[Topic.IMU.value]
    accel = np.array([[m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z] for _, m, _ in imu])
    gyro = np.array([[m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z] for _, m, _ in imu])
    assert np.array_equal(accel, flight.imu.accel_mps2)
    assert np.array_equal(gyro, flight.imu.gyro_radps)
    assert imu[0][1].orientation_covariance[0] == -1.0  # no orientation estimate
    assert imu[0][1].angular_velocity_covariance[0] == pytest.approx(flight.imu.gyro_variance_radps_2())
    fixes = [m for _, m, _ in bag.messages[Topic.GNSS_FIX.value]]
    latitudes = np.array([m.latitude for m in fixes])
    assert np.array_equal(latitudes, flight.gnss.latitude_deg, equal_nan=True)
    navsat = STORE.types["sensor_msgs/msg/NavSatStatus"]
    navsat_fix = STORE.types["sensor_msgs/msg/NavSatFix"]
    for message, has_fix, variance in zip(fixes, flight.gnss.fix, flight.gnss.variance_enu_m2, strict=True):
        assert message.status.status == (navsat.STATUS_FIX if has_fix else navsat.STATUS_NO_FIX)
        expected_type = navsat_fix.COVARIANCE_TYPE_DIAGONAL_KNOWN if has_fix else navsat_fix.COVARIANCE_TYPE_UNKNOWN
        assert message.position_covariance_type == expected_type
        assert np.array_equal(message.position_covariance, np.diag(variance).ravel())
    assert not flight.gnss.fix.all()  # the window reaches into the short scenario's denial (from 14 s)
    pressures = np.array([m.fluid_pressure for _, m, _ in bag.messages[Topic.BARO.value]])
    assert np.array_equal(pressures, flight.baro.pressure_pa)


def test_ground_truth_is_the_trajectory(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    truth = [m for _, m, _ in bag.messages[Topic.GROUND_TRUTH.value]]
    t = np.array([stamp_ns(m) - flight.scenario.start_time_ns for m in truth]) / 1e9
    states = flight.trajectory.states(t)
    positions = np.array([[m.pose.pose.position.x, m.pose.pose.position.y, m.pose.pose.position.z] for m in truth])
    assert np.allclose(positions, states.position_m, atol=1e-9)
    quats = np.array([[m.pose.pose.orientation.x, m.pose.pose.orientation.y, m.pose.pose.orientation.z,
                       m.pose.pose.orientation.w] for m in truth])  # fmt: skip
    assert np.allclose(Rotation.from_quat(quats).as_matrix(), states.R_map_body, atol=1e-9)
    velocity_body = np.array([[m.twist.twist.linear.x, m.twist.twist.linear.y, m.twist.twist.linear.z] for m in truth])
    velocity_map = np.einsum("nij,nj->ni", states.R_map_body, velocity_body)  # twist is in the child frame
    assert np.allclose(velocity_map, states.velocity_mps, atol=1e-9)
    rates = np.array([[m.twist.twist.angular.x, m.twist.twist.angular.y, m.twist.twist.angular.z] for m in truth])
    assert np.allclose(rates, states.angular_rate_body_radps, atol=1e-12)
    assert not any(np.any(m.pose.covariance) or np.any(m.twist.covariance) for m in truth)


def test_camera_info_is_the_camera_model(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    fields = flight.camera.camera_info_fields()
    for _, info, _ in bag.messages[Topic.CAMERA_INFO.value]:
        assert (info.width, info.height) == (640, 480)
        assert info.distortion_model == "plumb_bob"
        assert np.array_equal(info.d, fields.d)
        assert np.array_equal(info.k, fields.k)
        assert np.array_equal(info.r, np.eye(3).ravel())
        assert np.array_equal(info.p, fields.p)
    assert fields.k[0] == pytest.approx(320.0 / np.tan(np.radians(35.0)))  # fx from the 70 deg field of view


def test_images_are_the_rendered_frames(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    images = bag.messages[Topic.CAMERA_IMAGE.value]
    infos = bag.messages[Topic.CAMERA_INFO.value]
    assert [t for t, _, _ in images] == [t for t, _, _ in infos]  # one camera_info per image, same stamp
    frames = flight.frames()
    for (_, image, _), frame in zip(images[:3], frames, strict=False):
        assert (image.encoding, image.width, image.height, image.step) == ("mono8", 640, 480, 640)
        assert image.is_bigendian == 0
        assert np.array_equal(image.data.reshape(480, 640), frame.image)
    assert 30.0 < np.mean(images[-1][1].data) < 230.0  # a textured ground, not a blank frame


def test_one_scenario_phase_per_window_at_its_start(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    phase_type = STORE.types[topic_spec(Topic.SCENARIO_PHASE).msg_type]
    phases = [m for _, m, _ in bag.messages[Topic.SCENARIO_PHASE.value]]
    epoch = flight.scenario.start_time_ns
    assert len(phases) == len(flight.phases) >= 2
    for message, window in zip(phases, flight.phases, strict=True):
        assert message.kind == getattr(phase_type, window.kind.value)
        assert message.name == window.name
        assert stamp_ns(message) == epoch + window.start_ns
        assert message.end.sec * 1_000_000_000 + message.end.nanosec == epoch + window.end_ns
    denial = next(m for m in phases if m.kind == phase_type.GNSS_DENIED)
    assert (denial.name, stamp_ns(denial) - epoch, denial.end.sec * 10**9 + denial.end.nanosec - epoch) == (
        "gnss_denial",
        17 * 10**9,
        20 * 10**9,  # clipped to the 20 s simulated
    )
    assert {PhaseKind.GNSS_DENIED, PhaseKind.FEATURELESS} <= {w.kind for w in flight.phases}


def test_flight_state_follows_the_phases_of_flight(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    state_type = STORE.types[topic_spec(Topic.FLIGHT_STATE).msg_type]
    states = [m for _, m, _ in bag.messages[Topic.FLIGHT_STATE.value]]
    assert [m.state for m in states] == [state_type.ON_GROUND, state_type.TAKING_OFF, state_type.IN_FLIGHT]
    assert [change.phase for change in flight.flight_phases] == [
        FlightPhase.ON_GROUND,
        FlightPhase.TAKING_OFF,
        FlightPhase.IN_FLIGHT,
    ]
    assert {m.source for m in states} == {"simulator"}
    assert {m.flight_id for m in states} == {flight_id_of(flight)}


def test_the_camera_mount_is_on_tf_static(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    (transform,) = bag.messages[TF_STATIC_TOPIC][0][1].transforms
    q = transform.transform.rotation
    rotation = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
    assert np.allclose(rotation, flight.camera.R_body_camera, atol=1e-12)
    t = transform.transform.translation
    assert (t.x, t.y, t.z) == pytest.approx(flight.camera.t_body_camera_m)
    # The optical axis (camera z) looks down in base_link.
    assert np.allclose(rotation[:, 2], [0.0, 0.0, -1.0], atol=1e-12)


def test_offered_qos_comes_from_the_graph(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    _, _, bag = written
    for topic in SIM_TOPICS:
        assert bag.offers[topic.value] == [to_rosbag_qos(topic_spec(topic).qos)], topic
    (static_offer,) = bag.offers[TF_STATIC_TOPIC]
    assert static_offer.durability.name == "TRANSIENT_LOCAL"
    assert static_offer.depth == 1


def test_provenance_in_the_metadata(written: tuple[Flight, BagSummary, ReadBack]) -> None:
    flight, _, bag = written
    assert bag.metadata_custom["sim.scenario"] == "short"
    assert bag.metadata_custom["sim.seed"] == str(flight.scenario.seed)
    assert bag.metadata_custom["sim.start_time_ns"] == str(flight.scenario.start_time_ns)


def _digest(path: Path) -> tuple[str, dict[str, str]]:
    everything = hashlib.sha256()
    per_topic: dict[str, Any] = defaultdict(hashlib.sha256)
    with Reader(path) as reader:
        for connection, stamp, data in reader.messages():
            record = connection.topic.encode() + stamp.to_bytes(8, "little") + bytes(data)
            everything.update(record)
            per_topic[connection.topic].update(record)
    return everything.hexdigest(), {topic: h.hexdigest() for topic, h in per_topic.items()}


def test_same_seed_identical_bytes_other_seed_other_noise(short_scenario: Scenario, tmp_path: Path) -> None:
    def write(seed: int, name: str) -> Path:
        scenario = dataclasses.replace(short_scenario, seed=seed)
        return write_flight_bag(generate_flight(scenario, duration_s=4.0), tmp_path / name).path

    first, again, other = (_digest(write(seed, name)) for seed, name in ((11, "a"), (11, "b"), (12, "c")))
    assert first == again
    assert first[0] != other[0]
    for topic in (Topic.IMU, Topic.GNSS_FIX, Topic.BARO, Topic.CAMERA_IMAGE):
        assert first[1][topic.value] != other[1][topic.value], topic  # every sensor's noise is the seed's
    for topic in (Topic.GROUND_TRUTH, Topic.CAMERA_INFO):
        assert first[1][topic.value] == other[1][topic.value], topic  # the flight itself is the scenario's


def test_an_existing_output_is_never_overwritten(short_scenario: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    flight = generate_flight(short_scenario, duration_s=1.0)
    with pytest.raises(BagOutputExistsError, match="exists already"):
        write_flight_bag(flight, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_a_failed_write_leaves_nothing_behind(short_scenario: Scenario, tmp_path: Path) -> None:
    flight = generate_flight(short_scenario, duration_s=1.0)
    broken = dataclasses.replace(flight, camera_t_ns=np.array([0, 10**18]))  # a frame far past the flight
    with pytest.raises(Exception, match="outside the trajectory"):
        write_flight_bag(broken, tmp_path / "bag")
    assert not (tmp_path / "bag").exists()


def test_a_full_disk_is_a_typed_error_and_leaves_nothing_behind(short_scenario: Scenario, tmp_path: Path) -> None:
    flight = generate_flight(short_scenario, duration_s=2.0)  # 11 images of 300 kB: more than 1 MB
    with mounted_tmpfs(tmp_path / "small", "size=1m") as mount:
        with pytest.raises(BagWriteError, match="No space left on device"):
            write_flight_bag(flight, mount / "bag")
        assert not (mount / "bag").exists()
