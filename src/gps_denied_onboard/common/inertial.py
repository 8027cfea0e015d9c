"""IMU samples, IMU noise and gravity: shared by the estimator, the VIO and the simulator.

Conventions: base_link FLU (REP-103), specific force in m/s^2, angular rate in rad/s, the map
frame ENU with gravity along -z. Noise figures are continuous-time densities in Kalibr/datasheet
units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gps_denied_onboard.common.parameters import param, validate_fields

FloatArray = npt.NDArray[np.float64]

GRAVITY_MPS2 = 9.80665
GRAVITY_MAP: FloatArray = np.array([0.0, 0.0, -GRAVITY_MPS2])


@dataclass(frozen=True)
class ImuNoise:
    """Continuous-time IMU noise, Kalibr/datasheet units (the simulator's MEMS profiles use the same)."""

    accel_noise_density: float  # m/s^2/sqrt(Hz)
    gyro_noise_density: float  # rad/s/sqrt(Hz)
    accel_bias_random_walk: float  # m/s^3/sqrt(Hz)
    gyro_bias_random_walk: float  # rad/s^2/sqrt(Hz)


@dataclass(frozen=True)
class ImuSample:
    """Specific force and angular rate in base_link at ``t_ns``."""

    t_ns: int
    accel_mps2: FloatArray  # (3,)
    gyro_radps: FloatArray  # (3,)


@dataclass(frozen=True)
class ImuNoiseConfig:
    """Continuous-time IMU noise (datasheet / Allan-variance units): ROS parameters ``imu.<field>``."""

    accel_noise_density: float = param(2.0e-3, "accelerometer white noise, m/s^2/sqrt(Hz)", minimum=1e-6, maximum=1.0)
    gyro_noise_density: float = param(2.0e-4, "gyroscope white noise, rad/s/sqrt(Hz)", minimum=1e-7, maximum=0.1)
    accel_bias_random_walk: float = param(
        1.0e-4, "accelerometer bias random walk, m/s^3/sqrt(Hz)", minimum=1e-8, maximum=0.1
    )
    gyro_bias_random_walk: float = param(
        2.0e-5, "gyroscope bias random walk, rad/s^2/sqrt(Hz)", minimum=1e-9, maximum=0.01
    )

    def __post_init__(self) -> None:
        validate_fields(self, "imu")

    def to_imu_noise(self) -> ImuNoise:
        """The ImuNoise value the backends and the simulator take."""
        return ImuNoise(
            accel_noise_density=self.accel_noise_density,
            gyro_noise_density=self.gyro_noise_density,
            accel_bias_random_walk=self.accel_bias_random_walk,
            gyro_bias_random_walk=self.gyro_bias_random_walk,
        )


@dataclass(frozen=True)
class MultirotorImuNoiseConfig(ImuNoiseConfig):
    """IMU noise as a filter must assume on a flying multirotor: rotor vibration, not the datasheet.

    The datasheet densities (ImuNoiseConfig's defaults, BMI088-class) hold on a bench. On an airframe
    the rotor vibration (0.5-3 m/s^2 RMS at the rotor harmonics, partly aliased through the
    sensor's filter) and the clipping it causes make the IMU factors ~50x over-confident (issue
    logs of real PX4 flights). These defaults are PX4 EKF2's tuned process noise for multirotors
    (EKF2_ACC_NOISE 0.35 m/s^2, EKF2_GYR_NOISE 0.015 rad/s per 10 ms prediction step, i.e.
    0.035 m/s^2/sqrt(Hz) and 0.0015 rad/s/sqrt(Hz); EKF2_ACC_B_NOISE 0.003 m/s^3; gyro bias walk
    1e-4 rad/s^2/sqrt(Hz), 5x the datasheet's for temperature drift in flight).
    """

    accel_noise_density: float = param(
        0.035, "accelerometer white noise incl. vibration, m/s^2/sqrt(Hz)", minimum=1e-6, maximum=1.0
    )
    gyro_noise_density: float = param(
        1.5e-3, "gyroscope white noise incl. vibration, rad/s/sqrt(Hz)", minimum=1e-7, maximum=0.1
    )
    accel_bias_random_walk: float = param(
        3.0e-3, "accelerometer bias random walk, m/s^3/sqrt(Hz)", minimum=1e-8, maximum=0.1
    )
    gyro_bias_random_walk: float = param(
        1.0e-4, "gyroscope bias random walk, rad/s^2/sqrt(Hz)", minimum=1e-9, maximum=0.01
    )
