"""The fusion-backend contract: what the ESKF and the iSAM2 smoother both implement.

The StateEstimator facade (estimator.core) owns everything around the fusion: the take-off
origin and geodesy, input validation, stamp ordering, the GNSS trust gate, the source label
and events. A backend only fuses time-ordered, validated measurements in the map frame.

Conventions (one place, every backend follows them):
- map frame: ENU at the take-off origin (REP-105); gravity is ``GRAVITY_MAP``.
- body frame: base_link, FLU (REP-103); the IMU axes are base_link's.
- attitude: ``rotation`` is R_map_body (3x3), so v_map = R_map_body @ v_body.
- error state / covariance order: ``[dp(3), dv(3), dtheta(3), dba(3), dbg(3)]`` with
  ``dtheta`` a rotation vector in the *map* frame: R_true = Exp(dtheta) @ R_est (the frame
  nav_msgs/Odometry's pose covariance is expressed in).
- time: int nanoseconds (ROS stamps); the facade calls ``propagate`` with strictly increasing
  stamps and applies each measurement at the latest propagated time (the last IMU sample at
  or before the measurement stamp; at 200 Hz that is at most 5 ms off).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gps_denied_onboard.common.inertial import FloatArray, ImuNoise, ImuSample

STATE_DIM = 15
POS, VEL, ATT, BA, BG = slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 12), slice(12, 15)


@dataclass(frozen=True)
class NavState:
    """The full navigation state at ``t_ns`` with its 15x15 covariance (order in the module doc)."""

    t_ns: int
    position_m: FloatArray  # (3,) map ENU
    velocity_mps: FloatArray  # (3,) map ENU
    rotation: FloatArray  # (3, 3) R_map_body
    accel_bias_mps2: FloatArray  # (3,)
    gyro_bias_radps: FloatArray  # (3,)
    covariance: FloatArray  # (15, 15)

    def copy(self) -> NavState:
        """A copy whose arrays the caller may keep or change (backends hand out their state this way)."""
        return NavState(
            t_ns=self.t_ns,
            position_m=self.position_m.copy(),
            velocity_mps=self.velocity_mps.copy(),
            rotation=self.rotation.copy(),
            accel_bias_mps2=self.accel_bias_mps2.copy(),
            gyro_bias_radps=self.gyro_bias_radps.copy(),
            covariance=self.covariance.copy(),
        )


class RobustKernel(str, enum.Enum):
    """Down-weighting of absolute measurements with large normalised residuals."""

    NONE = "none"
    HUBER = "huber"
    CAUCHY = "cauchy"


@dataclass(frozen=True)
class PositionMeasurement:
    """An absolute position in the map frame (a gated GNSS fix or a GeoFix)."""

    t_ns: int
    position_m: FloatArray  # (3,) map ENU
    covariance_m2: FloatArray  # (3, 3), symmetric positive definite (checked by the facade)
    source: str  # "gnss" | "geofix"
    kernel: RobustKernel = RobustKernel.NONE
    kernel_threshold: float = 1.345  # in normalised residual units (sigmas)


@dataclass(frozen=True)
class VioIncrement:
    """Relative motion of base_link between two VIO odometry messages (both in the VIO's odom frame).

    ``rotation``/``translation_m`` are T_b0_b1 (the pose at t1 in the body frame at t0);
    ``covariance`` is 6x6 over ``[dtheta(3), dp(3)]`` of that increment, body frame at t0
    (GTSAM's Pose3 tangent order). ``velocity_body_mps`` is the VIO's body-frame velocity at t1
    with its 3x3 covariance, for backends that fuse velocity instead of increments.
    """

    t0_ns: int
    t1_ns: int
    rotation: FloatArray  # (3, 3)
    translation_m: FloatArray  # (3,)
    covariance: FloatArray  # (6, 6)
    velocity_body_mps: FloatArray  # (3,)
    velocity_covariance: FloatArray  # (3, 3)


@dataclass(frozen=True)
class AltitudeMeasurement:
    """Height in the map frame (up), e.g. barometric altitude relative to the take-off pressure."""

    t_ns: int
    up_m: float
    variance_m2: float


@dataclass(frozen=True)
class HeadingMeasurement:
    """Yaw of base_link in the map frame (ENU, 0 = east, CCW), e.g. from a GeoFix."""

    t_ns: int
    yaw_rad: float
    variance_rad2: float


@dataclass(frozen=True)
class UpdateOutcome:
    """What a backend did with a measurement."""

    accepted: bool
    mahalanobis: float  # sqrt(nu^T S^-1 nu) of the innovation before the update (NaN if not computed)
    reason: str = ""  # why it was not accepted (empty when accepted)


class FusionBackend(Protocol):
    """A fusion backend. ``name`` is its registry key ("eskf", "isam2")."""

    name: str

    def initialize(self, state: NavState, imu_noise: ImuNoise) -> None:
        """Start from ``state`` (its covariance is the prior). Called again on a reset."""
        ...

    def propagate(self, sample: ImuSample) -> None:
        """Integrate one IMU sample; stamps strictly increase between calls."""
        ...

    def position_prior(self) -> tuple[FloatArray, FloatArray]:
        """Predicted position (3,) and its covariance (3, 3) at the latest propagated time."""
        ...

    def update_position(self, measurement: PositionMeasurement) -> UpdateOutcome:
        """Fuse an absolute position."""
        ...

    def anchor_vio(self, t_ns: int) -> None:
        """Make the state at the latest propagated time the start of a VIO increment whose ``t0_ns`` is ``t_ns``.

        Called for the first VIO message of a chain (start-up, after a VIO reset or jump); later
        increments are anchored by ``update_vio`` itself.
        """
        ...

    def update_vio(self, measurement: VioIncrement) -> UpdateOutcome:
        """Fuse a VIO increment from its anchor (made at ``t0_ns``) to the latest propagated time.

        Whether it is accepted or not, the state now becomes the anchor of the increment that starts
        at ``t1_ns``; without an anchor at ``t0_ns`` it is not accepted (reason says so).
        """
        ...

    def update_altitude(self, measurement: AltitudeMeasurement) -> UpdateOutcome:
        """Fuse a height measurement."""
        ...

    def update_heading(self, measurement: HeadingMeasurement) -> UpdateOutcome:
        """Fuse a yaw measurement (gated at ``gating.geofix_probability``, 1 dof)."""
        ...

    def state(self) -> NavState:
        """The current estimate at the latest propagated time, with its covariance."""
        ...


def is_symmetric_positive_definite(matrix: FloatArray) -> bool:
    """Finite, symmetric (to 1e-9 relative) and Cholesky-factorisable: a usable covariance."""
    if not np.all(np.isfinite(matrix)) or not np.allclose(matrix, matrix.T, rtol=1e-9, atol=1e-12):
        return False
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True
