"""True vehicle motion: waypoint missions flown by a multirotor-plausible model, as smooth splines.

How a mission becomes a trajectory:

1. The mission (lawnmower survey, out-and-back, figure eight) and the take-off, return and landing
   legs give 3-D waypoints in the map frame (ENU at the take-off origin, ground at up = 0).
2. Each mission corner is rounded by a circular fillet where it fits (survey U-turns are
   semicircles, a figure eight's lobes are exact circles); a corner that is too sharp or too tight,
   and the top of the climb and of the descent (as a PX4 mission flies them), is flown as a stop,
   with a hover that turns the nose at the yaw-rate limit.
3. A speed profile along the path respects the cruise speed, the climb and descent rates, the
   acceleration and the yaw rate on curves: forward and backward passes, the standard method.
   Turning and speeding up share one budget, ``|a| <= max_accel`` (the tilt a multirotor can
   spare): a curve at constant speed may use all of it, as a 30 degree bank needs 5.7 m/s^2,
   and a speed change on a curve gets what the turn leaves.
4. That reference is smoothed by the variation-diminishing (Schoenberg) quintic B-spline on uniform
   knots: its control points are the reference sampled at the Greville abscissae. The operator
   reproduces straight constant-speed legs exactly, and every derivative of the spline is a convex
   combination of the reference's difference quotients, so speed, acceleration and yaw rate stay
   within the reference's bounds while position becomes C4 (jerk C2, body rates C2).
5. Attitude follows from differential flatness: body z is the thrust axis along ``a - g`` and the
   yaw is the spline's; the body rate is exact (from jerk and yaw rate), so an IMU synthesised
   from these values integrates back to the trajectory.

The map frame is treated as inertial (flat, non-rotating Earth), as the estimator does.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.interpolate import BSpline

from gps_denied_onboard.common.inertial import GRAVITY_MAP, GRAVITY_MPS2
from gps_denied_onboard.sim.errors import TrajectoryError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

SPLINE_DEGREE = 5  # quintic: position C4, so body rates (from jerk) are C2
PATH_STEP_M = 0.25  # arc-length step of the reference; fine against the spline's knot spacing
MAX_FILLET_TURN_RAD = math.radians(150.0)  # sharper corners (an out-and-back's far end) are flown as stops
ACCEL_MARGIN = 0.97  # the discretised reference may exceed its bound by O(step); keep clear of the limit
MAX_TILT_ACCEL_FRACTION = 0.8  # max_accel below 0.8 g: the thrust never approaches free fall
_EPS = 1e-9
STOP = 0.0  # a waypoint's turn radius that means: stop there (no fillet)


class MissionKind(str, enum.Enum):
    """Mission patterns."""

    LAWNMOWER = "lawnmower"
    OUT_AND_BACK = "out_and_back"
    FIGURE_EIGHT = "figure_eight"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Lawnmower:
    """A survey: parallel legs joined by semicircular U-turns of radius ``leg_spacing_m / 2`` beyond their ends.

    ``heading_deg`` is the first leg's direction (ENU yaw: 0 = east, counter-clockwise positive);
    successive legs step ``leg_spacing_m`` to the left of it (negative: to the right).
    ``start_offset_m`` is the first leg's start (east, north) relative to the take-off point.
    """

    leg_length_m: float = 150.0
    leg_spacing_m: float = 40.0
    legs: int = 4
    heading_deg: float = 0.0
    start_offset_m: tuple[float, float] = (0.0, 0.0)

    @property
    def kind(self) -> MissionKind:
        """The pattern."""
        return MissionKind.LAWNMOWER


@dataclass(frozen=True)
class OutAndBack:
    """Fly ``distance_m`` along ``heading_deg`` (ENU yaw), stop, turn on the spot and fly back."""

    distance_m: float = 100.0
    heading_deg: float = 0.0

    @property
    def kind(self) -> MissionKind:
        """The pattern."""
        return MissionKind.OUT_AND_BACK


@dataclass(frozen=True)
class FigureEight:
    """Two circular lobes of ``radius_m`` crossing above the take-off point; the lobes' centres lie
    along ``heading_deg`` (ENU yaw). The first lobe is flown counter-clockwise, the second clockwise."""

    radius_m: float = 40.0
    heading_deg: float = 0.0
    loops: int = 1

    @property
    def kind(self) -> MissionKind:
        """The pattern."""
        return MissionKind.FIGURE_EIGHT


Mission = Lawnmower | OutAndBack | FigureEight


@dataclass(frozen=True)
class FlightProfile:
    """How the vehicle flies the mission: altitude, speeds, limits, and the time spent at rest.

    The vehicle rests ``rest_before_s`` on the ground (IMU alignment), climbs vertically to
    ``altitude_agl_m``, flies the mission, returns above the take-off point and, if ``land``,
    descends and rests ``rest_after_s`` on the ground (else it hovers ``rest_after_s`` there).
    ``ground_clearance_m`` is base_link's height above the ground when landed (landing gear).
    """

    altitude_agl_m: float = 80.0
    speed_mps: float = 10.0
    climb_rate_mps: float = 4.0
    descent_rate_mps: float = 3.0
    max_accel_mps2: float = 3.0
    max_yaw_rate_dps: float = 45.0
    smoothing_s: float = 1.0  # knot spacing of the quintic spline: larger is smoother, with rounder corners
    rest_before_s: float = 5.0
    rest_after_s: float = 3.0
    land: bool = True
    ground_clearance_m: float = 0.3

    def check(self) -> None:
        """Raise TrajectoryError unless the profile can be flown."""
        positive = {
            "altitude_agl_m": self.altitude_agl_m,
            "speed_mps": self.speed_mps,
            "climb_rate_mps": self.climb_rate_mps,
            "descent_rate_mps": self.descent_rate_mps,
            "max_accel_mps2": self.max_accel_mps2,
            "max_yaw_rate_dps": self.max_yaw_rate_dps,
            "smoothing_s": self.smoothing_s,
        }
        for name, value in positive.items():
            if not math.isfinite(value) or value <= 0:
                raise TrajectoryError(f"flight.{name} must be a finite number > 0, got {value}")
        for name, value in {
            "rest_before_s": self.rest_before_s,
            "rest_after_s": self.rest_after_s,
            "ground_clearance_m": self.ground_clearance_m,
        }.items():
            if not math.isfinite(value) or value < 0:
                raise TrajectoryError(f"flight.{name} must be a finite number >= 0, got {value}")
        if self.max_accel_mps2 >= MAX_TILT_ACCEL_FRACTION * GRAVITY_MPS2:
            raise TrajectoryError(
                f"flight.max_accel_mps2 must be below {MAX_TILT_ACCEL_FRACTION * GRAVITY_MPS2:.2f} m/s^2 "
                f"({MAX_TILT_ACCEL_FRACTION} g) for a multirotor, got {self.max_accel_mps2}"
            )
        if self.altitude_agl_m <= self.ground_clearance_m:
            raise TrajectoryError(
                f"flight.altitude_agl_m ({self.altitude_agl_m}) must be above flight.ground_clearance_m "
                f"({self.ground_clearance_m})"
            )


@dataclass(frozen=True)
class TrajectoryStates:
    """True states at the times ``t_s`` (N,), all vectorised over the first axis."""

    t_s: FloatArray  # (N,) seconds from the start of the flight
    position_m: FloatArray  # (N, 3) base_link in map ENU
    velocity_mps: FloatArray  # (N, 3) map
    acceleration_mps2: FloatArray  # (N, 3) map, kinematic (gravity not included)
    jerk_mps3: FloatArray  # (N, 3) map
    R_map_body: FloatArray  # (N, 3, 3) v_map = R_map_body @ v_body; body FLU
    angular_rate_body_radps: FloatArray  # (N, 3) body frame
    yaw_rad: FloatArray  # (N,) heading of body x (ENU: 0 = east, counter-clockwise), unwrapped
    yaw_rate_radps: FloatArray  # (N,)


@dataclass(frozen=True)
class FlightEvents:
    """When the flight phases change, seconds from the start (None: the phase does not happen)."""

    takeoff_s: float  # the vehicle starts to move
    airborne_s: float  # the climb reaches the mission altitude (the reference's time)
    landing_s: float | None  # the final descent begins
    touchdown_s: float | None  # the vehicle is at rest on the ground again


@dataclass(frozen=True)
class _Waypoint:
    position_m: FloatArray  # (3,)
    turn_radius_m: float  # fillet radius if the corner here is rounded; STOP: the vehicle stops here


@dataclass(frozen=True)
class _Reference:
    """The un-smoothed reference: positions and yaw on a time grid."""

    t_s: FloatArray
    position_m: FloatArray
    yaw_rad: FloatArray
    airborne_s: float
    landing_s: float | None
    end_s: float


def _unit(v: FloatArray) -> FloatArray:
    return np.asarray(v / np.linalg.norm(v), dtype=np.float64)


def _heading(direction: float) -> FloatArray:
    return np.array([math.cos(direction), math.sin(direction)])


def mission_waypoints_m(mission: Mission, profile: FlightProfile) -> FloatArray:
    """The mission's own horizontal waypoints (M, 2) in map ENU, without take-off and return."""
    return np.array([w.position_m[:2] for w in _mission_points(mission, profile)])


def _mission_points(mission: Mission, profile: FlightProfile) -> list[_Waypoint]:
    alt = profile.altitude_agl_m
    if isinstance(mission, Lawnmower):
        u = _heading(math.radians(mission.heading_deg))
        n = np.array([-u[1], u[0]])
        start = np.asarray(mission.start_offset_m, dtype=np.float64)
        radius = abs(mission.leg_spacing_m) / 2.0
        corners: list[tuple[FloatArray, float]] = []
        for leg in range(mission.legs):
            base = start + leg * mission.leg_spacing_m * n
            direction = u if leg % 2 == 0 else -u
            first = base if leg % 2 == 0 else base + mission.leg_length_m * u
            last = first + mission.leg_length_m * direction
            # Entry and exit of the survey are stops; between legs, a semicircle beyond the leg's end
            # (two quarter fillets at points ``radius`` past it), so every leg is flown in full.
            corners += [(first, STOP if leg == 0 else radius), (last, STOP if leg == mission.legs - 1 else radius)]
            if leg < mission.legs - 1:
                beyond = last + radius * direction
                corners += [(beyond, radius), (beyond + mission.leg_spacing_m * n, radius)]
        return [_Waypoint(np.array([p[0], p[1], alt]), r) for p, r in corners]
    if isinstance(mission, OutAndBack):
        far = mission.distance_m * _heading(math.radians(mission.heading_deg))
        return [_Waypoint(np.array([far[0], far[1], alt]), STOP)]
    # Figure eight: each lobe is the circle inscribed in a square whose corners are the waypoints;
    # a fillet of the circle's radius at each corner of the square reproduces the circle exactly.
    u = _heading(math.radians(mission.heading_deg))
    n = np.array([-u[1], u[0]])
    r = mission.radius_m
    lobe = [(0.0, -r), (2 * r, -r), (2 * r, r), (0.0, r)]  # counter-clockwise around (r, 0)
    other = [(0.0, -r), (-2 * r, -r), (-2 * r, r), (0.0, r)]  # clockwise around (-r, 0)
    points = []
    for _ in range(mission.loops):
        for a, b in (*lobe, *other):
            p = a * u + b * n
            points.append(_Waypoint(np.array([p[0], p[1], alt]), r))
    points.append(_Waypoint(np.array([0.0, 0.0, alt]), STOP))  # back over the crossing point
    return points


def _all_waypoints(mission: Mission, profile: FlightProfile) -> list[_Waypoint]:
    # Like a PX4 mission: climb and stop at altitude, fly, come back and stop overhead, then land.
    ground = np.array([0.0, 0.0, profile.ground_clearance_m])
    overhead = np.array([0.0, 0.0, profile.altitude_agl_m])
    points = [_Waypoint(ground, STOP), _Waypoint(overhead, STOP)]
    points += _mission_points(mission, profile)
    points.append(_Waypoint(overhead, STOP))
    if profile.land:
        points.append(_Waypoint(ground, STOP))
    deduplicated = [points[0]]
    for p in points[1:]:
        if np.linalg.norm(p.position_m - deduplicated[-1].position_m) > 1e-6:
            deduplicated.append(p)
    return deduplicated


@dataclass
class _Path:
    """The path sampled by arc length, with what the speed profile needs at each sample."""

    points: list[FloatArray]
    tangents: list[FloatArray]
    curvature: list[float]  # 1/m
    stop: list[bool]  # the vehicle stops here (ends and sharp corners)

    def add_line(self, a: FloatArray, b: FloatArray, *, include_start: bool) -> None:
        """Append samples of the segment a -> b (a itself only if ``include_start``)."""
        length = float(np.linalg.norm(b - a))
        if length < 1e-9:
            return
        direction = (b - a) / length
        steps = max(1, math.ceil(length / PATH_STEP_M))
        for i in range(0 if include_start else 1, steps + 1):
            self.points.append(a + (b - a) * (i / steps))
            self.tangents.append(direction)
            self.curvature.append(0.0)
            self.stop.append(False)

    def add_arc(self, start: FloatArray, d_in: FloatArray, d_out: FloatArray, radius: float) -> None:
        """Append samples of the circular fillet from ``start`` turning from ``d_in`` to ``d_out``."""
        turn = math.acos(float(np.clip(d_in @ d_out, -1.0, 1.0)))
        m = _unit(d_out - (d_out @ d_in) * d_in)  # in the turn's plane, toward the centre
        centre = start + radius * m
        steps = max(2, math.ceil(radius * turn / PATH_STEP_M))
        for i in range(1, steps + 1):
            phi = turn * i / steps
            self.points.append(centre - radius * math.cos(phi) * m + radius * math.sin(phi) * d_in)
            self.tangents.append(math.cos(phi) * d_in + math.sin(phi) * m)
            self.curvature.append(1.0 / radius)
            self.stop.append(False)


def _build_path(waypoints: list[_Waypoint]) -> _Path:
    """Lines between the waypoints with fillets at the corners where they fit; other corners stop."""
    positions = [w.position_m for w in waypoints]
    count = len(positions)
    tangent_len = [0.0] * count
    stops = [False] * count
    stops[0] = stops[-1] = True
    for i in range(1, count - 1):
        d_in, d_out = _unit(positions[i] - positions[i - 1]), _unit(positions[i + 1] - positions[i])
        turn = math.acos(float(np.clip(d_in @ d_out, -1.0, 1.0)))
        if turn < 1e-9:
            continue
        wanted = waypoints[i].turn_radius_m * math.tan(turn / 2.0)
        room_in = float(np.linalg.norm(positions[i] - positions[i - 1])) - tangent_len[i - 1]
        room_out = float(np.linalg.norm(positions[i + 1] - positions[i]))
        if (
            waypoints[i].turn_radius_m > 0
            and turn <= MAX_FILLET_TURN_RAD
            and wanted <= room_in + 1e-6
            and wanted <= room_out + 1e-6
        ):
            tangent_len[i] = min(wanted, room_in, room_out)
        else:
            stops[i] = True
            logger.debug("corner %d (%.0f deg) is flown as a stop", i, math.degrees(turn))
    path = _Path([positions[0]], [_unit(positions[1] - positions[0])], [0.0], [True])
    cursor = positions[0]
    for i in range(1, count):
        d_in = _unit(positions[i] - positions[i - 1])
        if i == count - 1 or stops[i] or tangent_len[i] == 0.0:
            path.add_line(cursor, positions[i], include_start=False)
            cursor = positions[i]
            if stops[i]:
                path.stop[-1] = True
            continue
        d_out = _unit(positions[i + 1] - positions[i])
        arc_start = positions[i] - tangent_len[i] * d_in
        path.add_line(cursor, arc_start, include_start=False)
        turn = math.acos(float(np.clip(d_in @ d_out, -1.0, 1.0)))
        path.add_arc(arc_start, d_in, d_out, tangent_len[i] / math.tan(turn / 2.0))
        cursor = positions[i] + tangent_len[i] * d_out
    # A stop's tangent is the outgoing direction there (the incoming one is the previous sample's).
    for i in range(len(path.points) - 1):
        if path.stop[i]:
            path.tangents[i] = _unit(path.points[i + 1] - path.points[i])
    return path


def _speed_limits(path: _Path, profile: FlightProfile) -> FloatArray:
    tangents = np.asarray(path.tangents)
    horizontal = np.linalg.norm(tangents[:, :2], axis=1)
    vertical = tangents[:, 2]
    limit = np.full(len(tangents), np.inf)
    with np.errstate(divide="ignore"):
        limit = np.minimum(limit, np.where(horizontal > _EPS, profile.speed_mps / horizontal, np.inf))
        limit = np.minimum(limit, np.where(vertical > _EPS, profile.climb_rate_mps / vertical, np.inf))
        limit = np.minimum(limit, np.where(vertical < -_EPS, profile.descent_rate_mps / -vertical, np.inf))
        lateral = ACCEL_MARGIN * profile.max_accel_mps2
        curvature = np.asarray(path.curvature)
        limit = np.minimum(limit, np.where(curvature > 0, np.sqrt(lateral / np.maximum(curvature, _EPS)), np.inf))
        # Yaw follows the horizontal track on curves: heading rate = speed * horizontal curvature.
        headings = np.unwrap(np.arctan2(tangents[:, 1], tangents[:, 0]))
        points = np.asarray(path.points)
        ds = np.linalg.norm(np.diff(points, axis=0), axis=1)
        heading_rate = np.zeros(len(tangents))
        turning = (horizontal[1:] > 1e-3) & (horizontal[:-1] > 1e-3) & (ds > 0) & ~np.asarray(path.stop[1:])
        per_step = np.zeros(len(ds))
        per_step[turning] = np.abs(np.diff(headings))[turning] / ds[turning]
        heading_rate[1:] = np.maximum(heading_rate[1:], per_step)
        heading_rate[:-1] = np.maximum(heading_rate[:-1], per_step)
        yaw_rate = ACCEL_MARGIN * math.radians(profile.max_yaw_rate_dps)
        limit = np.minimum(limit, np.where(heading_rate > _EPS, yaw_rate / np.maximum(heading_rate, _EPS), np.inf))
    limit[np.asarray(path.stop)] = 0.0
    return np.asarray(limit, dtype=np.float64)


def _next_speed_squared(speed2: float, ds: float, curvature: float, accel: float) -> float:
    """The largest v^2 one step ``ds`` on from ``speed2`` whose tangential (dv^2 / 2 ds) and lateral
    (v^2 curvature) accelerations together stay within ``accel``: a root of a quadratic in v^2."""
    if ds <= 0.0:
        return speed2
    c2 = 1.0 / (2.0 * ds) ** 2
    k2 = curvature * curvature
    reach = (c2 + k2) * accel * accel - k2 * c2 * speed2 * speed2
    if reach <= 0.0:  # already turning at the limit: no speed to gain
        return speed2
    return (c2 * speed2 + math.sqrt(reach)) / (c2 + k2)


def _speed_profile(path: _Path, profile: FlightProfile) -> FloatArray:
    """Speeds along the path: within the limits, speeding up and slowing down with what the turn leaves."""
    speed2 = _speed_limits(path, profile) ** 2
    points = np.asarray(path.points)
    ds = np.linalg.norm(np.diff(points, axis=0), axis=1)
    curvature = np.asarray(path.curvature)
    accel = ACCEL_MARGIN * profile.max_accel_mps2
    for i in range(1, len(speed2)):
        bend = max(curvature[i - 1], curvature[i])
        speed2[i] = min(speed2[i], _next_speed_squared(speed2[i - 1], ds[i - 1], bend, accel))
    for i in range(len(speed2) - 2, -1, -1):
        bend = max(curvature[i], curvature[i + 1])
        speed2[i] = min(speed2[i], _next_speed_squared(speed2[i + 1], ds[i], bend, accel))
    return np.asarray(np.sqrt(speed2), dtype=np.float64)


def _wrap_turn(delta: float) -> float:
    """A heading change in (-pi, pi]; an exact reversal turns left (counter-clockwise)."""
    wrapped = (delta + math.pi) % (2.0 * math.pi) - math.pi
    return math.pi if abs(wrapped + math.pi) < 1e-9 else wrapped


def _reference(mission: Mission, profile: FlightProfile) -> _Reference:
    path = _build_path(_all_waypoints(mission, profile))
    speed = _speed_profile(path, profile)
    points = np.asarray(path.points)
    tangents = np.asarray(path.tangents)
    ds = np.linalg.norm(np.diff(points, axis=0), axis=1)
    dt = 2.0 * ds / np.maximum(speed[1:] + speed[:-1], _EPS)  # exact for constant acceleration per step
    # Heading of the horizontal track; undefined where the motion is vertical (take the next defined one).
    horizontal = np.linalg.norm(tangents[:, :2], axis=1) > 1e-3
    if not horizontal.any():
        raise TrajectoryError("the mission has no horizontal motion: nothing defines the heading")
    raw = np.where(horizontal, np.arctan2(tangents[:, 1], tangents[:, 0]), np.nan)
    defined = np.flatnonzero(horizontal)
    nxt = np.searchsorted(defined, np.arange(len(raw)))
    fill = np.where(nxt < len(defined), defined[np.minimum(nxt, len(defined) - 1)], defined[-1])
    raw = np.where(horizontal, raw, raw[fill])
    # Times, with a hover at each stop long enough to turn the nose at the yaw-rate limit.
    yaw_rate = math.radians(profile.max_yaw_rate_dps) * ACCEL_MARGIN
    times, positions, yaws = [0.0], [points[0]], [float(raw[0])]
    last = len(points) - 1
    for i in range(1, len(points)):
        times.append(times[-1] + float(dt[i - 1]))
        positions.append(points[i])
        if path.stop[i] and i < last:
            # Arrive with the incoming heading, turn on the spot, leave with the outgoing one.
            arrival = yaws[-1]
            yaws.append(arrival)
            turn = _wrap_turn(float(raw[i]) - arrival)
            if abs(turn) > 1e-9:
                times.append(times[-1] + abs(turn) / yaw_rate)
                positions.append(points[i])
                yaws.append(arrival + turn)
            continue
        yaws.append(yaws[-1] + _wrap_turn(float(raw[i]) - yaws[-1]))
    t = np.asarray(times) + profile.rest_before_s
    position = np.asarray(positions)
    high = np.flatnonzero(position[:, 2] >= profile.altitude_agl_m - 1e-6)
    airborne = float(t[high[0]]) if high.size else float(t[-1])
    landing = float(t[high[-1]]) if profile.land and high.size else None
    return _Reference(t, position, np.asarray(yaws), airborne, landing, float(t[-1]))


def _schoenberg(t_ref: FloatArray, values: FloatArray, start_s: float, end_s: float, spacing_s: float) -> BSpline:
    """The variation-diminishing quintic spline of a reference sampled on a uniform knot grid."""
    k = SPLINE_DEGREE
    n = k + math.ceil((end_s - start_s) / spacing_s) + 1
    knots = start_s + (np.arange(n + k + 1) - k) * spacing_s
    greville = np.lib.stride_tricks.sliding_window_view(knots[1:-1], k).mean(axis=1)[:n]
    if values.ndim == 1:
        coefficients = np.interp(greville, t_ref, values)
    else:
        coefficients = np.stack([np.interp(greville, t_ref, values[:, i]) for i in range(values.shape[1])], axis=1)
    return BSpline(knots, coefficients, k, extrapolate=True)


class Trajectory:
    """A smooth true trajectory over ``[0, duration_s]``, queryable at any times (vectorised)."""

    def __init__(self, position: BSpline, yaw: BSpline, duration_s: float, events: FlightEvents) -> None:
        self._position = [position, *(position.derivative(n) for n in (1, 2, 3))]
        self._yaw = [yaw, yaw.derivative(1)]
        self.duration_s = float(duration_s)
        self.events = events

    @classmethod
    def stationary(
        cls, duration_s: float, *, position_m: tuple[float, float, float] = (0.0, 0.0, 0.0), yaw_rad: float = 0.0
    ) -> Trajectory:
        """A vehicle at rest for ``duration_s`` (level, heading ``yaw_rad``), e.g. for IMU noise studies."""
        if not math.isfinite(duration_s) or duration_s <= 0:
            raise TrajectoryError(f"duration_s must be a finite number > 0, got {duration_s}")
        k = SPLINE_DEGREE
        knots = np.concatenate([np.zeros(k + 1), np.full(k + 1, duration_s)])
        position = BSpline(knots, np.tile(np.asarray(position_m, dtype=np.float64), (k + 1, 1)), k)
        yaw = BSpline(knots, np.full(k + 1, float(yaw_rad)), k)
        return cls(position, yaw, duration_s, FlightEvents(duration_s, duration_s, None, None))

    def _times(self, t_s: npt.ArrayLike) -> FloatArray:
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        if t.ndim != 1 or not np.all(np.isfinite(t)):
            raise TrajectoryError(f"times must be a finite 1-D array, got shape {t.shape}")
        if t.size and (t.min() < -1e-9 or t.max() > self.duration_s + 1e-9):
            raise TrajectoryError(
                f"times [{t.min():.6f}, {t.max():.6f}] s fall outside the trajectory [0, {self.duration_s:.6f}] s"
            )
        return t

    def position_m(self, t_s: npt.ArrayLike) -> FloatArray:
        """Positions (N, 3) of base_link in map ENU."""
        return np.asarray(self._position[0](self._times(t_s)), dtype=np.float64)

    def velocity_mps(self, t_s: npt.ArrayLike) -> FloatArray:
        """Velocities (N, 3) in map ENU."""
        return np.asarray(self._position[1](self._times(t_s)), dtype=np.float64)

    def states(self, t_s: npt.ArrayLike) -> TrajectoryStates:
        """Every true state at ``t_s``: pose, derivatives, attitude and body rates."""
        t = self._times(t_s)
        p, v, a, j = (np.asarray(s(t), dtype=np.float64) for s in self._position)
        yaw = np.asarray(self._yaw[0](t), dtype=np.float64)
        yaw_rate = np.asarray(self._yaw[1](t), dtype=np.float64)
        rotation, rate = attitude_from_flat_outputs(a, j, yaw, yaw_rate)
        return TrajectoryStates(t, p, v, a, j, rotation, rate, yaw, yaw_rate)

    def distance_flown_m(self, step_s: float = 0.05) -> float:
        """Length of the flown path (3-D), integrated from the speed."""
        t = np.linspace(0.0, self.duration_s, max(2, math.ceil(self.duration_s / step_s) + 1))
        return float(np.trapezoid(np.linalg.norm(self.velocity_mps(t), axis=1), t))


def attitude_from_flat_outputs(
    accel_mps2: FloatArray, jerk_mps3: FloatArray, yaw_rad: FloatArray, yaw_rate_radps: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """R_map_body (N, 3, 3) and body rates (N, 3) of a multirotor with thrust along body z.

    Body z is ``(a - g) / |a - g|``; body x lies in the vertical plane of the heading ``yaw``
    (orthogonal to ``(-sin yaw, cos yaw, 0)``), so ``yaw`` is the ZYX (heading) yaw of the attitude.
    The rates are exact derivatives of that construction (omega^ = R^T dR/dt).
    """
    thrust = accel_mps2 - GRAVITY_MAP
    thrust_norm = np.linalg.norm(thrust, axis=1, keepdims=True)
    z = thrust / thrust_norm
    z_dot = (jerk_mps3 - np.sum(z * jerk_mps3, axis=1, keepdims=True) * z) / thrust_norm
    cos_yaw, sin_yaw = np.cos(yaw_rad), np.sin(yaw_rad)
    zeros = np.zeros_like(yaw_rad)
    y_c = np.stack([-sin_yaw, cos_yaw, zeros], axis=1)
    y_c_dot = -yaw_rate_radps[:, None] * np.stack([cos_yaw, sin_yaw, zeros], axis=1)
    x_raw = np.cross(y_c, z)
    x_norm = np.linalg.norm(x_raw, axis=1, keepdims=True)
    x = x_raw / x_norm
    x_raw_dot = np.cross(y_c_dot, z) + np.cross(y_c, z_dot)
    x_dot = (x_raw_dot - np.sum(x * x_raw_dot, axis=1, keepdims=True) * x) / x_norm
    y = np.cross(z, x)
    y_dot = np.cross(z_dot, x) + np.cross(z, x_dot)
    rotation = np.stack([x, y, z], axis=2)  # columns are the body axes in map
    rate = np.stack([np.sum(z * y_dot, axis=1), np.sum(x * z_dot, axis=1), np.sum(y * x_dot, axis=1)], axis=1)
    return rotation, rate


def plan_trajectory(mission: Mission, profile: FlightProfile) -> Trajectory:
    """Fly ``mission`` with ``profile``: the smooth true trajectory from rest to rest."""
    profile.check()
    _check_mission(mission, profile)
    reference = _reference(mission, profile)
    # The spline's support reaches 3 knot spacings around each control point; shifting the reference
    # by that much keeps the vehicle exactly at rest for rest_before_s (and lets it settle at the end).
    lead = (SPLINE_DEGREE + 1) / 2.0 * profile.smoothing_s
    t_ref = np.concatenate([[0.0], reference.t_s + lead])
    positions = np.vstack([reference.position_m[:1], reference.position_m])
    yaws = np.concatenate([reference.yaw_rad[:1], reference.yaw_rad])
    end = reference.end_s + 2.0 * lead + profile.rest_after_s
    position = _schoenberg(t_ref, positions, 0.0, end, profile.smoothing_s)
    yaw = _schoenberg(t_ref, yaws, 0.0, end, profile.smoothing_s)
    # Exact motion bounds: the first and last control points that differ from the resting ones.
    moving = np.flatnonzero(np.any(position.c != position.c[0], axis=1))
    settled = np.flatnonzero(np.any(position.c != position.c[-1], axis=1))
    events = FlightEvents(
        takeoff_s=float(position.t[moving[0]]),
        airborne_s=reference.airborne_s + lead,
        landing_s=None if reference.landing_s is None else reference.landing_s + lead,
        touchdown_s=float(position.t[settled[-1] + SPLINE_DEGREE + 1]) if profile.land else None,
    )
    trajectory = Trajectory(position, yaw, end, events)
    logger.debug("trajectory: %.1f s, %.0f m", end, trajectory.distance_flown_m())
    return trajectory


def _check_mission(mission: Mission, profile: FlightProfile) -> None:
    if isinstance(mission, Lawnmower):
        if mission.legs < 1 or mission.leg_length_m <= 0:
            raise TrajectoryError(f"lawnmower needs legs >= 1 and leg_length_m > 0, got {mission}")
        if mission.legs > 1 and abs(mission.leg_spacing_m) <= 0:
            raise TrajectoryError(f"lawnmower leg_spacing_m must not be 0 with {mission.legs} legs")
    elif isinstance(mission, OutAndBack):
        if mission.distance_m <= 0:
            raise TrajectoryError(f"out_and_back distance_m must be > 0, got {mission.distance_m}")
    elif mission.radius_m <= 0 or mission.loops < 1:
        raise TrajectoryError(f"figure_eight needs radius_m > 0 and loops >= 1, got {mission}")
    del profile
