"""The ``eskf`` backend: a 15-state error-state Kalman filter (Sola, "Quaternion kinematics for the
error-state Kalman filter", 2017, global-error variant), with a stochastic clone for VIO.

Nominal state: position, velocity (map ENU), R_map_body, accelerometer and gyroscope biases.
Error state (backend.py order): ``[dp, dv, dtheta, dba, dbg]`` with ``R_true = Exp(dtheta) R``.

- Propagation: trapezoidal average of consecutive IMU samples; ``R <- R Exp((w - bg) dt)``;
  discrete transition ``F = I + A dt`` with ``d(dv)/d(dba) = -R``, ``d(dtheta)/d(dbg) = -R`` and
  the attitude columns as first-estimate Jacobians (FEJ, Huang, Mourikis & Roumeliotis 2008;
  Li & Mourikis 2013): ``d(dp)/d(dtheta) = -[p' - p_fe - v_fe dt - g dt^2/2]x``,
  ``d(dv)/d(dtheta) = -[v' - v_fe - g dt]x`` with ``p_fe, v_fe`` the prior at the last stamp,
  before any update there. Without an update in between they are ``-[R (f - ba) dt^2/2]x`` and
  ``-[R (f - ba) dt]x``; across one they keep a yaw about gravity (with the positions and
  velocities it rotates) in the null space of every later VIO Jacobian, which are also taken at
  first estimates. Plain EKF Jacobians leak yaw information out of VIO noise: on VIO-only
  flights the yaw sigma fell 0.050 -> 0.036 in 60 s with nothing observing yaw, and after 30 s
  the position and velocity NEES were 5.8 and 11 (3 dof); with FEJ 3.0 and 5.2, yaw sigma kept.
  ``Q = diag(sa^2, sg^2, sba^2, sbg^2) dt`` from the continuous densities (isotropic, so the
  rotation of the white noise into the map frame leaves it unchanged).
- Updates: Joseph form, innovation gated per sensor at ``chi2_m(probability)``, absolute positions
  down-weighted by a robust kernel (Huber or Cauchy weight on the normalised innovation, applied
  as an inflation of R), then error injection with the reset Jacobian ``I + [dtheta/2]x``.
- VIO by stochastic cloning (Roumeliotis & Burdick, ICRA 2002; the clones of MSCKF/OpenVINS).
  ``anchor_vio`` copies the pose into a clone: the error state grows to 21,
  ``[live(15), dp_c, dtheta_c]`` with ``R_c,true = Exp(dtheta_c) R_c`` (map frame, as the live
  attitude) and covariance ``[[P, P S^T], [S P, S P S^T]]`` (S picks the pose rows; singular at
  that instant, positive definite after one step of process noise). The clone is static, so
  ``F_aug = diag(F, I)``: besides the live block only the 15x6 ``P_lc <- F P_lc``.
  ``update_vio`` fuses T_b0_b1 as the pose now in the clone's body frame, predicted
  ``R_c^T R``, ``R_c^T (p - p_c)``, the increment read as ``R_true = Exp(n_theta) R_meas``,
  ``t_true = t_meas + n_p`` with ``n`` ~ its covariance (``[dtheta, dp]``, body frame at t0), so
  that covariance enters as it is. Residual, measured minus predicted in that frame:
  ``[Log(R_meas (R_c^T R)^T), t_meas - R_c^T (p - p_c)]``; Jacobians (``Log``'s own is
  ``I + O(|r|)``, left out): rotation ``R_c^T`` on dtheta, ``-R_c^T`` on dtheta_c; translation
  ``R_c^T`` on dp, ``-R_c^T`` on dp_c, ``R_c^T [p - p_c]x`` on dtheta_c. Gated at
  ``chi2_6(gating.vio_probability)``, Joseph update over the 21 states; whatever the outcome the
  clone is then replaced by the pose now, the anchor of the next increment (one clone at most).
  Every other update also runs over the 21 states (a GNSS fix corrects the clone too), and the
  reset Jacobian and the variance floor cover the clone's attitude.
  The relative rotation observes the gyro's integral, so VIO estimates the gyro bias, yaw axis
  included, and the yaw stops following it; the absolute yaw stays unobservable without GNSS or
  a heading (its prior error remains, as it must). 60 s VIO-only synthetic flights with an
  unknown 2 mrad/s gyro z bias (0.12 rad if unestimated), 8 seeds: yaw error at the end
  0.011 rad mean, 0.021 max; the former velocity-only update (no FEJ) 0.043 mean, 0.10 max.
- The VIO body velocity is **not** fused by default (``VioMeasurement.RELATIVE_POSE``): the
  increment's translation already carries it (sigma_v dt over dt, the same information at VIO
  rate), and a real VIO's velocity and increment come from one estimate (the facade even derives
  the increment covariance from the twist covariance), so fusing both counts it twice. Measured
  on the synthetic flights: with the simulator's independent noises the 9-dof update lowered the
  velocity error 28 % (0.099 -> 0.071 m/s) and left the yaw as it was; with the velocity error
  made equal to the increment's (a real VIO) it gained nothing and the position-velocity-attitude
  NEES rose from 11 to 17 (9 dof). ``RELATIVE_POSE_VELOCITY`` (9 dof, the two noises taken as
  independent) and the former ``VELOCITY`` (3 dof, no clone) stay selectable.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation
from scipy.stats import chi2

from gps_denied_onboard.common.inertial import GRAVITY_MAP, FloatArray, ImuNoise, ImuSample
from gps_denied_onboard.estimator.backend import (
    ATT,
    BA,
    BG,
    POS,
    STATE_DIM,
    VEL,
    AltitudeMeasurement,
    HeadingMeasurement,
    NavState,
    PositionMeasurement,
    RobustKernel,
    UpdateOutcome,
    VioIncrement,
    is_symmetric_positive_definite,
)
from gps_denied_onboard.estimator.config import EskfConfig, SensorGatingConfig
from gps_denied_onboard.estimator.errors import BackendStateError

logger = logging.getLogger(__name__)

NS_PER_S = 1e9
CLONE_DIM = 6
AUGMENTED_DIM = STATE_DIM + CLONE_DIM
CLONE_POS, CLONE_ATT = slice(STATE_DIM, STATE_DIM + 3), slice(STATE_DIM + 3, AUGMENTED_DIM)
_POSE_INDEX = np.r_[POS, ATT]  # live rows a clone copies, in the clone's order [dp, dtheta]
_EYE3 = np.eye(3)
# A heading is undefined where the body x axis is vertical; below this horizontal length, refuse it.
_MIN_HORIZONTAL_X = 1e-3


class VioMeasurement(str, enum.Enum):
    """What the ESKF fuses from a VIO increment (the module docstring says why the default is the pose)."""

    RELATIVE_POSE = "relative_pose"  # T_b0_b1 against the clone: 6 dof
    RELATIVE_POSE_VELOCITY = "relative_pose_velocity"  # plus the body velocity at t1: 9 dof
    VELOCITY = "velocity"  # the body velocity at t1 only, no clone: 3 dof (the former model)


_VIO_DOF = {VioMeasurement.RELATIVE_POSE: 6, VioMeasurement.RELATIVE_POSE_VELOCITY: 9, VioMeasurement.VELOCITY: 3}


def skew(vector: FloatArray) -> FloatArray:
    """The cross-product matrix [v]x, so that [v]x @ u == cross(v, u)."""
    x, y, z = vector
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


def kernel_weight(kernel: RobustKernel, normalised_residual: float, threshold: float) -> float:
    """Robust-kernel weight in (0, 1] of a residual of ``normalised_residual`` sigmas (IRLS weight)."""
    if kernel is RobustKernel.HUBER:
        return 1.0 if normalised_residual <= threshold else threshold / normalised_residual
    if kernel is RobustKernel.CAUCHY:
        return 1.0 / (1.0 + (normalised_residual / threshold) ** 2)
    return 1.0


def relative_pose(
    position_c_m: FloatArray, R_map_c: FloatArray, position_m: FloatArray, R_map_body: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """T_c_now, the pose now in the clone's body frame: (R_c^T R, R_c^T (p - p_c))."""
    return R_map_c.T @ R_map_body, R_map_c.T @ (position_m - position_c_m)


def relative_pose_jacobian(position_c_m: FloatArray, R_map_c: FloatArray, position_m: FloatArray) -> FloatArray:
    """(6, 21) Jacobian of the relative pose ``[dtheta, dp]`` (body frame at t0) w.r.t. the augmented error,
    at the positions given (the backend passes first estimates)."""
    rc_t = R_map_c.T
    h = np.zeros((CLONE_DIM, AUGMENTED_DIM))
    h[0:3, ATT] = rc_t
    h[0:3, CLONE_ATT] = -rc_t
    h[3:6, POS] = rc_t
    h[3:6, CLONE_POS] = -rc_t
    h[3:6, CLONE_ATT] = rc_t @ skew(position_m - position_c_m)
    return h


def relative_pose_residual(
    increment: VioIncrement,
    position_c_m: FloatArray,
    R_map_c: FloatArray,
    position_m: FloatArray,
    R_map_body: FloatArray,
) -> FloatArray:
    """Measured minus predicted increment, ``[Log(R_meas R_pred^T), t_meas - t_pred]`` (body frame at t0)."""
    rotation_pred, translation_pred = relative_pose(position_c_m, R_map_c, position_m, R_map_body)
    rotation_error = Rotation.from_matrix(np.asarray(increment.rotation) @ rotation_pred.T).as_rotvec()
    return np.concatenate([rotation_error, np.asarray(increment.translation_m) - translation_pred])


@dataclass
class _Clone:
    """The pose at a VIO anchor and its covariance with the live error state."""

    t0_ns: int  # the increment stamp it anchors, not necessarily the state time it was taken at
    position_m: FloatArray
    position_fe_m: FloatArray  # its first estimate (the prior at the anchor), for the Jacobian
    R_map_body: FloatArray
    cross_covariance: FloatArray  # (15, 6): cov(live error, [dp_c, dtheta_c])
    covariance: FloatArray  # (6, 6)


class EskfBackend:
    """The ESKF implementing ``FusionBackend``: 15 live states, plus a 6-state pose clone once VIO is anchored."""

    name = "eskf"

    def __init__(
        self,
        config: EskfConfig,
        gating: SensorGatingConfig,
        *,
        vio_measurement: VioMeasurement | str = VioMeasurement.RELATIVE_POSE,
    ) -> None:
        self._config = config
        self._vio_measurement = VioMeasurement(vio_measurement)
        self._thresholds = {
            "gnss": float(chi2.ppf(gating.gnss_probability, 3)),
            "geofix": float(chi2.ppf(gating.geofix_probability, 3)),
            "vio": float(chi2.ppf(gating.vio_probability, _VIO_DOF[self._vio_measurement])),
            "altitude": float(chi2.ppf(gating.baro_probability, 1)),
            "heading": float(chi2.ppf(gating.geofix_probability, 1)),
        }
        self._initialized = False
        self._t_ns = 0
        self._p = np.zeros(3)
        self._v = np.zeros(3)
        self._r = np.eye(3)
        self._ba = np.zeros(3)
        self._bg = np.zeros(3)
        self._cov = np.eye(STATE_DIM)
        self._clone: _Clone | None = None
        # First estimates (FEJ): the position and velocity as propagated to the latest stamp, before updates.
        self._p_fe = np.zeros(3)
        self._v_fe = np.zeros(3)
        self._q_density = np.zeros(STATE_DIM)
        self._f = np.eye(STATE_DIM)  # reused: only its time-varying blocks are rewritten per sample
        self._last_accel: FloatArray | None = None
        self._last_gyro: FloatArray | None = None

    def initialize(self, state: NavState, imu_noise: ImuNoise) -> None:
        """Start from ``state`` (its covariance is the prior). Called again on a reset."""
        covariance = np.array(state.covariance, dtype=np.float64)
        if covariance.shape != (STATE_DIM, STATE_DIM) or not np.all(np.isfinite(covariance)):
            raise BackendStateError(f"eskf: initial covariance must be finite {STATE_DIM}x{STATE_DIM}")
        self._t_ns = int(state.t_ns)
        self._p = np.array(state.position_m, dtype=np.float64)
        self._v = np.array(state.velocity_mps, dtype=np.float64)
        self._r = np.array(state.rotation, dtype=np.float64)
        self._ba = np.array(state.accel_bias_mps2, dtype=np.float64)
        self._bg = np.array(state.gyro_bias_radps, dtype=np.float64)
        self._cov = 0.5 * (covariance + covariance.T)
        self._clone = None
        self._p_fe, self._v_fe = self._p.copy(), self._v.copy()
        self._q_density = np.concatenate(
            [
                np.zeros(3),
                np.full(3, imu_noise.accel_noise_density**2),
                np.full(3, imu_noise.gyro_noise_density**2),
                np.full(3, imu_noise.accel_bias_random_walk**2),
                np.full(3, imu_noise.gyro_bias_random_walk**2),
            ]
        )
        self._last_accel = None
        self._last_gyro = None
        self._initialized = True

    def propagate(self, sample: ImuSample) -> None:
        """Integrate one IMU sample; stamps strictly increase between calls."""
        self._require_initialized()
        if sample.t_ns <= self._t_ns:
            raise BackendStateError(f"eskf: IMU stamp {sample.t_ns} not after the state time {self._t_ns}")
        dt = (sample.t_ns - self._t_ns) / NS_PER_S
        accel, gyro = sample.accel_mps2, sample.gyro_radps
        if self._last_accel is not None and self._last_gyro is not None:
            accel = 0.5 * (accel + self._last_accel)
            gyro = 0.5 * (gyro + self._last_gyro)
        self._last_accel, self._last_gyro = sample.accel_mps2, sample.gyro_radps

        rotation = self._r
        specific_force = accel - self._ba
        rotation_next = rotation @ Rotation.from_rotvec((gyro - self._bg) * dt).as_matrix()
        accel_map = 0.5 * ((rotation + rotation_next) @ specific_force)  # mean attitude over the step
        acceleration = accel_map + GRAVITY_MAP
        self._p = self._p + (self._v + 0.5 * dt * acceleration) * dt
        self._v = self._v + acceleration * dt

        f = self._f
        minus_r_dt = rotation * -dt
        f[POS, VEL] = _EYE3 * dt
        # First-estimate Jacobians: the attitude columns from the prior at the last stamp (before any
        # update there), so that a yaw about gravity stays unobservable (module docstring). With no
        # update in between they are the exact -[a dt^2 / 2]x and -[a dt]x of the discrete step.
        f[POS, ATT] = skew(self._p_fe + self._v_fe * dt + (0.5 * dt * dt) * GRAVITY_MAP - self._p)
        f[VEL, ATT] = skew(self._v_fe + dt * GRAVITY_MAP - self._v)
        f[VEL, BA] = minus_r_dt
        f[ATT, BG] = minus_r_dt
        covariance = f @ self._cov @ f.T
        covariance.flat[:: STATE_DIM + 1] += self._q_density * dt
        self._cov = covariance
        if self._clone is not None:
            # F_aug = diag(F, I): the static clone only carries its cross-covariance along.
            self._clone.cross_covariance = f @ self._clone.cross_covariance
        self._r = rotation_next
        self._p_fe, self._v_fe = self._p, self._v
        self._t_ns = sample.t_ns

    def position_prior(self) -> tuple[FloatArray, FloatArray]:
        """Predicted position (3,) and its covariance (3, 3) at the latest propagated time."""
        self._require_initialized()
        return self._p.copy(), self._cov[POS, POS].copy()

    def update_position(self, measurement: PositionMeasurement) -> UpdateOutcome:
        """Fuse an absolute position (GNSS or GeoFix) with its per-sensor gate and robust kernel."""
        self._require_initialized()
        threshold = self._thresholds.get(measurement.source)
        if threshold is None:
            return UpdateOutcome(False, math.nan, f"unknown position source {measurement.source!r}")
        h = np.zeros((3, STATE_DIM))
        h[:, POS] = np.eye(3)
        residual = measurement.position_m - self._p
        return self._update(
            h,
            residual,
            np.asarray(measurement.covariance_m2, dtype=np.float64),
            threshold,
            kernel=measurement.kernel,
            kernel_threshold=measurement.kernel_threshold,
        )

    def anchor_vio(self, t_ns: int) -> None:
        """Clone the pose now as the start of the VIO increment whose ``t0_ns`` is ``t_ns`` (replacing any clone)."""
        self._require_initialized()
        if self._vio_measurement is VioMeasurement.VELOCITY:
            return
        cov = self._cov
        self._clone = _Clone(
            t0_ns=int(t_ns),
            position_m=self._p.copy(),
            position_fe_m=self._p_fe.copy(),
            R_map_body=self._r.copy(),
            cross_covariance=cov[:, _POSE_INDEX],  # fancy indexing copies
            covariance=cov[np.ix_(_POSE_INDEX, _POSE_INDEX)],
        )

    def update_vio(self, measurement: VioIncrement) -> UpdateOutcome:
        """Fuse the increment from the clone at ``t0_ns`` to now; then the pose now anchors ``t1_ns``."""
        self._require_initialized()
        outcome = self._fuse_vio(measurement)
        self.anchor_vio(measurement.t1_ns)  # the next increment starts now, whether or not this one was fused
        return outcome

    def update_altitude(self, measurement: AltitudeMeasurement) -> UpdateOutcome:
        """Fuse a height (map up) measurement."""
        self._require_initialized()
        h = np.zeros((1, STATE_DIM))
        h[0, 2] = 1.0
        residual = np.array([measurement.up_m - self._p[2]])
        covariance = np.array([[measurement.variance_m2]])
        return self._update(h, residual, covariance, self._thresholds["altitude"])

    def update_heading(self, measurement: HeadingMeasurement) -> UpdateOutcome:
        """Fuse the yaw of base_link's x axis in the map frame (gated at ``gating.geofix_probability``, 1 dof)."""
        self._require_initialized()
        x_axis = self._r[:, 0]
        horizontal_sq = float(x_axis[0] ** 2 + x_axis[1] ** 2)
        if horizontal_sq < _MIN_HORIZONTAL_X**2:
            return UpdateOutcome(False, math.nan, "heading undefined: body x axis vertical")
        # d(yaw)/d(dtheta) of atan2(x_y, x_x) with x <- x + dtheta x x (map-frame attitude error).
        h = np.zeros((1, STATE_DIM))
        h[0, ATT] = np.array([-x_axis[0] * x_axis[2], -x_axis[1] * x_axis[2], horizontal_sq]) / horizontal_sq
        yaw_rad = math.atan2(x_axis[1], x_axis[0])
        residual = np.array([math.remainder(measurement.yaw_rad - yaw_rad, 2.0 * math.pi)])
        covariance = np.array([[measurement.variance_rad2]])
        return self._update(h, residual, covariance, self._thresholds["heading"])

    def state(self) -> NavState:
        """The current estimate at the latest propagated time, with its covariance (the live 15 states)."""
        self._require_initialized()
        return NavState(
            t_ns=self._t_ns,
            position_m=self._p.copy(),
            velocity_mps=self._v.copy(),
            rotation=self._r.copy(),
            accel_bias_mps2=self._ba.copy(),
            gyro_bias_radps=self._bg.copy(),
            covariance=self._cov.copy(),
        )

    def joint_covariance(self) -> FloatArray:
        """The covariance of the live state and, while a clone is held, the clone: (15, 15) or (21, 21)."""
        self._require_initialized()
        joint: FloatArray = self._joint_covariance().copy()
        return joint

    def _require_initialized(self) -> None:
        if not self._initialized:
            raise BackendStateError("eskf: used before initialize()")

    def _joint_covariance(self) -> FloatArray:
        clone = self._clone
        if clone is None:
            return self._cov
        cross = clone.cross_covariance
        joint: FloatArray = np.block([[self._cov, cross], [cross.T, clone.covariance]])
        return joint

    def _fuse_vio(self, measurement: VioIncrement) -> UpdateOutcome:
        """The VIO update rows of the selected ``VioMeasurement``, applied through ``_update``."""
        mode = self._vio_measurement
        rows: list[FloatArray] = []
        residuals: list[FloatArray] = []
        noises: list[FloatArray] = []
        if mode is not VioMeasurement.VELOCITY:
            clone = self._clone
            if clone is None or clone.t0_ns != measurement.t0_ns:
                return UpdateOutcome(False, math.nan, f"no VIO anchor at t0={measurement.t0_ns} ns")
            covariance = np.asarray(measurement.covariance, dtype=np.float64)
            if covariance.shape != (CLONE_DIM, CLONE_DIM) or not is_symmetric_positive_definite(covariance):
                return UpdateOutcome(False, math.nan, "VIO increment covariance is not symmetric positive definite")
            rows.append(relative_pose_jacobian(clone.position_fe_m, clone.R_map_body, self._p_fe))
            residuals.append(relative_pose_residual(measurement, clone.position_m, clone.R_map_body, self._p, self._r))
            noises.append(covariance)
        if mode is not VioMeasurement.RELATIVE_POSE:
            rotation_t = self._r.T
            h = np.zeros((3, AUGMENTED_DIM if rows else STATE_DIM))  # as wide as the pose rows, if any
            h[:, VEL] = rotation_t
            h[:, ATT] = rotation_t @ skew(self._v_fe)
            rows.append(h)
            residuals.append(measurement.velocity_body_mps - rotation_t @ self._v)
            noises.append(np.asarray(measurement.velocity_covariance, dtype=np.float64))
        noise = np.zeros((sum(len(r) for r in residuals),) * 2)
        start = 0
        for block in noises:  # the increment and the velocity noise are taken as independent
            end = start + len(block)
            noise[start:end, start:end] = block
            start = end
        return self._update(np.vstack(rows), np.concatenate(residuals), noise, self._thresholds["vio"])

    def _update(
        self,
        h: FloatArray,
        residual: FloatArray,
        noise: FloatArray,
        gate_chi2: float,
        *,
        kernel: RobustKernel = RobustKernel.NONE,
        kernel_threshold: float = 1.0,
    ) -> UpdateOutcome:
        """Gate, robustly weight and apply one linearised update (over the clone too, if one is held);
        the state is untouched on rejection. ``h`` may leave out the clone's columns (zero)."""
        cov = self._joint_covariance()
        dim = len(cov)
        if h.shape[1] < dim:
            h = np.hstack([h, np.zeros((len(h), dim - h.shape[1]))])
        ph_t = cov @ h.T
        innovation_cov = h @ ph_t + noise
        try:
            distance_sq = float(residual @ np.linalg.solve(innovation_cov, residual))
        except np.linalg.LinAlgError:
            return UpdateOutcome(False, math.nan, "singular innovation covariance")
        mahalanobis = math.sqrt(max(distance_sq, 0.0))
        if not distance_sq <= gate_chi2:
            return UpdateOutcome(False, mahalanobis, f"mahalanobis {mahalanobis:.2f} > gate {math.sqrt(gate_chi2):.2f}")
        weight = kernel_weight(kernel, mahalanobis, kernel_threshold)
        if weight < 1.0:
            noise = noise / weight
            innovation_cov = h @ ph_t + noise
        try:
            gain = np.linalg.solve(innovation_cov, ph_t.T).T
        except np.linalg.LinAlgError:
            return UpdateOutcome(False, mahalanobis, "singular innovation covariance")
        correction = gain @ residual
        i_kh = np.eye(dim) - gain @ h
        covariance = i_kh @ cov @ i_kh.T + gain @ noise @ gain.T
        if not (np.all(np.isfinite(correction)) and np.all(np.isfinite(covariance))):
            return UpdateOutcome(False, mahalanobis, "non-finite update")
        self._inject(correction, covariance)
        return UpdateOutcome(True, mahalanobis)

    def _inject(self, correction: FloatArray, covariance: FloatArray) -> None:
        """Apply the error-state correction to the nominal state (and clone) and reset the error covariance."""
        dtheta = correction[ATT]
        self._p = self._p + correction[POS]
        self._v = self._v + correction[VEL]
        self._r = Rotation.from_rotvec(dtheta).as_matrix() @ self._r
        limit_a, limit_g = self._config.accel_bias_limit_mps2, self._config.gyro_bias_limit_radps
        self._ba = np.clip(self._ba + correction[BA], -limit_a, limit_a)
        self._bg = np.clip(self._bg + correction[BG], -limit_g, limit_g)
        # Reset Jacobian of the global attitude error: the covariance follows the re-centred error.
        reset = np.eye(len(covariance))
        reset[ATT, ATT] += 0.5 * skew(dtheta)
        clone = self._clone
        if clone is not None:
            dtheta_c = correction[CLONE_ATT]
            clone.position_m = clone.position_m + correction[CLONE_POS]
            clone.R_map_body = Rotation.from_rotvec(dtheta_c).as_matrix() @ clone.R_map_body
            reset[CLONE_ATT, CLONE_ATT] += 0.5 * skew(dtheta_c)
        covariance = reset @ covariance @ reset.T
        covariance = 0.5 * (covariance + covariance.T)
        diagonal = np.diagonal(covariance)
        np.fill_diagonal(covariance, np.maximum(diagonal, self._config.variance_floor))
        self._cov = covariance[:STATE_DIM, :STATE_DIM].copy()
        if clone is not None:
            clone.cross_covariance = covariance[:STATE_DIM, STATE_DIM:].copy()
            clone.covariance = covariance[STATE_DIM:, STATE_DIM:].copy()
