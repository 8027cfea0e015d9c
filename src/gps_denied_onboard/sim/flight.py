"""A whole simulated flight from a scenario: truth, IMU, GNSS, barometer, camera frames and the
scenario's event windows and flight phases.

Everything but the images is computed at once (a few MB for a long flight); camera frames are
rendered one at a time by ``Flight.frames()``, so a long flight never holds its images in memory.
Times are nanoseconds from the start of the flight; the bag writer adds the scenario's epoch.

Randomness: one independent stream per purpose, seeded by ``(scenario seed, stream id)``, so the
same seed gives identical data and changing one sensor's settings leaves the others' noise alone.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gps_denied_onboard.geometry.geodesy import LocalTangentPlane
from gps_denied_onboard.sim.camera import CameraModel, Renderer
from gps_denied_onboard.sim.errors import ScenarioValueError, ScenarioWindowError
from gps_denied_onboard.sim.gnss import (
    BaroSeries,
    GnssDenial,
    GnssEvent,
    GnssJamming,
    GnssSeries,
    GnssSpoofDrift,
    simulate_baro,
    simulate_gnss,
)
from gps_denied_onboard.sim.imu import NS_PER_S, ImuSeries, sample_times_ns, simulate_imu
from gps_denied_onboard.sim.orthophoto import (
    FeaturelessCircle,
    FeaturelessRegion,
    GroundPair,
    Orthophoto,
    ground_pair,
    procedural_ground,
)
from gps_denied_onboard.sim.scenario import Scenario
from gps_denied_onboard.sim.trajectory import Trajectory, TrajectoryStates, plan_trajectory

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
Image8 = npt.NDArray[np.uint8]

FOOTPRINT_STEP_S = 0.02  # resolution of the featureless windows (where the camera's axis meets the ground)


class Stream(enum.IntEnum):
    """Random streams, one per purpose (the second word of each stream's seed)."""

    IMU = 1
    GNSS = 2
    BARO = 3
    CAMERA = 4
    VIBRATION = 5


def stream_rng(seed: int, stream: Stream) -> np.random.Generator:
    """The independent generator of ``stream`` for a scenario seed."""
    return np.random.default_rng([seed, int(stream)])


class PhaseKind(str, enum.Enum):
    """Kinds of event windows; the names are onboard/msg/ScenarioPhase's constants (its home)."""

    GNSS_DENIED = "GNSS_DENIED"
    GNSS_JAMMED = "GNSS_JAMMED"
    GNSS_SPOOF_DRIFT = "GNSS_SPOOF_DRIFT"
    GNSS_SPOOF_JUMP = "GNSS_SPOOF_JUMP"
    FEATURELESS = "FEATURELESS"
    SEASONAL_CHANGE = "SEASONAL_CHANGE"


@dataclass(frozen=True)
class PhaseWindow:
    """One event window ``[start_ns, end_ns)`` of flight time (a ScenarioPhase message)."""

    kind: PhaseKind
    name: str
    start_ns: int
    end_ns: int
    spoof_rate_mps: float = 0.0
    spoof_offset_enu_m: tuple[float, float, float] = (0.0, 0.0, 0.0)  # jump: offset; drift: unit direction


class FlightPhase(str, enum.Enum):
    """Flight phases; the names are onboard/msg/FlightState's constants (its home)."""

    ON_GROUND = "ON_GROUND"
    TAKING_OFF = "TAKING_OFF"
    IN_FLIGHT = "IN_FLIGHT"
    LANDING = "LANDING"


@dataclass(frozen=True)
class FlightPhaseChange:
    """The vehicle enters ``phase`` at ``t_ns``."""

    t_ns: int
    phase: FlightPhase


@dataclass(frozen=True)
class CameraFrame:
    """One rendered image at its mid-exposure stamp."""

    t_ns: int
    image: Image8  # (H, W) mono8


@dataclass(frozen=True)
class Flight:
    """A generated flight. Images come from ``frames()``; the rest is held as arrays."""

    scenario: Scenario
    ltp: LocalTangentPlane
    trajectory: Trajectory
    duration_s: float
    imu: ImuSeries
    gnss: GnssSeries
    baro: BaroSeries
    truth: TrajectoryStates  # at the ground-truth rate
    truth_t_ns: Int64Array
    phases: tuple[PhaseWindow, ...]
    flight_phases: tuple[FlightPhaseChange, ...]
    camera: CameraModel
    camera_t_ns: Int64Array
    ground: GroundPair

    @property
    def start_time_ns(self) -> int:
        """The sim-time epoch: the stamp of t = 0."""
        return self.scenario.start_time_ns

    def frames(self) -> Iterator[CameraFrame]:
        """Render the camera frames in time order, one at a time (the same images on every call)."""
        renderer = Renderer(self.ground.scene, self.camera, self.ltp, self.scenario.camera.render_options())
        rng = stream_rng(self.scenario.seed, Stream.CAMERA)
        states = self.trajectory.states(self.camera_t_ns / NS_PER_S)  # poses are small; images are made one by one
        for i, t_ns in enumerate(self.camera_t_ns):
            image = renderer.render(
                states.R_map_body[i],
                states.position_m[i],
                velocity_map_mps=states.velocity_mps[i],
                angular_rate_body_radps=states.angular_rate_body_radps[i],
                rng=rng,
            )
            yield CameraFrame(int(t_ns), image)


def generate_flight(scenario: Scenario, *, orthophoto: Path | None = None, duration_s: float | None = None) -> Flight:
    """Simulate ``scenario`` (optionally over a given GeoTIFF, or only its first ``duration_s``)."""
    ltp = scenario.origin.ltp()
    trajectory = plan_trajectory(scenario.mission, scenario.flight)
    span = _span(scenario, trajectory, duration_s)
    imu = simulate_imu(
        trajectory,
        scenario.imu.mems_profile(),
        rate_hz=scenario.imu.rate_hz,
        rng=stream_rng(scenario.seed, Stream.IMU),
        duration_s=span,
        vibration=scenario.vibration,
        vibration_rng=stream_rng(scenario.seed, Stream.VIBRATION),
    )
    events = _clip_events(scenario.events, span)
    gnss = simulate_gnss(
        trajectory, ltp, scenario.gnss, events, rng=stream_rng(scenario.seed, Stream.GNSS), duration_s=span
    )
    baro = simulate_baro(
        trajectory,
        scenario.origin.altitude_m,
        scenario.baro,
        rng=stream_rng(scenario.seed, Stream.BARO),
        duration_s=span,
    )
    truth_t_ns = sample_times_ns(span, scenario.ground_truth_rate_hz)
    camera = scenario.camera.model()
    ground = _ground(scenario, ltp, orthophoto)
    phases = (
        *(_event_window(event) for event in events),
        *featureless_windows(trajectory, camera, ground.options.featureless_regions, span),
    )
    if ground.options.seasonal_change is not None:
        phases = (*phases, PhaseWindow(PhaseKind.SEASONAL_CHANGE, "seasonal_change", 0, _ns(span)))
    flight = Flight(
        scenario=scenario,
        ltp=ltp,
        trajectory=trajectory,
        duration_s=span,
        imu=imu,
        gnss=gnss,
        baro=baro,
        truth=trajectory.states(truth_t_ns / NS_PER_S),
        truth_t_ns=truth_t_ns,
        phases=tuple(sorted(phases, key=lambda w: (w.start_ns, w.end_ns, w.name))),
        flight_phases=_flight_phases(trajectory, span),
        camera=camera,
        camera_t_ns=sample_times_ns(span, scenario.camera.rate_hz),
        ground=ground,
    )
    logger.info(
        "flight %s: %.1f s, %d IMU (%d accelerometer and %d gyroscope samples clipped), %d GNSS, "
        "%d camera frames, %d windows",
        scenario.name,
        span,
        len(imu),
        imu.accel_clipped_samples,
        imu.gyro_clipped_samples,
        len(gnss),
        len(flight.camera_t_ns),
        len(flight.phases),
    )
    return flight


def _ns(t_s: float) -> int:
    return round(t_s * NS_PER_S)


def _span(scenario: Scenario, trajectory: Trajectory, duration_s: float | None) -> float:
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise ScenarioValueError(f"duration must be a finite number of seconds > 0, got {duration_s}")
    for i, event in enumerate(scenario.events):
        if event.start_s >= trajectory.duration_s:
            raise ScenarioWindowError(
                f"scenario {scenario.name}: events[{i}] ({event.name}) starts at {event.start_s} s, "
                f"after the flight ends ({trajectory.duration_s:.1f} s)"
            )
    return trajectory.duration_s if duration_s is None else min(duration_s, trajectory.duration_s)


def _clip_events(events: tuple[GnssEvent, ...], span_s: float) -> tuple[GnssEvent, ...]:
    """Events within the simulated span, their ends clipped to it (a shortened run)."""
    kept = []
    for event in events:
        if event.start_s >= span_s:
            logger.info("event %s starts after the simulated %.1f s: left out", event.name, span_s)
            continue
        kept.append(event if event.end_s <= span_s else replace(event, end_s=span_s))
    return tuple(kept)


def _event_window(event: GnssEvent) -> PhaseWindow:
    start, end = _ns(event.start_s), _ns(event.end_s)
    if isinstance(event, GnssDenial):
        return PhaseWindow(PhaseKind.GNSS_DENIED, event.name, start, end)
    if isinstance(event, GnssJamming):
        return PhaseWindow(PhaseKind.GNSS_JAMMED, event.name, start, end)
    if isinstance(event, GnssSpoofDrift):
        direction = event.direction_enu()
        return PhaseWindow(
            PhaseKind.GNSS_SPOOF_DRIFT,
            event.name,
            start,
            end,
            spoof_rate_mps=event.rate_mps,
            spoof_offset_enu_m=(float(direction[0]), float(direction[1]), float(direction[2])),
        )
    offset = event.offset_enu_m
    return PhaseWindow(
        PhaseKind.GNSS_SPOOF_JUMP, event.name, start, end, spoof_offset_enu_m=(offset[0], offset[1], offset[2])
    )


def _ground(scenario: Scenario, ltp: LocalTangentPlane, orthophoto: Path | None) -> GroundPair:
    spec = scenario.ground
    source = orthophoto if orthophoto is not None else (Path(spec.orthophoto) if spec.orthophoto else None)
    if source is None:
        seed = scenario.seed if spec.seed is None else spec.seed
        return procedural_ground(ltp, size_m=spec.size_m, gsd_m=spec.gsd_m, seed=seed, options=spec.options())
    return ground_pair(Orthophoto.load(source), ltp, spec.options())


def footprint_centre_enu_m(states: TrajectoryStates, camera: CameraModel) -> FloatArray:
    """Where the camera's optical axis meets the ground (N, 2); NaN where it does not (above the horizon)."""
    axis_map = np.einsum("nij,j->ni", states.R_map_body, camera.R_body_camera[:, 2])
    centre = states.position_m + np.einsum("nij,j->ni", states.R_map_body, np.asarray(camera.t_body_camera_m))
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = np.where(axis_map[:, 2] < -1e-9, -centre[:, 2] / axis_map[:, 2], np.nan)
    return np.asarray(centre[:, :2] + reach[:, None] * axis_map[:, :2], dtype=np.float64)


def _inside(region: FeaturelessRegion, points: FloatArray) -> npt.NDArray[np.bool_]:
    valid = np.all(np.isfinite(points), axis=1)
    if isinstance(region, FeaturelessCircle):
        distance = np.linalg.norm(np.nan_to_num(points) - np.asarray(region.center_enu_m), axis=1)
        return np.asarray(valid & (distance <= region.radius_m), dtype=bool)
    contour = region.polygon_enu_m(1.0).astype(np.float32)
    inside = np.zeros(len(points), dtype=bool)
    for i in np.flatnonzero(valid):
        inside[i] = cv2.pointPolygonTest(contour, (float(points[i, 0]), float(points[i, 1])), measureDist=False) >= 0
    return inside


def featureless_windows(
    trajectory: Trajectory, camera: CameraModel, regions: tuple[FeaturelessRegion, ...], span_s: float
) -> tuple[PhaseWindow, ...]:
    """FEATURELESS windows: while the camera's footprint centre is over a featureless region."""
    if not regions:
        return ()
    count = math.floor(span_s / FOOTPRINT_STEP_S) + 1
    t = np.arange(count) * FOOTPRINT_STEP_S
    centre = footprint_centre_enu_m(trajectory.states(t), camera)
    windows = []
    for index, region in enumerate(regions):
        inside = _inside(region, centre)
        edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for number, (first, last) in enumerate(zip(starts, ends, strict=True)):
            end_s = min(span_s, float(t[last - 1]) + FOOTPRINT_STEP_S)
            name = f"featureless_{index}" if len(starts) == 1 else f"featureless_{index}_{number}"
            windows.append(PhaseWindow(PhaseKind.FEATURELESS, name, _ns(float(t[first])), _ns(end_s)))
    return tuple(windows)


def _flight_phases(trajectory: Trajectory, span_s: float) -> tuple[FlightPhaseChange, ...]:
    events = trajectory.events
    changes = [
        (0.0, FlightPhase.ON_GROUND),
        (events.takeoff_s, FlightPhase.TAKING_OFF),
        (events.airborne_s, FlightPhase.IN_FLIGHT),
    ]
    if events.landing_s is not None:
        changes.append((events.landing_s, FlightPhase.LANDING))
    if events.touchdown_s is not None:
        changes.append((events.touchdown_s, FlightPhase.ON_GROUND))
    return tuple(FlightPhaseChange(_ns(t), phase) for t, phase in changes if t <= span_s)
