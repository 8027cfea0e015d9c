"""The estimator core on the simulator's flights (`onboard sim` scenarios), without the ROS graph.

IMU, GNSS and baro come from the simulator exactly as the bag would carry them (vibration,
clipping, baro-GNSS offset drift, correlated GNSS errors included). VIO comes from an error model
of our VIO instead of running it (rendering and VIO cost minutes per flight): increments of the
true motion with white velocity noise, a scale error and a yaw random walk, reported with an
optimistic twist covariance (half the true sigma, as on real data), missing over featureless
ground (VIO LOST there, a new chain after), and delivered 20-300 ms late, bunched, as vio_node
does on a loaded CPU. GNSS attacks are applied to the simulated fixes afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from gps_denied_onboard.estimator.config import EstimatorConfig
from gps_denied_onboard.estimator.core import StateEstimator
from gps_denied_onboard.estimator.status import Event
from gps_denied_onboard.sim.flight import Flight, PhaseKind, generate_flight
from gps_denied_onboard.sim.scenario import Scenario, resolve_scenario

NS = 1_000_000_000
FloatArray = npt.NDArray[np.float64]
GnssAttack = Callable[[FloatArray, FloatArray], FloatArray]  # (t_s (N,), enu (N, 3)) -> spoofed enu; NaN rows: jammed


@dataclass(frozen=True)
class VioModel:
    """Our VIO's errors, as measured on the simulator (0.10-0.16 % of distance) and real data."""

    rate_hz: float = 20.0
    velocity_sigma_mps: float = 0.06  # white, per axis, on the increment's mean velocity
    scale_error: float = 0.002
    yaw_walk_rad_per_sqrt_s: float = 4e-4
    reported_sigma_fraction: float = 0.5  # VIO reports half its true sigma (optimistic)
    delay_s: tuple[float, float] = (0.02, 0.3)


@dataclass
class Call:
    """One facade call, at its arrival order."""

    arrival_ns: int
    t_ns: int
    kind: str
    args: dict[str, object]


@dataclass
class SimRun:
    """What one flight through the core gave: estimates at the sampling stamps and the final status."""

    flight: Flight
    t_s: FloatArray  # (K,) flight time of each sample
    position_m: FloatArray  # (K, 3)
    covariance_m2: FloatArray  # (K, 3, 3)
    truth_m: FloatArray  # (K, 3)
    source: list[str] = field(default_factory=list)
    trust: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    gnss_fixes: int = 0
    estimator: StateEstimator | None = None

    @property
    def error_m(self) -> FloatArray:
        """(K, 3) estimate minus truth."""
        return self.position_m - self.truth_m

    def mask(self, kind: PhaseKind) -> npt.NDArray[np.bool_]:
        """Samples inside any window of ``kind``."""
        inside = np.zeros(len(self.t_s), dtype=bool)
        for window in self.flight.phases:
            if window.kind is kind:
                inside |= (self.t_s >= window.start_ns / NS) & (self.t_s < window.end_ns / NS)
        return inside

    def nominal(self) -> npt.NDArray[np.bool_]:
        """Samples in no event window (and after take-off alignment)."""
        inside = np.zeros(len(self.t_s), dtype=bool)
        for kind in PhaseKind:
            inside |= self.mask(kind)
        return ~inside

    def nees(self, mask: npt.NDArray[np.bool_]) -> FloatArray:
        """Position NEES of the masked samples."""
        errors = self.error_m[mask]
        return np.array([e @ np.linalg.solve(c, e) for e, c in zip(errors, self.covariance_m2[mask], strict=True)])


def sim_flight(
    scenario: str | Scenario, *, seed: int | None = None, duration_s: float | None = None, gnss_events: bool = True
) -> Flight:
    """The simulator's flight of a named scenario (no images rendered); ``gnss_events=False`` drops the
    scenario's own denials and spoofs (for an attack applied on top, so it is the only GNSS fault)."""
    chosen = resolve_scenario(scenario) if isinstance(scenario, str) else scenario
    if seed is not None:
        chosen = replace(chosen, seed=seed)
    if not gnss_events:
        chosen = replace(chosen, events=())
    return generate_flight(chosen, duration_s=duration_s)


def _truth_at(flight: Flight, t_s: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    states = flight.trajectory.states(t_s)
    return states.position_m, states.R_map_body, states.velocity_mps


def vio_calls(flight: Flight, model: VioModel, rng: np.random.Generator) -> list[Call]:
    """VIO odometry from the error model (module docstring), LOST over featureless ground."""
    t_s = np.arange(0.5, flight.duration_s, 1.0 / model.rate_hz)
    lost = np.zeros(len(t_s), dtype=bool)
    for window in flight.phases:
        if window.kind is PhaseKind.FEATURELESS:
            lost |= (t_s >= window.start_ns / NS) & (t_s < window.end_ns / NS + 1.0)  # re-init takes ~1 s
    position, rotation, velocity = _truth_at(flight, t_s)
    calls: list[Call] = []
    odom_p, odom_r = np.zeros(3), np.eye(3)
    yaw_drift = 0.0
    dt = 1.0 / model.rate_hz
    reported = model.reported_sigma_fraction
    for k in range(len(t_s)):
        if lost[k]:
            odom_p, odom_r = np.zeros(3), np.eye(3)  # a restarted VIO starts a new odom frame
            continue
        if k > 0 and not lost[k - 1]:
            d_body = rotation[k - 1].T @ (position[k] - position[k - 1]) * (1.0 + model.scale_error)
            d_body = d_body + rng.normal(0.0, model.velocity_sigma_mps * dt, 3)
            d_rot = rotation[k - 1].T @ rotation[k]
            yaw_step = float(rng.normal(0.0, model.yaw_walk_rad_per_sqrt_s * math.sqrt(dt)))
            yaw_drift += yaw_step
            d_rot = d_rot @ Rotation.from_rotvec([0.0, 0.0, yaw_step]).as_matrix()
            odom_p = odom_p + odom_r @ d_body
            odom_r = odom_r @ d_rot
        body_velocity = rotation[k].T @ velocity[k] + rng.normal(0.0, model.velocity_sigma_mps, 3)
        twist = np.zeros((6, 6))
        twist[:3, :3] = np.eye(3) * (reported * model.velocity_sigma_mps) ** 2
        twist[3:, 3:] = np.eye(3) * (reported * 0.01) ** 2
        x, y, z, w = Rotation.from_matrix(odom_r).as_quat()
        stamp = round(float(t_s[k]) * NS)
        arrival = stamp + round(float(rng.uniform(*model.delay_s)) * NS)
        args = {
            "position_m": odom_p.copy(),
            "quat_wxyz": np.array([w, x, y, z]),
            "velocity_body_mps": body_velocity,
            "twist_covariance": twist,
        }
        calls.append(Call(arrival, stamp, "vio", args))
    # One publisher: messages leave in order, a slow one holds back those behind it.
    latest = 0
    for call in calls:
        latest = max(latest, call.arrival_ns)
        call.arrival_ns = latest
    return calls


def sensor_calls(flight: Flight, attack: GnssAttack | None = None) -> list[Call]:
    """IMU, GNSS (optionally attacked) and baro calls at their stamps."""
    calls = [Call(int(t), int(t), "imu", {"sample": flight.imu.sample(i)}) for i, t in enumerate(flight.imu.t_ns)]
    gnss = flight.gnss
    enu = gnss.position_enu_m.copy()
    t_s = gnss.t_ns / NS
    if attack is not None:
        enu = attack(t_s, enu)
    for i, t in enumerate(gnss.t_ns):
        if not gnss.fix[i] or not np.all(np.isfinite(enu[i])):
            continue
        lat, lon, alt = flight.ltp.geodetic_from_enu(enu[i])
        args = {
            "latitude_deg": float(lat),
            "longitude_deg": float(lon),
            "altitude_m": float(alt),
            "covariance_enu_m2": np.diag(gnss.variance_enu_m2[i]),
            "fix_status": 0,
        }
        calls.append(Call(int(t), int(t), "gnss", args))
    baro = flight.baro
    calls.extend(
        Call(int(t), int(t), "baro", {"pressure_pa": float(p), "variance_pa2": float(baro.variance_pa2)})
        for t, p in zip(baro.t_ns, baro.pressure_pa, strict=True)
    )
    return calls


def fly(
    flight: Flight,
    config: EstimatorConfig,
    *,
    attack: GnssAttack | None = None,
    vio: VioModel | None = VioModel(),
    seed: int = 0,
    every_s: float = 0.5,
    start_s: float = 0.0,
) -> SimRun:
    """Feed the flight (in arrival order) into a new estimator; sample the estimate every ``every_s``.

    ``start_s`` > 0 starts the estimator in flight (a companion computer rebooted in the air): nothing
    before it is fed, and the origin is the true position then."""
    rng = np.random.default_rng([seed, 99])
    calls = sensor_calls(flight, attack)
    if vio is not None:
        calls.extend(vio_calls(flight, vio, rng))
    order = {"imu": 0, "vio": 1, "gnss": 2, "baro": 3}
    calls = [c for c in calls if c.t_ns >= start_s * NS]
    calls.sort(key=lambda c: (c.arrival_ns, order[c.kind], c.t_ns))
    estimator = StateEstimator(config)
    truth0 = flight.trajectory.states(np.array([start_s])).position_m[0]
    origin = flight.ltp.geodetic_from_enu(truth0)
    yaw0 = float(flight.trajectory.states(np.array([start_s])).yaw_rad[0])
    estimator.set_takeoff_origin(
        float(origin[0]), float(origin[1]), float(origin[2]), 1.0, 1.5, yaw_rad=yaw0 + math.radians(3.0),
        sigma_yaw_rad=math.radians(10.0),
    )  # fmt: skip
    samples: list[tuple[float, FloatArray, FloatArray, str, str]] = []
    next_ns = 0
    every_ns = round(every_s * NS)
    events: list[Event] = []
    for call in calls:
        if call.kind == "imu":
            estimator.add_imu(call.args["sample"])  # type: ignore[arg-type]
            if call.t_ns >= next_ns:
                estimate = estimator.estimate()
                if estimate is not None:
                    status = estimator.status()
                    state = estimate.state
                    samples.append(
                        (state.t_ns / NS, state.position_m.copy(), state.covariance[:3, :3].copy(),
                         status.source.name, status.gnss_trust.name)
                    )  # fmt: skip
                next_ns = call.t_ns + every_ns
        else:
            getattr(estimator, f"add_{call.kind}")(call.t_ns, **call.args)
        events.extend(estimator.drain_events())
    estimator.flush()
    events.extend(estimator.drain_events())
    t_s = np.array([s[0] for s in samples])
    truth = flight.trajectory.states(t_s).position_m - truth0  # the estimator's map is at truth0
    return SimRun(
        flight=flight,
        t_s=t_s,
        position_m=np.array([s[1] for s in samples]),
        covariance_m2=np.array([s[2] for s in samples]),
        truth_m=truth,
        source=[s[3] for s in samples],
        trust=[s[4] for s in samples],
        events=events,
        gnss_fixes=int(np.count_nonzero(flight.gnss.fix)),
        estimator=estimator,
    )


# --------------------------------------------------------------------------- GNSS attacks
def _after(t_s: FloatArray, onset_s: float) -> FloatArray:
    return np.clip(t_s - onset_s, 0.0, None)


def drift_spoof(onset_s: float, rate_mps: float, direction_deg: float = 30.0) -> GnssAttack:
    """GNSS walks away at ``rate_mps`` from ``onset_s`` (no ramp: the hardest to see early)."""
    unit = np.array([math.cos(math.radians(direction_deg)), math.sin(math.radians(direction_deg)), 0.0])
    return lambda t_s, enu: enu + _after(t_s, onset_s)[:, None] * rate_mps * unit


def jump_spoof(onset_s: float, jump_m: float, direction_deg: float = 30.0) -> GnssAttack:
    """GNSS jumps by ``jump_m`` at ``onset_s`` and stays there."""
    unit = np.array([math.cos(math.radians(direction_deg)), math.sin(math.radians(direction_deg)), 0.0])
    return lambda t_s, enu: enu + (t_s >= onset_s)[:, None] * jump_m * unit


def jam_then_spoof(onset_s: float, jam_s: float, offset_m: float, direction_deg: float = 120.0) -> GnssAttack:
    """No GNSS for ``jam_s`` from ``onset_s``, then GNSS carrying a constant ``offset_m``."""
    unit = np.array([math.cos(math.radians(direction_deg)), math.sin(math.radians(direction_deg)), 0.0])

    def attack(t_s: FloatArray, enu: FloatArray) -> FloatArray:
        out = enu + (t_s >= onset_s + jam_s)[:, None] * offset_m * unit
        out[(t_s >= onset_s) & (t_s < onset_s + jam_s)] = np.nan
        return out

    return attack


def vio_matching_spoof(onset_s: float, scale_error: float = 0.004, yaw_rate_radps: float = 2e-4) -> GnssAttack:
    """GNSS moves the track as a drifting VIO would see it (scale and heading drift about the onset
    point): displacement consistent with VIO, so only its size bounds what it can do."""

    def attack(t_s: FloatArray, enu: FloatArray) -> FloatArray:
        start = int(np.searchsorted(t_s, onset_s))
        if start >= len(t_s):
            return enu
        anchor = enu[start].copy()
        out = enu.copy()
        dt = _after(t_s, onset_s)
        for i in range(start, len(t_s)):
            c, s = math.cos(yaw_rate_radps * dt[i]), math.sin(yaw_rate_radps * dt[i])
            d = (enu[i] - anchor) * (1.0 + scale_error * min(1.0, dt[i] / 30.0))
            out[i, :2] = anchor[:2] + np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])
        return out

    return attack


# --------------------------------------------------------------------------- what a run says about the gate
def trust_changes(run: SimRun) -> list[tuple[float, str]]:
    """(flight time s, new trust) of every GNSS trust transition."""
    return [(e.stamp_ns / NS, str(e.data["current"])) for e in run.events if e.name == "gnss_trust_changed"]


def false_rejection_share(run: SimRun) -> tuple[float, float]:
    """(share of genuine fixes rejected, share whose height alone was withheld) on an unattacked flight."""
    assert run.estimator is not None
    status = run.estimator.status()
    return status.gnss_rejected / max(run.gnss_fixes, 1), status.gnss_vertical_rejected / max(run.gnss_fixes, 1)


def retrust_delays_s(run: SimRun) -> list[float]:
    """For each GNSS denial window: seconds from its end to the next TRUSTED (inf if never)."""
    changes = trust_changes(run)
    delays = []
    for window in run.flight.phases:
        if window.kind is PhaseKind.GNSS_DENIED:
            end_s = window.end_ns / NS
            after = [t for t, state in changes if state == "TRUSTED" and t >= end_s]
            delays.append(after[0] - end_s if after else math.inf)
    return delays


@dataclass(frozen=True)
class AttackOutcome:
    """How the gate met one attack from ``onset_s``."""

    detected_after_s: float  # first REJECTED after the onset (inf: never); 0 if already refused
    trusted_after_onset: bool  # GNSS trusted again while the attack lasted
    max_pull_m: float  # largest horizontal error after the onset minus the error at the onset


def attack_outcome(run: SimRun, onset_s: float, first_spoofed_s: float | None = None) -> AttackOutcome:
    """Detection and pull of an attack; ``first_spoofed_s``: when spoofed fixes start (jam-then-spoof)."""
    spoofed_s = onset_s if first_spoofed_s is None else first_spoofed_s
    changes = trust_changes(run)
    rejected = [t for t, state in changes if state == "REJECTED" and t >= spoofed_s]
    before = [state for t, state in changes if t < spoofed_s]
    already = (
        bool(before)
        and before[-1] in ("REJECTED", "UNAVAILABLE")
        and not [t for t, state in changes if state in ("PROBATION", "TRUSTED") and t >= spoofed_s]
    )
    detected = 0.0 if already and not rejected else (rejected[0] - spoofed_s if rejected else math.inf)
    trusted_again = any(state == "TRUSTED" and t >= spoofed_s for t, state in changes)
    horizontal = np.hypot(run.error_m[:, 0], run.error_m[:, 1])
    at_onset = float(np.interp(onset_s, run.t_s, horizontal))
    after = horizontal[run.t_s >= onset_s]
    pull = float(np.max(after) - at_onset) if len(after) else 0.0
    return AttackOutcome(detected, trusted_again, pull)
