"""The simulator's true motion: limits, attitude, smoothness and mission geometry of the flown trajectory."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from gps_denied_onboard.sim.errors import TrajectoryError
from gps_denied_onboard.sim.trajectory import (
    FigureEight,
    FlightProfile,
    Lawnmower,
    Mission,
    OutAndBack,
    Trajectory,
    mission_waypoints_m,
    plan_trajectory,
)

GRAVITY = np.array([0.0, 0.0, -9.80665])
MISSIONS: dict[str, Mission] = {
    "lawnmower": Lawnmower(leg_length_m=120.0, leg_spacing_m=40.0, legs=4, start_offset_m=(-60.0, -60.0)),
    "out_and_back": OutAndBack(distance_m=150.0, heading_deg=30.0),
    "figure_eight": FigureEight(radius_m=40.0, heading_deg=-20.0),
}
TIGHT = FlightProfile(max_accel_mps2=1.5, max_yaw_rate_dps=20.0, speed_mps=12.0, climb_rate_mps=2.5)


@pytest.fixture(scope="module", params=sorted(MISSIONS))
def flown(request: pytest.FixtureRequest) -> tuple[Mission, FlightProfile, Trajectory]:
    mission = MISSIONS[request.param]
    return mission, FlightProfile(), plan_trajectory(mission, FlightProfile())


def _grid(trajectory: Trajectory, step_s: float = 0.01) -> np.ndarray:
    return np.arange(0.0, trajectory.duration_s, step_s)


def test_body_z_is_the_thrust_axis_along_a_minus_g(flown: tuple[Mission, FlightProfile, Trajectory]) -> None:
    _, _, trajectory = flown
    states = trajectory.states(_grid(trajectory))
    thrust = states.acceleration_mps2 - GRAVITY
    thrust_dir = thrust / np.linalg.norm(thrust, axis=1, keepdims=True)
    body_z = states.R_map_body[:, :, 2]
    assert np.abs(np.cross(body_z, thrust_dir)).max() < 1e-12
    assert np.all(np.sum(body_z * thrust_dir, axis=1) > 0.999)
    # A proper rotation everywhere.
    gram = np.einsum("nji,njk->nik", states.R_map_body, states.R_map_body)
    assert np.abs(gram - np.eye(3)).max() < 1e-12
    assert np.allclose(np.linalg.det(states.R_map_body), 1.0, atol=1e-12)


def test_body_x_points_along_the_yaw(flown: tuple[Mission, FlightProfile, Trajectory]) -> None:
    _, _, trajectory = flown
    states = trajectory.states(_grid(trajectory, 0.1))
    body_x = states.R_map_body[:, :, 0]
    heading = np.arctan2(body_x[:, 1], body_x[:, 0])
    difference = np.angle(np.exp(1j * (heading - states.yaw_rad)))
    assert np.abs(difference).max() < 1e-9


def test_body_rate_is_the_derivative_of_the_attitude(flown: tuple[Mission, FlightProfile, Trajectory]) -> None:
    _, _, trajectory = flown
    t = np.linspace(1.0, trajectory.duration_s - 1.0, 3000)
    h = 1e-4
    before, after = trajectory.states(t - h).R_map_body, trajectory.states(t + h).R_map_body
    states = trajectory.states(t)
    skew = np.einsum("nji,njk->nik", states.R_map_body, (after - before) / (2.0 * h))
    numeric = np.stack([skew[:, 2, 1], skew[:, 0, 2], skew[:, 1, 0]], axis=1)
    assert np.abs(numeric - states.angular_rate_body_radps).max() < 1e-6
    # ... and the velocity and acceleration those of the position.
    numeric_velocity = (trajectory.position_m(t + h) - trajectory.position_m(t - h)) / (2.0 * h)
    assert np.abs(numeric_velocity - states.velocity_mps).max() < 1e-6


@pytest.mark.parametrize("name", sorted(MISSIONS))
@pytest.mark.parametrize("profile", [FlightProfile(), TIGHT], ids=["default_limits", "tight_limits"])
def test_speed_acceleration_and_yaw_rate_limits_hold(name: str, profile: FlightProfile) -> None:
    trajectory = plan_trajectory(MISSIONS[name], profile)
    states = trajectory.states(_grid(trajectory))
    assert np.linalg.norm(states.acceleration_mps2, axis=1).max() <= profile.max_accel_mps2
    assert np.abs(np.degrees(states.yaw_rate_radps)).max() <= profile.max_yaw_rate_dps
    horizontal = np.linalg.norm(states.velocity_mps[:, :2], axis=1)
    assert horizontal.max() <= profile.speed_mps * (1.0 + 1e-6)
    assert states.velocity_mps[:, 2].max() <= profile.climb_rate_mps * (1.0 + 1e-4)
    assert states.velocity_mps[:, 2].min() >= -profile.descent_rate_mps * (1.0 + 1e-4)
    # Smooth: bounded jerk and body rates (a multirotor, not a step response).
    assert np.linalg.norm(states.jerk_mps3, axis=1).max() < 3.0 * profile.max_accel_mps2
    assert np.abs(states.angular_rate_body_radps).max() < math.radians(60.0)


def test_curves_at_constant_speed_may_use_the_whole_acceleration_budget() -> None:
    """The survey's U-turns are flown at the speed whose lateral acceleration is all of max_accel."""
    profile = FlightProfile()
    trajectory = plan_trajectory(MISSIONS["lawnmower"], profile)
    states = trajectory.states(_grid(trajectory))
    horizontal = np.linalg.norm(states.acceleration_mps2[:, :2], axis=1)
    assert horizontal.max() > 0.9 * profile.max_accel_mps2
    assert np.linalg.norm(states.acceleration_mps2, axis=1).max() <= profile.max_accel_mps2


def test_a_fast_figure_eight_is_flown_at_20_mps_in_a_30_degree_bank() -> None:
    profile = FlightProfile(
        altitude_agl_m=60.0, speed_mps=20.0, climb_rate_mps=5.0, max_accel_mps2=6.0, max_yaw_rate_dps=60.0
    )
    trajectory = plan_trajectory(FigureEight(radius_m=70.0), profile)
    states = trajectory.states(_grid(trajectory))
    accel = states.acceleration_mps2
    assert np.linalg.norm(accel, axis=1).max() <= profile.max_accel_mps2
    speed = np.linalg.norm(states.velocity_mps[:, :2], axis=1)
    assert 19.5 < speed.max() <= profile.speed_mps * (1.0 + 1e-6)
    # The attitude follows the acceleration: tilted by atan(|a_horizontal| / (g + a_up)), towards a.
    tilt = np.arccos(np.clip(states.R_map_body[:, 2, 2], -1.0, 1.0))
    expected = np.arctan2(np.linalg.norm(accel[:, :2], axis=1), -GRAVITY[2] + accel[:, 2])
    assert np.abs(tilt - expected).max() < 1e-6  # arccos near 1 is good to ~1e-8
    turning = np.linalg.norm(accel[:, :2], axis=1) > 1.0
    lean = states.R_map_body[turning, :2, 2]  # body z's horizontal part
    along = accel[turning, :2]
    alignment = np.sum(lean * along, axis=1) / np.linalg.norm(lean, axis=1) / np.linalg.norm(along, axis=1)
    assert alignment.min() > 1.0 - 1e-9
    assert math.degrees(tilt.max()) == pytest.approx(30.0, abs=1.5)  # v^2 / R = 5.7 m/s^2
    assert np.abs(states.angular_rate_body_radps).max() < math.radians(60.0)


def test_rest_on_the_ground_before_take_off_and_after_landing() -> None:
    profile = FlightProfile(rest_before_s=4.0, rest_after_s=2.5)
    trajectory = plan_trajectory(MISSIONS["lawnmower"], profile)
    events = trajectory.events
    assert events.touchdown_s is not None
    assert profile.rest_before_s <= events.takeoff_s <= profile.rest_before_s + profile.smoothing_s
    before = trajectory.states(np.linspace(0.0, events.takeoff_s, 200))
    after = trajectory.states(np.linspace(events.touchdown_s, trajectory.duration_s, 200))
    for rest in (before, after):
        assert np.abs(rest.position_m - [0.0, 0.0, profile.ground_clearance_m]).max() < 1e-12
        assert np.abs(rest.velocity_mps).max() < 1e-12
        assert np.abs(rest.angular_rate_body_radps).max() < 1e-12
        assert np.allclose(rest.R_map_body[:, :, 2], [0.0, 0.0, 1.0], atol=1e-12)  # level
    assert trajectory.duration_s - events.touchdown_s >= profile.rest_after_s - 1e-9
    # The vehicle moves right after take-off, and never below its landing-gear height.
    assert np.linalg.norm(trajectory.velocity_mps(events.takeoff_s + 0.5)) > 0.0
    z = trajectory.position_m(_grid(trajectory))[:, 2]
    assert z.min() >= profile.ground_clearance_m - 1e-9
    assert z.max() == pytest.approx(profile.altitude_agl_m, abs=1e-6)


def test_survey_legs_are_flown_in_full_at_cruise_speed_and_altitude() -> None:
    mission, profile = MISSIONS["lawnmower"], FlightProfile()
    assert isinstance(mission, Lawnmower)
    trajectory = plan_trajectory(mission, profile)
    states = trajectory.states(_grid(trajectory, 0.02))
    x0, y0 = mission.start_offset_m
    for leg in range(mission.legs):
        y = y0 + leg * mission.leg_spacing_m
        for end in ((x0, y), (x0 + mission.leg_length_m, y)):  # every leg's start and end is reached
            assert np.linalg.norm(states.position_m[:, :2] - end, axis=1).min() < 0.5
        # The middle of each leg: straight, level, at cruise speed.
        middle = (np.abs(states.position_m[:, 1] - y) < 1e-6) & (np.abs(states.position_m[:, 0]) < 10.0)
        assert middle.sum() >= 90  # 20 m at 10 m/s, sampled at 50 Hz
        assert np.allclose(np.linalg.norm(states.velocity_mps[middle], axis=1), profile.speed_mps, atol=1e-6)
        assert np.allclose(states.position_m[middle, 2], profile.altitude_agl_m, atol=1e-9)
        assert np.abs(states.velocity_mps[middle, 1]).max() < 1e-6
    assert len(mission_waypoints_m(mission, profile)) == 2 * mission.legs + 2 * (mission.legs - 1)


def test_survey_u_turns_are_semicircles_between_the_legs() -> None:
    mission = MISSIONS["lawnmower"]
    assert isinstance(mission, Lawnmower)
    trajectory = plan_trajectory(mission, FlightProfile())
    positions = trajectory.position_m(_grid(trajectory, 0.05))
    east_end = mission.start_offset_m[0] + mission.leg_length_m
    centre = np.array([east_end, mission.start_offset_m[1] + mission.leg_spacing_m / 2.0])
    turn = (positions[:, 0] > east_end + 0.5) & (np.abs(positions[:, 1] - centre[1]) < mission.leg_spacing_m / 2.0)
    radius = np.linalg.norm(positions[turn, :2] - centre, axis=1)
    assert turn.sum() > 10
    assert positions[turn, 0].max() == pytest.approx(east_end + mission.leg_spacing_m / 2.0, abs=1.0)
    # The quintic smoothing pulls the arc in by a fraction of a metre, never out.
    assert np.all(radius <= mission.leg_spacing_m / 2.0 + 1e-6)
    assert np.all(radius > mission.leg_spacing_m / 2.0 - 1.0)


def test_figure_eight_lobes_are_circles_flown_both_ways() -> None:
    mission = MISSIONS["figure_eight"]
    assert isinstance(mission, FigureEight)
    trajectory = plan_trajectory(mission, FlightProfile())
    states = trajectory.states(_grid(trajectory, 0.05))
    u = np.array([math.cos(math.radians(mission.heading_deg)), math.sin(math.radians(mission.heading_deg))])
    along = states.position_m[:, :2] @ u
    cruising = np.abs(states.position_m[:, 2] - FlightProfile().altitude_agl_m) < 1e-9
    for sign, turn in ((1.0, 1.0), (-1.0, -1.0)):  # first lobe counter-clockwise, second clockwise
        lobe = cruising & (sign * along > mission.radius_m)
        radius = np.linalg.norm(states.position_m[lobe, :2] - sign * mission.radius_m * u, axis=1)
        assert lobe.sum() > 100
        assert np.abs(radius - mission.radius_m).max() < 1.0
        assert np.all(turn * states.yaw_rate_radps[lobe] > 0.0)


def test_out_and_back_stops_and_turns_on_the_spot_at_the_far_end() -> None:
    mission = MISSIONS["out_and_back"]
    assert isinstance(mission, OutAndBack)
    trajectory = plan_trajectory(mission, FlightProfile())
    states = trajectory.states(_grid(trajectory, 0.01))
    far = mission.distance_m * np.array([math.cos(math.radians(30.0)), math.sin(math.radians(30.0))])
    distance = np.linalg.norm(states.position_m[:, :2] - far, axis=1)
    assert distance.min() < 1e-3  # reaches the far point (a stop, not a fillet)
    at_far = distance < 0.4  # braking into the stop at up to max_accel: below 1 m/s within 0.4 m
    speed = np.linalg.norm(states.velocity_mps, axis=1)
    assert speed[at_far].max() < 1.0
    turned = states.yaw_rad[at_far].max() - states.yaw_rad[at_far].min()
    assert turned > 0.8 * math.pi  # most of the half turn happens in the hover
    heading_out, heading_back = states.yaw_rad[0], states.yaw_rad[-1]
    assert abs(np.angle(np.exp(1j * (heading_back - heading_out)))) == pytest.approx(math.pi, abs=1e-9)


def test_planning_is_deterministic() -> None:
    a = plan_trajectory(MISSIONS["figure_eight"], FlightProfile())
    b = plan_trajectory(MISSIONS["figure_eight"], FlightProfile())
    t = _grid(a, 0.5)
    assert a.duration_s == b.duration_s
    assert np.array_equal(a.states(t).R_map_body, b.states(t).R_map_body)


def test_stationary_trajectory_is_level_and_still() -> None:
    trajectory = Trajectory.stationary(10.0, position_m=(1.0, 2.0, 3.0), yaw_rad=0.5)
    states = trajectory.states(np.linspace(0.0, 10.0, 11))
    assert np.allclose(states.position_m, [1.0, 2.0, 3.0])
    assert np.abs(states.velocity_mps).max() == 0.0
    assert np.allclose(states.R_map_body[:, :, 0], [math.cos(0.5), math.sin(0.5), 0.0])


def test_query_outside_the_flight_is_a_typed_error() -> None:
    trajectory = Trajectory.stationary(10.0)
    with pytest.raises(TrajectoryError, match=r"outside the trajectory \[0, 10"):
        trajectory.states([5.0, 10.5])
    with pytest.raises(TrajectoryError, match="finite"):
        trajectory.position_m([np.nan])


def test_stationary_needs_a_positive_duration() -> None:
    with pytest.raises(TrajectoryError, match="duration_s"):
        Trajectory.stationary(0.0)


def test_acceleration_near_free_fall_is_refused() -> None:
    with pytest.raises(TrajectoryError, match="max_accel_mps2"):
        plan_trajectory(MISSIONS["out_and_back"], dataclasses.replace(FlightProfile(), max_accel_mps2=8.0))


def test_altitude_below_the_landing_gear_is_refused() -> None:
    with pytest.raises(TrajectoryError, match="altitude_agl_m"):
        plan_trajectory(MISSIONS["out_and_back"], dataclasses.replace(FlightProfile(), altitude_agl_m=0.2))


def test_non_positive_speed_is_refused() -> None:
    with pytest.raises(TrajectoryError, match="speed_mps"):
        plan_trajectory(MISSIONS["out_and_back"], dataclasses.replace(FlightProfile(), speed_mps=0.0))


def test_negative_rest_is_refused() -> None:
    with pytest.raises(TrajectoryError, match="rest_before_s"):
        plan_trajectory(MISSIONS["out_and_back"], dataclasses.replace(FlightProfile(), rest_before_s=-1.0))


def test_degenerate_missions_are_refused() -> None:
    with pytest.raises(TrajectoryError, match="legs"):
        plan_trajectory(Lawnmower(legs=0), FlightProfile())
    with pytest.raises(TrajectoryError, match="leg_spacing_m"):
        plan_trajectory(Lawnmower(leg_spacing_m=0.0), FlightProfile())
    with pytest.raises(TrajectoryError, match="distance_m"):
        plan_trajectory(OutAndBack(distance_m=-5.0), FlightProfile())
    with pytest.raises(TrajectoryError, match="radius_m"):
        plan_trajectory(FigureEight(radius_m=0.0), FlightProfile())
