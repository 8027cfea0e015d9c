"""The simulator's scenario: one YAML file -> frozen dataclasses, every bad key or value refused by name.

A scenario says where and when the flight happens (take-off origin, start time, seed), how the
vehicle flies (``flight``, ``mission``), its sensors (``imu``, ``gnss``, ``baro``, ``camera``), how
its rotors shake the IMU (``vibration``), the ground the camera sees (``ground``) and the GNSS
events (``events``). ``DEFAULT_SCENARIO_YAML`` is the built-in default (also shipped as
``config/scenarios/default.yaml``); named scenarios are looked up in the installed
``share/onboard/config/scenarios`` and the source checkout's ``config/scenarios``.

The loader maps YAML onto the dataclasses' type hints: unknown keys, missing keys, wrong types,
values out of ``RANGES`` and inconsistent event windows each raise their own ScenarioError
subclass naming the file, the key path (``gnss.rate_hz``, ``events[1].end_s``) and the value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
import logging
import math
import os
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gps_denied_onboard.errors import OnboardError
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane
from gps_denied_onboard.sim.camera import CameraModel, RenderOptions
from gps_denied_onboard.sim.errors import (
    ScenarioKeyError,
    ScenarioNotFoundError,
    ScenarioSyntaxError,
    ScenarioTypeError,
    ScenarioValueError,
    ScenarioWindowError,
)
from gps_denied_onboard.sim.gnss import (
    BaroConfig,
    GnssConfig,
    GnssDenial,
    GnssEvent,
    GnssJamming,
    GnssSpoofDrift,
    GnssSpoofJump,
)
from gps_denied_onboard.sim.imu import MemsProfile, mems_profile
from gps_denied_onboard.sim.orthophoto import (
    MAX_PROCEDURAL_SIDE_PX,
    FeaturelessCircle,
    FeaturelessPolygon,
    FeaturelessRegion,
    GroundOptions,
    RepeatedTexture,
    SeasonalChange,
)
from gps_denied_onboard.sim.trajectory import FigureEight, FlightProfile, Lawnmower, Mission, OutAndBack
from gps_denied_onboard.sim.vibration import VibrationConfig, check_vibration_config

logger = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
SCENARIO_DIR = Path("config") / "scenarios"  # under share/onboard (installed) or the source checkout
_REPO_SCENARIO_DIR = Path(__file__).resolve().parents[3] / SCENARIO_DIR
_MIN_PROCEDURAL_SIDE_PX = 64


@dataclass(frozen=True)
class Origin:
    """The take-off point on the ground (WGS84, height above the ellipsoid): the map frame's origin."""

    latitude_deg: float
    longitude_deg: float
    altitude_m: float

    def ltp(self) -> LocalTangentPlane:
        """The map frame."""
        return LocalTangentPlane(self.latitude_deg, self.longitude_deg, self.altitude_m)


@dataclass(frozen=True)
class ImuSpec:
    """The IMU: a named MEMS profile, its rate, and optional overrides of the profile's figures."""

    profile: str = "bmi088"
    rate_hz: float = 200.0
    accel_noise_density: float | None = None  # m/s^2/sqrt(Hz)
    gyro_noise_density: float | None = None  # rad/s/sqrt(Hz)
    accel_bias_random_walk: float | None = None  # m/s^3/sqrt(Hz)
    gyro_bias_random_walk: float | None = None  # rad/s^2/sqrt(Hz)
    accel_turn_on_bias_mps2: float | None = None
    gyro_turn_on_bias_radps: float | None = None
    accel_range_mps2: float | None = None  # full scale per axis
    gyro_range_radps: float | None = None
    accel_bandwidth_hz: float | None = None  # the low-pass before the output decimation
    gyro_bandwidth_hz: float | None = None

    def mems_profile(self) -> MemsProfile:
        """The named profile with the overrides applied (named ``<profile>+custom`` if any)."""
        base = mems_profile(self.profile)
        overrides = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("profile", "rate_hz") and getattr(self, f.name) is not None
        }
        if not overrides:
            return base
        return dataclasses.replace(base, name=f"{base.name}+custom", source=f"{base.source}; overridden", **overrides)


@dataclass(frozen=True)
class CameraSpec:
    """The downward camera: image size, rate, lens, mount on base_link and sensor effects."""

    width: int = 640
    height: int = 480
    rate_hz: float = 10.0
    hfov_deg: float = 70.0
    tilt_deg: float = 0.0
    distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)  # plumb_bob k1 k2 p1 p2 k3
    t_body_camera_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    exposure_time_s: float = 0.002  # motion blur
    sensor_noise: bool = True  # shot/read noise, gain jitter, vignetting of a small CMOS; false: ideal

    def model(self) -> CameraModel:
        """The camera model (intrinsics from the horizontal field of view)."""
        return CameraModel.from_hfov(
            self.width,
            self.height,
            self.hfov_deg,
            distortion=self.distortion,
            tilt_deg=self.tilt_deg,
            t_body_camera_m=self.t_body_camera_m,
        )

    def render_options(self) -> RenderOptions:
        """The renderer's sensor effects."""
        base = RenderOptions.typical() if self.sensor_noise else RenderOptions()
        return dataclasses.replace(base, exposure_time_s=self.exposure_time_s)


@dataclass(frozen=True)
class GroundSpec:
    """The ground: a GeoTIFF, or a procedural landscape centred on the origin; plus failure regions."""

    orthophoto: str | None = None  # path of a GeoTIFF (relative: to the scenario file); None: procedural
    size_m: float = 600.0  # procedural side length
    gsd_m: float = 0.25  # procedural ground sample distance
    seed: int | None = None  # procedural landscape seed; None: the scenario's seed
    featureless_regions: tuple[FeaturelessRegion, ...] = ()
    repeated_texture: tuple[RepeatedTexture, ...] = ()
    seasonal_change: SeasonalChange | None = None

    def options(self) -> GroundOptions:
        """The map-matching failure options of the imagery."""
        return GroundOptions(self.featureless_regions, self.repeated_texture, self.seasonal_change)


@dataclass(frozen=True)
class Scenario:
    """One simulated flight, fully specified."""

    name: str
    seed: int
    start_time_ns: int  # the sim-time epoch: stamp of the flight's t = 0 (UTC, ns since 1970)
    origin: Origin
    flight: FlightProfile
    mission: Mission
    imu: ImuSpec = field(default_factory=ImuSpec)
    vibration: VibrationConfig = field(default_factory=VibrationConfig)
    gnss: GnssConfig = field(default_factory=GnssConfig)
    baro: BaroConfig = field(default_factory=BaroConfig)
    camera: CameraSpec = field(default_factory=CameraSpec)
    ground: GroundSpec = field(default_factory=GroundSpec)
    ground_truth_rate_hz: float = 50.0
    events: tuple[GnssEvent, ...] = ()


# --- value ranges: (low, high, low inclusive, high inclusive); tuples are checked element-wise --

_Range = tuple[float, float, bool, bool]


def _closed(low: float, high: float) -> _Range:
    return (low, high, True, True)


def _open_low(low: float, high: float) -> _Range:
    return (low, high, False, True)


_HEADING = _closed(-360.0, 360.0)
MAX_WINDOW_S = 86_400.0  # event windows lie within a day of the flight's start
RANGES: dict[tuple[type, str], _Range] = {
    (Scenario, "seed"): _closed(0, 2**63 - 1),
    (Scenario, "ground_truth_rate_hz"): _closed(1.0, 400.0),
    (Origin, "latitude_deg"): _closed(-84.0, 84.0),  # UTM (the procedural ground's CRS) ends at 84 N / 80 S
    (Origin, "longitude_deg"): _closed(-180.0, 180.0),
    (Origin, "altitude_m"): _closed(-500.0, 9000.0),
    (FlightProfile, "altitude_agl_m"): _closed(2.0, 1000.0),
    (FlightProfile, "speed_mps"): _closed(0.5, 30.0),
    (FlightProfile, "climb_rate_mps"): _closed(0.2, 15.0),
    (FlightProfile, "descent_rate_mps"): _closed(0.2, 15.0),
    (FlightProfile, "max_accel_mps2"): _closed(0.5, 7.8),  # below 0.8 g
    (FlightProfile, "max_yaw_rate_dps"): _closed(5.0, 360.0),
    (FlightProfile, "smoothing_s"): _closed(0.2, 5.0),
    (FlightProfile, "rest_before_s"): _closed(0.0, 600.0),
    (FlightProfile, "rest_after_s"): _closed(0.0, 600.0),
    (FlightProfile, "ground_clearance_m"): _closed(0.0, 2.0),
    (Lawnmower, "leg_length_m"): _open_low(0.0, 10_000.0),
    (Lawnmower, "leg_spacing_m"): _closed(-1000.0, 1000.0),
    (Lawnmower, "legs"): _closed(1, 200),
    (Lawnmower, "heading_deg"): _HEADING,
    (Lawnmower, "start_offset_m"): _closed(-10_000.0, 10_000.0),
    (OutAndBack, "distance_m"): _open_low(0.0, 10_000.0),
    (OutAndBack, "heading_deg"): _HEADING,
    (FigureEight, "radius_m"): _closed(5.0, 2000.0),
    (FigureEight, "heading_deg"): _HEADING,
    (FigureEight, "loops"): _closed(1, 50),
    (ImuSpec, "rate_hz"): _closed(50.0, 2000.0),
    (ImuSpec, "accel_noise_density"): _closed(0.0, 1.0),
    (ImuSpec, "gyro_noise_density"): _closed(0.0, 1.0),
    (ImuSpec, "accel_bias_random_walk"): _closed(0.0, 1.0),
    (ImuSpec, "gyro_bias_random_walk"): _closed(0.0, 1.0),
    (ImuSpec, "accel_turn_on_bias_mps2"): _closed(0.0, 5.0),
    (ImuSpec, "gyro_turn_on_bias_radps"): _closed(0.0, 1.0),
    (ImuSpec, "accel_range_mps2"): _closed(19.6, 1000.0),  # +-2 g .. +-100 g
    (ImuSpec, "gyro_range_radps"): _closed(2.0, 70.0),  # +-125 .. +-4000 deg/s
    (ImuSpec, "accel_bandwidth_hz"): _closed(5.0, 5000.0),
    (ImuSpec, "gyro_bandwidth_hz"): _closed(5.0, 5000.0),
    (VibrationConfig, "rotor_hz"): _closed(10.0, 1000.0),
    (VibrationConfig, "rotor_count"): _closed(1, 16),
    (VibrationConfig, "harmonics"): _closed(0.0, 10.0),
    (VibrationConfig, "accel_rms_mps2"): _closed(0.0, 50.0),
    (VibrationConfig, "accel_axis_weights"): _closed(0.0, 10.0),
    (VibrationConfig, "gyro_rms_radps"): _closed(0.0, 2.0),
    (VibrationConfig, "gyro_axis_weights"): _closed(0.0, 10.0),
    (VibrationConfig, "speed_jitter"): _closed(0.0, 0.2),
    (VibrationConfig, "idle_speed_fraction"): _closed(0.0, 1.0),
    (VibrationConfig, "idle_before_takeoff_s"): _closed(0.0, 600.0),
    (GnssConfig, "rate_hz"): _closed(1.0, 20.0),
    (GnssConfig, "horizontal_sigma_m"): _closed(0.0, 100.0),
    (GnssConfig, "vertical_sigma_m"): _closed(0.0, 100.0),
    (GnssConfig, "correlated_horizontal_sigma_m"): _closed(0.0, 100.0),
    (GnssConfig, "correlated_vertical_sigma_m"): _closed(0.0, 100.0),
    (GnssConfig, "correlation_time_s"): _open_low(0.0, 86_400.0),
    (BaroConfig, "rate_hz"): _closed(1.0, 200.0),
    (BaroConfig, "noise_pa"): _closed(0.0, 100.0),
    (BaroConfig, "drift_sigma_pa"): _closed(0.0, 500.0),
    (BaroConfig, "drift_time_s"): _open_low(0.0, 86_400.0),
    (BaroConfig, "sea_level_pressure_pa"): _closed(87_000.0, 108_500.0),
    (BaroConfig, "initial_offset_m"): _closed(-100.0, 100.0),
    (BaroConfig, "offset_drift_m_per_min"): _closed(0.0, 20.0),
    (CameraSpec, "width"): _closed(16, 4096),
    (CameraSpec, "height"): _closed(16, 4096),
    (CameraSpec, "rate_hz"): _open_low(0.0, 60.0),
    (CameraSpec, "hfov_deg"): _closed(10.0, 150.0),
    (CameraSpec, "tilt_deg"): _closed(-60.0, 60.0),
    (CameraSpec, "distortion"): _closed(-2.0, 2.0),
    (CameraSpec, "t_body_camera_m"): _closed(-2.0, 2.0),
    (CameraSpec, "exposure_time_s"): _closed(0.0, 0.05),
    (GroundSpec, "size_m"): _closed(50.0, 10_000.0),
    (GroundSpec, "gsd_m"): _closed(0.02, 5.0),
    (GroundSpec, "seed"): _closed(0, 2**63 - 1),
    (GnssJamming, "sigma_m"): _open_low(0.0, 10_000.0),
    (GnssJamming, "ramp_s"): _closed(0.0, 600.0),
    (GnssSpoofDrift, "rate_mps"): _open_low(0.0, 100.0),
    (GnssSpoofDrift, "direction_deg"): _HEADING,
    (GnssSpoofDrift, "ramp_s"): _closed(0.0, 600.0),
    (GnssSpoofJump, "offset_enu_m"): _closed(-100_000.0, 100_000.0),
}

# Tagged unions: a YAML mapping's ``kind`` picks the dataclass.
_KINDS: dict[str, dict[str, type]] = {
    "mission": {"lawnmower": Lawnmower, "out_and_back": OutAndBack, "figure_eight": FigureEight},
    "event": {
        "gnss_denied": GnssDenial,
        "gnss_jammed": GnssJamming,
        "gnss_spoof_drift": GnssSpoofDrift,
        "gnss_spoof_jump": GnssSpoofJump,
    },
    "region": {"circle": FeaturelessCircle, "polygon": FeaturelessPolygon},
}
_UNION_KINDS: dict[frozenset[type], str] = {frozenset(table.values()): name for name, table in _KINDS.items()}
EVENT_KIND_NAMES: dict[type, str] = {cls: kind for kind, cls in _KINDS["event"].items()}


# --- the loader ------------------------------------------------------------------------------


class _Loader:
    """Maps YAML values onto type hints; ``source`` (a path or ``<default>``) prefixes every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, error: type[OnboardError], path: str, message: str) -> OnboardError:
        """The typed error ``error`` naming the source, the key path and the problem."""
        return error(f"scenario {self.source}: {path}: {message}")

    def build(self, cls: type, value: object, path: str, *, drop: tuple[str, ...] = ()) -> Any:
        """Build dataclass ``cls`` from a mapping (keys in ``drop`` are ignored, e.g. a union's ``kind``)."""
        if not isinstance(value, Mapping):
            raise self.fail(ScenarioTypeError, path, f"must be a mapping, got {_describe(value)}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(str(k) for k in value if k not in fields and k not in drop)
        if unknown:
            raise self.fail(ScenarioKeyError, path, f"unknown key(s) {unknown}; allowed: {sorted(fields)}")
        kwargs: dict[str, Any] = {}
        for name, spec in fields.items():
            key_path = f"{path}.{name}" if path else name
            if name not in value:
                if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                    raise self.fail(ScenarioKeyError, key_path, "is required")
                continue
            converted = self.convert(value[name], hints[name], key_path)
            self.check_range(cls, name, converted, key_path)
            kwargs[name] = converted
        try:
            return cls(**kwargs)
        except OnboardError as exc:  # a dataclass's own validation (e.g. a degenerate polygon)
            raise self.fail(ScenarioValueError, path, str(exc)) from exc

    def convert(self, value: object, hint: Any, path: str) -> Any:  # noqa: PLR0911 - one return per kind of hint
        """Convert a YAML value to the type ``hint``."""
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            members = tuple(a for a in args if a is not type(None))
            if len(members) == 1:
                return self.convert(value, members[0], path)
            return self.tagged(value, members, path)
        if origin is tuple:
            return self.sequence(value, args, path)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            choices = [m.value for m in hint]
            if value not in choices:
                raise self.fail(ScenarioValueError, path, f"must be one of {choices}, got {value!r}")
            return hint(value)
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            return self.build(hint, value, path)
        return self.scalar(value, hint, path)

    def scalar(self, value: object, hint: Any, path: str) -> Any:
        """A float (ints accepted), int, bool or str, strictly: YAML's ``yes`` is not a number."""
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(ScenarioTypeError, path, f"must be a number, got {_describe(value)}")
            if not math.isfinite(value):
                raise self.fail(ScenarioValueError, path, f"must be finite, got {value}")
            return float(value)
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(ScenarioTypeError, path, f"must be an integer, got {_describe(value)}")
            return value
        if hint is bool:
            if not isinstance(value, bool):
                raise self.fail(ScenarioTypeError, path, f"must be true or false, got {_describe(value)}")
            return value
        if hint is str:
            if not isinstance(value, str):
                raise self.fail(ScenarioTypeError, path, f"must be a string, got {_describe(value)}")
            return value
        raise TypeError(f"scenario loader: unsupported type hint {hint!r} at {path}")  # a programming error

    def sequence(self, value: object, args: tuple[Any, ...], path: str) -> tuple[Any, ...]:
        """A tuple, of fixed length or ``tuple[X, ...]``."""
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise self.fail(ScenarioTypeError, path, f"must be a list, got {_describe(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(self.convert(item, args[0], f"{path}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise self.fail(ScenarioValueError, path, f"must have {len(args)} elements, got {len(value)}")
        return tuple(
            self.convert(item, arg, f"{path}[{i}]") for i, (item, arg) in enumerate(zip(value, args, strict=True))
        )

    def tagged(self, value: object, members: tuple[Any, ...], path: str) -> Any:
        """One of a union's dataclasses, chosen by the mapping's ``kind``."""
        kinds = _KINDS[_UNION_KINDS[frozenset(members)]]
        if not isinstance(value, Mapping):
            raise self.fail(ScenarioTypeError, path, f"must be a mapping with a 'kind', got {_describe(value)}")
        kind = value.get("kind")
        if kind not in kinds:
            raise self.fail(ScenarioValueError, f"{path}.kind", f"must be one of {sorted(kinds)}, got {kind!r}")
        return self.build(kinds[kind], value, path, drop=("kind",))

    def check_range(self, cls: type, name: str, value: object, path: str) -> None:
        """Raise ScenarioValueError if ``value`` (or any element of it) is outside ``RANGES``."""
        bounds = RANGES.get((cls, name))
        if bounds is None or value is None:
            return
        low, high, low_inclusive, high_inclusive = bounds
        for item in value if isinstance(value, tuple) else (value,):
            above = item >= low if low_inclusive else item > low
            below = item <= high if high_inclusive else item < high
            if not (above and below):
                interval = f"{'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
                raise self.fail(ScenarioValueError, path, f"must be within {interval}, got {value!r}")


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def _start_time_ns(loader: _Loader, value: object) -> int:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise loader.fail(ScenarioValueError, "start_time", f"is not an ISO 8601 time: {value!r}") from None
    if not isinstance(value, dt.datetime):
        raise loader.fail(ScenarioTypeError, "start_time", f"must be an ISO 8601 UTC time, got {_describe(value)}")
    if value.tzinfo is None:
        raise loader.fail(ScenarioValueError, "start_time", f"needs a time zone (e.g. a trailing Z), got {value}")
    seconds = value.timestamp()
    if not 0 <= seconds < 2**32:
        raise loader.fail(ScenarioValueError, "start_time", f"must lie between 1970 and 2106, got {value}")
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000


def scenario_from_mapping(data: object, source: str = "<mapping>") -> Scenario:
    """Build and check a scenario from parsed YAML (``source`` names it in errors)."""
    loader = _Loader(source)
    if not isinstance(data, Mapping):
        raise ScenarioSyntaxError(f"scenario {source}: the top level must be a mapping, got {_describe(data)}")
    data = dict(data)
    if "start_time_ns" in data:
        raise loader.fail(ScenarioKeyError, "start_time_ns", "unknown key; the epoch is given as start_time (ISO 8601)")
    if "start_time" not in data:
        raise loader.fail(ScenarioKeyError, "start_time", "is required")
    start_ns = _start_time_ns(loader, data.pop("start_time"))
    scenario: Scenario = loader.build(Scenario, {**data, "start_time_ns": start_ns}, "")
    check_scenario(scenario, source)
    return scenario


def parse_scenario(text: str, source: str = "<text>") -> Scenario:
    """Parse a scenario from YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioSyntaxError(f"scenario {source} is not valid YAML: {exc}") from None
    return scenario_from_mapping(data, source)


def load_scenario(path: Path) -> Scenario:
    """Load a scenario YAML file; a relative ``ground.orthophoto`` is relative to the file's directory."""
    if not path.is_file():
        raise ScenarioNotFoundError(f"scenario file {path} does not exist or is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioSyntaxError(f"cannot read scenario {path}: {exc}") from None
    scenario = parse_scenario(text, str(path))
    orthophoto = scenario.ground.orthophoto
    if orthophoto is not None and not Path(orthophoto).is_absolute():
        ground = dataclasses.replace(scenario.ground, orthophoto=str(path.parent / orthophoto))
        scenario = dataclasses.replace(scenario, ground=ground)
    return scenario


def scenario_dirs() -> list[Path]:
    """Where named scenarios are looked up: each installed share/onboard first, then the source checkout."""
    dirs = [
        Path(prefix) / "share" / "onboard" / SCENARIO_DIR
        for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
        if prefix
    ]
    dirs.append(_REPO_SCENARIO_DIR)
    return [d for d in dirs if d.is_dir()]


def resolve_scenario(spec: str | Path | None) -> Scenario:
    """A scenario from a file path or a name (``default``, ``short``, ``aggressive``); None is the built-in default."""
    if spec is None:
        return default_scenario()
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.exists() or os.sep in str(spec):
        return load_scenario(path)
    for directory in scenario_dirs():
        candidate = directory / f"{spec}.yaml"
        if candidate.is_file():
            return load_scenario(candidate)
    if str(spec) == "default":
        return default_scenario()
    names = sorted({p.stem for d in scenario_dirs() for p in d.glob("*.yaml")} | {"default"})
    raise ScenarioNotFoundError(f"no scenario file or named scenario {str(spec)!r}; named scenarios: {names}")


def default_scenario() -> Scenario:
    """The built-in default scenario (``DEFAULT_SCENARIO_YAML``)."""
    return parse_scenario(DEFAULT_SCENARIO_YAML, "<default>")


def check_scenario(scenario: Scenario, source: str = "<scenario>") -> None:
    """Cross-field checks the per-key ranges cannot make: windows, names, camera and ground geometry."""
    loader = _Loader(source)
    names: dict[str, int] = {}
    for i, event in enumerate(scenario.events):
        path = f"events[{i}]"
        if not event.name:
            raise loader.fail(ScenarioValueError, f"{path}.name", "must not be empty")
        if event.name in names:
            raise loader.fail(ScenarioValueError, f"{path}.name", f"{event.name!r} is also events[{names[event.name]}]")
        names[event.name] = i
        if event.start_s < 0 or event.end_s > MAX_WINDOW_S:
            raise loader.fail(
                ScenarioWindowError,
                path,
                f"window [{event.start_s}, {event.end_s}) s must lie within [0, {MAX_WINDOW_S:g}] s of the start",
            )
        if not event.end_s > event.start_s:
            raise loader.fail(
                ScenarioWindowError, path, f"window [{event.start_s}, {event.end_s}) s is empty or reversed"
            )
    ordered = sorted(enumerate(scenario.events), key=lambda item: item[1].start_s)
    for (i, first), (j, second) in itertools.pairwise(ordered):
        if second.start_s < first.end_s:
            raise loader.fail(
                ScenarioWindowError,
                f"events[{j}]",
                f"window [{second.start_s}, {second.end_s}) s overlaps events[{i}] "
                f"[{first.start_s}, {first.end_s}) s: one GNSS condition at a time",
            )
    domain_checks = (
        ("flight", scenario.flight.check),
        ("camera", scenario.camera.model),
        ("imu.profile", scenario.imu.mems_profile),
        ("vibration", lambda: check_vibration_config(scenario.vibration)),
        ("origin", scenario.origin.ltp),
    )
    for path, check in domain_checks:
        try:
            check()
        except OnboardError as exc:
            raise loader.fail(ScenarioValueError, path, str(exc)) from exc
    ground = scenario.ground
    if ground.orthophoto is None:
        side_px = ground.size_m / ground.gsd_m
        if not _MIN_PROCEDURAL_SIDE_PX <= side_px <= MAX_PROCEDURAL_SIDE_PX:
            raise loader.fail(
                ScenarioValueError,
                "ground",
                f"size_m / gsd_m = {side_px:.0f} px per side; the procedural ground supports "
                f"{_MIN_PROCEDURAL_SIDE_PX} .. {MAX_PROCEDURAL_SIDE_PX}",
            )


def event_kind_name(event: GnssEvent) -> str:
    """The YAML ``kind`` of an event (``gnss_denied`` ...)."""
    return EVENT_KIND_NAMES[type(event)]


DEFAULT_SCENARIO_YAML = """\
# The default flight of `onboard sim`: a lawnmower survey at 80 m AGL and 10 m/s over a procedural
# landscape near the PX4 SITL home (Zurich), 141 s from rest to rest (784 m flown), with a 30 s
# GNSS denial (end of leg 1, U-turn, leg 2), a lake (featureless) under leg 3, then a 25 s GNSS
# spoof drifting north at 2 m/s (leg 3's end and the return). The airframe is a moderate one:
# rotor vibration in flight (rotors stopped on the ground), a baro drifting 1 m/min from GNSS.
# Times are seconds from the start of the flight; angles are ENU (0 = east, counter-clockwise).
name: default
seed: 7
start_time: 2024-06-01T08:00:00Z   # sim-time epoch: the stamp of t = 0
origin:                            # take-off point on the ground, WGS84 (height above the ellipsoid)
  latitude_deg: 47.397742
  longitude_deg: 8.545594
  altitude_m: 535.0                # 488 m above sea level + 47 m geoid undulation
flight:
  altitude_agl_m: 80.0
  speed_mps: 10.0
  climb_rate_mps: 4.0
  descent_rate_mps: 4.0
  max_accel_mps2: 3.0
  max_yaw_rate_dps: 45.0
  smoothing_s: 1.0                 # knot spacing of the trajectory spline
  rest_before_s: 5.0               # on the ground before take-off (IMU alignment)
  rest_after_s: 3.0
  land: true
  ground_clearance_m: 0.3          # base_link above the ground when landed
mission:
  kind: lawnmower
  leg_length_m: 120.0
  leg_spacing_m: 40.0
  legs: 3
  heading_deg: 0.0
  start_offset_m: [-60.0, -40.0]   # the survey is centred on the take-off point
imu:
  profile: bmi088                  # bmi088 | icm42688p | adis16448 (sim/imu.py holds the datasheet figures)
  rate_hz: 200.0
  accel_range_mps2: null           # full scale per axis, the output clips there; null: the profile's (bmi088: 16 g)
  gyro_range_radps: null           # null: the profile's (bmi088: 2000 deg/s)
  accel_bandwidth_hz: null         # low-pass before the output decimation; null: the profile's (bmi088: 80 Hz)
  gyro_bandwidth_hz: null          # null: the profile's (bmi088: 64 Hz)
vibration:                         # rotor vibration at the IMU, before the sensor's low-pass (sim/vibration.py)
  rotor_hz: 115.0                  # rotor rev/s in hover: the fundamental; the speed follows the thrust
  rotor_count: 4
  harmonics: [1.0, 0.5, 0.25]      # relative amplitudes at 1x, 2x, 3x rotor_hz
  accel_rms_mps2: 0.8              # RMS of the vibration vector in hover; 0: none
  accel_axis_weights: [0.5, 0.5, 1.0]  # relative amplitude on body x, y, z (z: the thrust axis)
  gyro_rms_radps: 0.02             # RMS of the angular vibration vector in hover; 0: none
  gyro_axis_weights: [1.0, 1.0, 0.5]
  speed_jitter: 0.01               # per-rotor speed offset and wander (1-sigma fraction): tones beat
  idle_speed_fraction: 0.35        # idle speed / hover speed; the amplitude goes as speed squared
  idle_before_takeoff_s: 0.0       # rotors idle on the pad this long before take-off; 0: stopped until then
gnss:
  rate_hz: 5.0                     # 2 .. 10 Hz are usual
  horizontal_sigma_m: 0.8
  vertical_sigma_m: 1.5
  correlated_horizontal_sigma_m: 1.0
  correlated_vertical_sigma_m: 2.0
  correlation_time_s: 60.0
  denied_output: no_fix            # no_fix: STATUS_NO_FIX messages continue; silent: none at all
baro:
  rate_hz: 25.0
  noise_pa: 3.0
  drift_sigma_pa: 15.0
  drift_time_s: 300.0
  sea_level_pressure_pa: 101325.0
  initial_offset_m: 0.0            # baro minus true (and GNSS) altitude at t = 0
  offset_drift_m_per_min: 1.0      # that offset grows this fast (sensor warming, weather)
  offset_drift_direction: random   # up | down | random (drawn from the seed)
camera:
  width: 640
  height: 480
  rate_hz: 10.0                    # 20 Hz is supported
  hfov_deg: 70.0
  tilt_deg: 0.0
  distortion: [-0.05, 0.01, 0.0, 0.0, 0.0]
  t_body_camera_m: [0.05, 0.0, -0.08]
  exposure_time_s: 0.002
  sensor_noise: true
ground:
  orthophoto: null                 # a GeoTIFF path, or null for the procedural landscape
  size_m: 600.0
  gsd_m: 0.25
  seed: null                       # null: the scenario's seed
  featureless_regions:
    - kind: circle
      center_enu_m: [-20.0, 40.0]
      radius_m: 20.0
  repeated_texture: []
  seasonal_change: null
ground_truth_rate_hz: 50.0
events:
  - kind: gnss_denied
    name: gnss_denial
    start_s: 51.0
    end_s: 81.0
  - kind: gnss_spoof_drift
    name: gnss_spoof_drift
    start_s: 94.0
    end_s: 119.0
    rate_mps: 2.0
    direction_deg: 90.0
    ramp_s: 5.0
"""
