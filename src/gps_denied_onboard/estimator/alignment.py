"""Static alignment at rest: roll/pitch from the mean specific force, the gyro bias from the mean rate.

The window slides until its last ``init.alignment_duration_s`` is all at rest (accelerometer and
gyroscope spread within ``init.max_*_std`` and the mean specific force within
``REST_GRAVITY_TOLERANCE_MPS2`` of g); earth rate is ignored (below a MEMS gyro's bias stability).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from gps_denied_onboard.common.inertial import GRAVITY_MPS2, ImuSample
from gps_denied_onboard.estimator.backend import NavState
from gps_denied_onboard.estimator.config import InitConfig
from gps_denied_onboard.geometry.transforms import roll_pitch_from_specific_force

NS_PER_S = 1_000_000_000
REST_GRAVITY_TOLERANCE_MPS2 = 1.0  # a mean specific force this far from g is not rest (free fall, wrong units)


@dataclass(frozen=True)
class Waiting:
    """The window is full but not at rest: what was measured (for the alignment_waiting event)."""

    accel_std_mps2: float
    gyro_std_radps: float
    gravity_error_mps2: float


@dataclass(frozen=True)
class Aligned:
    """Alignment done: the initial state (prior covariance included) and what it was computed from."""

    state: NavState
    roll_rad: float
    pitch_rad: float
    samples: int


class StaticAlignment:
    """Collects IMU samples at rest and produces the initial state."""

    def __init__(self, config: InitConfig) -> None:
        self._config = config
        self._duration_ns = round(config.alignment_duration_s * NS_PER_S)
        self._window: deque[ImuSample] = deque()

    def clear(self) -> None:
        """Start over (a reset)."""
        self._window.clear()

    def add(self, sample: ImuSample, yaw_rad: float, sigmas: tuple[float, float, float]) -> Aligned | Waiting | None:
        """Take one sample; None while the window is short. ``sigmas``: horizontal, vertical, yaw prior."""
        window = self._window
        window.append(sample)
        while len(window) > 1 and sample.t_ns - window[1].t_ns >= self._duration_ns:
            window.popleft()
        if sample.t_ns - window[0].t_ns < self._duration_ns:
            return None
        accel = np.array([s.accel_mps2 for s in window])
        gyro = np.array([s.gyro_radps for s in window])
        mean_accel = accel.mean(axis=0)
        accel_std = float(accel.std(axis=0).max())
        gyro_std = float(gyro.std(axis=0).max())
        gravity_error = abs(float(np.linalg.norm(mean_accel)) - GRAVITY_MPS2)
        init = self._config
        if (
            accel_std > init.max_accel_std_mps2
            or gyro_std > init.max_gyro_std_radps
            or gravity_error > REST_GRAVITY_TOLERANCE_MPS2
        ):
            return Waiting(accel_std, gyro_std, gravity_error)
        roll, pitch = roll_pitch_from_specific_force(mean_accel)
        rotation = Rotation.from_euler("ZYX", [yaw_rad, pitch, roll]).as_matrix()
        sigma_h, sigma_v, sigma_yaw = sigmas
        variances = np.concatenate(
            [
                [sigma_h**2, sigma_h**2, sigma_v**2],
                np.full(3, init.velocity_sigma_mps**2),
                [init.tilt_sigma_rad**2, init.tilt_sigma_rad**2, sigma_yaw**2],
                np.full(3, init.accel_bias_sigma_mps2**2),
                np.full(3, init.gyro_bias_sigma_radps**2),
            ]
        )
        state = NavState(
            t_ns=sample.t_ns,
            position_m=np.zeros(3),
            velocity_mps=np.zeros(3),
            rotation=np.asarray(rotation, dtype=np.float64),
            accel_bias_mps2=np.zeros(3),
            gyro_bias_radps=gyro.mean(axis=0),
            covariance=np.diag(variances),
        )
        samples = len(window)
        window.clear()
        return Aligned(state, roll, pitch, samples)
