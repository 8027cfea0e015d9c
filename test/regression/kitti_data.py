"""The real KITTI IMU + GPS sequence that ships with GTSAM's Python wheel (``gtsam/Data``), the
denial windows the regression test and the estimator benchmark withhold GPS in, and the run of
the sequence through the StateEstimator facade they share.

Files (format as read by GTSAM's ``examples/IMUKittiExampleGPS.py``):
- ``KittiEquivBiasedImu.txt``: ``Time dt accelX accelY accelZ omegaX omegaY omegaZ``, ~100 Hz, in
  the vehicle frame x forward, y left, z up (FLU, as base_link): at rest accelZ reads +g.
- ``KittiEquivBiasedImu_metadata.txt``: body-IMU extrinsics (identity) and the noise sigmas.
- ``KittiGps_converted.txt``: ``Time,X,Y,Z``, 1 Hz, local metres (east, north, up).
The first IMU row closes a 46534 s "interval" from time zero and the second a 1.9 s gap: the
usable stream starts at the third row.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

IMU_FILE = "KittiEquivBiasedImu.txt"
METADATA_FILE = "KittiEquivBiasedImu_metadata.txt"
GPS_FILE = "KittiGps_converted.txt"
# The one near-standstill of the drive (GPS speed 0.04 m/s between fixes 55 and 56): the only
# place static alignment (what the facade does at start-up) is physically valid.
STANDSTILL_GPS_INDEX = 55
DENIAL_LENGTHS_S = (5.0, 10.0, 30.0)


@dataclass(frozen=True)
class KittiNoise:
    """The metadata's sigmas, read as GTSAM's example does: continuous-time densities."""

    accel_sigma: float
    gyro_sigma: float
    integration_sigma: float
    accel_bias_sigma: float
    gyro_bias_sigma: float
    average_dt_s: float


@dataclass(frozen=True)
class KittiSequence:
    """IMU and GPS on one clock (seconds since the first usable IMU sample)."""

    imu_t_s: FloatArray  # (N,)
    accel_mps2: FloatArray  # (N, 3) base_link FLU specific force
    gyro_radps: FloatArray  # (N, 3)
    gps_t_s: FloatArray  # (M,)
    gps_position_m: FloatArray  # (M, 3) local ENU metres
    noise: KittiNoise
    t0_s: float  # file time of imu_t_s == 0

    def gps_velocity_mps(self, index: int) -> FloatArray:
        """Mean velocity between GPS fixes ``index`` and ``index + 1`` (a car moves along its heading)."""
        dt = self.gps_t_s[index + 1] - self.gps_t_s[index]
        return np.asarray((self.gps_position_m[index + 1] - self.gps_position_m[index]) / dt, dtype=np.float64)


def data_dir() -> Path | None:
    """GTSAM's example data directory, or None without the gtsam wheel or its Data files."""
    try:
        import gtsam
    except ImportError:
        return None
    try:
        path = Path(gtsam.findExampleDataFile(IMU_FILE)).parent
    except (RuntimeError, ValueError, OSError):
        return None
    return path if all((path / name).is_file() for name in (IMU_FILE, METADATA_FILE, GPS_FILE)) else None


def load(directory: Path) -> KittiSequence:
    """Read the three files; times become seconds since the first usable IMU sample."""
    imu = np.loadtxt(directory / IMU_FILE, skiprows=1)[2:]  # see the module docstring
    gps = np.loadtxt(directory / GPS_FILE, delimiter=",", skiprows=1)
    metadata = np.loadtxt(directory / METADATA_FILE, skiprows=1)
    body_t_imu = metadata[:6]
    if np.any(body_t_imu != 0.0):
        raise ValueError(f"{METADATA_FILE}: the IMU is not at the body origin/axes ({body_t_imu.tolist()})")
    noise = KittiNoise(*(float(v) for v in metadata[6:12]))
    t0 = float(imu[0, 0])
    return KittiSequence(
        imu_t_s=imu[:, 0] - t0,
        accel_mps2=np.ascontiguousarray(imu[:, 2:5]),
        gyro_radps=np.ascontiguousarray(imu[:, 5:8]),
        gps_t_s=gps[:, 0] - t0,
        gps_position_m=np.ascontiguousarray(gps[:, 1:4]),
        noise=noise,
        t0_s=t0,
    )


def heading_rad(velocity_mps: FloatArray) -> float:
    """ENU heading (0 = east, counter-clockwise) of a horizontal velocity."""
    return math.atan2(float(velocity_mps[1]), float(velocity_mps[0]))


# --------------------------------------------------------------------------- through the facade
# An arbitrary WGS84 point (Karlsruhe, where KITTI was recorded) at which the files' local metres
# are read as ENU: GPS fixes reach the estimator as latitude/longitude/height, like NavSatFix.
KITTI_PLANE_LLA = (49.0110, 8.4160, 115.0)
GPS_SIGMA_M = 0.3  # the GTSAM example's GPS variance 0.07 m^2 is sigma 0.26 m
ALIGNMENT_OFFSET_S = 0.25  # alignment starts this long after the standstill fix ...
ALIGNMENT_DURATION_S = 0.5  # ... and lasts this long (the car stands ~0.6 s)
# The span after the standstill where GPS and IMU agree: gyro-integrated heading vs GPS course
# 1.2 deg RMS. From ~145 s on (file time ~200-330 s) they disagree by 3-5 deg RMS and the GPS
# sits metres to 25 m off any IMU-consistent track, which every gate (rightly) refuses.
CONSISTENT_SPAN_S = 145.0
# Window starts (s after the standstill): the first after 20 s (the trust gate's 5 s dwell, then
# 15 s of fused GPS for the biases), then every length + 20 s; the third 30 s window gets only 10 s
# (5 of them dwell) to fit in the consistent span.
WINDOW_STARTS_S = {5.0: (20.0, 45.0, 70.0, 95.0, 120.0), 10.0: (20.0, 50.0, 80.0, 110.0), 30.0: (20.0, 70.0, 110.0)}


def denial_windows(length_s: float) -> tuple[tuple[float, float], ...]:
    """(begin, end) of the denial windows of one length, seconds after the standstill."""
    return tuple((begin, begin + length_s) for begin in WINDOW_STARTS_S[length_s])


@dataclass(frozen=True)
class WindowError:
    """Position error at the withheld fixes of one denial window (map ENU at the take-off origin)."""

    begin_s: float  # seconds after the standstill
    end_s: float
    horizontal_m: tuple[float, ...]  # at each withheld fix, in time order
    vertical_m: tuple[float, ...]

    @property
    def max_horizontal_m(self) -> float:
        """Largest horizontal error in the window (usually at its end)."""
        return max(self.horizontal_m)


@dataclass(frozen=True)
class FacadeRun:
    """One pass of the sequence through a StateEstimator with GPS withheld in some windows."""

    backend: str
    windows: tuple[WindowError, ...]
    fused_error_m: tuple[float, ...]  # horizontal error just before each fused fix (the prediction)
    imu_samples: int
    gnss_accepted: int
    gnss_rejected: int
    resets: int
    elapsed_s: float


def kitti_estimator_config(backend: str) -> Any:
    """The estimator configuration for KITTI: the metadata's IMU noise, an alignment fitting the standstill."""
    from gps_denied_onboard.common.inertial import ImuNoiseConfig
    from gps_denied_onboard.estimator.config import EstimatorConfig, InitConfig, TimingConfig

    return EstimatorConfig(
        backend=backend,
        # The metadata's sigmas as continuous densities (as GTSAM's example uses them); the bias
        # walks are the metadata's per-sample sigmas divided by sqrt(dt): per-second densities.
        imu=ImuNoiseConfig(
            accel_noise_density=0.01,
            gyro_noise_density=1.75e-4,
            accel_bias_random_walk=1.67e-3,
            gyro_bias_random_walk=2.9e-5,
        ),
        init=InitConfig(
            alignment_duration_s=ALIGNMENT_DURATION_S,
            velocity_sigma_mps=0.5,  # "standstill": the GPS says 0.04 m/s, the car creeps
            tilt_sigma_rad=0.05,  # the car settles after braking: the mean specific force is not pure gravity
        ),
        timing=TimingConfig(reorder_window_s=0.0),  # one ordered stream: fuse at once
    )


def run_facade(
    seq: KittiSequence,
    backend: str,
    windows_s: tuple[tuple[float, float], ...],
    *,
    wrap: Callable[[Any], Any] | None = None,
) -> FacadeRun:
    """Feed IMU + GPS (minus the windows, seconds after the standstill) through the facade.

    ``wrap`` receives the registry's backend and returns what the facade drives (a timing proxy)."""
    from gps_denied_onboard.common.inertial import ImuSample
    from gps_denied_onboard.estimator.core import StateEstimator
    from gps_denied_onboard.estimator.registry import create_backend
    from gps_denied_onboard.geometry.geodesy import LocalTangentPlane

    plane = LocalTangentPlane(*KITTI_PLANE_LLA)
    gps_lat, gps_lon, gps_alt = plane.geodetic_from_enu(seq.gps_position_m)
    standstill_s = float(seq.gps_t_s[STANDSTILL_GPS_INDEX])
    start_s = standstill_s + ALIGNMENT_OFFSET_S
    end_s = standstill_s + CONSISTENT_SPAN_S
    aligned_s = start_s + ALIGNMENT_DURATION_S
    origin_enu = np.array([np.interp(aligned_s, seq.gps_t_s, seq.gps_position_m[:, j]) for j in range(3)])
    origin = plane.geodetic_from_enu(origin_enu)
    course = seq.gps_position_m[STANDSTILL_GPS_INDEX + 3] - seq.gps_position_m[STANDSTILL_GPS_INDEX + 1]

    config = kitti_estimator_config(backend)
    fusion = create_backend(backend, config)
    estimator = StateEstimator(config, backend=wrap(fusion) if wrap is not None else fusion)
    estimator.set_takeoff_origin(
        float(origin[0]), float(origin[1]), float(origin[2]), 0.5, 0.5,
        yaw_rad=heading_rad(course), sigma_yaw_rad=0.1,
    )  # fmt: skip
    frame = estimator.origin
    assert frame is not None
    gps_map = frame.enu_from_geodetic(gps_lat, gps_lon, gps_alt)  # the fixes in the estimator's map frame
    covariance = np.eye(3) * GPS_SIGMA_M**2

    imu_index = np.nonzero((seq.imu_t_s >= start_s) & (seq.imu_t_s <= end_s))[0]
    gps_index = [i for i in range(len(seq.gps_t_s)) if aligned_s < seq.gps_t_s[i] <= end_s]
    withheld: dict[int, int] = {}  # gps index -> window number
    for i in gps_index:
        since_s = seq.gps_t_s[i] - standstill_s
        for w, (begin, end) in enumerate(windows_s):
            if begin <= since_s < end:
                withheld[i] = w
    errors: list[list[tuple[float, float]]] = [[] for _ in windows_s]
    fused_error: list[float] = []
    pending = list(gps_index)
    started = time.perf_counter()
    for k in imu_index:
        t_s = float(seq.imu_t_s[k])
        t_ns = round(t_s * 1e9)
        estimator.add_imu(ImuSample(t_ns, seq.accel_mps2[k], seq.gyro_radps[k]))
        while pending and seq.gps_t_s[pending[0]] <= t_s:
            i = pending.pop(0)
            estimate = estimator.estimate()
            if estimate is None:
                continue
            # The estimate is at this IMU sample, <= 10 ms after the fix: step it back with its velocity.
            state = estimate.state
            at_fix = state.position_m - state.velocity_mps * (t_s - float(seq.gps_t_s[i]))
            error = at_fix - gps_map[i]
            if i in withheld:
                errors[withheld[i]].append((float(np.hypot(error[0], error[1])), float(abs(error[2]))))
                continue
            fused_error.append(float(np.hypot(error[0], error[1])))
            estimator.add_gnss(
                round(float(seq.gps_t_s[i]) * 1e9), float(gps_lat[i]), float(gps_lon[i]), float(gps_alt[i]),
                covariance, fix_status=0,
            )  # fmt: skip
    elapsed_s = time.perf_counter() - started
    status = estimator.status()
    return FacadeRun(
        backend=backend,
        windows=tuple(
            WindowError(begin, end, tuple(h for h, _ in e), tuple(v for _, v in e))
            for (begin, end), e in zip(windows_s, errors, strict=True)
        ),
        fused_error_m=tuple(fused_error),
        imu_samples=status.imu_samples,
        gnss_accepted=status.gnss_accepted,
        gnss_rejected=status.gnss_rejected,
        resets=status.resets,
        elapsed_s=elapsed_s,
    )
