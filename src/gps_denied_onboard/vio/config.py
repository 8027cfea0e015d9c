"""The VIO's typed configuration and the ROS parameter table vio_node declares from.

The convention of common.parameters (as the estimator's): one frozen dataclass per concern, every
field declared with ``param(...)`` carrying its default, description and range; the ROS name is
``<section>.<field>``. ``PARAMETERS`` and the validation are derived from that metadata.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gps_denied_onboard.common.inertial import ImuNoiseConfig
from gps_denied_onboard.common.parameters import (
    ParameterError,
    ParameterSpec,
    ParameterValue,
    param,
    section_specs,
    validate_fields,
)
from gps_denied_onboard.geometry.camera_mount import nadir_mount_rotation
from gps_denied_onboard.vio.errors import VioConfigError

FloatArray = np.ndarray


def _validated(instance: Any, section: str) -> None:
    validate_fields(instance, section, error=VioConfigError)


@dataclass(frozen=True)
class CameraMountConfig:
    """Where the camera sits on base_link (the same mount the simulator renders with)."""

    tilt_deg: float = param(0.0, "optical axis pitched forward from nadir, degrees", minimum=-80.0, maximum=80.0)
    x_m: float = param(0.05, "camera position in base_link, forward, m", minimum=-5.0, maximum=5.0)
    y_m: float = param(0.0, "camera position in base_link, left, m", minimum=-5.0, maximum=5.0)
    z_m: float = param(-0.08, "camera position in base_link, up, m", minimum=-5.0, maximum=5.0)

    def __post_init__(self) -> None:
        _validated(self, "camera_mount")

    @property
    def R_body_camera(self) -> FloatArray:
        """Rotation of the optical frame in base_link."""
        return nadir_mount_rotation(self.tilt_deg)

    @property
    def t_body_camera_m(self) -> FloatArray:
        """Position of the optical centre in base_link."""
        return np.array([self.x_m, self.y_m, self.z_m])


@dataclass(frozen=True)
class FrontendConfig:
    """Feature detection and tracking (OpenCV)."""

    max_features: int = param(180, "features kept per frame", minimum=20, maximum=2000)
    grid_cols: int = param(8, "bucketing grid columns (at most max_features/cells per cell)", minimum=1, maximum=64)
    grid_rows: int = param(6, "bucketing grid rows", minimum=1, maximum=64)
    min_distance_px: float = param(12.0, "minimum distance between detected corners, px", minimum=1.0, maximum=200.0)
    quality_level: float = param(
        0.005, "Shi-Tomasi quality relative to the strongest corner", minimum=1e-4, maximum=0.5
    )
    border_px: int = param(8, "corners closer to the image border are not detected", minimum=0, maximum=100)
    klt_window_px: int = param(21, "KLT window size, px (odd)", minimum=5, maximum=101)
    klt_levels: int = param(3, "KLT pyramid levels above the base", minimum=0, maximum=8)
    fb_threshold_px: float = param(1.0, "forward-backward check: max round-trip error, px", minimum=0.05, maximum=20.0)
    ransac_threshold_px: float = param(1.5, "RANSAC inlier threshold, px", minimum=0.1, maximum=20.0)
    ransac_confidence: float = param(0.999, "RANSAC confidence", minimum=0.5, maximum=0.999999)
    ransac_max_iterations: int = param(
        250,
        "RANSAC iterations at most (bounds a frame's worst case; 0.999 at 50 % inliers needs 217)",
        minimum=10,
        maximum=100000,
    )
    min_contrast: float = param(
        4.0, "below this grey-level standard deviation a frame is featureless", minimum=0.0, maximum=100.0
    )
    max_clipped_fraction: float = param(
        0.6, "above this fraction of 0 or 255 pixels a frame is black or saturated", minimum=0.0, maximum=1.0
    )

    def __post_init__(self) -> None:
        _validated(self, "frontend")
        if self.klt_window_px % 2 == 0:
            raise VioConfigError(f"frontend.klt_window_px must be odd, got {self.klt_window_px}")


@dataclass(frozen=True)
class KeyframeConfig:
    """When a frame becomes a keyframe (a state in the smoother)."""

    max_interval_s: float = param(0.5, "a keyframe at least this often, s", minimum=0.02, maximum=10.0)
    min_interval_s: float = param(0.08, "never two keyframes closer than this, s", minimum=0.0, maximum=5.0)
    min_parallax_px: float = param(
        15.0,
        "rotation-compensated median parallax to the last keyframe that makes a keyframe, px",
        minimum=0.5,
        maximum=500.0,
    )
    min_tracked_ratio: float = param(
        0.7,
        "a keyframe when fewer than this fraction of the last keyframe's features survive",
        minimum=0.0,
        maximum=1.0,
    )

    def __post_init__(self) -> None:
        _validated(self, "keyframe")
        if self.min_interval_s > self.max_interval_s:
            raise VioConfigError("keyframe.min_interval_s must not exceed keyframe.max_interval_s")


@dataclass(frozen=True)
class BackendConfig:
    """The GTSAM fixed-lag smoother."""

    lag_s: float = param(4.0, "smoother window, s of keyframes", minimum=0.5, maximum=60.0)
    pixel_sigma: float = param(1.0, "feature measurement noise, px", minimum=0.05, maximum=20.0)
    min_observations: int = param(
        3, "keyframes that must see a landmark before it constrains the poses", minimum=2, maximum=20
    )
    outlier_threshold_px: float = param(
        6.0, "a landmark whose reprojection error exceeds this is ignored, px", minimum=0.5, maximum=100.0
    )
    landmark_distance_threshold_m: float = param(
        2000.0, "landmarks farther than this are not created, m", minimum=10.0, maximum=1.0e5
    )
    ground_plane_sigma_m: float = param(
        3.0,
        "flat-ground scale aid: prior sigma of landmark heights on the take-off ground plane, m (0: off)",
        minimum=0.0,
        maximum=1000.0,
    )
    ground_height_m: float = param(
        -0.3,
        "the take-off ground's height below base_link at power-on (odom z of the ground), m",
        minimum=-10.0,
        maximum=0.0,
    )
    max_iterations: int = param(6, "Levenberg-Marquardt iterations per keyframe (warm-started)", minimum=1, maximum=100)
    initial_velocity_sigma_mps: float = param(
        0.1, "velocity prior at an initialisation from rest, m/s", minimum=1e-4, maximum=100.0
    )
    moving_velocity_sigma_mps: float = param(
        10.0, "velocity prior at an initialisation in motion, m/s", minimum=0.01, maximum=100.0
    )
    initial_roll_pitch_sigma_deg: float = param(
        2.0, "roll/pitch prior at initialisation, deg", minimum=0.01, maximum=45.0
    )
    initial_accel_bias_sigma: float = param(0.2, "accelerometer bias prior, m/s^2", minimum=1e-5, maximum=10.0)
    initial_gyro_bias_sigma: float = param(0.02, "gyroscope bias prior, rad/s", minimum=1e-6, maximum=1.0)
    init_keyframes: int = param(3, "keyframes optimised before INITIALIZING becomes OK", minimum=1, maximum=50)

    def __post_init__(self) -> None:
        _validated(self, "backend")


@dataclass(frozen=True)
class HealthConfig:
    """Health states and re-initialisation."""

    min_features_ok: int = param(50, "fewer tracked features than this is DEGRADED", minimum=5, maximum=2000)
    min_features_tracking: int = param(
        15, "fewer than this for lost_after_frames frames is LOST", minimum=5, maximum=2000
    )
    min_inlier_ratio: float = param(0.5, "a lower RANSAC inlier ratio is DEGRADED", minimum=0.0, maximum=1.0)
    start_inlier_ratio: float = param(
        0.8,
        "the smoother (re)starts only after frames with at least this RANSAC inlier ratio",
        minimum=0.0,
        maximum=1.0,
    )
    start_frames: int = param(3, "consecutive good frames that (re)start the smoother", minimum=1, maximum=100)
    lost_after_frames: int = param(5, "consecutive frames without tracking that make LOST", minimum=1, maximum=1000)
    max_imu_gap_s: float = param(
        0.1, "a longer hole in the IMU stream makes LOST (re-initialise)", minimum=0.01, maximum=10.0
    )
    max_speed_mps: float = param(80.0, "an estimated speed above this is divergence: LOST", minimum=1.0, maximum=1000.0)
    static_accel_std_mps2: float = param(
        0.15, "IMU at rest: accelerometer standard deviation below this, m/s^2", minimum=0.001, maximum=5.0
    )
    static_gyro_std_radps: float = param(
        0.02, "IMU at rest: gyro standard deviation below this, rad/s", minimum=1e-4, maximum=1.0
    )
    static_accel_shift_mps2: float = param(
        0.05,
        "IMU at rest: the mean specific force stays within this of its value at the last rest, m/s^2",
        minimum=0.001,
        maximum=5.0,
    )
    static_flow_px: float = param(
        1.0, "at rest the median feature motion between frames stays below this, px", minimum=0.01, maximum=50.0
    )
    init_window_s: float = param(0.5, "IMU span averaged for gravity alignment, s", minimum=0.05, maximum=10.0)

    def __post_init__(self) -> None:
        _validated(self, "health")


SECTIONS: Mapping[str, type[Any]] = {
    "camera_mount": CameraMountConfig,
    "imu": ImuNoiseConfig,
    "frontend": FrontendConfig,
    "keyframe": KeyframeConfig,
    "backend": BackendConfig,
    "health": HealthConfig,
}


@dataclass(frozen=True)
class VioConfig:
    """Everything the VIO core is configured with."""

    camera_mount: CameraMountConfig = field(default_factory=CameraMountConfig)
    imu: ImuNoiseConfig = field(default_factory=ImuNoiseConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    keyframe: KeyframeConfig = field(default_factory=KeyframeConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    health: HealthConfig = field(default_factory=HealthConfig)

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, object]) -> VioConfig:
        """Build from dotted ROS parameter names (missing ones take their default); unknown names are refused."""
        known = {spec.name for spec in PARAMETERS}
        unknown = sorted(set(parameters) - known)
        if unknown:
            raise VioConfigError(f"unknown VIO parameter(s) {unknown}; known: {sorted(known)}")
        by_section: dict[str, dict[str, object]] = {section: {} for section in SECTIONS}
        for name, value in parameters.items():
            section, leaf = name.split(".", 1)
            by_section[section][leaf] = value
        try:
            return cls(**{section: SECTIONS[section](**values) for section, values in by_section.items()})
        except VioConfigError:
            raise
        except ParameterError as exc:  # the shared IMU section raises the common error
            raise VioConfigError(str(exc)) from exc

    def to_parameters(self) -> dict[str, ParameterValue]:
        """The dotted-name parameter mapping of this config (``from_parameters`` inverts it)."""
        out: dict[str, ParameterValue] = {}
        for section in SECTIONS:
            values = getattr(self, section)
            for item in dataclasses.fields(values):
                out[f"{section}.{item.name}"] = getattr(values, item.name)
        return out


PARAMETERS: tuple[ParameterSpec, ...] = tuple(
    spec for section, config_type in SECTIONS.items() for spec in section_specs(section, config_type)
)
"""The table vio_node declares its parameters from (name, default, description, range)."""
