"""The ``eskf`` backend: a 15-state error-state Kalman filter (Sola, "Quaternion kinematics for the
error-state Kalman filter", 2017, global-error variant).

Nominal state: position, velocity (map ENU), R_map_body, accelerometer and gyroscope biases.
Error state (backend.py order): ``[dp, dv, dtheta, dba, dbg]`` with ``R_true = Exp(dtheta) R``.

- Propagation: trapezoidal average of consecutive IMU samples; ``R <- R Exp((w - bg) dt)``;
  first-order discrete transition ``F = I + A dt`` with
  ``d(dv)/d(dtheta) = -[R (f - ba)]x``, ``d(dv)/d(dba) = -R``, ``d(dtheta)/d(dbg) = -R``;
  ``Q = diag(sa^2, sg^2, sba^2, sbg^2) dt`` from the continuous densities (isotropic, so the
  rotation of the white noise into the map frame leaves it unchanged).
- Updates: Joseph form, innovation gated per sensor at ``chi2_m(probability)``, absolute positions
  down-weighted by a robust kernel (Huber or Cauchy weight on the normalised innovation, applied
  as an inflation of R), then error injection with the reset Jacobian ``I + [dtheta/2]x``.
- VIO: fused as a **body-frame velocity** update (``h = R^T v``, ``H_v = R^T``,
  ``H_theta = R^T [v]x``) from the increment's ``velocity_body_mps``. Chosen over a cloned
  relative-pose update because it keeps the state at 15 and needs no clone bookkeeping across
  VIO resets, and VIO velocity is locally drift-free (the VIO's own position drift never enters);
  the increment's rotation adds little beyond the gyro at VIO rates. Position then grows only by
  the integrated velocity error and heading error, as in PX4 EKF2's external-vision velocity mode.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.spatial.transform import Rotation
from scipy.stats import chi2

from gps_denied_onboard.estimator.backend import (
    ATT,
    BA,
    BG,
    GRAVITY_MAP,
    POS,
    STATE_DIM,
    VEL,
    AltitudeMeasurement,
    FloatArray,
    ImuNoise,
    ImuSample,
    NavState,
    PositionMeasurement,
    RobustKernel,
    UpdateOutcome,
    VioIncrement,
)
from gps_denied_onboard.estimator.config import EskfConfig, SensorGatingConfig
from gps_denied_onboard.estimator.errors import BackendStateError

logger = logging.getLogger(__name__)

NS_PER_S = 1e9
_IDENTITY = np.eye(STATE_DIM)
_DIAG = np.diag_indices(STATE_DIM)
_EYE3 = np.eye(3)


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


class EskfBackend:
    """The 15-state ESKF implementing ``FusionBackend`` (see the module docstring)."""

    name = "eskf"

    def __init__(self, config: EskfConfig, gating: SensorGatingConfig) -> None:
        self._config = config
        self._thresholds = {
            "gnss": float(chi2.ppf(gating.gnss_probability, 3)),
            "geofix": float(chi2.ppf(gating.geofix_probability, 3)),
            "vio": float(chi2.ppf(gating.vio_probability, 3)),
            "altitude": float(chi2.ppf(gating.baro_probability, 1)),
        }
        self._initialized = False
        self._t_ns = 0
        self._p = np.zeros(3)
        self._v = np.zeros(3)
        self._r = np.eye(3)
        self._ba = np.zeros(3)
        self._bg = np.zeros(3)
        self._cov = np.eye(STATE_DIM)
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
        f[VEL, ATT] = skew(accel_map * -dt)
        f[VEL, BA] = minus_r_dt
        f[ATT, BG] = minus_r_dt
        covariance = f @ self._cov @ f.T
        covariance.flat[:: STATE_DIM + 1] += self._q_density * dt
        self._cov = covariance
        self._r = rotation_next
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

    def update_vio(self, measurement: VioIncrement) -> UpdateOutcome:
        """Fuse the VIO body-frame velocity at the latest propagated time (see the module docstring)."""
        self._require_initialized()
        rotation_t = self._r.T
        h = np.zeros((3, STATE_DIM))
        h[:, VEL] = rotation_t
        h[:, ATT] = rotation_t @ skew(self._v)
        residual = measurement.velocity_body_mps - rotation_t @ self._v
        covariance = np.asarray(measurement.velocity_covariance, dtype=np.float64)
        return self._update(h, residual, covariance, self._thresholds["vio"])

    def update_altitude(self, measurement: AltitudeMeasurement) -> UpdateOutcome:
        """Fuse a height (map up) measurement."""
        self._require_initialized()
        h = np.zeros((1, STATE_DIM))
        h[0, 2] = 1.0
        residual = np.array([measurement.up_m - self._p[2]])
        covariance = np.array([[measurement.variance_m2]])
        return self._update(h, residual, covariance, self._thresholds["altitude"])

    def state(self) -> NavState:
        """The current estimate at the latest propagated time, with its covariance."""
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

    def _require_initialized(self) -> None:
        if not self._initialized:
            raise BackendStateError("eskf: used before initialize()")

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
        """Gate, robustly weight and apply one linearised update; the state is untouched on rejection."""
        cov = self._cov
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
        i_kh = _IDENTITY - gain @ h
        covariance = i_kh @ cov @ i_kh.T + gain @ noise @ gain.T
        if not (np.all(np.isfinite(correction)) and np.all(np.isfinite(covariance))):
            return UpdateOutcome(False, mahalanobis, "non-finite update")
        self._inject(correction, covariance)
        return UpdateOutcome(True, mahalanobis)

    def _inject(self, correction: FloatArray, covariance: FloatArray) -> None:
        """Apply the error-state correction to the nominal state and reset the error covariance."""
        dtheta = correction[ATT]
        self._p = self._p + correction[POS]
        self._v = self._v + correction[VEL]
        self._r = Rotation.from_rotvec(dtheta).as_matrix() @ self._r
        limit_a, limit_g = self._config.accel_bias_limit_mps2, self._config.gyro_bias_limit_radps
        self._ba = np.clip(self._ba + correction[BA], -limit_a, limit_a)
        self._bg = np.clip(self._bg + correction[BG], -limit_g, limit_g)
        # Reset Jacobian of the global attitude error: the covariance follows the re-centred error.
        reset = np.eye(STATE_DIM)
        reset[ATT, ATT] += 0.5 * skew(dtheta)
        covariance = reset @ covariance @ reset.T
        covariance = 0.5 * (covariance + covariance.T)
        diagonal = covariance[_DIAG]
        covariance[_DIAG] = np.maximum(diagonal, self._config.variance_floor)
        self._cov = covariance
