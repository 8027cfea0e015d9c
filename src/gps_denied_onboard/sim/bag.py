"""Write a simulated flight as a rosbag2 directory (MCAP storage, metadata.yaml) with rosbags.

Standard message types, topics and QoS offers from the graph declaration, frame ids from
``graph.Frame``: IMU, GNSS and barometer in base_link (the IMU axes are base_link's; the GNSS
antenna and the barometer sit at its origin), images in the camera's optical frame, ground truth
in map with child base_link (twist in base_link, as nav_msgs/Odometry defines it). Stamps are sim
time: the scenario's epoch plus the flight time, and every message's log time is its header
stamp. Messages are written in stamp order (ties in a fixed topic order), so the same flight gives
byte-identical messages. The output directory must not exist: a bag is never overwritten.
"""

from __future__ import annotations

import heapq
import logging
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
from rosbags.typesys import TypesysError
from rosbags.typesys.store import Typestore
from scipy.spatial.transform import Rotation

from gps_denied_onboard.graph import Frame, Topic, topic_spec
from gps_denied_onboard.graph.qos import LATCHED_STATUS
from gps_denied_onboard.rosbag_qos import to_rosbag_qos
from gps_denied_onboard.rosbag_types import onboard_typestore
from gps_denied_onboard.sim.errors import BagOutputExistsError, BagWriteError
from gps_denied_onboard.sim.flight import CameraFrame, Flight, generate_flight
from gps_denied_onboard.sim.imu import NS_PER_S
from gps_denied_onboard.sim.scenario import Scenario

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

BAG_VERSION: Literal[9] = 9  # rosbag2's metadata version (Jazzy writes 9)
# /tf_static is not part of the graph's topic table (tf2 owns it); its offer is tf2's static
# broadcaster's: reliable, transient local, depth 1 (the graph's latched-status profile).
TF_STATIC_TOPIC = "/tf_static"
TF_MSG_TYPE = "tf2_msgs/msg/TFMessage"
SIMULATOR_SOURCE = "simulator"  # FlightState.source

# Topics in the order messages with equal stamps are written (static and slow facts first).
_TOPIC_ORDER: tuple[str, ...] = (
    TF_STATIC_TOPIC,
    Topic.FLIGHT_STATE.value,
    Topic.SCENARIO_PHASE.value,
    Topic.GROUND_TRUTH.value,
    Topic.IMU.value,
    Topic.GNSS_FIX.value,
    Topic.BARO.value,
    Topic.CAMERA_INFO.value,
    Topic.CAMERA_IMAGE.value,
)
_SIM_TOPICS = (
    Topic.FLIGHT_STATE,
    Topic.SCENARIO_PHASE,
    Topic.GROUND_TRUTH,
    Topic.IMU,
    Topic.GNSS_FIX,
    Topic.BARO,
    Topic.CAMERA_INFO,
    Topic.CAMERA_IMAGE,
)


@dataclass(frozen=True)
class BagSummary:
    """What was written."""

    path: Path
    counts: dict[str, int]  # messages per topic
    duration_s: float  # simulated flight time
    distance_flown_m: float
    start_time_ns: int  # the sim-time epoch (stamp of t = 0)
    accel_clipped_samples: int = 0  # IMU samples with an accelerometer axis at full scale
    gyro_clipped_samples: int = 0


class _Messages:
    """Builds each topic's rosbags messages from the flight's arrays."""

    def __init__(self, flight: Flight, store: Typestore) -> None:
        self.flight = flight
        self.epoch_ns = flight.start_time_ns
        self.t: Mapping[str, Any] = store.types  # message classes, constants as class attributes
        self.zeros36 = np.zeros(36)
        self.encoding = flight.scenario.camera.render_options().encoding.value

    def stamp(self, t_ns: int) -> Any:
        """builtin_interfaces/Time of flight time ``t_ns`` (sim time: epoch + t)."""
        total = self.epoch_ns + int(t_ns)
        return self.t["builtin_interfaces/msg/Time"](sec=total // NS_PER_S, nanosec=total % NS_PER_S)

    def header(self, t_ns: int, frame: Frame | str) -> Any:
        """std_msgs/Header at flight time ``t_ns``."""
        return self.t["std_msgs/msg/Header"](stamp=self.stamp(t_ns), frame_id=str(frame))

    def vector3(self, v: FloatArray) -> Any:
        """geometry_msgs/Vector3."""
        return self.t["geometry_msgs/msg/Vector3"](x=float(v[0]), y=float(v[1]), z=float(v[2]))

    def quaternion(self, xyzw: FloatArray) -> Any:
        """geometry_msgs/Quaternion from (x, y, z, w)."""
        return self.t["geometry_msgs/msg/Quaternion"](
            x=float(xyzw[0]), y=float(xyzw[1]), z=float(xyzw[2]), w=float(xyzw[3])
        )

    def imu(self) -> Iterator[tuple[int, Any]]:
        """sensor_msgs/Imu samples."""
        imu = self.flight.imu
        imu_msg = self.t["sensor_msgs/msg/Imu"]
        no_orientation = np.zeros(9)
        no_orientation[0] = -1.0  # sensor_msgs/Imu: this IMU gives no orientation estimate
        accel_cov = np.diag(np.full(3, imu.accel_variance_mps2_2())).ravel()
        gyro_cov = np.diag(np.full(3, imu.gyro_variance_radps_2())).ravel()
        identity = self.quaternion(np.array([0.0, 0.0, 0.0, 1.0]))
        for i, t_ns in enumerate(imu.t_ns):
            yield (
                int(t_ns),
                imu_msg(
                    header=self.header(t_ns, Frame.BASE_LINK),
                    orientation=identity,
                    orientation_covariance=no_orientation,
                    angular_velocity=self.vector3(imu.gyro_radps[i]),
                    angular_velocity_covariance=gyro_cov,
                    linear_acceleration=self.vector3(imu.accel_mps2[i]),
                    linear_acceleration_covariance=accel_cov,
                ),
            )

    def gnss(self) -> Iterator[tuple[int, Any]]:
        """sensor_msgs/NavSatFix messages (STATUS_NO_FIX with an unknown covariance when denied)."""
        gnss = self.flight.gnss
        fix_msg, status_msg = self.t["sensor_msgs/msg/NavSatFix"], self.t["sensor_msgs/msg/NavSatStatus"]
        for i, t_ns in enumerate(gnss.t_ns):
            has_fix = bool(gnss.fix[i])
            yield (
                int(t_ns),
                fix_msg(
                    header=self.header(t_ns, Frame.BASE_LINK),
                    status=status_msg(
                        status=status_msg.STATUS_FIX if has_fix else status_msg.STATUS_NO_FIX,
                        service=status_msg.SERVICE_GPS,
                    ),
                    latitude=float(gnss.latitude_deg[i]),
                    longitude=float(gnss.longitude_deg[i]),
                    altitude=float(gnss.altitude_m[i]),
                    position_covariance=np.diag(gnss.variance_enu_m2[i]).ravel(),
                    position_covariance_type=(
                        fix_msg.COVARIANCE_TYPE_DIAGONAL_KNOWN if has_fix else fix_msg.COVARIANCE_TYPE_UNKNOWN
                    ),
                ),
            )

    def baro(self) -> Iterator[tuple[int, Any]]:
        """sensor_msgs/FluidPressure samples."""
        baro = self.flight.baro
        pressure_msg = self.t["sensor_msgs/msg/FluidPressure"]
        for i, t_ns in enumerate(baro.t_ns):
            yield (
                int(t_ns),
                pressure_msg(
                    header=self.header(t_ns, Frame.BASE_LINK),
                    fluid_pressure=float(baro.pressure_pa[i]),
                    variance=float(baro.variance_pa2),
                ),
            )

    def ground_truth(self) -> Iterator[tuple[int, Any]]:
        """nav_msgs/Odometry of the truth, twist in base_link, zero covariance."""
        flight, t = self.flight, self.t
        truth = flight.truth
        quats = _quaternions_xyzw(truth.R_map_body)
        velocity_body = np.einsum("nji,nj->ni", truth.R_map_body, truth.velocity_mps)
        for i, t_ns in enumerate(flight.truth_t_ns):
            p = truth.position_m[i]
            pose = t["geometry_msgs/msg/Pose"](
                position=t["geometry_msgs/msg/Point"](x=float(p[0]), y=float(p[1]), z=float(p[2])),
                orientation=self.quaternion(quats[i]),
            )
            twist = t["geometry_msgs/msg/Twist"](
                linear=self.vector3(velocity_body[i]), angular=self.vector3(truth.angular_rate_body_radps[i])
            )
            yield (
                int(t_ns),
                t["nav_msgs/msg/Odometry"](
                    header=self.header(t_ns, Frame.MAP),
                    child_frame_id=Frame.BASE_LINK.value,
                    pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=self.zeros36),
                    twist=t["geometry_msgs/msg/TwistWithCovariance"](twist=twist, covariance=self.zeros36),
                ),
            )

    def camera(self) -> Iterator[tuple[int, Any]]:
        """sensor_msgs/Image frames, rendered as they are consumed."""
        for frame in self.flight.frames():
            yield frame.t_ns, self.image(frame)

    def image(self, frame: CameraFrame) -> Any:
        """sensor_msgs/Image of one frame."""
        height, width = frame.image.shape[:2]
        channels = frame.image.shape[2] if frame.image.ndim == 3 else 1
        return self.t["sensor_msgs/msg/Image"](
            header=self.header(frame.t_ns, Frame.CAMERA),
            height=height,
            width=width,
            encoding=self.encoding,
            is_bigendian=0,
            step=width * channels,
            data=np.ascontiguousarray(frame.image).reshape(-1),
        )

    def camera_info(self) -> Iterator[tuple[int, Any]]:
        """sensor_msgs/CameraInfo, one per frame with its stamp."""
        fields = self.flight.camera.camera_info_fields()
        t = self.t
        for t_ns in self.flight.camera_t_ns:
            yield (
                int(t_ns),
                t["sensor_msgs/msg/CameraInfo"](
                    header=self.header(t_ns, Frame.CAMERA),
                    height=fields.height,
                    width=fields.width,
                    distortion_model=fields.distortion_model,
                    d=np.asarray(fields.d, dtype=np.float64),
                    k=np.asarray(fields.k, dtype=np.float64),
                    r=np.asarray(fields.r, dtype=np.float64),
                    p=np.asarray(fields.p, dtype=np.float64),
                    binning_x=fields.binning_x,
                    binning_y=fields.binning_y,
                    roi=t["sensor_msgs/msg/RegionOfInterest"](
                        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
                    ),
                ),
            )

    def phases(self) -> Iterator[tuple[int, Any]]:
        """onboard/ScenarioPhase, one per window, stamped at its start."""
        phase_msg = self.t[topic_spec(Topic.SCENARIO_PHASE).msg_type]
        for window in self.flight.phases:
            yield (
                window.start_ns,
                phase_msg(
                    header=self.header(window.start_ns, Frame.MAP),
                    end=self.stamp(window.end_ns),
                    kind=getattr(phase_msg, window.kind.value),
                    name=window.name,
                    spoof_rate_mps=float(window.spoof_rate_mps),
                    spoof_offset_enu_m=np.asarray(window.spoof_offset_enu_m, dtype=np.float64),
                ),
            )

    def flight_states(self) -> Iterator[tuple[int, Any]]:
        """onboard/FlightState at each phase change."""
        state_msg = self.t[topic_spec(Topic.FLIGHT_STATE).msg_type]
        flight_id = flight_id_of(self.flight)
        for change in self.flight.flight_phases:
            yield (
                change.t_ns,
                state_msg(
                    header=self.header(change.t_ns, ""),
                    state=getattr(state_msg, change.phase.value),
                    flight_id=flight_id,
                    source=SIMULATOR_SOURCE,
                ),
            )

    def tf_static(self) -> Iterator[tuple[int, Any]]:
        """tf2_msgs/TFMessage with the static base_link -> camera mount."""
        t, camera = self.t, self.flight.camera
        transform = t["geometry_msgs/msg/Transform"](
            translation=self.vector3(np.asarray(camera.t_body_camera_m, dtype=np.float64)),
            rotation=self.quaternion(_quaternions_xyzw(camera.R_body_camera[None])[0]),
        )
        stamped = t["geometry_msgs/msg/TransformStamped"](
            header=self.header(0, Frame.BASE_LINK), child_frame_id=Frame.CAMERA.value, transform=transform
        )
        yield 0, t[TF_MSG_TYPE](transforms=[stamped])


def _quaternions_xyzw(rotations: FloatArray) -> FloatArray:
    """Unit quaternions (N, 4) x, y, z, w with w >= 0 (one sign, so equal rotations give equal bytes)."""
    quats = np.asarray(Rotation.from_matrix(rotations).as_quat(), dtype=np.float64)
    return np.where(quats[:, 3:4] < 0.0, -quats, quats)


def flight_id_of(flight: Flight) -> str:
    """The flight id the simulator writes into FlightState (scenario name and seed)."""
    return f"sim-{flight.scenario.name}-seed{flight.scenario.seed}"


def write_flight_bag(flight: Flight, out_dir: Path) -> BagSummary:
    """Write ``flight`` to a new rosbag2 directory ``out_dir`` (MCAP storage)."""
    if out_dir.exists() or out_dir.is_symlink():
        raise BagOutputExistsError(f"output {out_dir} exists already, not overwriting")
    store = onboard_typestore()
    writer = Writer(out_dir, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
    try:
        writer.open()
    except WriterError as exc:  # created by someone else since the check: not ours to remove
        raise BagOutputExistsError(f"output {out_dir} exists already, not overwriting: {exc}") from exc
    counts: Counter[str] = Counter()
    try:
        connections = _connections(writer, store)
        _custom_data(writer, flight)
        builder = _Messages(flight, store)
        streams: dict[str, Callable[[], Iterator[tuple[int, Any]]]] = {
            TF_STATIC_TOPIC: builder.tf_static,
            Topic.FLIGHT_STATE.value: builder.flight_states,
            Topic.SCENARIO_PHASE.value: builder.phases,
            Topic.GROUND_TRUTH.value: builder.ground_truth,
            Topic.IMU.value: builder.imu,
            Topic.GNSS_FIX.value: builder.gnss,
            Topic.BARO.value: builder.baro,
            Topic.CAMERA_INFO.value: builder.camera_info,
            Topic.CAMERA_IMAGE.value: builder.camera,
        }
        for stamp_ns, _, topic, message in _merged(streams):
            connection = connections[topic]
            data = store.serialize_cdr(message, connection.msgtype)
            writer.write(connection, flight.start_time_ns + stamp_ns, data)
            counts[topic] += 1
        writer.close()
    except BaseException as exc:
        with suppress(Exception):  # the original error is the one worth raising
            writer.abort()
        shutil.rmtree(out_dir, ignore_errors=True)  # ours: it did not exist before open()
        if isinstance(exc, OSError | WriterError):  # a full or failing disk
            raise BagWriteError(f"cannot write bag {out_dir}: {exc}") from exc
        raise
    summary = BagSummary(
        path=out_dir,
        counts=dict(sorted(counts.items())),
        duration_s=flight.duration_s,
        distance_flown_m=flight.trajectory.distance_flown_m(),
        start_time_ns=flight.start_time_ns,
        accel_clipped_samples=flight.imu.accel_clipped_samples,
        gyro_clipped_samples=flight.imu.gyro_clipped_samples,
    )
    logger.info("wrote %s: %d messages on %d topics", out_dir, sum(counts.values()), len(counts))
    return summary


def _connections(writer: Writer, store: Typestore) -> dict[str, Connection]:
    offers = {spec.value: (topic_spec(spec).msg_type, to_rosbag_qos(topic_spec(spec).qos)) for spec in _SIM_TOPICS}
    offers[TF_STATIC_TOPIC] = (TF_MSG_TYPE, to_rosbag_qos(LATCHED_STATUS))
    connections = {}
    for topic in _TOPIC_ORDER:
        msg_type, qos = offers[topic]
        try:
            connections[topic] = writer.add_connection(topic, msg_type, typestore=store, offered_qos_profiles=[qos])
        except (TypesysError, KeyError) as exc:
            raise BagWriteError(f"cannot add {topic} ({msg_type}): the typestore has no definition: {exc}") from exc
    return connections


def _custom_data(writer: Writer, flight: Flight) -> None:
    scenario = flight.scenario
    writer.set_custom_data("sim.scenario", scenario.name)
    writer.set_custom_data("sim.seed", str(scenario.seed))
    writer.set_custom_data("sim.start_time_ns", str(scenario.start_time_ns))
    writer.set_custom_data("sim.flight_id", flight_id_of(flight))
    writer.set_custom_data("sim.imu_accel_clipped_samples", str(flight.imu.accel_clipped_samples))
    writer.set_custom_data("sim.imu_gyro_clipped_samples", str(flight.imu.gyro_clipped_samples))


def _merged(
    streams: dict[str, Callable[[], Iterator[tuple[int, Any]]]],
) -> Iterable[tuple[int, int, str, Any]]:
    """All topics' messages in (stamp, topic order) order, each stream consumed lazily."""
    rank = {topic: i for i, topic in enumerate(_TOPIC_ORDER)}

    def keyed(topic: str) -> Iterator[tuple[int, int, str, Any]]:
        """The topic's messages with their merge key."""
        for stamp_ns, message in streams[topic]():
            yield stamp_ns, rank[topic], topic, message

    return heapq.merge(*(keyed(topic) for topic in streams), key=lambda item: (item[0], item[1]))


def simulate_bag(
    scenario: Scenario, out_dir: Path, *, orthophoto: Path | None = None, duration_s: float | None = None
) -> BagSummary:
    """Generate ``scenario``'s flight (optionally over a GeoTIFF, or only its first ``duration_s``) into a new bag."""
    if out_dir.exists() or out_dir.is_symlink():  # before minutes of work, not after
        raise BagOutputExistsError(f"output {out_dir} exists already, not overwriting")
    return write_flight_bag(generate_flight(scenario, orthophoto=orthophoto, duration_s=duration_s), out_dir)
