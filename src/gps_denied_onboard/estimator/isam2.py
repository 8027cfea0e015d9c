"""The ``isam2`` fusion backend: a GTSAM factor graph solved by an incremental fixed-lag smoother.

Graph (one keyframe = a Pose3 ``X(k)``, a map-frame velocity ``V(k)`` and an IMU bias ``B(k)``):
- IMU: ``CombinedImuFactor`` between consecutive keyframes (bias random walk inside the factor),
  or ``ImuFactor`` + ``BetweenFactorConstantBias`` (``use_combined_imu_factor=False``).
- absolute position (trusted GNSS, GeoFix): ``GPSFactor`` in the map frame, wrapped in the
  measurement's robust kernel (Huber/Cauchy on the whitened residual).
- height (baro): a ``GPSFactor`` with zero information on east/north, robust kernel from the config.
- VIO: ``BetweenFactorPose3`` between the keyframes at the increment's two stamps.
- the prior (initialisation, recovery): one joint ``LinearContainerFactor`` over X, V, B, so the
  cross-covariances of the prior survive.

Keyframes are made at every measurement and every ``keyframe_period_s`` of IMU-only flight;
between keyframes ``propagate`` only preintegrates and the state is the IMU prediction from the
last keyframe, with its covariance pushed through the same linearisation the IMU factor uses
(``predict`` Jacobians + ``residualCovariance``). The 15x15 marginal of each keyframe is computed
once, right after the smoother update that made it.

Frames (see estimator.backend): GTSAM's Pose3/NavState tangent is [rotation, translation] in the
*body* frame and the V key is a map-frame vector, so covariances are rotated into the backend
order [dp, dv, dtheta (map), dba, dbg] at the boundary (``_ours_from_xvb``).

Failures inside GTSAM (IndeterminantLinearSystemException and the fixed-lag smoother's known
marginalisation errors surface as RuntimeError/IndexError/ValueError) never escape: the smoother
is rebuilt around the last good keyframe (mean and marginal) and the measurement is reported as
not accepted, with the reason.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

import numpy as np
from scipy.stats import chi2

from gps_denied_onboard.common.inertial import GRAVITY_MPS2, FloatArray, ImuNoise, ImuSample
from gps_denied_onboard.estimator.backend import (
    POS,
    STATE_DIM,
    AltitudeMeasurement,
    HeadingMeasurement,
    NavState,
    PositionMeasurement,
    RobustKernel,
    UpdateOutcome,
    VioIncrement,
    is_symmetric_positive_definite,
)
from gps_denied_onboard.estimator.config import Isam2Config, SensorGatingConfig
from gps_denied_onboard.estimator.errors import BackendStateError, BackendUnavailableError

logger = logging.getLogger(__name__)


NAME: Final = "isam2"
NS_PER_S: Final = 1_000_000_000
# What GTSAM raises through pybind11: IndeterminantLinearSystemException and most others arrive as
# RuntimeError, std::out_of_range (a key the fixed-lag smoother lost) as IndexError, invalid_argument
# and domain_error as ValueError.
UNWEIGHTED_SIGMA: Final = 1e4  # sigma of a prior component that must carry no weight (m or rad)
GTSAM_ERRORS: Final = (RuntimeError, IndexError, ValueError, OverflowError)


@functools.cache
def _gtsam() -> ModuleType:
    """GTSAM, imported on first use: config tables import this module without the heavy dependency."""
    try:
        return importlib.import_module("gtsam")
    except ImportError as exc:
        raise BackendUnavailableError(f"the isam2 backend needs GTSAM (pip package gtsam): {exc}") from exc


# --------------------------------------------------------------------------- frames
def _ours_from_xvb(rotation: FloatArray) -> FloatArray:
    """K with x_ours = K x_xvb, x_xvb = [theta_body, p_body, v_map, ba, bg] (GTSAM's X, V, B tangents).

    K is orthogonal, so x_xvb = K.T x_ours; covariances map as K C K.T.
    """
    k = np.zeros((STATE_DIM, STATE_DIM))
    k[0:3, 3:6] = rotation  # dp_map = R p_body (Pose3 translation perturbation is body frame)
    k[3:6, 6:9] = np.eye(3)  # the V key is a plain map-frame vector
    k[6:9, 0:3] = rotation  # dtheta_map = R dtheta_body: R Exp(d) = Exp(R d) R
    k[9:15, 9:15] = np.eye(6)
    return k


def _xvb_from_nav(rotation: FloatArray) -> FloatArray:
    """N with x_xvb = N x_nav, x_nav = NavState's tangent [theta_body, p_body, v_body] + [ba, bg]."""
    n = np.eye(STATE_DIM)
    n[6:9, 6:9] = rotation
    return n


def _symmetric(matrix: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (matrix + matrix.T), dtype=np.float64)


def _robust(noise: Any, kernel: RobustKernel, threshold: float) -> Any:
    """Wrap a Gaussian noise model in the kernel (acting on the whitened residual, in sigmas)."""
    gtsam = _gtsam()
    if kernel is RobustKernel.HUBER:
        return gtsam.noiseModel.Robust.Create(gtsam.noiseModel.mEstimator.Huber.Create(threshold), noise)
    if kernel is RobustKernel.CAUCHY:
        return gtsam.noiseModel.Robust.Create(gtsam.noiseModel.mEstimator.Cauchy.Create(threshold), noise)
    return noise


def _x(index: int) -> int:
    """Key of keyframe ``index``'s Pose3 (R_map_body, position)."""
    return int(_gtsam().symbol("x", index))


def _v(index: int) -> int:
    """Key of keyframe ``index``'s map-frame velocity."""
    return int(_gtsam().symbol("v", index))


def _b(index: int) -> int:
    """Key of keyframe ``index``'s IMU bias (accelerometer, gyroscope)."""
    return int(_gtsam().symbol("b", index))


def _mahalanobis(residual: FloatArray, covariance: FloatArray) -> float:
    try:
        return float(math.sqrt(max(0.0, float(residual @ np.linalg.solve(covariance, residual)))))
    except np.linalg.LinAlgError:
        return math.nan


@dataclass(frozen=True)
class _Keyframe:
    """A smoothed keyframe: its keys' index, time, estimate and joint marginal over (X, V, B)."""

    index: int
    t_ns: int
    nav: Any  # gtsam.NavState
    bias: Any  # gtsam.imuBias.ConstantBias
    covariance_xvb: FloatArray  # (15, 15) over [theta_body, p_body, v_map, ba, bg]
    covariance_nav: FloatArray = field(init=False)  # the same over NavState's tangent + bias

    def __post_init__(self) -> None:
        n = _xvb_from_nav(self.nav.attitude().matrix())
        object.__setattr__(self, "covariance_nav", n.T @ self.covariance_xvb @ n)


@dataclass(frozen=True)
class _Prediction:
    """The IMU prediction at the latest propagated time and its covariance (NavState tangent + bias)."""

    nav: Any  # gtsam.NavState
    covariance_nav: FloatArray  # (15, 15)
    jacobian: FloatArray  # (15, 15) d(nav_j, bias_j) / d(nav_k, bias_k)
    noise: FloatArray  # (15, 15) covariance the IMU factor adds
    state: NavState  # the same in the backend's conventions (arrays never handed out: copies are)


FactorBuilder = Callable[[int], Sequence[Any]]


@dataclass(frozen=True)
class BatchComparison:
    """The smoother's window: incremental keyframe positions against batch LM on the same graph."""

    t_ns: tuple[int, ...]
    incremental_m: FloatArray  # (K, 3) map positions of the window's keyframes
    batch_m: FloatArray  # (K, 3)
    incremental_cost: float  # the graph's error (0.5 sum of whitened squares) at each solution
    batch_cost: float
    iterations: int  # LM iterations from the incremental estimate


class Isam2Backend:
    """The FusionBackend on GTSAM's IncrementalFixedLagSmoother (module docstring has the graph)."""

    name = NAME

    def __init__(self, config: Isam2Config | None = None, gating: SensorGatingConfig | None = None) -> None:
        self.config = config if config is not None else Isam2Config()
        self._gtsam = _gtsam()  # fails here, typed, if GTSAM is missing
        # Squared Mahalanobis gates per source (the ESKF's, at each residual's own dimension); none
        # without a gating config. A rejected measurement adds nothing to the graph.
        inf = math.inf
        self._gates: dict[str, float] = {"gnss": inf, "geofix": inf, "vio": inf, "altitude": inf, "heading": inf}
        if gating is not None:
            self._gates = {
                "gnss": float(chi2.ppf(gating.gnss_probability, 3)),
                "geofix": float(chi2.ppf(gating.geofix_probability, 3)),
                "vio": float(chi2.ppf(gating.vio_probability, 6)),  # relative pose: 6 dof
                "altitude": float(chi2.ppf(gating.baro_probability, 1)),
                "heading": float(chi2.ppf(gating.geofix_probability, 1)),
            }
        self.reset_count = 0  # smoother rebuilds after a GTSAM failure
        self.last_reset_reason = ""
        self.keyframe_count = 0  # keyframes made since construction
        self._smoother: Any = None
        self._pim: Any = None
        self._params: Any = None
        self._imu_noise: ImuNoise | None = None
        self._origin_ns = 0
        self._t_ns = 0
        self._next_index = 0
        self._kf: _Keyframe | None = None
        self._window: list[tuple[int, int]] = []  # (t_ns, index) of the keyframes in the smoother, by time
        self._vio_anchor: dict[int, int] = {}  # VIO t1 stamp -> index of the keyframe it was applied at
        self._prediction: _Prediction | None = None
        self._last_attempt_ns = 0  # stamp of the last keyframe attempt, good or failed
        self._last_sample: ImuSample | None = None

    # ----------------------------------------------------------------------- FusionBackend
    def initialize(self, state: NavState, imu_noise: ImuNoise) -> None:
        """Start from ``state`` (its covariance is the prior). Called again on a reset."""
        gtsam = self._gtsam
        covariance = np.asarray(state.covariance, dtype=np.float64)
        if covariance.shape != (STATE_DIM, STATE_DIM) or not is_symmetric_positive_definite(covariance):
            raise BackendStateError(
                f"initial covariance must be a symmetric positive definite 15x15 matrix, got shape {covariance.shape}"
            )
        self._imu_noise = imu_noise
        self._params = self._preintegration_params(imu_noise)
        self._origin_ns = state.t_ns
        self._t_ns = state.t_ns
        self._last_attempt_ns = state.t_ns
        self._last_sample = None
        self._next_index = 0
        rotation = gtsam.Rot3(np.asarray(state.rotation, dtype=np.float64))
        nav = gtsam.NavState(rotation, np.asarray(state.position_m, dtype=np.float64), state.velocity_mps)
        bias = gtsam.imuBias.ConstantBias(state.accel_bias_mps2, state.gyro_bias_radps)
        k = _ours_from_xvb(rotation.matrix())
        keyframe = _Keyframe(self._take_index(), state.t_ns, nav, bias, _symmetric(k.T @ covariance @ k))
        self._restart_smoother(keyframe)
        self.keyframe_count += 1  # counts over resets: a diagnostic, like reset_count
        logger.debug("isam2 initialised at t=%d ns", state.t_ns)

    def propagate(self, sample: ImuSample) -> None:
        """Preintegrate one IMU sample over the interval since the previous one; keyframe when due."""
        kf = self._require_initialised()
        dt_s = (sample.t_ns - self._t_ns) / NS_PER_S
        if dt_s < 0.0 or (dt_s == 0.0 and self._t_ns != self._origin_ns):
            raise BackendStateError(f"IMU stamps must increase: got {sample.t_ns} ns after {self._t_ns} ns")
        previous, self._last_sample = self._last_sample, sample
        if dt_s == 0.0:
            return  # a sample at the initialisation stamp closes no interval
        # GTSAM holds a measurement constant over dt: the mean of the interval's two ends is the
        # trapezoidal rule (the ESKF integrates the same way).
        if previous is None:
            accel, gyro = sample.accel_mps2, sample.gyro_radps
        else:
            accel = 0.5 * (sample.accel_mps2 + previous.accel_mps2)
            gyro = 0.5 * (sample.gyro_radps + previous.gyro_radps)
        self._pim.integrateMeasurement(accel, gyro, dt_s)
        self._t_ns = sample.t_ns
        self._prediction = None
        # After a failed attempt, wait a full period before the next one (no retry at every sample).
        if sample.t_ns - max(kf.t_ns, self._last_attempt_ns) >= self.config.keyframe_period_s * NS_PER_S:
            self._keyframe(_no_factors, "periodic keyframe")

    def position_prior(self) -> tuple[FloatArray, FloatArray]:
        """Predicted position (3,) and its covariance (3, 3) at the latest propagated time."""
        state = self._predict().state
        return state.position_m.copy(), state.covariance[POS, POS].copy()

    def update_position(self, measurement: PositionMeasurement) -> UpdateOutcome:
        """Fuse an absolute map-frame position as a (robust) GPSFactor on a keyframe at this time."""
        gtsam = self._gtsam
        gate = self._gates.get(measurement.source)
        if gate is None:
            return UpdateOutcome(False, math.nan, f"unknown position source {measurement.source!r}")
        covariance = np.asarray(measurement.covariance_m2, dtype=np.float64)
        if covariance.shape != (3, 3) or not is_symmetric_positive_definite(covariance):
            return UpdateOutcome(False, math.nan, f"{measurement.source} covariance is not symmetric positive definite")
        measured = np.asarray(measurement.position_m, dtype=np.float64)
        position_m, prior_covariance = self.position_prior()
        mahalanobis = _mahalanobis(measured - position_m, prior_covariance + covariance)
        if mahalanobis**2 > gate:
            return _gated(mahalanobis, gate)
        noise = _robust(
            gtsam.noiseModel.Gaussian.Covariance(covariance), measurement.kernel, measurement.kernel_threshold
        )
        accepted, reason = self._keyframe(lambda j: [gtsam.GPSFactor(_x(j), measured, noise)], measurement.source)
        return UpdateOutcome(accepted, mahalanobis, reason)

    def update_altitude(self, measurement: AltitudeMeasurement) -> UpdateOutcome:
        """Fuse a map-frame height: a GPSFactor with zero information on east and north."""
        gtsam = self._gtsam
        if not (math.isfinite(measurement.variance_m2) and measurement.variance_m2 > 0.0):
            return UpdateOutcome(False, math.nan, f"altitude variance must be > 0, got {measurement.variance_m2}")
        position_m, prior_covariance = self.position_prior()
        mahalanobis = abs(measurement.up_m - position_m[2]) / math.sqrt(
            prior_covariance[2, 2] + measurement.variance_m2
        )
        if mahalanobis**2 > self._gates["altitude"]:
            return _gated(mahalanobis, self._gates["altitude"])
        noise = _robust(
            gtsam.noiseModel.Diagonal.Precisions(np.array([0.0, 0.0, 1.0 / measurement.variance_m2])),
            RobustKernel(self.config.altitude_kernel),
            self.config.altitude_kernel_threshold,
        )
        measured = np.array([position_m[0], position_m[1], measurement.up_m])  # east/north carry no weight
        accepted, reason = self._keyframe(lambda j: [gtsam.GPSFactor(_x(j), measured, noise)], "altitude")
        return UpdateOutcome(accepted, mahalanobis, reason)

    def update_heading(self, measurement: HeadingMeasurement) -> UpdateOutcome:
        """Fuse a yaw as a Pose3 prior that weighs only the rotation about the body z axis.

        The prior's rotation is the prediction with its yaw replaced by the measurement; its roll,
        pitch and position carry no weight. Rotation about body z equals yaw up to the tilt (a few
        degrees in cruise), which the measurement's variance dwarfs.
        """
        gtsam = self._gtsam
        variance = float(measurement.variance_rad2)
        if not (math.isfinite(variance) and variance > 0.0):
            return UpdateOutcome(False, math.nan, f"heading variance must be > 0, got {variance}")
        state = self._predict().state
        yaw_now = math.atan2(state.rotation[1, 0], state.rotation[0, 0])
        residual = math.remainder(measurement.yaw_rad - yaw_now, 2.0 * math.pi)
        yaw_variance = float(state.covariance[8, 8])
        mahalanobis = abs(residual) / math.sqrt(yaw_variance + variance)
        if mahalanobis**2 > self._gates["heading"]:
            return _gated(mahalanobis, self._gates["heading"])
        corrected = gtsam.Rot3.Rz(residual).matrix() @ state.rotation
        measured = gtsam.Pose3(gtsam.Rot3(corrected), state.position_m)
        sigmas = np.array([UNWEIGHTED_SIGMA, UNWEIGHTED_SIGMA, math.sqrt(variance)] + [UNWEIGHTED_SIGMA] * 3)
        noise = gtsam.noiseModel.Diagonal.Sigmas(sigmas)
        accepted, reason = self._keyframe(lambda j: [gtsam.PriorFactorPose3(_x(j), measured, noise)], "heading")
        return UpdateOutcome(accepted, mahalanobis, reason)

    def anchor_vio(self, t_ns: int) -> None:
        """Make a keyframe now (or reuse the one at this time) the anchor of increments starting at ``t_ns``."""
        kf = self._require_initialised()
        if kf.t_ns != self._t_ns:
            made, reason = self._keyframe(_no_factors, "vio anchor")
            if not made:
                logger.debug("isam2: no VIO anchor at %d: %s", t_ns, reason)
                return
        self._vio_anchor[t_ns] = self._require_initialised().index

    def update_vio(self, measurement: VioIncrement) -> UpdateOutcome:
        """Fuse T_b0_b1 as a BetweenFactorPose3 from the anchor keyframe at t0 to a keyframe now."""
        outcome = self._fuse_vio(measurement)
        if not outcome.accepted:
            self.anchor_vio(measurement.t1_ns)  # the next increment starts here either way
        return outcome

    def _fuse_vio(self, measurement: VioIncrement) -> UpdateOutcome:
        gtsam = self._gtsam
        kf = self._require_initialised()
        covariance_left = np.asarray(measurement.covariance, dtype=np.float64)
        if covariance_left.shape != (6, 6) or not is_symmetric_positive_definite(covariance_left):
            return UpdateOutcome(False, math.nan, "VIO increment covariance is not symmetric positive definite")
        anchor = self._anchor_for(measurement.t0_ns)
        if anchor is None:
            return UpdateOutcome(False, math.nan, f"no VIO anchor at t0={measurement.t0_ns} ns (older than the lag?)")
        if anchor == kf.index and kf.t_ns == self._t_ns:
            return UpdateOutcome(False, math.nan, "VIO increment shorter than one IMU period (no IMU sample inside)")
        t_b0_b1 = gtsam.Pose3(gtsam.Rot3(np.asarray(measurement.rotation, dtype=np.float64)), measurement.translation_m)
        # The increment's covariance is a perturbation in b0 (left); BetweenFactor's error is a right
        # perturbation of the measured pose (frame b1): C_right = Ad(T^-1) C_left Ad(T^-1)^T.
        adjoint = t_b0_b1.inverse().AdjointMap()
        covariance = _symmetric(adjoint @ covariance_left @ adjoint.T)
        mahalanobis = self._vio_mahalanobis(anchor, kf, t_b0_b1, covariance)
        if mahalanobis**2 > self._gates["vio"]:  # NaN (no innovation covariance) passes
            return _gated(mahalanobis, self._gates["vio"])
        noise = _robust(
            gtsam.noiseModel.Gaussian.Covariance(covariance),
            RobustKernel(self.config.vio_kernel),
            self.config.vio_kernel_threshold,
        )
        accepted, reason = self._keyframe(
            lambda j: [gtsam.BetweenFactorPose3(_x(anchor), _x(j), t_b0_b1, noise)], "vio"
        )
        if accepted:
            self._vio_anchor[measurement.t1_ns] = self._require_initialised().index
        return UpdateOutcome(accepted, mahalanobis, reason)

    def state(self) -> NavState:
        """The estimate at the latest propagated time: the smoothed keyframe plus the IMU prediction since."""
        return self._predict().state.copy()

    # ----------------------------------------------------------------------- diagnostics
    def smoother_key_count(self) -> int:
        """Variables the smoother holds now (3 per keyframe in the lag window): bounded compute."""
        self._require_initialised()
        return len(self._smoother.timestamps())

    def window_positions(self) -> list[tuple[int, FloatArray]]:
        """(t_ns, smoothed map position) of every keyframe still in the smoother's window."""
        self._require_initialised()
        estimate = self._smoother.calculateEstimate()
        return [(t_ns, np.asarray(estimate.atPose3(_x(i)).translation())) for t_ns, i in self._window]

    def compare_with_batch(self) -> BatchComparison:
        """The window's graph (the smoother's own factors, marginals included) solved by batch
        Levenberg-Marquardt from the incremental estimate: the reference the smoother approximates."""
        gtsam = self._gtsam
        self._require_initialised()
        factors = self._smoother.getFactors()
        graph = gtsam.NonlinearFactorGraph()
        for i in range(factors.size()):
            if factors.exists(i):  # the smoother leaves empty slots where it removed factors
                graph.push_back(factors.at(i))
        incremental = self._smoother.calculateEstimate()
        params = gtsam.LevenbergMarquardtParams()
        params.setRelativeErrorTol(1e-12)
        params.setAbsoluteErrorTol(1e-12)
        params.setMaxIterations(100)
        params.setLinearSolverType("MULTIFRONTAL_QR")  # Cholesky fails on these windows, as in iSAM2
        optimizer = gtsam.LevenbergMarquardtOptimizer(graph, incremental, params)
        batch = optimizer.optimize()
        return BatchComparison(
            t_ns=tuple(t_ns for t_ns, _ in self._window),
            incremental_m=np.array([incremental.atPose3(_x(i)).translation() for _, i in self._window]),
            batch_m=np.array([batch.atPose3(_x(i)).translation() for _, i in self._window]),
            incremental_cost=float(graph.error(incremental)),
            batch_cost=float(graph.error(batch)),
            iterations=int(optimizer.iterations()),
        )

    # ----------------------------------------------------------------------- internals
    def _require_initialised(self) -> _Keyframe:
        if self._kf is None:
            raise BackendStateError("the isam2 backend is used before initialize()")
        return self._kf

    def _take_index(self) -> int:
        index = self._next_index
        self._next_index += 1
        return index

    def _preintegration_params(self, noise: ImuNoise) -> Any:
        # MakeSharedU: gravity along -z, i.e. the ENU map frame.
        params = self._gtsam.PreintegrationCombinedParams.MakeSharedU(GRAVITY_MPS2)
        # GTSAM takes continuous-time covariances (density^2) and discretises them with each dt.
        params.setAccelerometerCovariance(np.eye(3) * noise.accel_noise_density**2)
        params.setGyroscopeCovariance(np.eye(3) * noise.gyro_noise_density**2)
        params.setIntegrationCovariance(np.eye(3) * self.config.integration_sigma**2)
        params.setBiasAccCovariance(np.eye(3) * noise.accel_bias_random_walk**2)
        params.setBiasOmegaCovariance(np.eye(3) * noise.gyro_bias_random_walk**2)
        return params

    def _new_preintegration(self, bias: Any) -> Any:
        if self.config.use_combined_imu_factor:
            return self._gtsam.PreintegratedCombinedMeasurements(self._params, bias)
        return self._gtsam.PreintegratedImuMeasurements(self._params, bias)

    def _isam2_params(self) -> Any:
        params = self._gtsam.ISAM2Params()
        # GTSAM's defaults (threshold 0.1, relinearise every 10th update) leave a fast-moving IMU
        # window linearised at stale points and the fixed-lag result drifts away from the batch
        # solution; checking at every update keeps them together (Isam2Config has the figures).
        params.setRelinearizeThreshold(self.config.relinearize_threshold)
        params.relinearizeSkip = self.config.relinearize_skip
        params.setFactorization(self.config.factorization)
        return params

    def _restart_smoother(self, keyframe: _Keyframe) -> None:
        """A fresh smoother holding only ``keyframe``, with its covariance as a joint prior."""
        gtsam = self._gtsam
        self._smoother = gtsam.IncrementalFixedLagSmoother(self.config.lag_s, self._isam2_params())
        i = keyframe.index
        values = gtsam.Values()
        values.insert(_x(i), keyframe.nav.pose())
        values.insert(_v(i), keyframe.nav.velocity())
        values.insert(_b(i), keyframe.bias)
        graph = gtsam.NonlinearFactorGraph()
        graph.push_back(gtsam.LinearContainerFactor(self._joint_prior(keyframe), values))
        stamp = self._stamp_s(keyframe.t_ns)
        self._smoother.update(graph, values, {_x(i): stamp, _v(i): stamp, _b(i): stamp})
        self._kf = keyframe
        self._window = [(keyframe.t_ns, i)]
        self._vio_anchor = {}
        self._pim = self._new_preintegration(keyframe.bias)
        self._prediction = None

    def _joint_prior(self, keyframe: _Keyframe) -> Any:
        """The whitened Gaussian ||L^T dx||^2, L L^T = C^-1, over (X, V, B) at the keyframe."""
        covariance = keyframe.covariance_xvb
        try:
            information = np.asarray(np.linalg.inv(covariance), dtype=np.float64)
            upper = np.linalg.cholesky(_symmetric(information)).T
        except np.linalg.LinAlgError:
            # Only a marginal that lost definiteness numerically lands here: keep its variances.
            upper = np.diag(1.0 / np.sqrt(np.maximum(np.diag(covariance), 1e-12)))
        i = keyframe.index
        return self._gtsam.JacobianFactor(
            _x(i), upper[:, 0:6], _v(i), upper[:, 6:9], _b(i), upper[:, 9:15], np.zeros(STATE_DIM),
            self._gtsam.noiseModel.Unit.Create(STATE_DIM),
        )  # fmt: skip

    def _stamp_s(self, t_ns: int) -> float:
        """Smoother timestamps are seconds since initialisation (doubles keep ns resolution there)."""
        return (t_ns - self._origin_ns) / NS_PER_S

    def _predict(self) -> _Prediction:
        """The IMU prediction from the last keyframe (cached until the next sample or update)."""
        kf = self._require_initialised()
        if self._prediction is not None:
            return self._prediction
        h_nav = np.zeros((9, 9), order="F")  # filled in place by GTSAM (column-major, like Eigen)
        h_bias = np.zeros((9, 6), order="F")
        nav = self._pim.predict(kf.nav, kf.bias, h_nav, h_bias)
        jacobian = np.eye(STATE_DIM)
        jacobian[0:9, 0:9] = h_nav
        jacobian[0:9, 9:15] = h_bias
        noise = self._imu_factor_covariance()
        covariance = _symmetric(jacobian @ kf.covariance_nav @ jacobian.T + noise)
        rotation = np.asarray(nav.attitude().matrix(), dtype=np.float64)
        k = _ours_from_xvb(rotation) @ _xvb_from_nav(rotation)
        state = NavState(
            t_ns=self._t_ns,
            position_m=np.asarray(nav.position(), dtype=np.float64),
            velocity_mps=np.asarray(nav.velocity(), dtype=np.float64),
            rotation=rotation,
            accel_bias_mps2=np.asarray(kf.bias.accelerometer(), dtype=np.float64),
            gyro_bias_radps=np.asarray(kf.bias.gyroscope(), dtype=np.float64),
            covariance=_symmetric(k @ covariance @ k.T),
        )
        self._prediction = _Prediction(nav, covariance, jacobian, noise, state)
        return self._prediction

    def _imu_factor_covariance(self) -> FloatArray:
        """The covariance the IMU factor(s) add between the last keyframe and now (GTSAM's own)."""
        if self.config.use_combined_imu_factor:
            return np.asarray(self._pim.residualCovariance(), dtype=np.float64)
        noise = np.zeros((STATE_DIM, STATE_DIM))
        noise[0:9, 0:9] = self._pim.residualCovariance()
        noise[9:15, 9:15] = np.diag(self._bias_walk_sigmas(self._pim.deltaTij()) ** 2)
        return noise

    def _bias_walk_sigmas(self, dt_s: float) -> FloatArray:
        """Sigmas of the bias change over ``dt_s`` (random walk), for ImuFactor + bias between factor."""
        assert self._imu_noise is not None
        walk = [self._imu_noise.accel_bias_random_walk] * 3 + [self._imu_noise.gyro_bias_random_walk] * 3
        return np.array(walk) * math.sqrt(max(dt_s, 1e-6))

    def _anchor_for(self, t0_ns: int) -> int | None:
        """The keyframe a VIO increment starting at ``t0_ns`` attaches to, if it is still in the window."""
        # The smoother marginalises keys older than lag_s at the coming update: such an anchor is gone.
        if self._t_ns - t0_ns >= (self.config.lag_s - self.config.keyframe_period_s) * NS_PER_S:
            return None
        in_window = {i for _, i in self._window}
        if self._vio_anchor.get(t0_ns) in in_window:
            return self._vio_anchor[t0_ns]
        times = [t for t, _ in self._window]
        pos = bisect.bisect_right(times, t0_ns)
        candidates = self._window[max(0, pos - 1) : pos + 1]
        gap_ns, index = min((abs(t - t0_ns), i) for t, i in candidates)
        return index if gap_ns <= self.config.vio_anchor_tolerance_s * NS_PER_S else None

    def _vio_mahalanobis(self, anchor: int, kf: _Keyframe, t_b0_b1: Any, covariance: FloatArray) -> float:
        """Normalised residual of the increment against the smoothed anchor pose and the IMU prediction."""
        gtsam = self._gtsam
        prediction = self._predict()
        try:
            anchor_pose = kf.nav.pose() if anchor == kf.index else self._smoother.calculateEstimatePose3(_x(anchor))
            predicted = anchor_pose.between(prediction.nav.pose())
            residual = np.asarray(gtsam.Pose3.Logmap(t_b0_b1.between(predicted)), dtype=np.float64)
            joint = self._anchor_joint(anchor, kf)
        except GTSAM_ERRORS as exc:
            logger.debug("isam2: no VIO innovation covariance: %s", exc)
            return math.nan
        # d(rel) = xi_now - Ad(rel^-1) xi_anchor, with xi_now = J[0:6] dx_k + the IMU factor's noise.
        m = np.hstack([-predicted.inverse().AdjointMap(), prediction.jacobian[0:6, :]])
        return _mahalanobis(residual, m @ joint @ m.T + prediction.noise[0:6, 0:6] + covariance)

    def _anchor_joint(self, anchor: int, kf: _Keyframe) -> FloatArray:
        """Joint covariance (21, 21) of the anchor's pose (6) and the last keyframe's NavState + bias (15)."""
        n_k = _xvb_from_nav(kf.nav.attitude().matrix())
        if anchor == kf.index:
            lift = np.vstack([np.eye(STATE_DIM)[0:6], np.eye(STATE_DIM)])
            return np.asarray(lift @ kf.covariance_nav @ lift.T, dtype=np.float64)
        keys = [_x(anchor), _x(kf.index), _v(kf.index), _b(kf.index)]
        joint = self._smoother.getISAM2().jointMarginalCovariance(keys).fullMatrix()
        lift = np.eye(6 + STATE_DIM)
        lift[6:, 6:] = n_k.T
        return np.asarray(lift @ joint @ lift.T, dtype=np.float64)

    def _keyframe(self, build: FactorBuilder, label: str) -> tuple[bool, str]:
        """Add a keyframe at the latest propagated time (or reuse the last one if no time passed) with
        the factors ``build(index)`` returns, update the smoother and cache the keyframe's marginal."""
        gtsam = self._gtsam
        kf = self._require_initialised()
        self._last_attempt_ns = self._t_ns
        graph = gtsam.NonlinearFactorGraph()
        values = gtsam.Values()
        timestamps: dict[int, float] = {}
        j = kf.index
        if self._t_ns != kf.t_ns:
            i, j = kf.index, self._take_index()
            if self.config.use_combined_imu_factor:
                graph.push_back(gtsam.CombinedImuFactor(_x(i), _v(i), _x(j), _v(j), _b(i), _b(j), self._pim))
            else:
                graph.push_back(gtsam.ImuFactor(_x(i), _v(i), _x(j), _v(j), _b(i), self._pim))
                walk = gtsam.noiseModel.Diagonal.Sigmas(self._bias_walk_sigmas(self._pim.deltaTij()))
                graph.push_back(gtsam.BetweenFactorConstantBias(_b(i), _b(j), gtsam.imuBias.ConstantBias(), walk))
            predicted = self._predict().nav
            values.insert(_x(j), predicted.pose())
            values.insert(_v(j), predicted.velocity())
            values.insert(_b(j), kf.bias)
            stamp = self._stamp_s(self._t_ns)
            timestamps = {_x(j): stamp, _v(j): stamp, _b(j): stamp}
        for factor in build(j):
            graph.push_back(factor)
        if graph.size() == 0:
            return True, ""
        try:
            self._smoother.update(graph, values, timestamps)
            for _ in range(self.config.extra_iterations):
                self._smoother.update()
            pose = self._smoother.calculateEstimatePose3(_x(j))
            velocity = np.asarray(self._smoother.calculateEstimateVector(_v(j)), dtype=np.float64)
            bias = self._smoother.calculateEstimateConstantBias(_b(j))
            joint = self._smoother.getISAM2().jointMarginalCovariance([_x(j), _v(j), _b(j)]).fullMatrix()
        except GTSAM_ERRORS as exc:
            return False, self._recover(f"{label} update failed in GTSAM: {_first_line(exc)}")
        covariance = _symmetric(np.asarray(joint, dtype=np.float64))
        if not (
            np.all(np.isfinite(pose.matrix()))
            and np.all(np.isfinite(velocity))
            and is_symmetric_positive_definite(covariance)
        ):
            return False, self._recover(f"{label} update left a non-finite estimate or covariance")
        self._kf = _Keyframe(j, self._t_ns, gtsam.NavState(pose, velocity), bias, covariance)
        if j != kf.index:
            self.keyframe_count += 1
            self._window.append((self._t_ns, j))
            self._prune_window()
        self._pim = self._new_preintegration(bias)
        self._prediction = None
        return True, ""

    def _prune_window(self) -> None:
        """Forget keyframes the smoother has marginalised (asked of the smoother: its float timestamps
        decide a keyframe exactly one lag old, not this object's nanoseconds)."""
        isam = self._smoother.getISAM2()
        while len(self._window) > 1 and not isam.valueExists(_x(self._window[0][1])):
            self._window.pop(0)
        oldest_ns = self._window[0][0]
        self._vio_anchor = {t: i for t, i in self._vio_anchor.items() if t >= oldest_ns}

    def _recover(self, reason: str) -> str:
        """Rebuild the smoother around the last good keyframe and drop the failed measurement.

        The preintegration since that keyframe is kept, so no IMU sample is lost."""
        kf = self._require_initialised()
        self.reset_count += 1
        self.last_reset_reason = reason
        logger.warning("isam2: %s; smoother reset to the keyframe at t=%d ns", reason, kf.t_ns)
        pim = self._pim
        try:
            self._restart_smoother(kf)
        except GTSAM_ERRORS as exc:
            # The marginal itself is the trouble: restart from its variances alone.
            logger.warning("isam2: restart with the full marginal failed (%s); using its diagonal", _first_line(exc))
            diagonal = np.diag(np.diag(kf.covariance_xvb))
            self._restart_smoother(_Keyframe(kf.index, kf.t_ns, kf.nav, kf.bias, diagonal))
        self._pim = pim
        return f"{reason}; smoother reset to the last good keyframe"


def _gated(mahalanobis: float, gate: float) -> UpdateOutcome:
    return UpdateOutcome(False, mahalanobis, f"mahalanobis {mahalanobis:.2f} > gate {math.sqrt(gate):.2f}")


def _no_factors(_index: int) -> Sequence[Any]:
    return ()


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(exc).__name__
