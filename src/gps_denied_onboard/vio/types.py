"""What goes into and comes out of the VIO core: calibration, health and odometry.

Frames (REP-105/103): ``odom`` is the VIO's own gravity-aligned frame, z up, origin and yaw where
the VIO (re)initialised; ``base_link`` is FLU and carries the IMU axes; ``camera`` is the optical
frame (x right, y down, z forward). Covariance order is nav_msgs/Odometry's: pose
``[x, y, z, rx, ry, rz]`` in odom (rotation errors as a rotation vector applied on the left),
twist ``[vx, vy, vz, wx, wy, wz]`` in base_link.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

from gps_denied_onboard.vio.errors import VioInputError

FloatArray = npt.NDArray[np.float64]

UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-6)
DISTORTION_MODELS = {"plumb_bob": (5,), "rational_polynomial": (8,)}


class VioState(enum.IntEnum):
    """Health states; the values are onboard/msg/VioHealth's STATE_* constants (its home)."""

    INITIALIZING = 0
    OK = 1
    DEGRADED = 2
    LOST = 3


@dataclass(frozen=True)
class CameraCalibration:
    """Intrinsics of the raw image as sensor_msgs/CameraInfo gives them (K, D; monocular, R = I)."""

    width: int
    height: int
    K: FloatArray  # (3, 3)
    distortion_model: str = "plumb_bob"
    D: tuple[float, ...] = ()  # empty or all zero: no distortion
    fx: float = field(init=False)
    fy: float = field(init=False)
    cx: float = field(init=False)
    cy: float = field(init=False)

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
                raise VioInputError(f"camera calibration: {name} must be a positive integer, got {value!r}")
        k_matrix = np.asarray(self.K, dtype=np.float64)
        if k_matrix.shape != (3, 3) or not np.all(np.isfinite(k_matrix)):
            raise VioInputError(f"camera calibration: K must be a finite 3x3 matrix, got {self.K!r}")
        fx, fy, cx, cy = (float(k_matrix[i, j]) for i, j in ((0, 0), (1, 1), (0, 2), (1, 2)))
        if fx <= 0.0 or fy <= 0.0:
            raise VioInputError(f"camera calibration: focal lengths must be positive, got fx={fx}, fy={fy}")
        if not (0.0 <= cx < self.width and 0.0 <= cy < self.height):
            raise VioInputError(
                f"camera calibration: principal point ({cx}, {cy}) outside the {self.width}x{self.height} image"
            )
        if k_matrix[1, 0] != 0.0 or k_matrix[2, 0] != 0.0 or k_matrix[2, 1] != 0.0 or k_matrix[2, 2] != 1.0:
            raise VioInputError(
                f"camera calibration: K must be upper triangular with K[2,2] = 1, got {k_matrix.tolist()}"
            )
        coefficients = tuple(float(v) for v in self.D)
        if not all(math.isfinite(v) for v in coefficients):
            raise VioInputError(f"camera calibration: distortion coefficients must be finite, got {self.D!r}")
        if any(coefficients):
            lengths = DISTORTION_MODELS.get(self.distortion_model)
            if lengths is None:
                raise VioInputError(
                    f"camera calibration: distortion model {self.distortion_model!r} is not supported "
                    f"(supported: {sorted(DISTORTION_MODELS)})"
                )
            if len(coefficients) not in lengths:
                raise VioInputError(
                    f"camera calibration: {self.distortion_model} takes {lengths[0]} coefficients, "
                    f"got {len(coefficients)}"
                )
        object.__setattr__(self, "K", k_matrix)
        object.__setattr__(self, "D", coefficients)
        object.__setattr__(self, "fx", fx)
        object.__setattr__(self, "fy", fy)
        object.__setattr__(self, "cx", cx)
        object.__setattr__(self, "cy", cy)

    @classmethod
    def from_camera_info(
        cls, width: int, height: int, distortion_model: str, d: Sequence[float], k: Sequence[float]
    ) -> CameraCalibration:
        """From sensor_msgs/CameraInfo's fields (``k`` row-major 9 values)."""
        values = np.asarray(list(k), dtype=np.float64)
        if values.shape != (9,):
            raise VioInputError(f"camera calibration: K must have 9 values, got {values.size}")
        return cls(int(width), int(height), values.reshape(3, 3), str(distortion_model), tuple(d))

    @property
    def distorted(self) -> bool:
        """Whether points need undistorting."""
        return any(self.D)

    def undistort(self, pixels: FloatArray) -> FloatArray:
        """Ideal pinhole pixels (N, 2) of raw pixels (N, 2), in this K."""
        if len(pixels) == 0 or not self.distorted:
            return np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        points = np.ascontiguousarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
        ideal = cv2.undistortPoints(points, self.K, np.asarray(self.D), P=self.K, criteria=UNDISTORT_CRITERIA)
        return np.asarray(ideal, dtype=np.float64).reshape(-1, 2)

    def bearings(self, ideal_pixels: FloatArray) -> FloatArray:
        """Unit-depth rays (N, 3) in the optical frame of ideal pixels (N, 2)."""
        rays = np.ones((len(ideal_pixels), 3))
        rays[:, 0] = (ideal_pixels[:, 0] - self.cx) / self.fx
        rays[:, 1] = (ideal_pixels[:, 1] - self.cy) / self.fy
        return rays

    def project_ideal(self, rays: FloatArray) -> FloatArray:
        """Ideal pixels (N, 2) of rays (N, 3) in the optical frame (z > 0)."""
        z = rays[:, 2:3]
        return np.column_stack((self.fx * rays[:, 0:1] / z + self.cx, self.fy * rays[:, 1:2] / z + self.cy))

    def distort(self, ideal_pixels: FloatArray) -> FloatArray:
        """Raw pixels (N, 2) of ideal pixels (N, 2): the inverse of ``undistort``."""
        if len(ideal_pixels) == 0 or not self.distorted:
            return np.asarray(ideal_pixels, dtype=np.float64).reshape(-1, 2)
        rays = self.bearings(ideal_pixels)
        raw, _ = cv2.projectPoints(rays.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), self.K, np.asarray(self.D))
        return np.asarray(raw, dtype=np.float64).reshape(-1, 2)


@dataclass(frozen=True)
class VioHealthReport:
    """The VioHealth message of one processed camera frame."""

    t_ns: int
    state: VioState
    reason: str  # empty when OK
    tracked_features: int
    inlier_ratio: float
    keyframe_rate_hz: float
    accel_bias_mps2: FloatArray  # (3,) base_link
    gyro_bias_radps: FloatArray  # (3,) base_link
    processing_latency_ms: float  # the core's processing time of this frame
    reinit_count: int


@dataclass(frozen=True)
class VioOdometry:
    """Pose of base_link in odom with its covariance, and its body twist (nav_msgs/Odometry)."""

    t_ns: int
    position_m: FloatArray  # (3,) odom
    quat_wxyz: FloatArray  # (4,) R_odom_body
    velocity_body_mps: FloatArray  # (3,) base_link
    angular_velocity_body_radps: FloatArray  # (3,) base_link (bias-corrected gyro)
    pose_covariance: FloatArray  # (6, 6) [x y z rx ry rz]
    twist_covariance: FloatArray  # (6, 6) [vx vy vz wx wy wz]


@dataclass(frozen=True)
class FrameResult:
    """What processing one camera frame produced: always a health report; odometry when tracking."""

    health: VioHealthReport
    odometry: VioOdometry | None
    landmarks_odom_m: FloatArray  # (N, 3) points of the current window, odom frame (may be empty)
    keyframe: bool = False  # this frame became a keyframe
    stage_ms: dict[str, float] = field(default_factory=dict)  # track, ransac, detect, smoother, total
