"""Synthetic flights for the estimator tests: an analytic trajectory and noisy sensors with known noise.

The trajectory is closed-form, so acceleration and angular rate are exact, not differentiated
numerically: the vehicle rests for ``rest_s`` (static alignment), then a quintic envelope blends
in a figure-eight at a few metres per second with a climbing/sinking height, a yaw that turns
steadily and small roll/pitch oscillations (heading is independent of the track, as a multirotor
allows). Sensors are drawn with the noise the estimator is told about:

- IMU: specific force and rate in base_link (FLU) + white noise (density * sqrt(rate)) + biases
  drawn from the initial sigmas and walking with the configured random walk;
- GNSS and GeoFix: true position + Gaussian noise, as WGS84 through the geodesy module, optionally
  with a spoof (a constant-rate drift and/or a jump) from a given time;
- VIO: odometry in its own odom frame (rotated and shifted from map), integrated from increments
  with white noise (velocity sigma * dt, rate sigma * dt) so it drifts like a real VIO, with the
  body velocity + white noise as its twist;
- baro: ISA static pressure of the true height + white noise.

Everything is on the IMU time grid (measurements coincide with an IMU sample), and every flight
is a pure function of its ``Scenario`` (seeded).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
import pytest
from scipy.spatial.transform import Rotation

from gps_denied_onboard.common.atmosphere import isa_pressure_pa
from gps_denied_onboard.common.inertial import GRAVITY_MPS2, ImuNoiseConfig, ImuSample
from gps_denied_onboard.estimator.backend import NavState
from gps_denied_onboard.estimator.config import EstimatorConfig, InitConfig, SensorGatingConfig, VioConfig
from gps_denied_onboard.estimator.core import StateEstimator
from gps_denied_onboard.geometry.geodesy import LocalTangentPlane

FloatArray = npt.NDArray[np.float64]

# The behavioural suite runs against every registry backend; isam2 only once its module exists.
_ISAM2_PRESENT = importlib.util.find_spec("gps_denied_onboard.estimator.isam2") is not None
BACKENDS = [
    pytest.param("eskf", id="eskf"),
    pytest.param(
        "isam2",
        id="isam2",
        marks=pytest.mark.skipif(
            not _ISAM2_PRESENT, reason="estimator/isam2.py (the iSAM2 backend) does not exist yet"
        ),
    ),
]
NS_PER_S = 1_000_000_000
ORIGIN = (47.397742, 8.545594, 488.0)  # Zurich-ish: latitude, longitude, ellipsoidal height
GRAVITY_UP = np.array([0.0, 0.0, GRAVITY_MPS2])


@dataclass(frozen=True)
class NoiseModel:
    """Sensor noise: what is drawn and what the estimator is configured with."""

    accel_noise_density: float = 2.0e-3
    gyro_noise_density: float = 2.0e-4
    accel_bias_random_walk: float = 1.0e-4
    gyro_bias_random_walk: float = 2.0e-5
    accel_bias_sigma: float = 0.03  # initial bias draw, m/s^2
    gyro_bias_sigma: float = 0.002  # initial bias draw, rad/s (alignment removes most of it)
    gnss_sigma_h_m: float = 1.0
    gnss_sigma_v_m: float = 2.0
    geofix_sigma_h_m: float = 3.0
    geofix_sigma_v_m: float = 5.0
    vio_velocity_sigma_mps: float = 0.05
    vio_rate_sigma_radps: float = 0.005
    baro_sigma_pa: float = 3.0
    origin_sigma_h_m: float = 2.0  # the vehicle truly stands this far (1 sigma) from the origin given
    origin_sigma_v_m: float = 2.0
    yaw_prior_sigma_rad: float = 0.05  # compass heading error at arming


@dataclass(frozen=True)
class Spoof:
    """A GNSS spoof: from ``start_s`` the fixes move away at ``drift_mps`` and/or jump by ``jump_m``."""

    start_s: float
    drift_mps: float = 0.0
    jump_m: float = 0.0
    direction_deg: float = 30.0  # horizontal direction of the offset, ENU (0 = east)


@dataclass(frozen=True)
class Scenario:
    """One synthetic flight."""

    seed: int = 0
    duration_s: float = 30.0
    rest_s: float = 2.0
    ramp_s: float = 4.0
    imu_rate_hz: int = 100
    gnss_rate_hz: float = 5.0
    vio_rate_hz: float = 20.0
    geofix_rate_hz: float = 0.0
    baro_rate_hz: float = 0.0
    gnss_off: tuple[tuple[float, float], ...] = ()  # (start_s, end_s) windows without GNSS
    vio_off: tuple[tuple[float, float], ...] = ()
    spoof: Spoof | None = None
    speed_scale: float = 1.0  # scales the figure-eight's size (and so its speed)
    noise: NoiseModel = field(default_factory=NoiseModel)


@dataclass(frozen=True)
class Truth:
    """The true state on the IMU grid."""

    t_ns: npt.NDArray[np.int64]
    position_m: FloatArray  # (N, 3) map ENU
    velocity_mps: FloatArray
    rotation: FloatArray  # (N, 3, 3) R_map_body
    accel_bias_mps2: FloatArray
    gyro_bias_radps: FloatArray
    specific_force_mps2: FloatArray  # (N, 3) body, noise-free
    rate_radps: FloatArray  # (N, 3) body, noise-free

    def index(self, t_ns: int) -> int:
        """Index of the sample stamped ``t_ns`` (exactly on the grid)."""
        i = int(np.searchsorted(self.t_ns, t_ns))
        if i >= len(self.t_ns) or self.t_ns[i] != t_ns:
            raise KeyError(f"{t_ns} is not on the IMU grid")
        return i


@dataclass(frozen=True)
class Measurement:
    """One call to make on the estimator: ``kind`` names the ``add_*`` method."""

    t_ns: int
    kind: str  # imu | vio | gnss | geofix | baro
    args: dict[str, object]


@dataclass(frozen=True)
class Flight:
    """A simulated flight: truth, the measurements in stamp order and what to give set_takeoff_origin."""

    scenario: Scenario
    truth: Truth
    measurements: list[Measurement]
    origin_kwargs: dict[str, float]
    plane: LocalTangentPlane


def _envelope(t_s: FloatArray, start_s: float, ramp_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quintic smoothstep 0 -> 1 over [start, start + ramp] and its first two derivatives."""
    x = np.clip((t_s - start_s) / ramp_s, 0.0, 1.0)
    inside = (x > 0.0) & (x < 1.0)
    e = 10 * x**3 - 15 * x**4 + 6 * x**5
    de = np.where(inside, (30 * x**2 - 60 * x**3 + 30 * x**4) / ramp_s, 0.0)
    dde = np.where(inside, (60 * x - 180 * x**2 + 120 * x**3) / ramp_s**2, 0.0)
    return e, de, dde


def _sinusoid(amplitude: float, omega: float, tau: FloatArray, phase: float = 0.0) -> tuple[FloatArray, ...]:
    """a sin(w tau + phase) - a sin(phase) (zero at tau = 0) and its two derivatives."""
    arg = omega * tau + phase
    return (
        amplitude * (np.sin(arg) - math.sin(phase)),
        amplitude * omega * np.cos(arg),
        -amplitude * omega**2 * np.sin(arg),
    )


def trajectory(t_s: FloatArray, scenario: Scenario, p0: FloatArray, yaw0: float) -> Truth:
    """The analytic figure-eight (noise-free truth, without biases) at times ``t_s``."""
    tau = np.maximum(t_s - scenario.rest_s, 0.0)
    e, de, dde = _envelope(t_s, scenario.rest_s, scenario.ramp_s)
    k = scenario.speed_scale
    period = 60.0
    axes = [
        _sinusoid(60.0 * k, 2 * math.pi / period, tau),
        _sinusoid(30.0 * k, 4 * math.pi / period, tau),
        _sinusoid(8.0, 2 * math.pi / 25.0, tau),
    ]
    q = np.stack([a[0] for a in axes], axis=1)
    dq = np.stack([a[1] for a in axes], axis=1)
    ddq = np.stack([a[2] for a in axes], axis=1)
    position = p0 + e[:, None] * q
    velocity = de[:, None] * q + e[:, None] * dq
    acceleration = dde[:, None] * q + 2 * de[:, None] * dq + e[:, None] * ddq

    def blended(signal: tuple[FloatArray, ...]) -> tuple[FloatArray, FloatArray]:
        return e * signal[0], de * signal[0] + e * signal[1]

    yaw_turn = (0.12 * tau, np.full_like(tau, 0.12))  # a steady turn: heading becomes observable
    yaw_wobble = _sinusoid(0.4, 2 * math.pi / 17.0, tau)
    yaw_e, yaw_de = blended((yaw_turn[0] + yaw_wobble[0], yaw_turn[1] + yaw_wobble[1]))
    yaw, dyaw = yaw0 + yaw_e, yaw_de
    roll, droll = blended(_sinusoid(0.12, 2 * math.pi / 7.0, tau))
    pitch, dpitch = blended(_sinusoid(0.1, 2 * math.pi / 9.0, tau, phase=0.5))
    rotation = Rotation.from_euler("ZYX", np.stack([yaw, pitch, roll], axis=1)).as_matrix()
    rate = np.stack(
        [
            droll - dyaw * np.sin(pitch),
            dpitch * np.cos(roll) + dyaw * np.sin(roll) * np.cos(pitch),
            -dpitch * np.sin(roll) + dyaw * np.cos(roll) * np.cos(pitch),
        ],
        axis=1,
    )
    specific_force = np.einsum("nji,nj->ni", rotation, acceleration + GRAVITY_UP)
    n = len(t_s)
    return Truth(
        t_ns=np.round(t_s * NS_PER_S).astype(np.int64),
        position_m=position,
        velocity_mps=velocity,
        rotation=rotation,
        accel_bias_mps2=np.zeros((n, 3)),
        gyro_bias_radps=np.zeros((n, 3)),
        specific_force_mps2=specific_force,
        rate_radps=rate,
    )


def _mask_windows(t_s: FloatArray, windows: tuple[tuple[float, float], ...]) -> npt.NDArray[np.bool_]:
    keep = np.ones(len(t_s), dtype=bool)
    for start, end in windows:
        keep &= ~((t_s >= start) & (t_s < end))
    return keep


def _every(rate_hz: float, imu_rate_hz: int, n: int) -> npt.NDArray[np.int64]:
    """IMU-grid indices of a sensor at ``rate_hz`` (after the first IMU sample)."""
    if rate_hz <= 0:
        return np.zeros(0, dtype=np.int64)
    step = round(imu_rate_hz / rate_hz)
    return np.arange(step, n, step, dtype=np.int64)


def pressure_pa(height_m: FloatArray) -> FloatArray:
    """ISA static pressure at a height (inverse of core.pressure_altitude_m)."""
    return isa_pressure_pa(height_m)


def simulate(scenario: Scenario) -> Flight:
    """Truth and every measurement of one scenario."""
    rng = np.random.default_rng(scenario.seed)
    noise = scenario.noise
    rate = scenario.imu_rate_hz
    dt = 1.0 / rate
    n = round(scenario.duration_s * rate) + 1
    t_s = 1.0 + np.arange(n) * dt  # stamps start at 1 s: 0 is not a real ROS stamp
    scenario_t = t_s - t_s[0]
    p0 = np.array(
        [
            rng.normal(0, noise.origin_sigma_h_m),
            rng.normal(0, noise.origin_sigma_h_m),
            rng.normal(0, noise.origin_sigma_v_m),
        ]
    )
    yaw0 = float(rng.uniform(-math.pi, math.pi))
    truth = trajectory(scenario_t, scenario, p0, yaw0)
    truth = replace(truth, t_ns=np.round(t_s * NS_PER_S).astype(np.int64))

    # IMU with walking biases.
    accel_bias = rng.normal(0, noise.accel_bias_sigma, 3) + np.cumsum(
        rng.normal(0, noise.accel_bias_random_walk * math.sqrt(dt), (n, 3)), axis=0
    )
    gyro_bias = rng.normal(0, noise.gyro_bias_sigma, 3) + np.cumsum(
        rng.normal(0, noise.gyro_bias_random_walk * math.sqrt(dt), (n, 3)), axis=0
    )
    accel = truth.specific_force_mps2 + accel_bias + rng.normal(0, noise.accel_noise_density * math.sqrt(rate), (n, 3))
    gyro = truth.rate_radps + gyro_bias + rng.normal(0, noise.gyro_noise_density * math.sqrt(rate), (n, 3))
    truth = replace(truth, accel_bias_mps2=accel_bias, gyro_bias_radps=gyro_bias)
    plane = LocalTangentPlane(*ORIGIN)
    measurements = [
        Measurement(int(truth.t_ns[i]), "imu", {"sample": ImuSample(int(truth.t_ns[i]), accel[i], gyro[i])})
        for i in range(n)
    ]

    # GNSS (with the spoof) and GeoFix.
    for kind, rate_hz, sigma_h, sigma_v in (
        ("gnss", scenario.gnss_rate_hz, noise.gnss_sigma_h_m, noise.gnss_sigma_v_m),
        ("geofix", scenario.geofix_rate_hz, noise.geofix_sigma_h_m, noise.geofix_sigma_v_m),
    ):
        idx = _every(rate_hz, rate, n)
        sigma = np.array([sigma_h, sigma_h, sigma_v])
        enu = truth.position_m[idx] + rng.normal(0, 1, (len(idx), 3)) * sigma
        if kind == "gnss":
            if scenario.spoof is not None:
                enu += spoof_offset(scenario.spoof, scenario_t[idx])
            # Drawn for every slot first, so a denial window leaves every other draw unchanged.
            keep = _mask_windows(scenario_t[idx], scenario.gnss_off)
            idx, enu = idx[keep], enu[keep]
        lat, lon, alt = plane.geodetic_from_enu(enu)
        covariance = np.diag(sigma**2)
        for j, i in enumerate(idx):
            args: dict[str, object] = {
                "latitude_deg": float(lat[j]),
                "longitude_deg": float(lon[j]),
                "altitude_m": float(alt[j]),
                "covariance_enu_m2": covariance,
            }
            if kind == "gnss":
                args["fix_status"] = 0
            measurements.append(Measurement(int(truth.t_ns[i]), kind, args))

    measurements.extend(_vio(scenario, truth, rng))
    if scenario.baro_rate_hz > 0:
        idx = _every(scenario.baro_rate_hz, rate, n)
        pressure = pressure_pa(ORIGIN[2] + truth.position_m[idx, 2]) + rng.normal(0, noise.baro_sigma_pa, len(idx))
        measurements.extend(
            Measurement(int(truth.t_ns[i]), "baro", {"pressure_pa": float(p), "variance_pa2": noise.baro_sigma_pa**2})
            for i, p in zip(idx, pressure, strict=True)
        )
    order = {"imu": 0, "vio": 1, "geofix": 2, "gnss": 3, "baro": 4}
    measurements.sort(key=lambda m: (m.t_ns, order[m.kind]))
    yaw_prior = yaw0 + float(rng.normal(0, noise.yaw_prior_sigma_rad))
    origin_kwargs = {
        "latitude_deg": ORIGIN[0],
        "longitude_deg": ORIGIN[1],
        "altitude_m": ORIGIN[2],
        "sigma_horiz_m": noise.origin_sigma_h_m,
        "sigma_vert_m": noise.origin_sigma_v_m,
        "yaw_rad": yaw_prior,
        "sigma_yaw_rad": noise.yaw_prior_sigma_rad,
    }
    return Flight(scenario, truth, measurements, origin_kwargs, plane)


def spoof_offset(spoof: Spoof, t_s: FloatArray) -> FloatArray:
    """The spoofer's horizontal offset (N, 3) added to true GNSS fixes at scenario times ``t_s``."""
    direction = np.array([math.cos(math.radians(spoof.direction_deg)), math.sin(math.radians(spoof.direction_deg)), 0])
    active = t_s >= spoof.start_s
    magnitude = np.where(active, spoof.jump_m + spoof.drift_mps * (t_s - spoof.start_s), 0.0)
    return magnitude[:, None] * direction


def _vio(scenario: Scenario, truth: Truth, rng: np.random.Generator) -> Iterator[Measurement]:
    """VIO odometry integrated from noisy increments in an odom frame rotated/shifted from map."""
    noise = scenario.noise
    n = len(truth.t_ns)
    idx = _every(scenario.vio_rate_hz, scenario.imu_rate_hz, n)
    if len(idx) == 0:
        return
    scenario_t = (truth.t_ns - truth.t_ns[0]) / NS_PER_S
    keep = _mask_windows(scenario_t[idx], scenario.vio_off)
    r_odom_map = Rotation.from_euler("z", float(rng.uniform(-math.pi, math.pi))).as_matrix()
    position_odom = rng.normal(0, 5.0, 3)
    rotation_odom = r_odom_map @ truth.rotation[idx[0]]
    sigma_v, sigma_w = noise.vio_velocity_sigma_mps, noise.vio_rate_sigma_radps
    twist = np.diag([sigma_v**2] * 3 + [sigma_w**2] * 3)
    previous = idx[0]
    for i, kept in zip(idx, keep, strict=True):
        if i != previous:
            dt = (truth.t_ns[i] - truth.t_ns[previous]) / NS_PER_S
            r0, r1 = truth.rotation[previous], truth.rotation[i]
            d_rotation = r0.T @ r1
            d_translation = r0.T @ (truth.position_m[i] - truth.position_m[previous])
            d_rotation = d_rotation @ Rotation.from_rotvec(rng.normal(0, sigma_w * dt, 3)).as_matrix()
            d_translation = d_translation + rng.normal(0, sigma_v * dt, 3)
            position_odom = position_odom + rotation_odom @ d_translation
            rotation_odom = rotation_odom @ d_rotation
            previous = i
        if not kept:
            continue
        velocity_body = truth.rotation[i].T @ truth.velocity_mps[i] + rng.normal(0, sigma_v, 3)
        x, y, z, w = Rotation.from_matrix(rotation_odom).as_quat()
        yield Measurement(
            int(truth.t_ns[i]),
            "vio",
            {
                "position_m": position_odom.copy(),
                "quat_wxyz": np.array([w, x, y, z]),
                "velocity_body_mps": velocity_body,
                "twist_covariance": twist,
            },
        )


def config_for(scenario: Scenario, backend: str, **sections: object) -> EstimatorConfig:
    """An EstimatorConfig whose IMU noise, VIO noise and initial sigmas match the scenario's noise model
    (the synthetic VIO reports its true covariance: no inflation, no floor; the synthetic GNSS error is
    white, so no share of it is correlated)."""
    noise = scenario.noise
    tilt = math.hypot(noise.accel_bias_sigma / GRAVITY_MPS2, 0.002)
    base = EstimatorConfig(
        backend=backend,
        imu=ImuNoiseConfig(
            accel_noise_density=noise.accel_noise_density,
            gyro_noise_density=noise.gyro_noise_density,
            accel_bias_random_walk=noise.accel_bias_random_walk,
            gyro_bias_random_walk=noise.gyro_bias_random_walk,
        ),
        init=InitConfig(
            tilt_sigma_rad=tilt,
            accel_bias_sigma_mps2=noise.accel_bias_sigma,
            gyro_bias_sigma_radps=5e-4,
            velocity_sigma_mps=0.05,
        ),
        gating=SensorGatingConfig(gnss_correlated_fraction=0.0),
        vio=VioConfig(
            covariance_scale=1.0, translation_sigma_floor_m_per_sqrt_s=0.0, rotation_sigma_floor_rad_per_sqrt_s=0.0
        ),
    )
    return replace(base, **sections)  # type: ignore[arg-type]


def start(flight: Flight, config: EstimatorConfig) -> StateEstimator:
    """A new estimator with the flight's take-off origin set."""
    estimator = StateEstimator(config)
    estimator.set_takeoff_origin(**flight.origin_kwargs)  # type: ignore[arg-type]
    return estimator


def feed(
    estimator: StateEstimator,
    measurements: list[Measurement],
    *,
    on_measurement: Callable[[Measurement], None] | None = None,
) -> None:
    """Call the matching ``add_*`` for each measurement, in the given order."""
    for m in measurements:
        if m.kind == "imu":
            estimator.add_imu(m.args["sample"])  # type: ignore[arg-type]
        else:
            getattr(estimator, f"add_{m.kind}")(m.t_ns, **m.args)
        if on_measurement is not None:
            on_measurement(m)


@dataclass(frozen=True)
class Sample:
    """The estimate at one stamp and the truth at the same stamp."""

    t_s: float  # scenario time
    state: NavState
    truth_index: int


def run(
    estimator: StateEstimator, flight: Flight, *, every_s: float = 0.5, until_s: float | None = None
) -> list[Sample]:
    """Feed the flight and sample the fused estimate about every ``every_s`` of scenario time."""
    samples: list[Sample] = []
    t0 = int(flight.truth.t_ns[0])
    next_ns = t0
    every_ns = round(every_s * NS_PER_S)
    limit = (
        flight.measurements
        if until_s is None
        else [m for m in flight.measurements if m.t_ns - t0 <= until_s * NS_PER_S]
    )

    def sample(m: Measurement) -> None:
        nonlocal next_ns
        if m.kind != "imu" or m.t_ns < next_ns:
            return
        estimate = estimator.estimate()
        if estimate is None:
            return
        state = estimate.state
        samples.append(Sample((state.t_ns - t0) / NS_PER_S, state, flight.truth.index(state.t_ns)))
        next_ns = m.t_ns + every_ns

    feed(estimator, limit, on_measurement=sample)
    return samples


def errors(sample: Sample, truth: Truth) -> FloatArray:
    """Error vector [dp, dv, dtheta(map)] (9,) of an estimate, in the backend's error convention."""
    i = sample.truth_index
    s = sample.state
    dtheta = Rotation.from_matrix(truth.rotation[i] @ s.rotation.T).as_rotvec()
    return np.concatenate([truth.position_m[i] - s.position_m, truth.velocity_mps[i] - s.velocity_mps, dtheta])


def horizontal_error_m(sample: Sample, truth: Truth) -> float:
    """Horizontal position error of an estimate, m."""
    d = truth.position_m[sample.truth_index, :2] - sample.state.position_m[:2]
    return float(math.hypot(d[0], d[1]))
