"""The facade's intake: every malformed input class is rejected with its reason and the state unchanged;
ordering, duplicates, time jumps and bad calls. Run against every backend."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from estimator_synthetic import BACKENDS, Flight, Scenario, config_for, feed, simulate, start

from gps_denied_onboard.common.inertial import ImuSample
from gps_denied_onboard.estimator.backend import NavState, PositionMeasurement, UpdateOutcome
from gps_denied_onboard.estimator.config import BaroConfig, EstimatorConfig, TimingConfig, VioConfig
from gps_denied_onboard.estimator.core import StateEstimator
from gps_denied_onboard.estimator.errors import InvalidCallError, InvalidOriginError, OriginAlreadySetError
from gps_denied_onboard.estimator.intake import IntakeReason, ResetReason
from gps_denied_onboard.estimator.registry import create_backend
from gps_denied_onboard.estimator.status import (
    EVENT_ALIGNMENT_WAITING,
    EVENT_INITIALIZED,
    EVENT_ORIGIN_SET,
    EVENT_RESET,
    EVENT_VIO_DISCONTINUITY,
    EVENT_VIO_NOT_FUSED,
    BackendId,
)

NS = 1_000_000_000
SCENARIO = Scenario(seed=5, duration_s=4.0, baro_rate_hz=10.0, geofix_rate_hz=1.0)


@pytest.fixture(scope="module")
def flight() -> Flight:
    return simulate(SCENARIO)


def immediate(backend: str, **timing: Any) -> EstimatorConfig:
    """No reorder window and no wait for VIO: every accepted measurement is fused inside the call."""
    return config_for(
        SCENARIO, backend, timing=TimingConfig(reorder_window_s=0.0, **timing), vio=VioConfig(max_delay_s=0.0)
    )


def flown(flight: Flight, backend: str, until_s: float = 3.0, **timing: Any) -> StateEstimator:
    estimator = start(flight, immediate(backend, **timing))
    t0 = int(flight.truth.t_ns[0])
    feed(estimator, [m for m in flight.measurements if m.t_ns - t0 <= until_s * NS])
    assert estimator.initialized
    estimator.drain_events()
    return estimator


def snapshot(estimator: StateEstimator) -> tuple[object, ...]:
    estimate = estimator.estimate()
    assert estimate is not None
    state = dataclasses.astuple(estimate.state)
    return (*state, dataclasses.astuple(estimator.status()))


def assert_unchanged(estimator: StateEstimator, before: tuple[object, ...], events: tuple[str, ...] = ()) -> None:
    """The state and status are exactly ``before``; the only events are ``events`` (by name)."""
    np.testing.assert_equal(snapshot(estimator), before)  # NaN-aware, exact
    assert [event.name for event in estimator.drain_events()] == list(events)


def valid_args(estimator: StateEstimator, kind: str) -> dict[str, Any]:
    """Arguments of a well-formed measurement just after the fused time (at the estimate's position)."""
    estimate = estimator.estimate()
    assert estimate is not None
    t_ns = estimate.state.t_ns + 1_000_000
    position = {
        "latitude_deg": estimate.latitude_deg,
        "longitude_deg": estimate.longitude_deg,
        "altitude_m": estimate.altitude_m,
        "covariance_enu_m2": np.diag([4.0, 4.0, 9.0]),
    }
    return {
        "imu": {"sample": ImuSample(t_ns, np.array([0.0, 0.0, 9.81]), np.zeros(3))},
        "vio": {
            "t_ns": t_ns,
            "position_m": np.zeros(3),
            "quat_wxyz": np.array([1.0, 0.0, 0.0, 0.0]),
            "velocity_body_mps": np.zeros(3),
            "twist_covariance": np.eye(6) * 0.01,
        },
        "geofix": {"t_ns": t_ns, **position},
        "gnss": {"t_ns": t_ns, **position, "fix_status": 0},
        "baro": {"t_ns": t_ns, "pressure_pa": 95000.0, "variance_pa2": 9.0},
    }[kind]


def call(estimator: StateEstimator, kind: str, args: dict[str, Any]) -> Any:
    if kind == "imu":
        return estimator.add_imu(args["sample"])
    return getattr(estimator, f"add_{kind}")(**args)


def not_pd() -> np.ndarray:
    return np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # symmetric, eigenvalue -1


MALFORMED = [
    ("imu", {"accel_mps2": np.array([np.nan, 0.0, 9.8])}, IntakeReason.NOT_FINITE),
    ("imu", {"gyro_radps": np.array([0.0, np.inf, 0.0])}, IntakeReason.NOT_FINITE),
    ("imu", {"accel_mps2": np.array([0.0, 9.8])}, IntakeReason.BAD_SHAPE),
    ("imu", {"gyro_radps": np.array([0.0, 500.0, 0.0])}, IntakeReason.INVALID_VALUE),
    ("vio", {"position_m": np.array([np.nan, 0.0, 0.0])}, IntakeReason.NOT_FINITE),
    ("vio", {"position_m": np.zeros(4)}, IntakeReason.BAD_SHAPE),
    ("vio", {"quat_wxyz": np.array([1.0, 1.0, 0.0, 0.0])}, IntakeReason.INVALID_VALUE),
    ("vio", {"quat_wxyz": np.array([np.nan, 0.0, 0.0, 1.0])}, IntakeReason.NOT_FINITE),
    ("vio", {"velocity_body_mps": np.array([0.0, np.inf, 0.0])}, IntakeReason.NOT_FINITE),
    ("vio", {"twist_covariance": np.zeros((6, 6))}, IntakeReason.INVALID_COVARIANCE),
    ("vio", {"twist_covariance": -np.eye(6)}, IntakeReason.INVALID_COVARIANCE),
    ("vio", {"twist_covariance": np.eye(6) + np.triu(np.ones((6, 6)), 1) * 0.1}, IntakeReason.INVALID_COVARIANCE),
    ("vio", {"twist_covariance": np.eye(3)}, IntakeReason.BAD_SHAPE),
    ("geofix", {"latitude_deg": math.nan}, IntakeReason.NOT_FINITE),
    ("geofix", {"latitude_deg": 95.0}, IntakeReason.INVALID_VALUE),
    ("geofix", {"covariance_enu_m2": np.zeros((3, 3))}, IntakeReason.INVALID_COVARIANCE),
    ("geofix", {"covariance_enu_m2": np.diag([4.0, -4.0, 9.0])}, IntakeReason.INVALID_COVARIANCE),
    ("geofix", {"covariance_enu_m2": not_pd()}, IntakeReason.INVALID_COVARIANCE),
    (
        "geofix",
        {"covariance_enu_m2": np.array([[4.0, 1.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 9.0]])},
        IntakeReason.INVALID_COVARIANCE,
    ),
    ("geofix", {"covariance_enu_m2": np.full((3, 3), np.inf)}, IntakeReason.NOT_FINITE),
    ("geofix", {"covariance_enu_m2": np.eye(2)}, IntakeReason.BAD_SHAPE),
    ("gnss", {"fix_status": -1}, IntakeReason.NO_FIX),
    ("gnss", {"altitude_m": math.inf}, IntakeReason.NOT_FINITE),
    ("gnss", {"longitude_deg": 181.0}, IntakeReason.INVALID_VALUE),
    ("gnss", {"covariance_enu_m2": np.zeros(9)}, IntakeReason.INVALID_COVARIANCE),
    ("gnss", {"covariance_enu_m2": not_pd()}, IntakeReason.INVALID_COVARIANCE),
    ("baro", {"pressure_pa": math.nan}, IntakeReason.NOT_FINITE),
    ("baro", {"pressure_pa": -5.0}, IntakeReason.INVALID_VALUE),
    ("baro", {"variance_pa2": 0.0}, IntakeReason.INVALID_COVARIANCE),
    ("baro", {"variance_pa2": -1.0}, IntakeReason.INVALID_COVARIANCE),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("kind", "change", "reason"),
    MALFORMED,
    ids=[f"{kind}-{next(iter(change))}-{reason.value}-{i}" for i, (kind, change, reason) in enumerate(MALFORMED)],
)
def test_malformed_content_is_rejected_with_its_reason_and_nothing_changes(
    flight: Flight, backend: str, kind: str, change: dict[str, Any], reason: IntakeReason
) -> None:
    estimator = flown(flight, backend)
    args = valid_args(estimator, kind)
    if kind == "imu":
        args = {"sample": dataclasses.replace(args["sample"], **change)}
    else:
        args.update(change)
    status = estimator.status()
    before = snapshot(estimator)
    result = call(estimator, kind, args)
    assert not result.accepted
    assert result.reason is reason
    assert result.detail
    assert result.reset is None
    # Nothing changes but the sensor's rejection counters (VIO: received and not fused, by reason).
    counters = {
        "gnss": ("gnss_rejected",),
        "geofix": ("geofix_rejected",),
        "vio": ("vio_rejected", "vio_received", "vio_not_fused"),
    }.get(kind, ())
    status = dataclasses.replace(status, **{name: getattr(status, name) + 1 for name in counters})
    if kind == "vio":
        by_reason = dict(status.vio_not_fused_by_reason)
        by_reason["invalid"] = by_reason.get("invalid", 0) + 1
        status = dataclasses.replace(status, vio_not_fused_by_reason=by_reason)
    events = (EVENT_VIO_NOT_FUSED,) if kind == "vio" else ()  # every VIO message not fused is said
    assert_unchanged(estimator, (*before[:-1], dataclasses.astuple(status)), events)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["imu", "vio", "geofix", "gnss", "baro"])
def test_a_well_formed_measurement_of_each_kind_is_accepted(flight: Flight, backend: str, kind: str) -> None:
    estimator = flown(flight, backend)
    result = call(estimator, kind, valid_args(estimator, kind))
    assert result.accepted, result.detail
    assert result.reason is IntakeReason.ACCEPTED


@pytest.mark.parametrize("backend", BACKENDS)
def test_duplicate_stamps_are_rejected_but_other_sensors_may_share_a_stamp(flight: Flight, backend: str) -> None:
    estimator = flown(flight, backend)
    imu = valid_args(estimator, "imu")
    assert estimator.add_imu(imu["sample"]).accepted
    before = snapshot(estimator)
    duplicate = estimator.add_imu(imu["sample"])
    assert duplicate.reason is IntakeReason.DUPLICATE_STAMP
    assert_unchanged(estimator, before)
    fix = valid_args(estimator, "geofix")
    fix["t_ns"] = imu["sample"].t_ns
    assert estimator.add_geofix(**fix).accepted
    assert estimator.add_geofix(**fix).reason is IntakeReason.DUPLICATE_STAMP
    gnss = {**fix, "fix_status": 0}
    assert estimator.add_gnss(**gnss).accepted  # same stamp, other sensor


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_measurement_older_than_the_fused_time_is_out_of_order(flight: Flight, backend: str) -> None:
    estimator = flown(flight, backend)
    args = valid_args(estimator, "gnss")
    args["t_ns"] -= 200_000_000
    before = snapshot(estimator)
    result = estimator.add_gnss(**args)
    assert result.reason is IntakeReason.OUT_OF_ORDER
    assert "ms behind the fused time" in result.detail
    np.testing.assert_equal(snapshot(estimator)[:-1], before[:-1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_reordering_inside_the_window_gives_the_same_result_as_stamp_order(flight: Flight, backend: str) -> None:
    config = config_for(SCENARIO, backend)  # 50 ms reorder window
    in_order = start(flight, config)
    feed(in_order, flight.measurements)
    in_order.flush()
    # Each sensor's stream stays in order but arrives late: VIO 30 ms, GNSS 40 ms, GeoFix 20 ms after the IMU.
    delay = {"imu": 0, "baro": 0, "vio": 30_000_000, "gnss": 40_000_000, "geofix": 20_000_000}
    arrivals = sorted(flight.measurements, key=lambda m: (m.t_ns + delay[m.kind], m.kind != "imu"))
    assert arrivals != flight.measurements
    shuffled = start(flight, config)
    feed(shuffled, arrivals)
    shuffled.flush()
    a, b = in_order.estimate(), shuffled.estimate()
    assert a is not None
    assert b is not None
    assert a.state.t_ns == b.state.t_ns
    np.testing.assert_allclose(a.state.position_m, b.state.position_m, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.state.covariance, b.state.covariance, rtol=0, atol=1e-12)
    assert in_order.status().gnss_accepted == shuffled.status().gnss_accepted
    assert in_order.status().vio_updates == shuffled.status().vio_updates > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_bag_loop_resets_and_the_replay_reproduces_the_first_pass(flight: Flight, backend: str) -> None:
    estimator = start(flight, immediate(backend))
    feed(estimator, flight.measurements)
    first = estimator.estimate()
    assert first is not None
    estimator.drain_events()
    imu_before = estimator.status().imu_samples
    loop = flight.measurements[0]
    assert loop.kind == "imu"
    result = estimator.add_imu(loop.args["sample"])  # type: ignore[arg-type]
    assert result.accepted
    assert result.reset is ResetReason.BACKWARD_TIME_JUMP
    assert estimator.estimate() is None
    assert not estimator.initialized
    events = estimator.drain_events()
    assert events[0].name == EVENT_RESET
    assert events[0].data["reason"] == "backward_time_jump"
    feed(estimator, flight.measurements[1:])
    second = estimator.estimate()
    assert second is not None
    assert second.state.t_ns == first.state.t_ns
    np.testing.assert_allclose(second.state.position_m, first.state.position_m, rtol=0, atol=1e-9)
    status = estimator.status()
    assert status.resets == 1
    assert status.origin_set
    assert status.imu_samples == imu_before + len([m for m in flight.measurements if m.kind == "imu"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_imu_gap_reinitialises_from_the_last_estimate_with_grown_covariance(flight: Flight, backend: str) -> None:
    estimator = flown(flight, backend)
    before = estimator.estimate()
    assert before is not None
    gap_ns = 600_000_000  # > timing.max_imu_gap_s (0.25 s)
    sample = ImuSample(before.state.t_ns + gap_ns, np.array([0.0, 0.0, 9.81]), np.zeros(3))
    result = estimator.add_imu(sample)
    assert result.accepted
    after = estimator.estimate()
    assert after is not None
    assert after.state.t_ns == sample.t_ns
    events = estimator.drain_events()
    reset = [e for e in events if e.name == EVENT_RESET]
    assert reset
    assert reset[0].data["reason"] == "forward_time_jump"
    assert reset[0].data["gap_s"] == pytest.approx(0.6, abs=0.02)
    # Position variance grows at least by the unmodelled-acceleration term (sigma_a gap^2 / 2)^2.
    growth = (3.0 * 0.6**2 / 2) ** 2
    assert after.state.covariance[0, 0] >= before.state.covariance[0, 0] + growth * 0.9
    expected = before.state.position_m + before.state.velocity_mps * (gap_ns / NS)
    np.testing.assert_allclose(after.state.position_m, expected, atol=0.05)
    assert estimator.status().resets == 1


class FailingBackend:
    """A named fake around a real backend: its position updates raise, like a numerical failure would."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def update_position(self, _measurement: PositionMeasurement) -> UpdateOutcome:
        raise RuntimeError("IndeterminantLinearSystemException (simulated)")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backend_failure_becomes_a_reset_never_an_exception(flight: Flight, backend: str) -> None:
    config = immediate(backend)
    estimator = StateEstimator(config, backend=FailingBackend(create_backend(backend, config)))  # type: ignore[arg-type]
    estimator.set_takeoff_origin(**flight.origin_kwargs)  # type: ignore[arg-type]
    feed(estimator, flight.measurements)
    events = estimator.drain_events()
    failures = [e for e in events if e.name == EVENT_RESET and e.data["reason"] == "backend_failure"]
    assert failures, "a GeoFix update raised: a reset must record it"
    assert "IndeterminantLinearSystemException" in str(failures[0].data["detail"])
    estimate = estimator.estimate()
    assert estimate is not None
    assert np.all(np.isfinite(estimate.state.position_m))


class UnrecoverableBackend(FailingBackend):
    """A named fake that fails its updates and then refuses to be re-initialised."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.initialized_once = False

    def initialize(self, state: NavState, imu_noise: Any) -> None:
        if self.initialized_once:
            raise RuntimeError("cannot restart (simulated)")
        self.initialized_once = True
        self.inner.initialize(state, imu_noise)


def test_a_backend_that_cannot_restart_falls_back_to_realignment(flight: Flight) -> None:
    config = immediate("eskf")
    estimator = StateEstimator(config, backend=UnrecoverableBackend(create_backend("eskf", config)))  # type: ignore[arg-type]
    estimator.set_takeoff_origin(**flight.origin_kwargs)  # type: ignore[arg-type]
    feed(estimator, flight.measurements)  # must not raise
    resets = [e for e in estimator.drain_events() if e.name == EVENT_RESET]
    assert "restart failed: cannot restart (simulated)" in str(resets[0].data["detail"])
    assert not estimator.initialized  # waiting for a new static alignment


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stamp_from_another_clock_is_refused_before_it_can_fake_a_bag_loop(flight: Flight, backend: str) -> None:
    estimator = flown(flight, backend)
    args = valid_args(estimator, "gnss")
    args["t_ns"] += 3_600 * NS  # e.g. GPS time against system time
    result = estimator.add_gnss(**args)
    assert result.reason is IntakeReason.FUTURE_STAMP
    assert "ahead of the newest IMU sample" in result.detail
    imu = valid_args(estimator, "imu")
    assert estimator.add_imu(imu["sample"]).reset is None  # the IMU stream goes on undisturbed


@pytest.mark.parametrize("backend", BACKENDS)
def test_aiding_without_imu_to_carry_the_state_is_not_fused(flight: Flight, backend: str) -> None:
    estimator = flown(flight, backend)
    args = valid_args(estimator, "geofix")
    args["t_ns"] += 500_000_000  # IMU silent for 0.5 s > timing.max_imu_gap_s
    status = estimator.status()
    before = snapshot(estimator)
    assert estimator.add_geofix(**args).accepted  # well-formed and in order...
    # ...but not fused on a stale state: only the fused time and the rejection counter move.
    status = dataclasses.replace(status, geofix_rejected=status.geofix_rejected + 1, stamp_ns=args["t_ns"])
    assert_unchanged(estimator, (*before[:-1], dataclasses.astuple(status)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_vio_reset_is_a_discontinuity_not_a_huge_increment(flight: Flight, backend: str) -> None:
    estimator = flown(flight, backend)
    before = estimator.estimate()
    assert before is not None
    vio = [m for m in flight.measurements if m.kind == "vio" and m.t_ns <= before.state.t_ns][-1]
    jumped = {
        **vio.args,
        "t_ns": before.state.t_ns + 1_000_000,
        "position_m": np.asarray(vio.args["position_m"]) + 100.0,
    }
    rejected_before = estimator.status().vio_rejected
    assert estimator.add_vio(**jumped).accepted  # well-formed; the jump is found against the previous pose
    events = estimator.drain_events()
    assert [e.name for e in events if e.name == EVENT_VIO_DISCONTINUITY] == [EVENT_VIO_DISCONTINUITY]
    assert "jump of" in str(next(e for e in events if e.name == EVENT_VIO_DISCONTINUITY).data["reason"])
    assert estimator.status().vio_rejected == rejected_before + 1
    after = estimator.estimate()
    assert after is not None
    assert np.linalg.norm(after.state.position_m - before.state.position_m) < 0.5


@pytest.mark.parametrize("kind", ["imu", "vio", "geofix", "gnss", "baro"])
def test_every_measurement_before_the_origin_is_rejected(flight: Flight, kind: str) -> None:
    estimator = StateEstimator(immediate("eskf"))
    first = next(m for m in flight.measurements if m.kind == kind)
    result = call(estimator, kind, first.args if kind == "imu" else {"t_ns": first.t_ns, **first.args})
    assert not result.accepted
    assert result.reason is IntakeReason.ORIGIN_NOT_SET
    assert estimator.estimate() is None
    status = estimator.status()
    assert not status.origin_set
    assert math.isnan(status.origin_latitude_deg)
    assert status.imu_samples == 0


@pytest.mark.parametrize("kind", ["vio", "geofix", "gnss"])
def test_aiding_before_the_alignment_is_rejected_as_not_initialised(flight: Flight, kind: str) -> None:
    estimator = start(flight, immediate("eskf"))
    first = next(m for m in flight.measurements if m.kind == kind)
    result = call(estimator, kind, {"t_ns": first.t_ns, **first.args})
    assert result.reason is IntakeReason.NOT_INITIALIZED


def test_baro_is_refused_when_disabled(flight: Flight) -> None:
    estimator = start(flight, dataclasses.replace(immediate("eskf"), baro=BaroConfig(enabled=False)))
    first = next(m for m in flight.measurements if m.kind == "baro")
    assert estimator.add_baro(first.t_ns, **first.args).reason is IntakeReason.DISABLED  # type: ignore[arg-type]


def test_alignment_waits_for_rest(flight: Flight) -> None:
    estimator = start(flight, immediate("eskf"))
    rng = np.random.default_rng(0)
    t = NS
    for _ in range(300):  # 1.5 s of a vehicle being carried around
        t += 5_000_000
        estimator.add_imu(ImuSample(t, np.array([0.0, 0.0, 9.81]) + rng.normal(0, 2.0, 3), rng.normal(0, 0.5, 3)))
    assert not estimator.initialized
    names = [e.name for e in estimator.drain_events()]
    assert EVENT_ALIGNMENT_WAITING in names
    assert EVENT_INITIALIZED not in names
    for _ in range(260):
        t += 5_000_000
        estimator.add_imu(ImuSample(t, np.array([0.0, 0.0, 9.81]), np.zeros(3)))
    assert estimator.initialized
    assert EVENT_INITIALIZED in [e.name for e in estimator.drain_events()]


def test_origin_event_and_status(flight: Flight) -> None:
    estimator = start(flight, immediate("eskf"))
    events = estimator.drain_events()
    assert [e.name for e in events] == [EVENT_ORIGIN_SET]
    assert events[0].data["latitude_deg"] == flight.origin_kwargs["latitude_deg"]
    status = estimator.status()
    assert status.origin_set
    assert status.origin_altitude_m == flight.origin_kwargs["altitude_m"]
    assert status.backend is BackendId.ESKF
    assert not status.initialized


def test_a_late_origin_call_is_a_typed_error(flight: Flight) -> None:
    estimator = flown(flight, "eskf")
    before = snapshot(estimator)
    with pytest.raises(OriginAlreadySetError, match=r"late call: \d+ IMU samples already taken; take-off origin"):
        estimator.set_takeoff_origin(47.5, 8.6, 500.0, 1.0, 1.0)
    np.testing.assert_equal(snapshot(estimator), before)


def test_the_origin_cannot_be_set_twice(flight: Flight) -> None:
    estimator = start(flight, immediate("eskf"))
    with pytest.raises(OriginAlreadySetError, match=r"^take-off origin already set to \(47.3977420, 8.5455940"):
        estimator.set_takeoff_origin(**flight.origin_kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"latitude_deg": math.nan}, r"latitude_deg must be finite"),
        ({"latitude_deg": 91.0}, r"take-off origin: latitude_deg must be within \[-90, 90\]"),
        ({"sigma_horiz_m": 0.0}, r"sigma_horiz_m must be > 0, got 0.0"),
        ({"sigma_vert_m": -1.0}, r"sigma_vert_m must be > 0"),
        ({"sigma_yaw_rad": None}, r"sigma_yaw_rad is required with yaw_rad"),
        ({"yaw_rad": None}, r"sigma_yaw_rad given without yaw_rad"),
        ({"sigma_yaw_rad": 0.0}, r"sigma_yaw_rad must be > 0"),
    ],
)
def test_invalid_origin_is_a_typed_error(flight: Flight, change: dict[str, Any], message: str) -> None:
    estimator = StateEstimator(immediate("eskf"))
    with pytest.raises(InvalidOriginError, match=message):
        estimator.set_takeoff_origin(**{**flight.origin_kwargs, **change})  # type: ignore[arg-type]
    assert estimator.origin is None


def test_origin_without_heading_uses_the_default_yaw_sigma(flight: Flight) -> None:
    config = immediate("eskf")
    estimator = StateEstimator(config)
    kwargs = {k: v for k, v in flight.origin_kwargs.items() if k not in ("yaw_rad", "sigma_yaw_rad")}
    estimator.set_takeoff_origin(**kwargs)  # type: ignore[arg-type]
    feed(estimator, [m for m in flight.measurements if m.kind == "imu"][:150])
    estimate = estimator.estimate()
    assert estimate is not None
    assert estimate.state.covariance[8, 8] == pytest.approx(config.init.default_yaw_sigma_rad**2, rel=1e-3)


BAD_CALLS = {
    "imu-type": lambda e: e.add_imu("not a sample"),
    "imu-float-stamp": lambda e: e.add_imu(ImuSample(1.5, np.zeros(3), np.zeros(3))),
    "gnss-float-stamp": lambda e: e.add_gnss(1.5e9, 47.0, 8.0, 400.0, np.eye(3), fix_status=0),
    "gnss-float-status": lambda e: e.add_gnss(NS, 47.0, 8.0, 400.0, np.eye(3), fix_status=0.0),
    "geofix-str-latitude": lambda e: e.add_geofix(NS, "47", 8.0, 400.0, np.eye(3)),
    "geofix-str-covariance": lambda e: e.add_geofix(NS, 47.0, 8.0, 400.0, "identity"),
    "baro-bool-stamp": lambda e: e.add_baro(True, 95000.0, 9.0),
    "vio-str-position": lambda e: e.add_vio(NS, ["a", "b", "c"], [1, 0, 0, 0], np.zeros(3), np.eye(6)),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_wrong_argument_types_are_a_bad_call(name: str) -> None:
    estimator = StateEstimator(immediate("eskf"))
    estimator.set_takeoff_origin(47.0, 8.0, 400.0, 1.0, 1.0, yaw_rad=0.0, sigma_yaw_rad=0.1)
    with pytest.raises(InvalidCallError):
        BAD_CALLS[name](estimator)


def test_a_non_numeric_origin_is_a_bad_call() -> None:
    estimator = StateEstimator(immediate("eskf"))
    with pytest.raises(InvalidCallError, match=r"latitude_deg must be a number, got str"):
        estimator.set_takeoff_origin("47", 8.0, 400.0, 1.0, 1.0)  # type: ignore[arg-type]


def test_the_config_type_is_checked() -> None:
    with pytest.raises(InvalidCallError, match=r"config must be an EstimatorConfig, got dict"):
        StateEstimator({})  # type: ignore[arg-type]


def test_status_counts_what_was_fused(flight: Flight) -> None:
    estimator = flown(flight, "eskf", until_s=4.0)
    status = estimator.status()
    expected_imu = sum(1 for m in flight.measurements if m.kind == "imu")
    assert status.imu_samples == expected_imu
    assert status.vio_updates > 20
    assert status.gnss_accepted <= 1  # on probation (gate.dwell_s 3 s) until the last fix or so
    assert status.geofix_accepted >= 1
    assert status.baro_updates > 0
    assert 0 < status.horizontal_sigma_m < 3.0
    assert 0 < status.vertical_sigma_m < 3.0
    assert status.update_latency_ms > 0.0
    estimate = estimator.estimate()
    assert isinstance(estimate.state, NavState) if estimate else False
    # The WGS84 output is the map position through the geodesy module.
    lat, lon, alt = flight.plane.geodetic_from_enu(estimate.state.position_m)  # type: ignore[union-attr]
    assert (estimate.latitude_deg, estimate.longitude_deg, estimate.altitude_m) == pytest.approx(  # type: ignore[union-attr]
        (float(lat), float(lon), float(alt)), abs=1e-9
    )


def test_the_synthetic_flight_exercises_every_facade_input(flight: Flight) -> None:
    assert {m.kind for m in flight.measurements} == {"imu", "vio", "gnss", "geofix", "baro"}
