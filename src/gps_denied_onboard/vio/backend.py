"""The VIO back end: a fixed-lag smoother over keyframes, solved with GTSAM.

Each keyframe k has a pose X(k) (base_link in odom), a velocity V(k) (odom) and an IMU bias B(k).
Consecutive keyframes are tied by a CombinedImuFactor (preintegration with bias random walk);
each feature seen in at least ``min_observations`` keyframes of the window is a landmark L(id)
with a GenericProjectionFactorCal3_S2 (Huber-robust) per observation, initialised where its
first ray meets the ground plane. The window keeps the keyframes of the last ``lag_s`` seconds; the
oldest one carries one Gaussian prior on its pose, velocity and bias jointly, the 15x15 joint
marginal of the previous solution when the keyframe before it left (marginalisation onto the
new oldest state, cross-covariances kept). Every keyframe the window's graph is built afresh
and solved by Levenberg-Marquardt from the previous solution.

Scale over flat ground (the nadir survey case): a monocular camera at constant velocity leaves
scale to the accelerometer, which cannot hold it. When the VIO started from rest on the ground
the ground's height in odom is known (``ground_height_m``: the take-off surface below
base_link), and every landmark gets a prior on its height with ``ground_plane_sigma_m`` (the
terrain's relief): the camera's height above the ground, hence scale, is observed directly.
Explicit landmarks (not smart factors) are used because that prior needs the point variable.

Why not gtsam.IncrementalFixedLagSmoother: with CombinedImuFactor chains it throws
IndeterminantLinearSystemException near bias variables after marginalisations on these flights
(also reported upstream: borglab/gtsam#1638, #1890), and it asserts when a smart factor
outlives a pose it references (#1976). Rebuilding the window each keyframe makes both
impossible by construction: a factor only ever holds observations from keyframes in the
window, so none can reference a marginalised pose.

Behind-the-camera points: the projection factors do not throw on cheirality (a landmark whose
initial ray misses the ground is not created); a landmark reprojecting worse than
``outlier_threshold_px`` after a solve is dropped. A solver error (IndeterminantLinearSystemException, cheirality) is
retried without the visual factors (every landmark of this keyframe dropped); a second failure
is ``SmootherFailureError``, which the pipeline turns into LOST and a re-initialisation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import gtsam
import numpy as np
import numpy.typing as npt
from gtsam.symbol_shorthand import B, L, V, X

from gps_denied_onboard.common.inertial import GRAVITY_MPS2
from gps_denied_onboard.vio.config import VioConfig
from gps_denied_onboard.vio.errors import VioError
from gps_denied_onboard.vio.types import CameraCalibration

FloatArray = npt.NDArray[np.float64]

INTEGRATION_SIGMA = 1e-4  # preintegration's own integration error, m/s^2 * s (GTSAM's convention)
PRIOR_POSITION_SIGMA_M = 1e-3  # the odom origin is the first keyframe: a gauge, not a measurement
PRIOR_YAW_SIGMA_RAD = 1e-3  # yaw is unobservable: fixed at the initialisation
COVARIANCE_FLOOR = 1e-8  # smallest variance a carried prior keeps (sigma 1e-4 in its units)


class SmootherFailureError(VioError):
    """The smoother could not absorb a keyframe even after rebuilding its window."""


@dataclass
class _Track:
    """A feature's observations in the window's keyframes and its smart factor, if any."""

    observations: list[tuple[int, FloatArray]] = field(default_factory=list)  # (keyframe index, ideal pixel)
    point: FloatArray | None = None  # odom, when the landmark is in the window's graph


@dataclass(frozen=True)
class KeyframeState:
    """The smoother's estimate of one keyframe."""

    index: int
    t_ns: int
    pose: gtsam.Pose3  # base_link in odom
    velocity: FloatArray  # (3,) odom
    bias: gtsam.imuBias.ConstantBias
    pose_covariance: FloatArray  # (6, 6) GTSAM order: [rotation, translation], body tangent
    velocity_covariance: FloatArray  # (3, 3) odom


@dataclass(frozen=True)
class UpdateReport:
    """What one keyframe update did."""

    smoother_ms: float
    landmarks: int  # landmarks in the window after the update
    dropped_observations: int  # observations of keyframes that left the window
    rebuilt: bool  # solved without vision after a solver error; the window's landmarks were dropped


def preintegration_params(config: VioConfig) -> gtsam.PreintegrationCombinedParams:
    """IMU noise for preintegration in the odom frame (gravity along -z)."""
    noise = config.imu
    params = gtsam.PreintegrationCombinedParams.MakeSharedU(GRAVITY_MPS2)
    params.setAccelerometerCovariance(np.eye(3) * noise.accel_noise_density**2)
    params.setGyroscopeCovariance(np.eye(3) * noise.gyro_noise_density**2)
    params.setIntegrationCovariance(np.eye(3) * INTEGRATION_SIGMA**2)
    params.setBiasAccCovariance(np.eye(3) * noise.accel_bias_random_walk**2)
    params.setBiasOmegaCovariance(np.eye(3) * noise.gyro_bias_random_walk**2)
    return params


@dataclass(frozen=True)
class _Prior:
    """The Gaussian prior on the window's oldest keyframe: the marginal of what left before it.

    One joint covariance over pose, velocity and bias (15 x 15, tangent space at the values
    here): attitude, velocity and the biases are strongly correlated through gravity, and priors
    on each alone (the marginals without their cross terms) let the window drift along exactly
    the combinations the IMU and the camera had pinned (pitch against accelerometer bias and
    gyro bias, seen at 120 m AGL).
    """

    index: int
    pose: gtsam.Pose3
    velocity: FloatArray
    bias: gtsam.imuBias.ConstantBias
    covariance: FloatArray  # (15, 15): pose [rotation, translation] (body tangent), velocity, bias [accel, gyro]

    def factor(self) -> gtsam.NonlinearFactor:
        """The prior as one factor on X, V, B (a linear factor relinearised around these values)."""
        j = self.index
        information = np.linalg.inv(_regular(self.covariance))
        root = np.linalg.cholesky(0.5 * (information + information.T)).T  # information = root^T root
        linear = gtsam.JacobianFactor(
            X(j), root[:, 0:6], V(j), root[:, 6:9], B(j), root[:, 9:15], np.zeros(15), gtsam.noiseModel.Unit.Create(15)
        )
        point = gtsam.Values()
        point.insert(X(j), self.pose)
        point.insert(V(j), self.velocity)
        point.insert(B(j), self.bias)
        return gtsam.LinearContainerFactor(linear, point)


@dataclass
class _Keyframe:
    index: int
    t_ns: int
    pim: gtsam.PreintegratedCombinedMeasurements | None  # from the previous keyframe (None: the first)


class SlidingWindowBackend:
    """Keyframe states, IMU factors and landmarks in a fixed-lag window re-solved every keyframe."""

    def __init__(self, config: VioConfig, calibration: CameraCalibration, *, ground_height_m: float | None) -> None:
        self.config = config
        backend = config.backend
        self._K = gtsam.Cal3_S2(calibration.fx, calibration.fy, 0.0, calibration.cx, calibration.cy)
        mount = config.camera_mount
        self._body_P_camera = gtsam.Pose3(gtsam.Rot3(mount.R_body_camera), mount.t_body_camera_m)
        self._pixel_noise = gtsam.noiseModel.Robust.Create(
            gtsam.noiseModel.mEstimator.Huber.Create(1.345), gtsam.noiseModel.Isotropic.Sigma(2, backend.pixel_sigma)
        )
        self._ground = ground_height_m if backend.ground_plane_sigma_m > 0.0 else None
        self._init_ground = ground_height_m  # also where new landmarks start, prior or not
        self._ground_noise = gtsam.noiseModel.Diagonal.Sigmas(
            np.array([1e3, 1e3, max(backend.ground_plane_sigma_m, 1e-3)])
        )
        self._lm = gtsam.LevenbergMarquardtParams()
        self._lm.setMaxIterations(backend.max_iterations)
        self._lm.setRelativeErrorTol(1e-4)
        self._lm.setAbsoluteErrorTol(1e-6)
        self._keyframes: list[_Keyframe] = []
        self._values = gtsam.Values()  # keyframe states only; points live on their tracks
        self._prior: _Prior | None = None
        self._tracks: dict[int, _Track] = {}
        self._latest: KeyframeState | None = None
        self._marginals: gtsam.Marginals | None = None  # of the last solve (None: not invertible)
        self.failures = 0

    # ------------------------------------------------------------------ state
    @property
    def initialized(self) -> bool:
        """Whether a first keyframe has been placed."""
        return self._latest is not None

    @property
    def latest(self) -> KeyframeState:
        """The newest keyframe's estimate."""
        if self._latest is None:
            raise VioError("the VIO back end has no keyframe yet")
        return self._latest

    @property
    def keyframes_in_window(self) -> int:
        """Keyframes the window holds."""
        return len(self._keyframes)

    def landmarks(self) -> FloatArray:
        """The window's landmarks (N, 3), odom frame."""
        points = [track.point for track in self._tracks.values() if track.point is not None]
        return np.array(points).reshape(-1, 3)

    # ------------------------------------------------------------------ building the window
    def initialize(
        self,
        t_ns: int,
        pose: gtsam.Pose3,
        velocity: FloatArray,
        velocity_sigma: float,
        bias: gtsam.imuBias.ConstantBias,
        *,
        roll_pitch_sigma: float | None = None,
        height_sigma: float = PRIOR_POSITION_SIGMA_M,
        observations: dict[int, FloatArray] | None = None,
    ) -> None:
        """Start a window at ``t_ns`` with priors on the first keyframe (pose gauge, velocity, bias).

        x, y and yaw are gauge (fixed); so is the height by default (``height_sigma``): with the
        ground-plane prior it sets the scale, and the propagator dead-reckons it from rest to a few
        centimetres over a take-off. Freeing it against the ground plane let the scale collapse.
        """
        backend = self.config.backend
        rp = np.deg2rad(backend.initial_roll_pitch_sigma_deg) if roll_pitch_sigma is None else roll_pitch_sigma
        z_sigma = height_sigma
        # Pose3 tangent order: rotation (body), then translation (body); at start the body is near level.
        pose_sigmas = np.array([rp, rp, PRIOR_YAW_SIGMA_RAD, PRIOR_POSITION_SIGMA_M, PRIOR_POSITION_SIGMA_M, z_sigma])
        bias_sigmas = np.array([backend.initial_accel_bias_sigma] * 3 + [backend.initial_gyro_bias_sigma] * 3)
        velocity = np.asarray(velocity, dtype=np.float64)
        self._keyframes = [_Keyframe(0, t_ns, None)]
        self._values = gtsam.Values()
        self._values.insert(X(0), pose)
        self._values.insert(V(0), velocity)
        self._values.insert(B(0), bias)
        self._prior = _Prior(
            0, pose, velocity, bias, np.diag(np.concatenate([pose_sigmas, [velocity_sigma] * 3, bias_sigmas]) ** 2)
        )
        self._tracks = {}
        for feature_id, pixel in (observations or {}).items():
            self._tracks[feature_id] = _Track([(0, np.asarray(pixel, dtype=np.float64))])
        self._latest = KeyframeState(
            0, t_ns, pose, velocity, bias, np.diag(pose_sigmas**2), np.eye(3) * velocity_sigma**2
        )

    def add_keyframe(
        self, t_ns: int, pim: gtsam.PreintegratedCombinedMeasurements, observations: dict[int, FloatArray]
    ) -> UpdateReport:
        """Add keyframe ``t_ns`` tied to the last by ``pim``, with the features seen in it (ideal pixels)."""
        if self._latest is None:
            raise VioError("initialize() the back end before adding keyframes")
        start = time.perf_counter()
        previous = self._latest
        k = previous.index + 1
        self._keyframes.append(_Keyframe(k, t_ns, pim))
        predicted = pim.predict(gtsam.NavState(previous.pose, previous.velocity), previous.bias)
        self._values.insert(X(k), predicted.pose())
        self._values.insert(V(k), np.asarray(predicted.velocity(), dtype=np.float64))
        self._values.insert(B(k), previous.bias)
        for feature_id, pixel in observations.items():
            self._tracks.setdefault(feature_id, _Track()).observations.append((k, np.asarray(pixel, dtype=np.float64)))
        dropped = self._slide(t_ns)
        try:
            self._solve(with_vision=True)
            rebuilt = False
        except RuntimeError:  # IndeterminantLinearSystemException and friends: gtsam raises RuntimeError
            self.failures += 1
            for track in self._tracks.values():  # every landmark of the window dropped
                track.observations = [(i, p) for i, p in track.observations if i == k]
                track.point = None
            try:
                self._solve(with_vision=False)
            except RuntimeError as exc:
                raise SmootherFailureError(f"the smoother failed twice at keyframe {k}: {exc}") from exc
            rebuilt = True
        self._drop_outliers()
        self._forget_dead_tracks()
        self._latest = self._read_state(k, t_ns)
        landmarks = sum(1 for track in self._tracks.values() if track.point is not None)
        return UpdateReport((time.perf_counter() - start) * 1e3, landmarks, dropped, rebuilt)

    def _slide(self, t_ns: int) -> int:
        """Drop keyframes older than the lag; the new oldest takes a prior from the last solution's marginals."""
        horizon = t_ns - int(self.config.backend.lag_s * 1e9)
        leaving = [kf for kf in self._keyframes[:-2] if kf.t_ns < horizon]
        if not leaving:
            return 0
        oldest = self._keyframes[len(leaving)]
        j = oldest.index
        assert self._prior is not None
        try:
            if self._marginals is None:
                raise RuntimeError("the last solve had no marginals")
            covariance = _joint_covariance(self._marginals, [X(j), V(j), B(j)])
        except (RuntimeError, IndexError):  # no solved graph holds it: keep the old prior's spread
            covariance = self._prior.covariance
        self._prior = _Prior(
            j,
            self._values.atPose3(X(j)),
            np.asarray(self._values.atVector(V(j)), dtype=np.float64),
            self._values.atConstantBias(B(j)),
            covariance,
        )
        gone = {kf.index for kf in leaving}
        for kf in leaving:
            for key in (X(kf.index), V(kf.index), B(kf.index)):
                self._values.erase(key)
        self._keyframes = self._keyframes[len(leaving) :]
        self._keyframes[0] = _Keyframe(j, oldest.t_ns, None)  # its IMU factor ran to a dropped keyframe
        dropped = 0
        for track in self._tracks.values():
            before = len(track.observations)
            track.observations = [(i, p) for i, p in track.observations if i not in gone]
            dropped += before - len(track.observations)
        return dropped

    def _initial_point(self, track: _Track) -> FloatArray | None:
        """Where the first observation's ray meets the ground plane (None: it does not, ahead and near)."""
        index, pixel = track.observations[0]
        camera = self._values.atPose3(X(index)).compose(self._body_P_camera)
        ray = camera.rotation().matrix() @ np.array(
            [(pixel[0] - self._K.px()) / self._K.fx(), (pixel[1] - self._K.py()) / self._K.fy(), 1.0]
        )
        centre = np.asarray(camera.translation(), dtype=np.float64)
        ground = self._init_ground if self._init_ground is not None else centre[2] - 50.0
        if ray[2] > -1e-3:
            return None
        depth = (ground - centre[2]) / ray[2]
        if not 0.0 < depth * float(np.linalg.norm(ray)) < self.config.backend.landmark_distance_threshold_m:
            return None
        return np.asarray(centre + depth * ray, dtype=np.float64)

    def _solve(self, *, with_vision: bool) -> None:
        graph = gtsam.NonlinearFactorGraph()
        values = gtsam.Values(self._values)
        prior = self._prior
        assert prior is not None
        graph.add(prior.factor())
        for before, after in zip(self._keyframes, self._keyframes[1:], strict=False):
            assert after.pim is not None
            i, k = before.index, after.index
            graph.add(gtsam.CombinedImuFactor(X(i), V(i), X(k), V(k), B(i), B(k), after.pim))
        used: list[tuple[int, _Track]] = []
        for feature_id, track in self._tracks.items():
            if not with_vision or len(track.observations) < self.config.backend.min_observations:
                track.point = None
                continue
            point = track.point if track.point is not None else self._initial_point(track)
            if point is None:
                continue
            key = L(feature_id)
            values.insert(key, point)
            for i, pixel in track.observations:
                graph.add(
                    gtsam.GenericProjectionFactorCal3_S2(
                        pixel, self._pixel_noise, X(i), key, self._K, self._body_P_camera
                    )
                )
            if self._ground is not None:
                graph.add(gtsam.PriorFactorPoint3(key, np.array([0.0, 0.0, self._ground]), self._ground_noise))
            used.append((feature_id, track))
        result = gtsam.LevenbergMarquardtOptimizer(graph, values, self._lm).optimize()
        for kf in self._keyframes:
            i = kf.index
            self._values.update(X(i), result.atPose3(X(i)))
            self._values.update(V(i), result.atVector(V(i)))
            self._values.update(B(i), result.atConstantBias(B(i)))
        for feature_id, track in used:
            track.point = np.asarray(result.atPoint3(L(feature_id)), dtype=np.float64)
        try:  # once per solve: the newest keyframe's covariance now, the prior at the next slide
            self._marginals = gtsam.Marginals(graph, result)
        except RuntimeError:
            self._marginals = None

    def _drop_outliers(self) -> None:
        """Landmarks that reproject worse than the outlier threshold in any keyframe are dropped."""
        threshold = self.config.backend.outlier_threshold_px
        for track in self._tracks.values():
            if track.point is None:
                continue
            for i, pixel in track.observations:
                camera = gtsam.PinholeCameraCal3_S2(self._values.atPose3(X(i)).compose(self._body_P_camera), self._K)
                try:
                    projected = np.asarray(camera.project(track.point))
                except RuntimeError:  # behind the camera
                    projected = np.array([np.inf, np.inf])
                if not float(np.linalg.norm(projected - pixel)) <= threshold:
                    track.point = None
                    track.observations = []  # the feature is unreliable: forget it
                    break

    def _forget_dead_tracks(self) -> None:
        for fid in [fid for fid, track in self._tracks.items() if not track.observations]:
            del self._tracks[fid]

    def drop_feature_ids(self, alive: set[int]) -> None:
        """Tracks the front end lost that have too few observations to ever become a landmark are forgotten."""
        min_obs = self.config.backend.min_observations
        for fid in [f for f, t in self._tracks.items() if f not in alive and t.point is None]:
            if len(self._tracks[fid].observations) < min_obs:
                del self._tracks[fid]

    def _read_state(self, k: int, t_ns: int) -> KeyframeState:
        pose = self._values.atPose3(X(k))
        velocity = np.asarray(self._values.atVector(V(k)), dtype=np.float64)
        bias = self._values.atConstantBias(B(k))
        try:
            if self._marginals is None:
                raise RuntimeError("the last solve had no marginals")
            pose_cov = np.asarray(self._marginals.marginalCovariance(X(k)), dtype=np.float64)
            velocity_cov = np.asarray(self._marginals.marginalCovariance(V(k)), dtype=np.float64)
        except RuntimeError:  # marginals of an ill-conditioned window: keep the last ones
            assert self._latest is not None
            pose_cov, velocity_cov = self._latest.pose_covariance, self._latest.velocity_covariance
        return KeyframeState(k, t_ns, pose, velocity, bias, pose_cov, velocity_cov)


def _joint_covariance(marginals: gtsam.Marginals, keys: list[int]) -> FloatArray:
    """The joint marginal covariance of ``keys``, blocks in the order given."""
    joint = marginals.jointMarginalCovariance(keys)
    rows = [np.hstack([np.asarray(joint.at(a, b), dtype=np.float64) for b in keys]) for a in keys]
    return np.asarray(np.vstack(rows), dtype=np.float64)


def _regular(covariance: FloatArray) -> FloatArray:
    """A symmetric covariance with a floor on its eigenvalues: a prior must stay invertible and its
    information within what a Cholesky of the window can take next to the IMU and pixel terms."""
    symmetric = 0.5 * (np.asarray(covariance) + np.asarray(covariance).T)
    values, vectors = np.linalg.eigh(symmetric)
    return np.asarray((vectors * np.maximum(values, COVARIANCE_FLOOR)) @ vectors.T)
