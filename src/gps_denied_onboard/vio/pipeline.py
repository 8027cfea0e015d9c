"""The VIO facade: IMU intake, the front end, keyframe policy, the back end and health.

Threading: ``add_imu`` only appends to a locked buffer (the node calls it from its IMU callback
while a worker thread runs ``add_image``), so image processing never blocks IMU intake.

Initialisation and re-initialisation share one idea: an inertial propagator is always running.
While the IMU says the vehicle is at rest it re-anchors on gravity (roll, pitch, gyro bias, zero
velocity); once the vehicle moves it dead-reckons from the last anchor; while the smoother runs it
follows the newest keyframe. When the camera can start (or restart) the smoother, the window's
first keyframe is placed at the propagated state with a velocity prior as wide as the time since
the last anchor warrants. So a take-off after a rest starts with a good velocity, a restart
after LOST keeps the odom frame continuous, and a start in motion with no rest begins wide.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import gtsam
import numpy as np
import numpy.typing as npt

from gps_denied_onboard.common.inertial import GRAVITY_MPS2
from gps_denied_onboard.geometry.transforms import roll_pitch_from_specific_force
from gps_denied_onboard.vio.backend import (
    KeyframeState,
    SlidingWindowBackend,
    SmootherFailureError,
    preintegration_params,
)
from gps_denied_onboard.vio.config import VioConfig
from gps_denied_onboard.vio.errors import VioInputError
from gps_denied_onboard.vio.frontend import FeatureTracker, TrackResult
from gps_denied_onboard.vio.types import CameraCalibration, FrameResult, VioHealthReport, VioOdometry, VioState

FloatArray = npt.NDArray[np.float64]
NS_PER_S = 1_000_000_000
IMU_BUFFER_S = 30.0  # IMU history kept (a frame older than this has no IMU left)
MOVING_ROLL_PITCH_SIGMA_DEG = 5.0  # gravity from a moving vehicle's mean specific force is rougher
VELOCITY_SIGMA_GROWTH_MPS_PER_S = 0.25  # dead-reckoned velocity uncertainty growth (accel bias ~ 20 mg)
DEGRADED_COVARIANCE_SCALE = 4.0


@dataclass(frozen=True)
class _Imu:
    t_ns: int
    accel: FloatArray
    gyro: FloatArray


class _Propagator:
    """Dead-reckoned navigation state in odom, re-anchored at rest or on keyframes."""

    def __init__(self, params: gtsam.PreintegrationCombinedParams) -> None:
        self.params = params
        self.state: gtsam.NavState | None = None
        self.bias = gtsam.imuBias.ConstantBias()
        self.t_ns = 0
        self.anchor_t_ns = 0
        self.anchor_velocity_sigma = 0.0
        self.anchor_position = np.zeros(3)  # where the last anchor put the body (odom)

    def anchor(self, t_ns: int, state: gtsam.NavState, bias: gtsam.imuBias.ConstantBias, velocity_sigma: float) -> None:
        self.state, self.bias, self.t_ns = state, bias, t_ns
        self.anchor_t_ns, self.anchor_velocity_sigma = t_ns, velocity_sigma
        self.anchor_position = np.asarray(state.position(), dtype=np.float64)

    def propagate(self, samples: list[_Imu], until_ns: int) -> None:
        if self.state is None or until_ns <= self.t_ns:
            return
        pim = gtsam.PreintegratedCombinedMeasurements(self.params, self.bias)
        _integrate(pim, samples, self.t_ns, until_ns)
        if pim.deltaTij() > 0.0:
            self.state = pim.predict(self.state, self.bias)
        self.t_ns = until_ns

    def velocity_sigma(self, t_ns: int) -> float:
        return self.anchor_velocity_sigma + VELOCITY_SIGMA_GROWTH_MPS_PER_S * max(
            0.0, (t_ns - self.anchor_t_ns) / NS_PER_S
        )


class _RestAverage:
    """Mean specific force and rate over one stretch at rest: the reference that motion departs from."""

    def __init__(self) -> None:
        self.count = 0
        self._accel = np.zeros(3)
        self._gyro = np.zeros(3)

    def add(self, accel: FloatArray, gyro: FloatArray) -> None:
        self.count += 1
        self._accel += accel
        self._gyro += gyro

    @property
    def accel(self) -> FloatArray:
        return np.asarray(self._accel / max(self.count, 1), dtype=np.float64)

    @property
    def gyro(self) -> FloatArray:
        return np.asarray(self._gyro / max(self.count, 1), dtype=np.float64)


def _integrate(pim: gtsam.PreintegratedCombinedMeasurements, samples: list[_Imu], from_ns: int, to_ns: int) -> None:
    """Integrate the IMU over [from_ns, to_ns], each sample held until the next (zero-order hold)."""
    if to_ns <= from_ns or not samples:
        return
    for i, sample in enumerate(samples):
        start = max(sample.t_ns, from_ns)
        end = samples[i + 1].t_ns if i + 1 < len(samples) else to_ns
        end = min(end, to_ns)
        if i == 0 and sample.t_ns > from_ns:
            start = from_ns  # the first sample also covers the short lead-in
        if end > start:
            pim.integrateMeasurement(sample.accel, sample.gyro, (end - start) / NS_PER_S)


def gravity_aligned_rotation(mean_accel: FloatArray) -> gtsam.Rot3:
    """R_odom_body with yaw 0 whose z axis is the measured up (specific force at rest points up)."""
    roll, pitch = roll_pitch_from_specific_force(mean_accel)
    return gtsam.Rot3.Ypr(0.0, pitch, roll)


class VisualInertialOdometry:
    """Monocular VIO: feed IMU samples and camera frames in stamp order; each frame yields health and odometry."""

    def __init__(self, config: VioConfig | None = None) -> None:
        self.config = config or VioConfig()
        self._imu_lock = threading.Lock()
        self._imu: deque[_Imu] = deque()
        self._imu_last_ns: int | None = None
        self._params = preintegration_params(self.config)
        self._calibration: CameraCalibration | None = None
        self._tracker: FeatureTracker | None = None
        self._backend: SlidingWindowBackend | None = None
        self._propagator = _Propagator(self._params)
        self._state = VioState.INITIALIZING
        self._reason = "waiting for camera_info"
        self._reinit_count = 0
        self._starts = 0
        self._last_frame_ns: int | None = None
        self._bad_frames = 0
        self._good_frames = 0
        self._keyframes_since_start = 0
        self._kf_features: dict[int, FloatArray] = {}  # ideal pixels at the last keyframe
        self._kf_R_odom_camera: FloatArray | None = None
        self._pim: gtsam.PreintegratedCombinedMeasurements | None = None
        self._pim_end_ns = 0
        self._kf_stamps: deque[int] = deque()
        self._landmarks: FloatArray = np.zeros((0, 3))
        self._last_gyro = np.zeros(3)
        self._at_rest = True  # until the IMU says otherwise (power-on on the ground)
        self._rested = False  # odom was anchored at rest on the take-off ground
        self._rest = _RestAverage()  # IMU means over this rest so far
        self._good_frames = 0

    # ------------------------------------------------------------------ properties
    @property
    def state(self) -> VioState:
        """The health state after the last frame."""
        return self._state

    @property
    def reinit_count(self) -> int:
        """Re-initialisations after LOST (or a calibration change) since start."""
        return self._reinit_count

    @property
    def calibration(self) -> CameraCalibration | None:
        """The camera calibration in use."""
        return self._calibration

    # ------------------------------------------------------------------ intake
    def set_calibration(self, calibration: CameraCalibration) -> bool:
        """Use ``calibration``; True when it changed (tracking restarts, the odom frame is kept)."""
        if not isinstance(calibration, CameraCalibration):
            raise VioInputError(f"calibration must be a CameraCalibration, got {type(calibration).__name__}")
        current = self._calibration
        if current is not None and _same_calibration(current, calibration):
            return False
        self._calibration = calibration
        self._tracker = FeatureTracker(self.config.frontend, calibration)
        if self._backend is not None and self._backend.initialized:
            self._lose("camera calibration changed")
        self._backend = None
        if self._state == VioState.INITIALIZING and self._reason == "waiting for camera_info":
            self._reason = "waiting for IMU"
        return True

    def add_imu(self, t_ns: int, accel_mps2: npt.ArrayLike, gyro_radps: npt.ArrayLike) -> bool:
        """Buffer one IMU sample (base_link axes). False when its stamp is not after the last one."""
        if isinstance(t_ns, bool) or not isinstance(t_ns, int | np.integer):
            raise VioInputError(f"IMU stamp must be integer nanoseconds, got {t_ns!r}")
        accel = np.asarray(accel_mps2, dtype=np.float64)
        gyro = np.asarray(gyro_radps, dtype=np.float64)
        if accel.shape != (3,) or gyro.shape != (3,):
            raise VioInputError(f"IMU sample needs 3-vectors, got accel {accel.shape} and gyro {gyro.shape}")
        if not (np.all(np.isfinite(accel)) and np.all(np.isfinite(gyro))):
            raise VioInputError(f"IMU sample at {t_ns} has a non-finite value: accel {accel}, gyro {gyro}")
        with self._imu_lock:
            if self._imu_last_ns is not None and t_ns <= self._imu_last_ns:
                return False
            self._imu.append(_Imu(int(t_ns), accel, gyro))
            self._imu_last_ns = int(t_ns)
            horizon = int(t_ns) - int(IMU_BUFFER_S * NS_PER_S)
            while self._imu and self._imu[0].t_ns < horizon:
                self._imu.popleft()
        return True

    def imu_covers(self, t_ns: int) -> bool:
        """Whether IMU samples up to ``t_ns`` have arrived (a caller may wait briefly for them)."""
        with self._imu_lock:
            return self._imu_last_ns is not None and self._imu_last_ns >= t_ns

    def _imu_between(self, from_ns: int, to_ns: int) -> list[_Imu]:
        """Samples from the last one at or before ``from_ns`` through ``to_ns``.

        Walks back from the newest sample: frames ask for the last fraction of a second, and
        copying the whole 30 s buffer on every call would put O(buffer) work on the hot path.
        """
        picked: list[_Imu] = []
        with self._imu_lock:
            for sample in reversed(self._imu):
                if sample.t_ns > to_ns:
                    continue
                picked.append(sample)
                if sample.t_ns <= from_ns:
                    break
        picked.reverse()
        return picked

    # ------------------------------------------------------------------ frames
    def add_image(self, t_ns: int, image: npt.NDArray[np.uint8]) -> FrameResult:
        """Process one mono8 frame stamped ``t_ns`` (mid-exposure)."""
        start = time.perf_counter()
        if isinstance(t_ns, bool) or not isinstance(t_ns, int | np.integer):
            raise VioInputError(f"image stamp must be integer nanoseconds, got {t_ns!r}")
        t_ns = int(t_ns)
        image = self._checked_image(image)
        if self._calibration is None or self._tracker is None:
            return self._report(t_ns, start, None, reason_override="waiting for camera_info")
        if self._last_frame_ns is not None and t_ns <= self._last_frame_ns:
            return self._report(
                t_ns,
                start,
                None,
                reason_override=f"image stamp {t_ns} not after the last frame's {self._last_frame_ns}: dropped",
            )
        previous_ns = self._last_frame_ns
        self._last_frame_ns = t_ns
        samples = self._imu_between(previous_ns if previous_ns is not None else t_ns - NS_PER_S, t_ns)
        gap = self._imu_gap(samples, previous_ns, t_ns)
        self._propagator.propagate(self._imu_between(self._propagator.t_ns, t_ns), t_ns)
        if samples:
            self._last_gyro = samples[-1].gyro
        R_cur_prev = self._camera_rotation(samples, previous_ns, t_ns) if previous_ns is not None and not gap else None
        track = self._tracker.process(image, R_cur_prev)
        self._update_rest_anchor(t_ns, track)
        stage = {"track": track.track_ms, "ransac": track.ransac_ms, "detect": track.detect_ms, "smoother": 0.0}
        if gap:
            if self._backend is not None and self._backend.initialized:
                self._lose(gap)
            self._reason = gap
            return self._report(t_ns, start, track, stage=stage)
        odometry, keyframe = self._estimate(t_ns, track, stage)
        return self._report(t_ns, start, track, odometry=odometry, keyframe=keyframe, stage=stage)

    def _checked_image(self, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
            shape = getattr(image, "shape", None)
            dtype = getattr(image, "dtype", type(image).__name__)
            raise VioInputError(f"image must be a 2-D uint8 (mono8) array, got {dtype} of shape {shape}")
        cal = self._calibration
        if cal is not None and image.shape != (cal.height, cal.width):
            raise VioInputError(
                f"image is {image.shape[1]}x{image.shape[0]} but camera_info says {cal.width}x{cal.height}"
            )
        return np.ascontiguousarray(image)

    def _imu_gap(self, samples: list[_Imu], previous_ns: int | None, t_ns: int) -> str:
        limit = int(self.config.health.max_imu_gap_s * NS_PER_S)
        if not samples or t_ns - samples[-1].t_ns > limit:
            return "no IMU samples up to this frame"
        if previous_ns is not None:
            stamps = np.array([s.t_ns for s in samples] + [t_ns])
            stamps[0] = max(int(stamps[0]), previous_ns)
            largest = int(np.max(np.diff(stamps))) if len(stamps) > 1 else 0
            if largest > limit:
                return f"IMU gap of {largest / 1e6:.0f} ms (> {limit / 1e6:.0f} ms)"
        return ""

    def _update_rest_anchor(self, t_ns: int, track: TrackResult) -> None:
        """At rest (and not tracking): re-anchor the propagator on gravity, zero velocity and the biases.

        The IMU alone cannot tell rest from a steady climb or cruise (no acceleration either way):
        rest also needs the image to stand still where it can be tracked. A gentle take-off can pass
        the variance tests for a while, so rest also needs the mean specific force to stay where it
        was at the last rest (``static_accel_shift_mps2``), and the anchor is put at the start of
        the IMU window, not its end: motion that began inside the window is integrated, not zeroed.
        """
        if self._backend is not None and self._backend.initialized:
            return
        health = self.config.health
        window = self._imu_between(t_ns - int(health.init_window_s * NS_PER_S), t_ns)
        if len(window) < 10:
            return
        accel = np.array([s.accel for s in window])
        gyro = np.array([s.gyro for s in window])
        mean_accel = accel.mean(axis=0)
        imu_static = (
            float(np.max(accel.std(axis=0))) < health.static_accel_std_mps2
            and float(np.max(gyro.std(axis=0))) < health.static_gyro_std_radps
            and abs(float(np.linalg.norm(mean_accel)) - GRAVITY_MPS2) < 0.5
            and (
                self._rest.count == 0
                or float(np.linalg.norm(mean_accel - self._rest.accel)) < health.static_accel_shift_mps2
            )
        )
        image_still = (
            track.tracked >= health.min_features_ok
            and track.inlier_ratio >= health.start_inlier_ratio
            and track.median_flow_px < health.static_flow_px
        )
        # At rest from power-on until the IMU first moves; after that, rest needs the image too.
        at_rest = imu_static and (self._at_rest or image_still)
        self._at_rest = at_rest
        propagator = self._propagator
        if not at_rest:
            self._rest = _RestAverage()  # a later rest (landed elsewhere, other tilt) has its own reference
        if at_rest:
            rest = self._rest
            rest.add(mean_accel, gyro.mean(axis=0))
            rotation = gravity_aligned_rotation(rest.accel)
            if propagator.state is not None:  # keep the heading dead-reckoned so far (odom yaw is arbitrary once)
                yaw = propagator.state.attitude().yaw()
                rotation = gtsam.Rot3.Ypr(yaw, rotation.pitch(), rotation.roll())
            # Along gravity the accelerometer bias is the specific force's excess over g; across it,
            # bias and tilt cannot be told apart at rest (the tilt absorbs it), so it stays zero.
            norm = float(np.linalg.norm(rest.accel))
            accel_bias = (norm - GRAVITY_MPS2) * rest.accel / norm
            bias = gtsam.imuBias.ConstantBias(accel_bias, rest.gyro)
            start_ns = window[0].t_ns
            position = propagator.anchor_position if propagator.state is not None else np.zeros(3)
            propagator.anchor(start_ns, gtsam.NavState(rotation, position, np.zeros(3)), bias, 0.0)
            propagator.propagate(window, t_ns)
            self._rested = self._rested or self._starts == 0
        elif propagator.state is None:
            # Never seen at rest: gravity from the mean specific force, velocity unknown.
            rotation = gravity_aligned_rotation(mean_accel)
            sigma = self.config.backend.moving_velocity_sigma_mps
            propagator.anchor(
                t_ns, gtsam.NavState(rotation, np.zeros(3), np.zeros(3)), gtsam.imuBias.ConstantBias(), sigma
            )

    def _camera_rotation(self, samples: list[_Imu], previous_ns: int, t_ns: int) -> FloatArray:
        """R_cur_prev of the optical frame from the bias-corrected gyro between two frames."""
        pim = gtsam.PreintegratedCombinedMeasurements(self._params, self._propagator.bias)
        _integrate(pim, samples, previous_ns, t_ns)
        R_prev_cur_body = pim.deltaRij().matrix() if pim.deltaTij() > 0 else np.eye(3)
        R_bc = self.config.camera_mount.R_body_camera
        return np.asarray(R_bc.T @ R_prev_cur_body.T @ R_bc)

    # ------------------------------------------------------------------ estimation
    def _estimate(  # noqa: PLR0911, PLR0912, PLR0915  # one health state machine, read top to bottom
        self, t_ns: int, track: TrackResult, stage: dict[str, float]
    ) -> tuple[VioOdometry | None, bool]:
        assert self._calibration is not None
        health = self.config.health
        features = len(track.ids)
        tracking = not track.quality.reason and (
            track.tracked >= health.min_features_tracking or features >= health.min_features_ok
        )
        running = self._backend is not None and self._backend.initialized
        if not running:
            if self._propagator.state is None:
                self._reason = "waiting for IMU to align gravity"
                return None, False
            good = (
                not track.quality.reason
                and track.tracked >= health.min_features_ok
                and track.inlier_ratio >= health.start_inlier_ratio
            )
            self._good_frames = self._good_frames + 1 if good else 0
            if self._good_frames < health.start_frames:
                self._reason = track.quality.reason or (
                    f"waiting for steady tracking to start: {track.tracked} features tracked, "
                    f"inlier ratio {track.inlier_ratio:.2f} ({self._good_frames}/{health.start_frames} good frames)"
                )
                if self._state != VioState.LOST:
                    self._state = VioState.INITIALIZING
                return None, False
            self._start(t_ns, track)
            return None, True
        assert self._backend is not None
        if not tracking:
            self._bad_frames += 1
            if self._bad_frames >= health.lost_after_frames:
                self._lose(track.quality.reason or f"tracking lost: {track.tracked} features tracked")
                return None, False
        else:
            self._bad_frames = 0
        keyframe = self._is_keyframe(t_ns, track)
        assert self._pim is not None
        _integrate(self._pim, self._imu_between(self._pim_end_ns, t_ns), self._pim_end_ns, t_ns)
        self._pim_end_ns = t_ns
        if keyframe:
            observations = {int(i): p for i, p in zip(track.ids, track.ideal_px, strict=True)} if tracking else {}
            try:
                report = self._backend.add_keyframe(t_ns, self._pim, observations)
            except SmootherFailureError as exc:
                self._lose(f"smoother failure: {exc}")
                return None, False
            stage["smoother"] = report.smoother_ms
            self._backend.drop_feature_ids({int(i) for i in track.ids})
            latest = self._backend.latest
            self._after_keyframe(t_ns, track, latest)
            nav = gtsam.NavState(latest.pose, latest.velocity)
            bias = latest.bias
        else:
            latest = self._backend.latest
            nav = self._pim.predict(gtsam.NavState(latest.pose, latest.velocity), latest.bias)
            bias = latest.bias
        speed = float(np.linalg.norm(nav.velocity()))
        if not math.isfinite(speed) or speed > health.max_speed_mps:
            self._lose(f"divergence: estimated speed {speed:.1f} m/s > {health.max_speed_mps:g}")
            return None, keyframe
        self._propagator.anchor(t_ns, nav, bias, math.sqrt(float(np.max(np.diag(latest.velocity_covariance)))))
        degraded = (
            not tracking or track.tracked < health.min_features_ok or track.inlier_ratio < health.min_inlier_ratio
        )
        if self._keyframes_since_start < self.config.backend.init_keyframes:
            self._state, self._reason = VioState.INITIALIZING, "optimising the first keyframes"
        elif degraded:
            self._state = VioState.DEGRADED
            self._reason = track.quality.reason or (
                f"{track.tracked} features tracked (< {health.min_features_ok})"
                if track.tracked < health.min_features_ok
                else f"inlier ratio {track.inlier_ratio:.2f} (< {health.min_inlier_ratio:g})"
            )
        else:
            self._state, self._reason = VioState.OK, ""
        if self._state == VioState.INITIALIZING:
            return None, keyframe
        return self._odometry(t_ns, nav, bias, latest, degraded), keyframe

    def _start(self, t_ns: int, track: TrackResult) -> None:
        """Start the smoother at the propagated state (first start or restart after LOST)."""
        assert self._calibration is not None
        assert self._propagator.state is not None
        # The ground plane is known in odom only if odom was anchored at rest on the ground.
        ground = self.config.backend.ground_height_m if self._rested else None
        backend = SlidingWindowBackend(self.config, self._calibration, ground_height_m=ground)
        propagator = self._propagator
        sigma = min(propagator.velocity_sigma(t_ns), self.config.backend.moving_velocity_sigma_mps)
        sigma = max(sigma, self.config.backend.initial_velocity_sigma_mps)
        observations = {int(i): p for i, p in zip(track.ids, track.ideal_px, strict=True)}
        rp = None if propagator.anchor_velocity_sigma == 0.0 else math.radians(MOVING_ROLL_PITCH_SIGMA_DEG)
        state: Any = propagator.state
        backend.initialize(
            t_ns,
            state.pose(),
            np.asarray(state.velocity()),
            sigma,
            propagator.bias,
            roll_pitch_sigma=rp,
            observations=observations,
        )
        if self._starts > 0:
            self._reinit_count += 1
        self._starts += 1
        self._backend = backend
        self._bad_frames = 0
        self._keyframes_since_start = 0
        self._after_keyframe(t_ns, track, backend.latest)
        self._state, self._reason = VioState.INITIALIZING, "optimising the first keyframes"

    def _after_keyframe(self, t_ns: int, track: TrackResult, latest: KeyframeState) -> None:
        self._kf_features = {int(i): p for i, p in zip(track.ids, track.ideal_px, strict=True)}
        R_odom_body = latest.pose.rotation().matrix()
        self._kf_R_odom_camera = R_odom_body @ self.config.camera_mount.R_body_camera
        self._pim = gtsam.PreintegratedCombinedMeasurements(self._params, latest.bias)
        self._pim_end_ns = t_ns
        self._keyframes_since_start += 1
        self._kf_stamps.append(t_ns)
        assert self._backend is not None
        self._landmarks = self._backend.landmarks()

    def _is_keyframe(self, t_ns: int, track: TrackResult) -> bool:
        config = self.config.keyframe
        since = (t_ns - self._kf_stamps[-1]) / NS_PER_S if self._kf_stamps else math.inf
        if since < config.min_interval_s:
            return False
        if since >= config.max_interval_s:
            return True
        common = [i for i, fid in enumerate(track.ids) if int(fid) in self._kf_features]
        if len(self._kf_features) and len(common) < config.min_tracked_ratio * len(self._kf_features):
            return True
        if not common or self._kf_R_odom_camera is None or self._pim is None:
            return False
        # Parallax with the rotation since the keyframe removed (the gyro's, via the running preintegration).
        R_bc = self.config.camera_mount.R_body_camera
        R_kf_cur_cam = R_bc.T @ self._pim.deltaRij().matrix() @ R_bc
        cal = self._calibration
        assert cal is not None
        current = track.ideal_px[common]
        rays = cal.bearings(current) @ R_kf_cur_cam.T  # current rays expressed in the keyframe's camera
        ahead = rays[:, 2] > 1e-3
        if not np.any(ahead):
            return True
        derotated = cal.project_ideal(rays[ahead])
        at_kf = np.array([self._kf_features[int(track.ids[i])] for i in np.asarray(common)[ahead]])
        parallax = float(np.median(np.linalg.norm(derotated - at_kf, axis=1)))
        return parallax >= config.min_parallax_px

    def _lose(self, reason: str) -> None:
        """LOST: stop the smoother; the propagator dead-reckons until the camera can restart it."""
        self._backend = None
        self._pim = None
        self._kf_features = {}
        self._kf_stamps.clear()
        self._landmarks = np.zeros((0, 3))
        self._state, self._reason = VioState.LOST, reason
        self._bad_frames = 0
        self._good_frames = 0

    # ------------------------------------------------------------------ outputs
    def _odometry(
        self, t_ns: int, nav: gtsam.NavState, bias: gtsam.imuBias.ConstantBias, latest: KeyframeState, degraded: bool
    ) -> VioOdometry:
        rotation = nav.attitude().matrix()
        # GTSAM's pose covariance is [rotation, translation] in the body tangent; ROS wants
        # [translation, rotation] in odom: rotate both blocks by R and swap them.
        order = [3, 4, 5, 0, 1, 2]
        cov = latest.pose_covariance[np.ix_(order, order)]
        jacobian = np.zeros((6, 6))
        jacobian[:3, :3] = rotation
        jacobian[3:, 3:] = rotation
        pose_cov = jacobian @ cov @ jacobian.T
        dt = (t_ns - latest.t_ns) / NS_PER_S
        imu = self.config.imu
        growth = np.zeros((6, 6))
        growth[:3, :3] = np.eye(3) * (latest.velocity_covariance.trace() / 3.0) * dt**2
        growth[3:, 3:] = np.eye(3) * imu.gyro_noise_density**2 * max(dt, 0.0)
        pose_cov = pose_cov + growth
        velocity_body = rotation.T @ np.asarray(nav.velocity())
        twist_cov = np.zeros((6, 6))
        twist_cov[:3, :3] = (
            rotation.T @ latest.velocity_covariance @ rotation + np.eye(3) * imu.accel_noise_density**2 * 10.0
        )
        twist_cov[3:, 3:] = np.eye(3) * (
            imu.gyro_noise_density**2 * 200.0 + self.config.backend.initial_gyro_bias_sigma**2 * 0.01
        )
        if degraded:
            pose_cov *= DEGRADED_COVARIANCE_SCALE
            twist_cov *= DEGRADED_COVARIANCE_SCALE
        pose_cov = 0.5 * (pose_cov + pose_cov.T)
        twist_cov = 0.5 * (twist_cov + twist_cov.T)
        q: Any = nav.attitude().toQuaternion()
        return VioOdometry(
            t_ns,
            np.asarray(nav.position(), dtype=np.float64),
            np.array([q.w(), q.x(), q.y(), q.z()]),
            velocity_body,
            self._last_gyro - np.asarray(bias.gyroscope()),
            pose_cov,
            twist_cov,
        )

    def _report(
        self,
        t_ns: int,
        start: float,
        track: TrackResult | None,
        *,
        odometry: VioOdometry | None = None,
        keyframe: bool = False,
        stage: dict[str, float] | None = None,
        reason_override: str | None = None,
    ) -> FrameResult:
        while self._kf_stamps and self._kf_stamps[0] < t_ns - NS_PER_S:
            self._kf_stamps.popleft()
        bias = (
            self._backend.latest.bias
            if self._backend is not None and self._backend.initialized
            else self._propagator.bias
        )
        total_ms = (time.perf_counter() - start) * 1e3
        stage = dict(stage or {})
        stage["total"] = total_ms
        health = VioHealthReport(
            t_ns=t_ns,
            state=self._state,
            reason=reason_override if reason_override is not None else self._reason,
            tracked_features=track.tracked if track is not None else 0,
            inlier_ratio=track.inlier_ratio if track is not None else 0.0,
            keyframe_rate_hz=float(len(self._kf_stamps)),
            accel_bias_mps2=np.asarray(bias.accelerometer(), dtype=np.float64),
            gyro_bias_radps=np.asarray(bias.gyroscope(), dtype=np.float64),
            processing_latency_ms=total_ms,
            reinit_count=self._reinit_count,
        )
        landmarks = self._landmarks if keyframe else np.zeros((0, 3))
        return FrameResult(health, odometry, landmarks, keyframe, stage)


def _same_calibration(a: CameraCalibration, b: CameraCalibration) -> bool:
    return (
        a.width == b.width
        and a.height == b.height
        and a.distortion_model == b.distortion_model
        and np.array_equal(a.K, b.K)
        and a.D == b.D
    )
