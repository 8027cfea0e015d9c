"""A strapdown MEMS IMU: named datasheet profiles and the synthesis of its samples from a trajectory.

Model (Kalibr's, in the units of ``estimator.backend.ImuNoise``, so the estimator can be configured
from the same numbers):

    accel = R_body_map (a_map - g_map) + b_a + n_a        gyro = omega_body + b_g + n_g

with ``g_map = backend.GRAVITY_MAP`` (the estimator's), white noise of discrete standard deviation
``noise_density * sqrt(rate_hz)``, biases that start at a turn-on value drawn uniformly within the
datasheet's offset range and then random-walk with ``sigma = bias_random_walk * sqrt(dt)`` per
sample. The IMU axes are base_link's. The map frame is treated as inertial, as the estimator does:
Earth rate (7.3e-5 rad/s) is not added. Samples are taken at ``k / rate_hz`` exactly.

On an airframe, rotor vibration (``sim.vibration``, filtered by the sensor's low-pass at the
profile's bandwidth) adds to the specific force and rate, and each axis saturates at the
profile's full-scale range, as a real sensor's output does: those samples are clipped in the data
and flagged in ``accel_clipped`` / ``gyro_clipped``. The covariance a driver reports stays the
datasheet's white noise, which vibration makes over-confident, as on a real vehicle.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from gps_denied_onboard.common.inertial import GRAVITY_MAP, GRAVITY_MPS2, ImuNoise, ImuSample
from gps_denied_onboard.sim.errors import ImuConfigError, UnknownImuProfileError
from gps_denied_onboard.sim.trajectory import Trajectory, TrajectoryStates
from gps_denied_onboard.sim.vibration import VibrationConfig, rotor_vibration

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NS_PER_S = 1_000_000_000
_DEG = math.pi / 180.0
_UG = 1e-6 * GRAVITY_MPS2  # one micro-g in m/s^2
_MG = 1e-3 * GRAVITY_MPS2
# Datasheets give bias instability (the Allan-deviation floor), not the random walk Kalibr wants.
# The random walk used is the one whose Allan deviation K*sqrt(tau/3) reaches that floor at
# tau = 1000 s, a common and slightly pessimistic reading of a MEMS Allan plot.
_ALLAN_FLOOR_TAU_S = 1000.0


def _random_walk_from_instability(bias_instability: float) -> float:
    return bias_instability * math.sqrt(3.0 / _ALLAN_FLOOR_TAU_S)


_POSITIVE_FIGURES = ("accel_range_mps2", "gyro_range_radps", "accel_bandwidth_hz", "gyro_bandwidth_hz")


@dataclass(frozen=True)
class MemsProfile:
    """One IMU part's noise and bias figures (Kalibr units) and where they come from."""

    name: str
    accel_noise_density: float  # m/s^2/sqrt(Hz)
    gyro_noise_density: float  # rad/s/sqrt(Hz)
    accel_bias_random_walk: float  # m/s^3/sqrt(Hz)
    gyro_bias_random_walk: float  # rad/s^2/sqrt(Hz)
    accel_turn_on_bias_mps2: float  # per axis, drawn uniformly within +- this
    gyro_turn_on_bias_radps: float  # per axis, drawn uniformly within +- this
    source: str  # the datasheet the figures come from
    accel_range_mps2: float = 16.0 * GRAVITY_MPS2  # full scale per axis, the output saturates there (defaults: typical)
    gyro_range_radps: float = 2000.0 * _DEG
    accel_bandwidth_hz: float = 80.0  # -3 dB point of the low-pass before the output decimation
    gyro_bandwidth_hz: float = 64.0

    def __post_init__(self) -> None:
        for name in (
            "accel_noise_density",
            "gyro_noise_density",
            "accel_bias_random_walk",
            "gyro_bias_random_walk",
            "accel_turn_on_bias_mps2",
            "gyro_turn_on_bias_radps",
            *_POSITIVE_FIGURES,
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ImuConfigError(f"IMU profile {self.name!r}: {name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0 or (value == 0 and name in _POSITIVE_FIGURES):
                bound = "> 0" if name in _POSITIVE_FIGURES else ">= 0"
                raise ImuConfigError(f"IMU profile {self.name!r}: {name} must be finite and {bound}, got {value}")

    def imu_noise(self) -> ImuNoise:
        """The estimator's noise model with this profile's figures."""
        return ImuNoise(
            accel_noise_density=self.accel_noise_density,
            gyro_noise_density=self.gyro_noise_density,
            accel_bias_random_walk=self.accel_bias_random_walk,
            gyro_bias_random_walk=self.gyro_bias_random_walk,
        )


# Bosch BMI088 (BST-BMI088-DS001, rev. 1.x, table 1): accelerometer output noise density
# 175 ug/sqrt(Hz) (typ.), gyroscope rate noise density 0.014 deg/s/sqrt(Hz), zero-g offset
# +-20 mg, zero-rate offset +-1 deg/s (typ.). No bias instability is specified; the figures used
# (gyro 10 deg/h, accel 0.1 mg) are typical of Allan plots of this part on flight controllers.
# Range: +-24 g is the accelerometer's largest setting; +-16 g is the common flight-controller
# one; gyro +-2000 deg/s. Low-pass at a 200 Hz output data rate: accelerometer "normal" filter
# 80 Hz (ACC_CONF), gyroscope 64 Hz (GYRO_BANDWIDTH 0x06: ODR 200 Hz, 64 Hz filter).
BMI088 = MemsProfile(
    name="bmi088",
    accel_noise_density=175.0 * _UG,
    gyro_noise_density=0.014 * _DEG,
    accel_bias_random_walk=_random_walk_from_instability(0.1 * _MG),
    gyro_bias_random_walk=_random_walk_from_instability(10.0 * _DEG / 3600.0),
    accel_turn_on_bias_mps2=20.0 * _MG,
    gyro_turn_on_bias_radps=1.0 * _DEG,
    source="Bosch BST-BMI088-DS001 table 1 (noise density, offsets); bias instability typical",
    accel_range_mps2=16.0 * GRAVITY_MPS2,
    gyro_range_radps=2000.0 * _DEG,
    accel_bandwidth_hz=80.0,
    gyro_bandwidth_hz=64.0,
)

# TDK InvenSense ICM-42688-P (DS-000347, table 1 and 2): gyroscope rate noise spectral density
# 0.0028 deg/s/sqrt(Hz), accelerometer noise spectral density 70 ug/sqrt(Hz), gyro zero-rate
# output offset +-0.5 deg/s, accel zero-g level +-20 mg. Bias instability (not specified):
# gyro 5 deg/h, accel 0.05 mg, typical of its Allan plots. Full scale +-16 g, +-2000 deg/s; the
# default UI filter's bandwidth is max(400 Hz, ODR) / 4: 100 Hz at a 200 Hz output.
ICM42688P = MemsProfile(
    name="icm42688p",
    accel_noise_density=70.0 * _UG,
    gyro_noise_density=0.0028 * _DEG,
    accel_bias_random_walk=_random_walk_from_instability(0.05 * _MG),
    gyro_bias_random_walk=_random_walk_from_instability(5.0 * _DEG / 3600.0),
    accel_turn_on_bias_mps2=20.0 * _MG,
    gyro_turn_on_bias_radps=0.5 * _DEG,
    source="TDK DS-000347 tables 1-2 (noise density, offsets); bias instability typical",
    accel_range_mps2=16.0 * GRAVITY_MPS2,
    gyro_range_radps=2000.0 * _DEG,
    accel_bandwidth_hz=100.0,
    gyro_bandwidth_hz=100.0,
)

# Analog Devices ADIS16448 (datasheet rev. D, table 1): gyroscope rate noise density
# 0.0135 deg/s/sqrt(Hz) rms, in-run bias stability 14.5 deg/h; accelerometer noise density
# 0.23 mg/sqrt(Hz) rms, in-run bias stability 0.25 mg; initial bias error (+-1 sigma) 0.7 deg/s
# (gyro) and 16 mg (accel), used here as the turn-on range. Measurement range +-18 g and
# +-1000 deg/s; sensor bandwidth 330 Hz.
ADIS16448 = MemsProfile(
    name="adis16448",
    accel_noise_density=0.23 * _MG,
    gyro_noise_density=0.0135 * _DEG,
    accel_bias_random_walk=_random_walk_from_instability(0.25 * _MG),
    gyro_bias_random_walk=_random_walk_from_instability(14.5 * _DEG / 3600.0),
    accel_turn_on_bias_mps2=16.0 * _MG,
    gyro_turn_on_bias_radps=0.7 * _DEG,
    source="Analog Devices ADIS16448 rev. D table 1 (noise density, in-run bias stability, initial bias)",
    accel_range_mps2=18.0 * GRAVITY_MPS2,
    gyro_range_radps=1000.0 * _DEG,
    accel_bandwidth_hz=330.0,
    gyro_bandwidth_hz=330.0,
)

PROFILES: Mapping[str, MemsProfile] = MappingProxyType({p.name: p for p in (BMI088, ICM42688P, ADIS16448)})


def mems_profile(name: str) -> MemsProfile:
    """The named profile (``bmi088``, ``icm42688p``, ``adis16448``)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownImuProfileError(f"unknown IMU profile {name!r}; known profiles: {sorted(PROFILES)}") from None


@dataclass(frozen=True)
class ImuSeries:
    """Synthesised IMU samples (N of them) with the true biases, vibration and clipping that went into them."""

    t_ns: Int64Array  # (N,) from the start of the flight
    accel_mps2: FloatArray  # (N, 3) specific force, base_link axes
    gyro_radps: FloatArray  # (N, 3)
    accel_bias_mps2: FloatArray  # (N, 3) true bias in each sample
    gyro_bias_radps: FloatArray  # (N, 3)
    rate_hz: float
    profile: MemsProfile
    accel_vibration_mps2: FloatArray  # (N, 3) rotor vibration in each sample, after the sensor's low-pass
    gyro_vibration_radps: FloatArray  # (N, 3)
    accel_clipped: BoolArray  # (N, 3) the axis read its full-scale value
    gyro_clipped: BoolArray  # (N, 3)

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def accel_clipped_samples(self) -> int:
        """How many samples have an accelerometer axis at full scale."""
        return int(np.count_nonzero(self.accel_clipped.any(axis=1)))

    @property
    def gyro_clipped_samples(self) -> int:
        """How many samples have a gyroscope axis at full scale."""
        return int(np.count_nonzero(self.gyro_clipped.any(axis=1)))

    def sample(self, index: int, *, epoch_ns: int = 0) -> ImuSample:
        """Sample ``index`` as the estimator's ImuSample, stamped ``epoch_ns + t_ns``."""
        return ImuSample(
            t_ns=epoch_ns + int(self.t_ns[index]),
            accel_mps2=self.accel_mps2[index].copy(),
            gyro_radps=self.gyro_radps[index].copy(),
        )

    def accel_variance_mps2_2(self) -> float:
        """Per-axis variance of one sample's accelerometer white noise (for sensor_msgs/Imu)."""
        return self.profile.accel_noise_density**2 * self.rate_hz

    def gyro_variance_radps_2(self) -> float:
        """Per-axis variance of one sample's gyroscope white noise (for sensor_msgs/Imu)."""
        return self.profile.gyro_noise_density**2 * self.rate_hz


def ideal_imu(states: TrajectoryStates) -> tuple[FloatArray, FloatArray]:
    """Noise-free specific force (N, 3) and angular rate (N, 3) in base_link: R_body_map (a - g), omega."""
    specific_force_map = states.acceleration_mps2 - GRAVITY_MAP
    accel = np.einsum("nji,nj->ni", states.R_map_body, specific_force_map)
    return accel, states.angular_rate_body_radps.copy()


def sample_times_ns(duration_s: float, rate_hz: float) -> Int64Array:
    """Sample stamps ``k * period`` (ns, rounded) covering ``[0, duration_s]``."""
    if not math.isfinite(rate_hz) or rate_hz <= 0:
        raise ImuConfigError(f"rate_hz must be a finite number > 0, got {rate_hz}")
    count = math.floor(duration_s * rate_hz + 1e-9) + 1
    return np.rint(np.arange(count, dtype=np.float64) * (NS_PER_S / rate_hz)).astype(np.int64)


def simulate_imu(
    trajectory: Trajectory,
    profile: MemsProfile,
    *,
    rate_hz: float,
    rng: np.random.Generator,
    noise: bool = True,
    duration_s: float | None = None,
    vibration: VibrationConfig | None = None,
    vibration_rng: np.random.Generator | None = None,
) -> ImuSeries:
    """IMU samples at ``rate_hz`` over the trajectory (or its first ``duration_s``), with rotor
    ``vibration`` drawn from ``vibration_rng`` and clipped at the profile's range; ``noise=False``
    gives the exact specific force and rate (no biases, vibration or clipping): the consistency reference."""
    if not isinstance(rng, np.random.Generator):
        raise ImuConfigError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    span = trajectory.duration_s if duration_s is None else min(duration_s, trajectory.duration_s)
    t_ns = sample_times_ns(span, rate_hz)
    accel, gyro = ideal_imu(trajectory.states(t_ns / NS_PER_S))
    count = len(t_ns)
    zeros = np.zeros((count, 3))
    unclipped = np.zeros((count, 3), dtype=bool)
    if not noise:
        return ImuSeries(
            t_ns,
            accel,
            gyro,
            zeros,
            zeros.copy(),
            rate_hz,
            profile,
            zeros.copy(),
            zeros.copy(),
            unclipped,
            unclipped.copy(),
        )
    # One draw order, fixed: turn-on biases, bias walks, white noise (accelerometer then gyroscope).
    accel_bias = _bias_walk(rng, profile.accel_turn_on_bias_mps2, profile.accel_bias_random_walk, rate_hz, count)
    gyro_bias = _bias_walk(rng, profile.gyro_turn_on_bias_radps, profile.gyro_bias_random_walk, rate_hz, count)
    sqrt_rate = math.sqrt(rate_hz)
    accel_noise = rng.standard_normal((count, 3)) * (profile.accel_noise_density * sqrt_rate)
    gyro_noise = rng.standard_normal((count, 3)) * (profile.gyro_noise_density * sqrt_rate)
    accel_vibration, gyro_vibration = zeros, zeros.copy()
    if vibration is not None and vibration.active:
        if not isinstance(vibration_rng, np.random.Generator):
            raise ImuConfigError(f"vibration_rng must be a numpy.random.Generator, got {type(vibration_rng).__name__}")
        shaking = rotor_vibration(
            t_ns / NS_PER_S,
            np.linalg.norm(accel, axis=1),
            trajectory.events,
            vibration,
            accel_bandwidth_hz=profile.accel_bandwidth_hz,
            gyro_bandwidth_hz=profile.gyro_bandwidth_hz,
            rng=vibration_rng,
        )
        accel_vibration, gyro_vibration = shaking.accel_mps2, shaking.gyro_radps
    measured_accel = accel + accel_bias + accel_noise + accel_vibration
    measured_gyro = gyro + gyro_bias + gyro_noise + gyro_vibration
    accel_clipped = np.abs(measured_accel) >= profile.accel_range_mps2
    gyro_clipped = np.abs(measured_gyro) >= profile.gyro_range_radps
    logger.debug(
        "IMU %s: %d samples at %.0f Hz, %d accelerometer and %d gyroscope samples clipped",
        profile.name,
        count,
        rate_hz,
        int(np.count_nonzero(accel_clipped.any(axis=1))),
        int(np.count_nonzero(gyro_clipped.any(axis=1))),
    )
    return ImuSeries(
        t_ns,
        np.clip(measured_accel, -profile.accel_range_mps2, profile.accel_range_mps2),
        np.clip(measured_gyro, -profile.gyro_range_radps, profile.gyro_range_radps),
        accel_bias,
        gyro_bias,
        rate_hz,
        profile,
        accel_vibration,
        gyro_vibration,
        accel_clipped,
        gyro_clipped,
    )


def _bias_walk(
    rng: np.random.Generator, turn_on_range: float, random_walk: float, rate_hz: float, count: int
) -> FloatArray:
    start = rng.uniform(-turn_on_range, turn_on_range, size=3)
    steps = rng.standard_normal((count, 3)) * (random_walk / math.sqrt(rate_hz))
    steps[0] = 0.0
    return start + np.cumsum(steps, axis=0)
