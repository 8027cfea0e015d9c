"""The state estimator's typed configuration and the ROS parameter table the node declares from.

Every tunable is a field of a frozen per-concern dataclass, declared with ``param(...)``: its
default, a one-line description and the accepted range (or choices) travel in the field's
metadata. The ROS parameter name is ``<section>.<field>`` (``gate.max_horizontal_delta_m``);
``backend`` is the only top-level one. ``PARAMETERS`` (the table) and the validation are both
derived from that metadata, so a name, a range and its check cannot drift apart.

The backends' own sections (``eskf``, ``isam2``) live here too, so that this module imports no
backend and the table is built without GTSAM; the backends import their section from here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gps_denied_onboard.common import parameters
from gps_denied_onboard.common.inertial import ImuNoiseConfig, MultirotorImuNoiseConfig
from gps_denied_onboard.common.parameters import ParameterError, ParameterSpec, ParameterValue, param, section_specs
from gps_denied_onboard.estimator.backend import RobustKernel
from gps_denied_onboard.estimator.errors import EstimatorConfigError

BACKEND_CHOICES = ("eskf", "isam2")  # the registry's names (registry.py checks it stays in step)
KERNEL_CHOICES = tuple(kernel.value for kernel in RobustKernel)
ISAM2_FACTORIZATIONS = ("CHOLESKY", "QR")
ESKF_VIO_MEASUREMENTS = ("relative_pose", "relative_pose_velocity", "velocity")  # eskf.VioMeasurement's values
MIN_PROBABILITY, MAX_PROBABILITY = 0.5, 1.0 - 1e-9  # a gate below 50 % rejects good data; 1.0 is no gate


def check_value(spec: ParameterSpec, value: object) -> ParameterValue:
    """``value`` converted to the parameter's type, or EstimatorConfigError naming it and what it accepts."""
    return parameters.check_value(spec, value, error=EstimatorConfigError)


def validate_fields(instance: Any, section: str) -> None:
    """Check a section dataclass against its fields' metadata, raising EstimatorConfigError."""
    parameters.validate_fields(instance, section, error=EstimatorConfigError)


def _probability(description: str, default: float) -> float:
    return param(default, description, minimum=MIN_PROBABILITY, maximum=MAX_PROBABILITY)


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
        "chi-square (2 dof) probability of the horizontal GNSS innovation gate vs the fused prediction", 0.999
    )
    vertical_probability: float = _probability(
        "chi-square (1 dof) probability of the vertical GNSS check (a failure withholds the height only)", 0.999
    )
    vertical_extra_sigma_m: float = param(
        1.0,
        "GNSS height error beyond the receiver's covariance and the baro-GNSS offset model (multipath, "
        "antenna), added in quadrature to the vertical check, m",
        minimum=0.0,
        maximum=100.0,
    )
    max_horizontal_delta_m: float = param(
        200.0,
        "largest horizontal distance of a GNSS fix to the estimate that may be accepted, m",
        minimum=1.0,
        maximum=10000.0,
    )
    dwell_s: float = param(
        3.0, "consistent GNSS time needed to promote PROBATION to TRUSTED, s", minimum=0.0, maximum=600.0
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
    drift_probability: float = _probability(
        "chi-square (2 dof) probability of the horizontal drift (displacement) test", 0.999
    )
    reference_drift_fraction: float = param(
        0.02,
        "1-sigma error of the VIO reference displacement as a fraction of its length (scale, yaw)",
        minimum=0.0,
        maximum=0.5,
    )
    first_fix_distance_only: bool = param(
        True, "until GNSS is first trusted after a (re)start, judge fixes on the distance bound alone (see gate.py)"
    )
    reference_max_age_s: float = param(
        0.5,
        "the VIO reference is usable only if its last increment is at most this old, s",
        minimum=0.01,
        maximum=10.0,
    )
    accel_clip_mps2: float = param(
        155.0,
        "an accelerometer axis at or beyond this is clipped (the sensor's range: 16 g on PX4's default setting); "
        "free-inertial references that saw it are dropped and the clipping is counted and said, m/s^2",
        minimum=10.0,
        maximum=2000.0,
    )
    inertial_window_s: float = param(
        4.0,
        "drift test without VIO: GNSS displacement compared with a free-inertial (IMU-only) copy of the "
        "state over at most this window (a new copy starts every quarter window), s",
        minimum=1.0,
        maximum=60.0,
    )
    inertial_probability: float = _probability(
        "chi-square (2 dof) probability of the horizontal drift test against the inertial reference", 0.999
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
        "backend chi-square gate of trusted GNSS updates: the trust gate (estimator.gate) has judged them "
        "already, so this only catches the absurd",
        MAX_PROBABILITY,
    )
    gnss_correlated_fraction: float = param(
        0.6,
        "share of a GNSS fix's reported variance that is correlated over tens of seconds (the error the estimate "
        "inherits and averaging cannot remove; ~1 m of 1.3 m for a single-frequency receiver)",
        minimum=0.0,
        maximum=1.0,
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
    max_bridge_s: float = param(
        3.0,
        "a gap between VIO messages up to this long is bridged by one increment (its covariance grown over the "
        "gap); a longer one starts a new VIO chain, s",
        minimum=0.01,
        maximum=10.0,
    )
    # 2 s: vio_node's odometry reached the recorder 0.58 / 1.07 / 1.39 s after its stamp (p50 / p90 / p99)
    # with a competing process on the 2-core machine at real time; the output predictor's IMU-only
    # stretch over 2 s adds ~0.1 m (accelerometer bias residual 0.05 m/s^2).
    max_delay_s: float = param(
        2.0,
        "the fusion waits for VIO messages up to this far behind the newest IMU sample (keyframe solves, a loaded "
        "CPU); the output predictor carries the state to the newest sample; older VIO is late and counted, s",
        minimum=0.0,
        maximum=5.0,
    )
    covariance_scale: float = param(
        4.0,
        "VIO twist covariances are multiplied by this (VIO reports optimistic covariances: real-data errors were "
        "3-5x the reported sigma with a ground-plane prior)",
        minimum=1.0,
        maximum=1000.0,
    )
    translation_sigma_floor_m_per_sqrt_s: float = param(
        0.05,
        "smallest increment translation noise, a random walk in m/sqrt(s) (VIO drift the twist does not show)",
        minimum=0.0,
        maximum=10.0,
    )
    rotation_sigma_floor_rad_per_sqrt_s: float = param(
        0.001,
        "smallest increment rotation noise, a random walk in rad/sqrt(s)",
        minimum=0.0,
        maximum=1.0,
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

    reference_sigma_m: float = param(
        0.3, "1-sigma of the baro-GNSS height offset when the reference is taken at the origin, m", minimum=0.01,
        maximum=100.0,
    )  # fmt: skip
    offset_random_walk_m_per_sqrt_s: float = param(
        0.25,
        "random walk of the baro-GNSS height offset (weather, airframe temperature: metres per minute on real "
        "logs), m/sqrt(s)",
        minimum=0.0,
        maximum=10.0,
    )
    offset_gate_sigma: float = param(
        4.0, "a GNSS height this many sigmas off the offset estimate does not update it", minimum=1.0, maximum=100.0
    )
    gnss_pairing_s: float = param(
        0.1, "a GNSS height updates the offset if a baro sample is at most this far from its stamp, s", minimum=0.001,
        maximum=5.0,
    )  # fmt: skip
    fusion_period_s: float = param(
        0.2, "baro heights are fused at most this often (the rest only feed the offset pairing), s", minimum=0.0,
        maximum=10.0,
    )  # fmt: skip
    reset_after_s: float = param(
        2.0,
        "every baro height refused by the backend's gate for this long re-anchors the height and vertical velocity "
        "to the baro (estimator.baro; PX4 EKF2's height reset after a fusion timeout), s",
        minimum=0.5,
        maximum=60.0,
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
    vio_measurement: str = param(
        "relative_pose",
        "what the ESKF fuses of a VIO increment: relative_pose (rotation and translation against a stochastic "
        "clone of the pose at t0), relative_pose_velocity (plus the body velocity at t1) or velocity (the body "
        "velocity only, no clone: the yaw then follows the gyro bias without GNSS)",
        choices=ESKF_VIO_MEASUREMENTS,
    )

    def __post_init__(self) -> None:
        validate_fields(self, "eskf")


@dataclass(frozen=True)
class Isam2Config:
    """Tuning of the iSAM2 fixed-lag smoother; ROS parameters ``isam2.<field>`` (estimator.config)."""

    lag_s: float = param(
        5.0, "smoother window; older keyframes are marginalised into a prior, s", minimum=0.5, maximum=120.0
    )
    keyframe_period_s: float = param(
        0.5, "a keyframe at least this often when no measurement makes one, s", minimum=0.01, maximum=5.0
    )
    # Relinearisation checked at every update (skip 1) is what keeps the fixed-lag result at the
    # batch solution: on the unit test's circle 2.3 mm from batch LM, against 10.6 mm with GTSAM's
    # skip 10. A threshold of 0.01 gains 0.4 mm there for ~1.5x the CPU with 20 Hz VIO keyframes
    # (bench_estimator.py, section c).
    relinearize_threshold: float = param(
        0.05, "tangent-space change above which iSAM2 relinearises a variable", minimum=1e-6, maximum=1.0
    )
    relinearize_skip: int = param(
        1, "iSAM2 checks relinearisation every this many updates (GTSAM default 10)", minimum=1, maximum=100
    )
    extra_iterations: int = param(
        0, "extra smoother updates per keyframe (relinearise what the last step moved past the threshold)",
        minimum=0, maximum=10,
    )  # fmt: skip
    use_combined_imu_factor: bool = param(
        True, "CombinedImuFactor (bias walk inside); false: ImuFactor + bias between factor"
    )
    integration_sigma: float = param(
        1.0e-4, "GTSAM integrationCovariance = sigma^2 I (position integration error)", minimum=1e-9, maximum=1.0
    )
    # QR by default: with a take-off position prior of metres and IMU factors whose position/velocity
    # information is ~1e10, GTSAM's Cholesky reports an IndeterminantLinearSystem on the very first
    # keyframe (measured: prior sigma >= 1 m with integration_sigma 1e-4 fails, QR solves all of them).
    factorization: str = param(
        "QR",
        "iSAM2 factorization: QR (robust to the IMU factors' conditioning) or CHOLESKY",
        choices=ISAM2_FACTORIZATIONS,
    )
    altitude_kernel: str = param("huber", "robust kernel on barometric altitude factors", choices=KERNEL_CHOICES)
    altitude_kernel_threshold: float = param(
        1.345, "altitude kernel threshold, normalised residual (sigmas)", minimum=0.1, maximum=100.0
    )
    vio_kernel: str = param("none", "robust kernel on VIO relative-pose factors", choices=KERNEL_CHOICES)
    vio_kernel_threshold: float = param(
        1.345, "VIO kernel threshold, normalised residual (sigmas)", minimum=0.1, maximum=100.0
    )
    vio_anchor_tolerance_s: float = param(
        0.012, "a VIO increment's t0 attaches to a keyframe this close (~one IMU period), s", minimum=0.0, maximum=0.5
    )

    def __post_init__(self) -> None:
        validate_fields(self, "isam2")
        if self.lag_s < 2.0 * self.keyframe_period_s:
            raise EstimatorConfigError(
                f"isam2.lag_s ({self.lag_s}) must hold at least two keyframe periods "
                f"(isam2.keyframe_period_s = {self.keyframe_period_s})"
            )


SECTIONS: dict[str, type[Any]] = {
    "imu": MultirotorImuNoiseConfig,  # realistic for a vibrating airframe; any ImuNoiseConfig is accepted
    "init": InitConfig,
    "timing": TimingConfig,
    "gate": GateConfig,
    "gating": SensorGatingConfig,
    "vio": VioConfig,
    "source": SourceConfig,
    "baro": BaroConfig,
    "eskf": EskfConfig,
    "isam2": Isam2Config,
}


@dataclass(frozen=True)
class EstimatorConfig:
    """Everything the StateEstimator and its backends are configured with."""

    backend: str = "eskf"
    imu: ImuNoiseConfig = field(default_factory=MultirotorImuNoiseConfig)
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
            accepted = ImuNoiseConfig if section == "imu" else config_type
            if not isinstance(getattr(self, section), accepted):
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
        try:
            sections = {section: SECTIONS[section](**values) for section, values in by_section.items()}
        except EstimatorConfigError:
            raise
        except ParameterError as exc:  # the shared imu section raises the common error
            raise EstimatorConfigError(str(exc)) from exc
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
    *(
        spec
        for section, config_type in SECTIONS.items()
        for spec in section_specs(section, config_type, error=EstimatorConfigError)
    ),
)
"""The table the ROS node declares its parameters from (name, default, description, range/choices)."""
