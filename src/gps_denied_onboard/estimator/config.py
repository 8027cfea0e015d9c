"""The state estimator's typed configuration and the ROS parameter table the node declares from.

Every tunable is a field of a frozen per-concern dataclass, declared with ``param(...)``: its
default, a one-line description and the accepted range (or choices) travel in the field's
metadata. The ROS parameter name is ``<section>.<field>`` (``gate.max_horizontal_delta_m``);
``backend`` is the only top-level one. ``PARAMETERS`` (the table) and the validation are both
derived from that metadata, so a name, a range and its check cannot drift apart.

Backend sections owned by another module follow the same convention: a frozen dataclass whose
fields carry ``metadata={"description": str, "minimum": float | None, "maximum": float | None,
"choices": tuple[str, ...] | None}`` (``param`` builds exactly that), imported here without
importing the backend's heavy dependency.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gps_denied_onboard.estimator.backend import ImuNoise, RobustKernel
from gps_denied_onboard.estimator.errors import EstimatorConfigError
from gps_denied_onboard.estimator.isam2 import Isam2Config
from gps_denied_onboard.estimator.parameter import param

ParameterValue = bool | int | float | str

BACKEND_CHOICES = ("eskf", "isam2")  # the registry's names (registry.py checks it stays in step)
KERNEL_CHOICES = tuple(kernel.value for kernel in RobustKernel)
MIN_PROBABILITY, MAX_PROBABILITY = 0.5, 1.0 - 1e-9  # a gate below 50 % rejects good data; 1.0 is no gate


@dataclass(frozen=True)
class ParameterSpec:
    """One ROS parameter of the estimator node: dotted name, default, description, range or choices."""

    name: str
    default: ParameterValue
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None


def _accepted(spec: ParameterSpec) -> str:
    if spec.choices is not None:
        return f"one of {list(spec.choices)}"
    if isinstance(spec.default, bool):
        return "a bool"
    kind = "an integer" if isinstance(spec.default, int) else "a finite number"
    if spec.minimum is not None and spec.maximum is not None:
        return f"{kind} in [{spec.minimum:.10g}, {spec.maximum:.10g}]"
    return kind


def check_value(spec: ParameterSpec, value: object) -> ParameterValue:
    """``value`` converted to the parameter's type, or EstimatorConfigError naming it and what it accepts."""
    default = spec.default
    bad = EstimatorConfigError(f"{spec.name} must be {_accepted(spec)}, got {value!r}")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(default, str):
        if not isinstance(value, str) or (spec.choices is not None and value not in spec.choices):
            raise bad
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    if isinstance(default, int) and not isinstance(value, int):
        raise bad
    number: int | float = value if isinstance(default, int) else float(value)
    if not math.isfinite(number):
        raise bad
    if (spec.minimum is not None and number < spec.minimum) or (spec.maximum is not None and number > spec.maximum):
        raise bad
    return number


def section_specs(section: str, config_type: type[Any]) -> tuple[ParameterSpec, ...]:
    """The parameter entries of one section dataclass, from its fields' metadata."""
    specs = []
    for item in dataclasses.fields(config_type):
        meta = item.metadata
        if "description" not in meta:
            raise EstimatorConfigError(f"{config_type.__name__}.{item.name} has no parameter description")
        specs.append(
            ParameterSpec(
                name=f"{section}.{item.name}" if section else item.name,
                default=item.default,  # type: ignore[arg-type]
                description=str(meta["description"]),
                minimum=meta.get("minimum"),
                maximum=meta.get("maximum"),
                choices=meta.get("choices"),
            )
        )
    return tuple(specs)


def validate_fields(instance: Any, section: str) -> None:
    """Check every field of a section dataclass against its metadata (called from ``__post_init__``)."""
    for spec, item in zip(section_specs(section, type(instance)), dataclasses.fields(instance), strict=True):
        value = check_value(spec, getattr(instance, item.name))
        object.__setattr__(instance, item.name, value)  # an int given for a float field becomes a float


def _probability(description: str, default: float) -> float:
    return param(default, description, minimum=MIN_PROBABILITY, maximum=MAX_PROBABILITY)


@dataclass(frozen=True)
class ImuNoiseConfig:
    """Continuous-time IMU noise (datasheet / Allan-variance units), shared by both backends."""

    accel_noise_density: float = param(2.0e-3, "accelerometer white noise, m/s^2/sqrt(Hz)", minimum=1e-6, maximum=1.0)
    gyro_noise_density: float = param(2.0e-4, "gyroscope white noise, rad/s/sqrt(Hz)", minimum=1e-7, maximum=0.1)
    accel_bias_random_walk: float = param(
        1.0e-4, "accelerometer bias random walk, m/s^3/sqrt(Hz)", minimum=1e-8, maximum=0.1
    )
    gyro_bias_random_walk: float = param(
        2.0e-5, "gyroscope bias random walk, rad/s^2/sqrt(Hz)", minimum=1e-9, maximum=0.01
    )

    def __post_init__(self) -> None:
        validate_fields(self, "imu")

    def to_imu_noise(self) -> ImuNoise:
        """The backend contract's ImuNoise value."""
        return ImuNoise(
            accel_noise_density=self.accel_noise_density,
            gyro_noise_density=self.gyro_noise_density,
            accel_bias_random_walk=self.accel_bias_random_walk,
            gyro_bias_random_walk=self.gyro_bias_random_walk,
        )


@dataclass(frozen=True)
class InitConfig:
    """Static alignment at rest after the origin is set, and the initial uncertainty it leaves."""

    alignment_duration_s: float = param(
        1.0, "IMU time at rest averaged for roll/pitch and the gyro bias, s", minimum=0.1, maximum=30.0
    )
    max_accel_std_mps2: float = param(
        0.3, "largest accelerometer std (per axis) still counted as at rest, m/s^2", minimum=0.001, maximum=5.0
    )
    max_gyro_std_radps: float = param(
        0.03, "largest gyroscope std (per axis) still counted as at rest, rad/s", minimum=1e-4, maximum=1.0
    )
    velocity_sigma_mps: float = param(0.1, "initial velocity 1-sigma (at rest), m/s", minimum=1e-3, maximum=10.0)
    tilt_sigma_rad: float = param(
        0.02, "initial roll/pitch 1-sigma after alignment (accel-bias limited), rad", minimum=1e-4, maximum=0.5
    )
    default_yaw_sigma_rad: float = param(
        0.35,
        "yaw 1-sigma when the origin call gives no heading prior (yaw starts at 0 = east), rad",
        minimum=1e-3,
        maximum=math.pi,
    )
    accel_bias_sigma_mps2: float = param(0.05, "initial accelerometer bias 1-sigma, m/s^2", minimum=1e-5, maximum=2.0)
    gyro_bias_sigma_radps: float = param(
        0.003, "gyroscope bias 1-sigma left after the static estimate, rad/s", minimum=1e-6, maximum=0.5
    )

    def __post_init__(self) -> None:
        validate_fields(self, "init")


@dataclass(frozen=True)
class TimingConfig:
    """Stamp ordering: the reorder window and what counts as a time jump."""

    reorder_window_s: float = param(
        0.05, "measurements are merged in stamp order this long behind the newest stamp, s", minimum=0.0, maximum=1.0
    )
    backward_jump_reset_s: float = param(
        1.0,
        "an IMU stamp this far behind the newest IMU stamp is a clock/bag loop: reset and re-align, s",
        minimum=0.01,
        maximum=3600.0,
    )
    max_measurement_delay_s: float = param(
        0.5,
        "a GeoFix up to this far behind the fused time is applied now with its covariance grown for the "
        "motion since its stamp (inference latency); older ones are out of order, s",
        minimum=0.0,
        maximum=5.0,
    )
    max_imu_gap_s: float = param(
        0.25,
        "an IMU gap longer than this is a forward jump: re-initialise from the last estimate, s",
        minimum=0.005,
        maximum=10.0,
    )

    jump_accel_sigma_mps2: float = param(
        3.0,
        "1-sigma unmodelled acceleration assumed across a forward jump (grows p, v), m/s^2",
        minimum=0.01,
        maximum=100.0,
    )
    jump_rate_sigma_radps: float = param(
        0.3,
        "1-sigma unmodelled angular rate assumed across a forward jump (grows attitude), rad/s",
        minimum=0.001,
        maximum=10.0,
    )

    def __post_init__(self) -> None:
        validate_fields(self, "timing")


@dataclass(frozen=True)
class GateConfig:
    """The GNSS trust state machine (spoofing gate), see estimator.gate for the method."""

    innovation_probability: float = _probability(
        "chi-square (3 dof) probability of the GNSS innovation gate vs the fused prediction", 0.999
    )
    max_horizontal_delta_m: float = param(
        200.0,
        "largest horizontal distance of a GNSS fix to the estimate that may be accepted, m",
        minimum=1.0,
        maximum=10000.0,
    )
    dwell_s: float = param(
        5.0, "consistent GNSS time needed to promote PROBATION to TRUSTED, s", minimum=0.0, maximum=600.0
    )
    timeout_s: float = param(
        2.0, "no GNSS sample for this long makes the trust UNAVAILABLE, s", minimum=0.1, maximum=60.0
    )
    drift_window_s: float = param(
        10.0,
        "drift test: GNSS displacement compared with the VIO displacement over this window, s",
        minimum=0.5,
        maximum=120.0,
    )
    drift_min_window_s: float = param(
        1.0, "drift test runs once this much GNSS + VIO history is available, s", minimum=0.1, maximum=120.0
    )
    drift_probability: float = _probability("chi-square (3 dof) probability of the drift (displacement) test", 0.999)
    reference_drift_fraction: float = param(
        0.02,
        "1-sigma error of the VIO reference displacement as a fraction of its length (scale, yaw)",
        minimum=0.0,
        maximum=0.5,
    )
    first_fix_distance_only: bool = param(
        True, "until GNSS is first trusted after a (re)start, judge fixes on the distance bound alone (see gate.py)"
    )
    reacquire_after_outage: bool = param(
        True, "after trusted GNSS went silent, judge returning fixes on distance and drift, not innovation (gate.py)"
    )
    reference_max_age_s: float = param(
        0.5,
        "the VIO reference is usable only if its last increment is at most this old, s",
        minimum=0.01,
        maximum=10.0,
    )
    inertial_window_s: float = param(
        4.0,
        "drift test without VIO: GNSS displacement compared with a free-inertial (IMU-only) copy of the "
        "state over at most this window (a new copy starts every quarter window), s",
        minimum=1.0,
        maximum=60.0,
    )
    inertial_probability: float = _probability(
        "chi-square (3 dof) probability of the drift test against the inertial reference", 0.999
    )

    def __post_init__(self) -> None:
        validate_fields(self, "gate")
        if self.drift_min_window_s > self.drift_window_s:
            raise EstimatorConfigError(
                f"gate.drift_min_window_s ({self.drift_min_window_s}) must be <= gate.drift_window_s "
                f"({self.drift_window_s})"
            )


@dataclass(frozen=True)
class SensorGatingConfig:
    """Per-sensor Mahalanobis gates and robust kernels applied by the backends to each update."""

    gnss_probability: float = _probability(
        "backend chi-square gate of trusted GNSS updates (the trust gate is the binding one)", 0.9999
    )
    geofix_probability: float = _probability("backend chi-square gate of GeoFix position updates", 0.999)
    vio_probability: float = _probability("backend chi-square gate of VIO updates", 0.9999)
    baro_probability: float = _probability("backend chi-square gate of barometric altitude updates", 0.999)
    gnss_kernel: str = param("none", "robust kernel on GNSS position updates", choices=KERNEL_CHOICES)
    gnss_kernel_threshold: float = param(
        1.345, "GNSS kernel threshold, normalised residual (sigmas)", minimum=0.1, maximum=100.0
    )
    geofix_kernel: str = param("huber", "robust kernel on GeoFix position updates", choices=KERNEL_CHOICES)
    geofix_kernel_threshold: float = param(
        1.345, "GeoFix kernel threshold, normalised residual (sigmas)", minimum=0.1, maximum=100.0
    )

    def __post_init__(self) -> None:
        validate_fields(self, "gating")


@dataclass(frozen=True)
class VioConfig:
    """How consecutive VIO odometry poses become increments, and what is a VIO reset or jump."""

    max_speed_mps: float = param(
        60.0, "an increment implying a faster translation is a VIO jump/reset, m/s", minimum=0.1, maximum=1000.0
    )
    max_rate_radps: float = param(
        6.0, "an increment implying a faster rotation is a VIO jump/reset, rad/s", minimum=0.1, maximum=100.0
    )
    max_gap_s: float = param(
        0.5, "no increment is formed across a longer gap between VIO messages, s", minimum=0.01, maximum=10.0
    )
    max_delay_s: float = param(
        0.5,
        "a VIO message up to this far behind the fused time is still fused, shifted to when it is applied and its "
        "covariance grown for the motion in between (VIO latency: keyframe solves, a loaded CPU); older ones are "
        "out of order, s",
        minimum=0.0,
        maximum=5.0,
    )

    def __post_init__(self) -> None:
        validate_fields(self, "vio")


@dataclass(frozen=True)
class SourceConfig:
    """How recent a fused measurement must be for the source label (EstimatorStatus.source)."""

    gnss_timeout_s: float = param(
        1.0, "GNSS label while trusted GNSS was fused this recently, s", minimum=0.05, maximum=60.0
    )
    geofix_timeout_s: float = param(
        5.0, "VISUAL label while a GeoFix was fused this recently, s", minimum=0.05, maximum=600.0
    )
    vio_timeout_s: float = param(0.5, "VIO_ONLY label while VIO was fused this recently, s", minimum=0.05, maximum=60.0)

    def __post_init__(self) -> None:
        validate_fields(self, "source")


@dataclass(frozen=True)
class BaroConfig:
    """Barometric altitude aid, relative to the pressure measured at the take-off origin."""

    enabled: bool = param(True, "fuse barometric altitude")
    reference_samples: int = param(
        10, "pressure samples averaged at the origin as the zero-height reference", minimum=1, maximum=1000
    )

    def __post_init__(self) -> None:
        validate_fields(self, "baro")


@dataclass(frozen=True)
class EskfConfig:
    """Tunables of the 15-state error-state Kalman filter backend."""

    accel_bias_limit_mps2: float = param(
        0.6, "estimated accelerometer bias is clamped to this magnitude per axis, m/s^2", minimum=0.01, maximum=5.0
    )
    gyro_bias_limit_radps: float = param(
        0.2, "estimated gyroscope bias is clamped to this magnitude per axis, rad/s", minimum=1e-3, maximum=2.0
    )
    variance_floor: float = param(
        1e-12, "smallest diagonal covariance entry kept (numerical positive definiteness)", minimum=0.0, maximum=1e-3
    )

    def __post_init__(self) -> None:
        validate_fields(self, "eskf")


SECTIONS: dict[str, type[Any]] = {
    "imu": ImuNoiseConfig,
    "init": InitConfig,
    "timing": TimingConfig,
    "gate": GateConfig,
    "gating": SensorGatingConfig,
    "vio": VioConfig,
    "source": SourceConfig,
    "baro": BaroConfig,
    "eskf": EskfConfig,
    "isam2": Isam2Config,  # declared in estimator/isam2.py, whose GTSAM import is deferred to the backend
}


@dataclass(frozen=True)
class EstimatorConfig:
    """Everything the StateEstimator and its backends are configured with."""

    backend: str = "eskf"
    imu: ImuNoiseConfig = field(default_factory=ImuNoiseConfig)
    init: InitConfig = field(default_factory=InitConfig)
    timing: TimingConfig = field(default_factory=TimingConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    gating: SensorGatingConfig = field(default_factory=SensorGatingConfig)
    vio: VioConfig = field(default_factory=VioConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    baro: BaroConfig = field(default_factory=BaroConfig)
    eskf: EskfConfig = field(default_factory=EskfConfig)
    isam2: Isam2Config = field(default_factory=Isam2Config)

    def __post_init__(self) -> None:
        check_value(_BACKEND_SPEC, self.backend)
        for section, config_type in SECTIONS.items():
            if not isinstance(getattr(self, section), config_type):
                raise EstimatorConfigError(
                    f"{section} must be a {config_type.__name__}, got {type(getattr(self, section)).__name__}"
                )

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, object]) -> EstimatorConfig:
        """Build from dotted ROS parameter names (missing ones take their default); unknown names are refused."""
        known = {spec.name for spec in PARAMETERS}
        unknown = sorted(set(parameters) - known)
        if unknown:
            raise EstimatorConfigError(f"unknown estimator parameter(s) {unknown}; known: {sorted(known)}")
        by_section: dict[str, dict[str, object]] = {section: {} for section in SECTIONS}
        for name, value in parameters.items():
            if "." in name:
                section, leaf = name.split(".", 1)
                by_section[section][leaf] = value
        backend = check_value(_BACKEND_SPEC, parameters.get("backend", _BACKEND_SPEC.default))
        sections = {section: SECTIONS[section](**values) for section, values in by_section.items()}
        return cls(backend=str(backend), **sections)

    def to_parameters(self) -> dict[str, ParameterValue]:
        """The dotted-name parameter mapping of this config (``from_parameters`` inverts it)."""
        out: dict[str, ParameterValue] = {"backend": self.backend}
        for section in SECTIONS:
            values = getattr(self, section)
            for item in dataclasses.fields(values):
                out[f"{section}.{item.name}"] = getattr(values, item.name)
        return out


_BACKEND_SPEC = ParameterSpec(
    "backend",
    "eskf",
    "fusion backend: eskf (15-state ESKF) or isam2 (GTSAM fixed-lag smoother)",
    choices=BACKEND_CHOICES,
)

PARAMETERS: tuple[ParameterSpec, ...] = (
    _BACKEND_SPEC,
    *(spec for section, config_type in SECTIONS.items() for spec in section_specs(section, config_type)),
)
"""The table the ROS node declares its parameters from (name, default, description, range/choices)."""
