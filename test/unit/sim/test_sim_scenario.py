"""Scenario files: the shipped scenarios, name resolution, and one typed error per malformed input."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from conftest import REPO_ROOT
from gps_denied_onboard.sim.errors import (
    ScenarioError,
    ScenarioKeyError,
    ScenarioNotFoundError,
    ScenarioSyntaxError,
    ScenarioTypeError,
    ScenarioValueError,
    ScenarioWindowError,
)
from gps_denied_onboard.sim.flight import PhaseKind, featureless_windows, generate_flight
from gps_denied_onboard.sim.gnss import DeniedOutput, GnssDenial, GnssSpoofDrift
from gps_denied_onboard.sim.orthophoto import FeaturelessCircle
from gps_denied_onboard.sim.scenario import (
    DEFAULT_SCENARIO_YAML,
    ImuSpec,
    default_scenario,
    load_scenario,
    parse_scenario,
    resolve_scenario,
    scenario_from_mapping,
)
from gps_denied_onboard.sim.trajectory import Lawnmower, OutAndBack, plan_trajectory

SCENARIOS = REPO_ROOT / "config" / "scenarios"


def _default_mapping() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_SCENARIO_YAML)
    assert isinstance(data, dict)
    return data


def _with(path: str, value: object) -> dict[str, Any]:
    """The default scenario's mapping with ``path`` (dotted, ``[i]`` for lists) set to ``value``."""
    data = copy.deepcopy(_default_mapping())
    *parents, leaf = path.replace("[", ".").replace("]", "").split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return data


def _without(path: str) -> dict[str, Any]:
    data = copy.deepcopy(_default_mapping())
    *parents, leaf = path.split(".")
    node: Any = data
    for key in parents:
        node = node[key]
    del node[leaf]
    return data


def test_the_shipped_default_file_is_the_embedded_default() -> None:
    text = (SCENARIOS / "default.yaml").read_text(encoding="utf-8")
    assert text == DEFAULT_SCENARIO_YAML
    assert load_scenario(SCENARIOS / "default.yaml") == default_scenario()


def test_the_default_scenario_is_the_demo_flight() -> None:
    scenario = default_scenario()
    assert isinstance(scenario.mission, Lawnmower)
    assert scenario.flight.altitude_agl_m == pytest.approx(80.0, abs=10.0)
    assert scenario.flight.speed_mps == pytest.approx(10.0, abs=2.0)
    assert scenario.flight.rest_before_s >= 3.0  # time on the ground to align the IMU
    trajectory = plan_trajectory(scenario.mission, scenario.flight)
    assert 120.0 <= trajectory.duration_s <= 180.0
    assert (scenario.camera.width, scenario.camera.height, scenario.camera.rate_hz) == (640, 480, 10.0)
    assert scenario.imu.rate_hz == 200.0
    assert 5.0 <= scenario.gnss.rate_hz <= 10.0
    denials = [e for e in scenario.events if isinstance(e, GnssDenial)]
    drifts = [e for e in scenario.events if isinstance(e, GnssSpoofDrift)]
    assert len(denials) == 1
    assert len(drifts) == 1
    assert denials[0].end_s - denials[0].start_s == pytest.approx(30.0, abs=5.0)
    assert drifts[0].rate_mps == pytest.approx(2.0)
    assert trajectory.events.airborne_s < denials[0].start_s < drifts[0].start_s < trajectory.duration_s
    # The featureless region lies under the track: the camera looks at it for a few seconds.
    windows = featureless_windows(
        trajectory, scenario.camera.model(), scenario.ground.featureless_regions, trajectory.duration_s
    )
    assert windows
    assert all(w.kind is PhaseKind.FEATURELESS for w in windows)
    assert sum(w.end_ns - w.start_ns for w in windows) > 2e9


def test_the_short_scenario_is_ci_sized_with_every_event_kind() -> None:
    scenario = resolve_scenario("short")
    assert scenario.name == "short"
    assert isinstance(scenario.mission, OutAndBack)
    assert scenario.camera.rate_hz == 5.0
    flight = generate_flight(scenario)
    assert 30.0 <= flight.duration_s <= 45.0
    kinds = {window.kind for window in flight.phases}
    assert {PhaseKind.GNSS_DENIED, PhaseKind.GNSS_SPOOF_DRIFT, PhaseKind.FEATURELESS} <= kinds
    assert all(0 <= w.start_ns < w.end_ns <= flight.duration_s * 1e9 for w in flight.phases)


def test_scenarios_resolve_by_name_by_path_and_by_default(tmp_path: Path) -> None:
    assert resolve_scenario(None) == default_scenario()
    assert resolve_scenario("default") == default_scenario()
    assert resolve_scenario(str(SCENARIOS / "short.yaml")) == resolve_scenario("short")
    copy_path = tmp_path / "mine.yaml"
    copy_path.write_text(DEFAULT_SCENARIO_YAML.replace("name: default", "name: mine"), encoding="utf-8")
    assert resolve_scenario(copy_path).name == "mine"


def test_a_relative_orthophoto_is_next_to_the_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "over_tiff.yaml"
    path.write_text(DEFAULT_SCENARIO_YAML.replace("orthophoto: null", "orthophoto: maps/site.tif"), encoding="utf-8")
    assert load_scenario(path).ground.orthophoto == str(tmp_path / "maps" / "site.tif")
    absolute = DEFAULT_SCENARIO_YAML.replace("orthophoto: null", "orthophoto: /data/site.tif")
    path.write_text(absolute, encoding="utf-8")
    assert load_scenario(path).ground.orthophoto == "/data/site.tif"


def test_start_time_is_the_epoch_in_nanoseconds() -> None:
    assert default_scenario().start_time_ns == 1_717_228_800 * 10**9  # 2024-06-01T08:00:00Z
    data = _with("start_time", "2024-06-01T10:00:00.5+02:00")
    assert scenario_from_mapping(data).start_time_ns == 1_717_228_800 * 10**9 + 500_000_000


def test_the_default_airframe_is_moderate() -> None:
    scenario = default_scenario()
    assert scenario.vibration.accel_rms_mps2 == pytest.approx(0.8)
    assert scenario.vibration.idle_before_takeoff_s == 0.0  # the VIO's rest detector needs still rotors
    assert scenario.baro.offset_drift_m_per_min == pytest.approx(1.0)
    assert scenario.gnss.rate_hz == 5.0
    flight = generate_flight(scenario, duration_s=40.0)
    t = flight.imu.t_ns / 1e9
    on_ground = t < flight.trajectory.events.takeoff_s
    assert not flight.imu.accel_vibration_mps2[on_ground].any()
    assert flight.imu.accel_vibration_mps2[t > 20.0].std() > 0.05
    assert flight.imu.accel_clipped_samples == 0  # 16 g is never reached on a survey
    half_a_minute = np.searchsorted(flight.baro.t_ns, 30 * 10**9)
    assert abs(flight.baro.altitude_offset_m[half_a_minute]) == pytest.approx(0.5, abs=1e-9)  # up or down


def test_the_aggressive_scenario_banks_30_degrees_at_20_mps_with_gnss_at_2_hz() -> None:
    scenario = resolve_scenario("aggressive")
    assert scenario.name == "aggressive"
    assert scenario.gnss.rate_hz == 2.0
    assert scenario.vibration.accel_rms_mps2 == pytest.approx(2.0)
    assert scenario.baro.offset_drift_m_per_min == pytest.approx(2.0)
    assert scenario.camera.width * scenario.camera.height <= 320 * 240
    flight = generate_flight(scenario)
    states = flight.trajectory.states(flight.truth_t_ns / 1e9)
    speed = np.linalg.norm(states.velocity_mps[:, :2], axis=1)
    tilt_deg = np.degrees(np.arccos(np.clip(states.R_map_body[:, 2, 2], -1.0, 1.0)))
    assert speed.max() == pytest.approx(20.0, abs=0.5)
    assert tilt_deg.max() == pytest.approx(30.0, abs=1.5)
    assert np.mean(tilt_deg > 25.0) > 0.5  # banked most of the flight, not for a moment
    assert np.all(np.diff(flight.gnss.t_ns) == 500_000_000)
    # Three denials of 10, 30 and 60 s, each after 30 s or more of GNSS, all in flight; no spoofing.
    denials = [w for w in flight.phases if w.kind is PhaseKind.GNSS_DENIED]
    assert [round((w.end_ns - w.start_ns) / 1e9) for w in denials] == [10, 30, 60]
    ends_ns = [0, *(w.end_ns for w in denials)]
    assert all(w.start_ns - end_ns >= 30 * 10**9 for w, end_ns in zip(denials, ends_ns, strict=False))
    events = flight.trajectory.events
    assert events.landing_s is not None
    assert all(events.airborne_s * 1e9 < w.start_ns and w.end_ns < events.landing_s * 1e9 for w in denials)
    assert not {w.kind for w in flight.phases} & {PhaseKind.GNSS_SPOOF_DRIFT, PhaseKind.GNSS_SPOOF_JUMP}
    # Armed on the pad: the rotors idle (and shake) for the last seconds before take-off.
    t = flight.imu.t_ns / 1e9
    takeoff = flight.trajectory.events.takeoff_s
    idle = (t >= takeoff - scenario.vibration.idle_before_takeoff_s) & (t < takeoff)
    assert not flight.imu.accel_vibration_mps2[t < takeoff - scenario.vibration.idle_before_takeoff_s].any()
    assert flight.imu.accel_vibration_mps2[idle].std() > 0.05
    in_flight = (t > events.airborne_s) & (t < events.landing_s)
    vibration_rms = np.sqrt(np.mean(np.sum(flight.imu.accel_vibration_mps2[in_flight] ** 2, axis=1)))
    assert 0.8 < vibration_rms < 2.0  # what passes its 145 Hz low-pass


def test_imu_overrides_make_a_custom_profile() -> None:
    spec = ImuSpec(profile="bmi088", gyro_noise_density=1e-3)
    profile = spec.mems_profile()
    assert profile.name == "bmi088+custom"
    assert profile.gyro_noise_density == 1e-3
    assert profile.accel_noise_density == ImuSpec().mems_profile().accel_noise_density
    ranged = scenario_from_mapping(_with("imu.accel_range_mps2", 235.0)).imu.mems_profile()
    assert ranged.accel_range_mps2 == 235.0  # 24 g
    assert ranged.name == "bmi088+custom"
    assert ImuSpec().mems_profile().accel_range_mps2 == pytest.approx(16 * 9.80665)


def test_every_section_is_read() -> None:
    data = _with("gnss.denied_output", "silent")
    data["ground"]["featureless_regions"].append(
        {"kind": "polygon", "vertices_enu_m": [[0, 0], [10, 0], [10, 10]], "colour_rgb": [1, 2, 3]}
    )
    data["mission"] = {"kind": "figure_eight", "radius_m": 50.0, "heading_deg": 10.0, "loops": 2}
    scenario = scenario_from_mapping(data)
    assert scenario.gnss.denied_output is DeniedOutput.SILENT
    assert scenario.ground.featureless_regions[0] == FeaturelessCircle((-20.0, 40.0), 20.0)
    assert scenario.ground.featureless_regions[1].colour_rgb == (1, 2, 3)
    assert scenario.mission.kind.value == "figure_eight"
    assert scenario.camera.distortion == (-0.05, 0.01, 0.0, 0.0, 0.0)
    assert dataclasses.replace(scenario, seed=3).seed == 3


# --- one typed error per malformed input ---------------------------------------------------------


def _fails(data: object, error: type[ScenarioError], *fragments: str) -> None:
    with pytest.raises(error) as info:
        scenario_from_mapping(data, "test.yaml")
    message = str(info.value)
    assert "test.yaml" in message
    for fragment in fragments:
        assert fragment in message, message


def test_yaml_syntax_error() -> None:
    with pytest.raises(ScenarioSyntaxError, match=r"bad\.yaml is not valid YAML"):
        parse_scenario("name: [unclosed", "bad.yaml")


def test_top_level_not_a_mapping() -> None:
    _fails([1, 2, 3], ScenarioSyntaxError, "top level must be a mapping")


def test_unknown_top_level_key() -> None:
    data = _default_mapping() | {"wind_mps": 5.0}
    _fails(data, ScenarioKeyError, "unknown key(s) ['wind_mps']", "allowed")


def test_unknown_nested_key() -> None:
    _fails(_with("gnss.rate", 5.0), ScenarioKeyError, "gnss:", "'rate'")


def test_missing_required_key() -> None:
    _fails(_without("origin.latitude_deg"), ScenarioKeyError, "origin.latitude_deg: is required")


def test_missing_start_time() -> None:
    _fails(_without("start_time"), ScenarioKeyError, "start_time: is required")


def test_start_time_given_in_nanoseconds_is_refused() -> None:
    _fails(_default_mapping() | {"start_time_ns": 5}, ScenarioKeyError, "start_time_ns")


def test_string_where_a_number_belongs() -> None:
    _fails(_with("gnss.rate_hz", "fast"), ScenarioTypeError, "gnss.rate_hz: must be a number", "'fast'")


def test_yaml_1_1_exponent_without_dot_is_a_string() -> None:
    _fails(_with("baro.drift_time_s", "3e2"), ScenarioTypeError, "baro.drift_time_s: must be a number")


def test_boolean_where_an_integer_belongs() -> None:
    _fails(_with("mission.legs", True), ScenarioTypeError, "mission.legs: must be an integer")


def test_number_where_a_boolean_belongs() -> None:
    _fails(_with("flight.land", 1), ScenarioTypeError, "flight.land: must be true or false")


def test_list_where_a_mapping_belongs() -> None:
    _fails(_with("flight", [1, 2]), ScenarioTypeError, "flight: must be a mapping")


def test_scalar_where_a_list_belongs() -> None:
    _fails(_with("camera.distortion", 0.1), ScenarioTypeError, "camera.distortion: must be a list")


def test_wrong_length_list() -> None:
    _fails(_with("camera.distortion", [0.1, 0.0]), ScenarioValueError, "camera.distortion: must have 5 elements")


def test_value_out_of_range() -> None:
    _fails(_with("gnss.rate_hz", 50.0), ScenarioValueError, "gnss.rate_hz: must be within [1, 20]", "50.0")


def test_element_out_of_range() -> None:
    _fails(_with("camera.t_body_camera_m", [0.0, 0.0, 9.0]), ScenarioValueError, "camera.t_body_camera_m")


def test_not_a_number_value() -> None:
    _fails(_with("flight.speed_mps", float("nan")), ScenarioValueError, "flight.speed_mps: must be finite")


def test_unknown_mission_kind() -> None:
    _fails(_with("mission.kind", "spiral"), ScenarioValueError, "mission.kind: must be one of", "'spiral'")


def test_unknown_event_kind() -> None:
    _fails(_with("events[0].kind", "gnss_meaconing"), ScenarioValueError, "events[0].kind", "gnss_meaconing")


def test_unknown_enum_choice() -> None:
    _fails(_with("gnss.denied_output", "maybe"), ScenarioValueError, "gnss.denied_output: must be one of")


def test_unknown_imu_profile() -> None:
    _fails(_with("imu.profile", "mpu6050"), ScenarioValueError, "imu.profile", "'mpu6050'")


@pytest.mark.parametrize(
    ("path", "value", "error", "fragment"),
    [
        ("vibration.rotor_rpm", 7000.0, ScenarioKeyError, "'rotor_rpm'"),
        ("vibration", [1.0], ScenarioTypeError, "vibration: must be a mapping"),
        ("vibration.rotor_hz", 2000.0, ScenarioValueError, "vibration.rotor_hz: must be within [10, 1000]"),
        ("vibration.rotor_count", 4.5, ScenarioTypeError, "vibration.rotor_count: must be an integer"),
        ("vibration.rotor_count", 0, ScenarioValueError, "vibration.rotor_count: must be within [1, 16]"),
        ("vibration.harmonics", [1.0, -0.5], ScenarioValueError, "vibration.harmonics: must be within [0, 10]"),
        ("vibration.harmonics", [], ScenarioValueError, "vibration.harmonics must be finite numbers"),
        ("vibration.harmonics", [0.0, 0.0], ScenarioValueError, "not all zero"),
        ("vibration.harmonics", "1x", ScenarioTypeError, "vibration.harmonics: must be a list"),
        ("vibration.accel_rms_mps2", 80.0, ScenarioValueError, "vibration.accel_rms_mps2: must be within [0, 50]"),
        ("vibration.accel_rms_mps2", "strong", ScenarioTypeError, "vibration.accel_rms_mps2: must be a number"),
        ("vibration.accel_axis_weights", [1.0, 1.0], ScenarioValueError, "must have 3 elements"),
        ("vibration.accel_axis_weights", [0.0, 0.0, 0.0], ScenarioValueError, "vibration.accel_axis_weights"),
        ("vibration.gyro_rms_radps", 3.0, ScenarioValueError, "vibration.gyro_rms_radps: must be within [0, 2]"),
        ("vibration.gyro_axis_weights", [1.0, 1.0, 11.0], ScenarioValueError, "vibration.gyro_axis_weights"),
        ("vibration.speed_jitter", 0.5, ScenarioValueError, "vibration.speed_jitter: must be within [0, 0.2]"),
        ("vibration.idle_speed_fraction", 1.5, ScenarioValueError, "vibration.idle_speed_fraction"),
        ("vibration.idle_before_takeoff_s", -1.0, ScenarioValueError, "vibration.idle_before_takeoff_s"),
        ("vibration.idle_before_takeoff_s", True, ScenarioTypeError, "vibration.idle_before_takeoff_s"),
        ("imu.accel_range_mps2", 9.0, ScenarioValueError, "imu.accel_range_mps2: must be within [19.6, 1000]"),
        ("imu.gyro_range_radps", 100.0, ScenarioValueError, "imu.gyro_range_radps: must be within [2, 70]"),
        ("imu.accel_bandwidth_hz", 1.0, ScenarioValueError, "imu.accel_bandwidth_hz: must be within [5, 5000]"),
        ("imu.gyro_bandwidth_hz", "wide", ScenarioTypeError, "imu.gyro_bandwidth_hz: must be a number"),
        ("baro.initial_offset_m", 500.0, ScenarioValueError, "baro.initial_offset_m: must be within [-100, 100]"),
        ("baro.offset_drift_m_per_min", -1.0, ScenarioValueError, "baro.offset_drift_m_per_min: must be within"),
        (
            "baro.offset_drift_m_per_min",
            float("inf"),
            ScenarioValueError,
            "baro.offset_drift_m_per_min: must be finite",
        ),
        ("baro.offset_drift_direction", "sideways", ScenarioValueError, "baro.offset_drift_direction: must be one of"),
        ("gnss.rate_hz", 0.5, ScenarioValueError, "gnss.rate_hz: must be within [1, 20]"),
    ],
)
def test_bad_airframe_keys_and_values(path: str, value: object, error: type[ScenarioError], fragment: str) -> None:
    _fails(_with(path, value), error, fragment)


def test_gnss_at_2_hz_is_accepted() -> None:
    assert scenario_from_mapping(_with("gnss.rate_hz", 2.0)).gnss.rate_hz == 2.0


def test_start_time_without_time_zone() -> None:
    _fails(_with("start_time", "2024-06-01T08:00:00"), ScenarioValueError, "start_time: needs a time zone")


def test_start_time_not_a_time() -> None:
    _fails(_with("start_time", "tomorrow morning"), ScenarioValueError, "start_time: is not an ISO 8601 time")


def test_negative_window() -> None:
    _fails(_with("events[0].start_s", -5.0), ScenarioWindowError, "events[0]", "[-5.0, 81.0)")


def test_reversed_window() -> None:
    _fails(_with("events[1].end_s", 90.0), ScenarioWindowError, "events[1]", "empty or reversed")


def test_overlapping_windows() -> None:
    _fails(_with("events[1].start_s", 80.0), ScenarioWindowError, "events[1]", "overlaps events[0]")


def test_duplicate_event_names() -> None:
    _fails(_with("events[1].name", "gnss_denial"), ScenarioValueError, "events[1].name", "also events[0]")


def test_event_after_the_flight_ends() -> None:
    data = _with("events[1].start_s", 400.0)
    data["events"][1]["end_s"] = 420.0
    with pytest.raises(ScenarioWindowError, match=r"events\[1\].*after the flight ends"):
        generate_flight(scenario_from_mapping(data))


def test_inconsistent_flight_profile() -> None:
    data = _with("flight.ground_clearance_m", 1.5)
    data["flight"]["altitude_agl_m"] = 1.0
    _fails(data, ScenarioValueError, "altitude_agl_m")


def test_degenerate_featureless_polygon() -> None:
    region = {"kind": "polygon", "vertices_enu_m": [[0, 0], [1, 1], [2, 2]]}
    _fails(_with("ground.featureless_regions", [region]), ScenarioValueError, "featureless_regions[0]", "zero area")


def test_procedural_ground_too_large() -> None:
    data = _with("ground.size_m", 9000.0)
    data["ground"]["gsd_m"] = 0.1
    _fails(data, ScenarioValueError, "ground:", "90000 px per side")


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioNotFoundError, match="does not exist"):
        load_scenario(tmp_path / "nope.yaml")


def test_unknown_scenario_name() -> None:
    with pytest.raises(ScenarioNotFoundError, match=r"'nosuch'.*named scenarios: \['aggressive', 'default', 'short'"):
        resolve_scenario("nosuch")


def test_undecodable_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ScenarioSyntaxError, match=r"binary\.yaml"):
        load_scenario(path)


def test_out_of_range_scenario_seed() -> None:
    _fails(_with("seed", -1), ScenarioValueError, "seed: must be within")


def test_the_same_scenario_generates_the_same_flight() -> None:
    a = generate_flight(resolve_scenario("short"), duration_s=3.0)
    b = generate_flight(resolve_scenario("short"), duration_s=3.0)
    assert np.array_equal(a.imu.accel_mps2, b.imu.accel_mps2)
    assert np.array_equal(a.gnss.latitude_deg, b.gnss.latitude_deg)
