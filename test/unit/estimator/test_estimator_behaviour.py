"""Behaviour of the whole estimator on synthetic flights, for every backend: convergence, denial with
VIO, IMU-only denial, recovery through PROBATION, map-matching fixes and barometric height."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from estimator_synthetic import (
    BACKENDS,
    Flight,
    Sample,
    Scenario,
    config_for,
    errors,
    horizontal_error_m,
    run,
    simulate,
    start,
)
from scipy.stats import chi2

from gps_denied_onboard.common.inertial import GRAVITY_MPS2
from gps_denied_onboard.estimator.gate import GnssTrust
from gps_denied_onboard.estimator.status import EVENT_GNSS_TRUST, EVENT_SOURCE, EstimatorSnapshot, Event, SourceLabel

NS = 1_000_000_000


@dataclass(frozen=True)
class Run:
    flight: Flight
    samples: list[Sample]
    events: list[Event]
    status: EstimatorSnapshot

    def at(self, t_s: float) -> Sample:
        return min(self.samples, key=lambda s: abs(s.t_s - t_s))

    def between(self, start_s: float, end_s: float) -> list[Sample]:
        return [s for s in self.samples if start_s <= s.t_s <= end_s]

    def scenario_s(self, event: Event) -> float:
        return (event.stamp_ns - int(self.flight.truth.t_ns[0])) / NS


def fly(scenario: Scenario, backend: str, every_s: float = 0.5) -> Run:
    flight = simulate(scenario)
    estimator = start(flight, config_for(scenario, backend))
    samples = run(estimator, flight, every_s=every_s)
    return Run(flight, samples, estimator.drain_events(), estimator.status())


def trust_changes(run_: Run) -> list[tuple[float, str, str]]:
    return [
        (run_.scenario_s(e), str(e.data["previous"]), str(e.data["current"]))
        for e in run_.events
        if e.name == EVENT_GNSS_TRUST
    ]


def travelled_m(flight: Flight, start_s: float, end_s: float) -> float:
    t = (flight.truth.t_ns - flight.truth.t_ns[0]) / NS
    path = flight.truth.position_m[(t >= start_s) & (t <= end_s)]
    return float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))


# --------------------------------------------------------------------------- convergence
@pytest.mark.parametrize("backend", BACKENDS)
def test_converges_from_the_origin_prior(backend: str) -> None:
    result = fly(Scenario(seed=21, duration_s=30.0), backend)
    first, last = result.samples[0], result.samples[-1]
    # Static alignment: tilt within 3 sigma of the configured tilt prior (accel bias / g).
    tilt_error = errors(first, result.flight.truth)[6:8]
    tilt_sigma = math.sqrt(first.state.covariance[6, 6])
    assert np.all(np.abs(tilt_error) < 3 * tilt_sigma)
    # Converged: sub-metre, sub-degree, and the covariance says so (prior was 2 m, 0.05 rad).
    e = errors(last, result.flight.truth)
    assert horizontal_error_m(last, result.flight.truth) < 1.0
    assert abs(e[2]) < 1.5
    assert abs(math.degrees(e[8])) < 1.0
    assert result.status.horizontal_sigma_m < 0.5  # from the 2 m origin prior
    p = last.state.covariance[:3, :3]
    assert e[:3] @ np.linalg.solve(p, e[:3]) < chi2.ppf(0.999, 3)
    assert result.status.gnss_trust is GnssTrust.TRUSTED
    assert result.status.source is SourceLabel.GNSS
    assert result.status.gnss_accepted > 100


# --------------------------------------------------------------------------- GNSS denied, VIO on
DENIAL = Scenario(seed=22, duration_s=62.0, gnss_off=((20.0, 50.0),))


@pytest.fixture(scope="module", params=BACKENDS)
def denial(request: pytest.FixtureRequest) -> Run:
    return fly(DENIAL, request.param)


def test_gnss_denied_with_vio_grows_boundedly(denial: Run) -> None:
    """Bound: 1.5 % of the distance flown in the denial + 1 m. Why: the VIO body velocity is white
    (0.05 m/s at 20 Hz, a few cm over 30 s), so the drift is the heading error at the start of the
    denial (a few tenths of a degree after GNSS-aided turns: 0.5 % of distance) plus the velocity
    and bias errors it carries; 1.5 % is a typical VIO-grade budget, and the 1 m covers the fix
    noise the estimate started with."""
    before = denial.at(20.0)
    end = denial.at(49.5)
    distance = travelled_m(denial.flight, 20.0, 49.5)
    assert distance > 150.0
    error_end = horizontal_error_m(end, denial.flight.truth)
    assert error_end < 0.015 * distance + 1.0
    sigma_end = math.sqrt(np.linalg.eigvalsh(end.state.covariance[:2, :2])[-1])
    sigma_before = math.sqrt(np.linalg.eigvalsh(before.state.covariance[:2, :2])[-1])
    assert sigma_before < sigma_end < 0.015 * distance + 1.0  # the uncertainty grows, and stays bounded too
    assert error_end < 3.5 * sigma_end  # and the estimate knows its error (2-D, 99.8 %)
    for sample in denial.between(20.0, 49.5):
        assert horizontal_error_m(sample, denial.flight.truth) < 0.015 * distance + 1.0


def _vio_delivered_late(flight: Flight, delays_s: np.ndarray) -> Flight:
    """The same flight with each VIO message arriving ``delay`` after its stamp (behind later IMU
    samples), as from a VIO whose keyframe solves take 100-400 ms on a loaded CPU."""
    others = [m for m in flight.measurements if m.kind != "vio"]
    vio = [m for m in flight.measurements if m.kind == "vio"]
    # One publisher: messages leave in order, a slow one holds back those behind it.
    arrival = np.maximum.accumulate(
        [m.t_ns + round(float(delays_s[i % len(delays_s)]) * NS) for i, m in enumerate(vio)]
    )
    merged = sorted(
        [(m.t_ns, 0, i, m) for i, m in enumerate(others)]
        + [(a, 1, i, m) for i, (a, m) in enumerate(zip(arrival, vio, strict=True))],
        key=lambda item: item[:3],
    )
    return replace(flight, measurements=[m for *_, m in merged])


@pytest.mark.parametrize("backend", BACKENDS)
def test_late_and_bunched_vio_is_fused_through_a_denial(backend: str) -> None:
    """VIO messages 60-1000 ms late (far beyond the 50 ms reorder window, within vio.max_delay_s),
    bunched behind slow ones: the fusion waits for them, every one is fused at its own stamp, and
    the denial stays within the on-time bound."""
    flight = simulate(DENIAL)
    delays = np.random.default_rng(5).uniform(0.06, 1.0, size=97)
    late = _vio_delivered_late(flight, delays)
    estimator = start(late, config_for(DENIAL, backend))
    samples = run(estimator, late, every_s=0.5)
    estimator.flush()
    status = estimator.status()
    vio_messages = sum(1 for m in flight.measurements if m.kind == "vio")
    assert status.vio_received == vio_messages
    assert status.vio_received == status.vio_updates + status.vio_anchored + status.vio_not_fused
    # Only the messages before alignment, and those in flight when the first one after it arrived
    # (at most the largest delay's worth), are not fused: until then nothing says VIO runs.
    not_fused = dict(status.vio_not_fused_by_reason)
    not_fused.pop("not_initialized", None)
    in_flight = round(float(delays.max()) * DENIAL.vio_rate_hz) + 1
    assert set(not_fused) <= {"late"}, status.vio_not_fused_by_reason
    assert not_fused.get("late", 0) <= in_flight, status.vio_not_fused_by_reason
    result = Run(late, samples, estimator.drain_events(), status)
    distance = travelled_m(flight, 20.0, 49.5)
    for sample in result.between(20.0, 49.5):
        assert horizontal_error_m(sample, flight.truth) < 0.015 * distance + 1.0
    assert status.fusion_delay_ms <= 1000.0


def test_source_label_follows_the_aiding(denial: Run) -> None:
    sources = [(denial.scenario_s(e), e.data["current"]) for e in denial.events if e.name == EVENT_SOURCE]
    labels = [label for _, label in sources]
    assert labels[:2] == ["VIO_ONLY", "GNSS"]  # VIO from the start, GNSS after the dwell
    to_vio = next(t for t, label in sources if label == "VIO_ONLY" and t > 15.0)
    assert 20.0 < to_vio <= 20.0 + 1.0 + 0.05  # source.gnss_timeout_s after the last fused fix
    assert labels[-1] == "GNSS"


def test_recovery_after_denial_goes_through_probation(denial: Run) -> None:
    changes = [c for c in trust_changes(denial) if c[0] > 15.0]
    # TRUSTED -> UNAVAILABLE after gate.timeout_s (2 s) of silence, then PROBATION at the first
    # consistent fix and TRUSTED once the dwell (gate.dwell_s, 3 s) is complete.
    assert [(prev, cur) for _, prev, cur in changes] == [
        ("TRUSTED", "UNAVAILABLE"),
        ("UNAVAILABLE", "PROBATION"),
        ("PROBATION", "TRUSTED"),
    ]
    lost, probation, trusted = (t for t, _, _ in changes)
    last_fix_s = 19.8  # GNSS at 5 Hz stops at 20 s
    assert last_fix_s + 2.0 < lost <= last_fix_s + 2.0 + 0.02  # the first IMU sample past the timeout
    assert 50.0 <= probation <= 50.25
    assert trusted - probation == pytest.approx(3.0, abs=1e-6)
    final = denial.samples[-1]
    assert horizontal_error_m(final, denial.flight.truth) < 1.0
    assert denial.status.gnss_trust is GnssTrust.TRUSTED


# --------------------------------------------------------------------------- IMU only
@pytest.mark.parametrize("backend", BACKENDS)
def test_imu_only_denial_is_bounded_by_physics(backend: str) -> None:
    """No VIO, GNSS lost for 10 s: the error must stay within what the state's uncertainty at the
    start of the denial allows through the strapdown error equations. The 1-sigma bound per axis is
    the sum (triangle inequality, so correlations cannot break it) of position, velocity * T,
    (accel bias + g * tilt) * T^2 / 2, g * gyro bias * T^3 / 6 and the accelerometer white noise
    sqrt(q T^3 / 3); biases are taken over both horizontal axes because the body turns."""
    scenario = Scenario(seed=23, duration_s=36.0, vio_rate_hz=0.0, baro_rate_hz=10.0, gnss_off=((25.0, 35.0),))
    result = fly(scenario, backend)
    start_sample = result.at(25.0)
    c = start_sample.state.covariance
    accel_bias = math.sqrt(c[9, 9] + c[10, 10])
    gyro_bias = math.sqrt(c[12, 12] + c[13, 13])
    q = scenario.noise.accel_noise_density**2
    for t_s in (27.0, 30.0, 34.5):
        dt = t_s - start_sample.t_s
        error = np.abs(errors(result.at(t_s), result.flight.truth)[:2])
        for axis, tilt_index in ((0, 7), (1, 6)):  # x is driven by the tilt about y, y by the tilt about x
            bound = (
                math.sqrt(c[axis, axis])
                + math.sqrt(c[3 + axis, 3 + axis]) * dt
                + 0.5 * (accel_bias + GRAVITY_MPS2 * math.sqrt(c[tilt_index, tilt_index])) * dt**2
                + GRAVITY_MPS2 * gyro_bias * dt**3 / 6
                + math.sqrt(q * dt**3 / 3)
            )
            assert error[axis] < 3.0 * bound, (t_s, axis, error[axis], bound)
    assert max(horizontal_error_m(s, result.flight.truth) for s in result.between(25.0, 35.0)) < 20.0
    # Barometric height keeps the vertical bounded while the horizontal drifts.
    assert abs(errors(result.at(34.5), result.flight.truth)[2]) < 1.0
    assert result.status.baro_updates > 150  # fused at most every baro.fusion_period_s (0.2 s) over 36 s
    labels = [e.data["current"] for e in result.events if e.name == EVENT_SOURCE]
    assert "DEAD_RECKONING" in labels


# --------------------------------------------------------------------------- map-matching fixes
@pytest.mark.parametrize("backend", BACKENDS)
def test_geofix_anchors_the_position_when_gnss_is_denied(backend: str) -> None:
    scenario = Scenario(seed=24, duration_s=40.0, vio_rate_hz=0.0, geofix_rate_hz=1.0, gnss_off=((12.0, 40.0),))
    result = fly(scenario, backend)
    assert result.status.source is SourceLabel.VISUAL
    assert result.status.geofix_accepted >= 35
    # GeoFix at 3 m (1 sigma) once a second keeps an IMU-only estimate within a few sigma of the fixes.
    for sample in result.between(15.0, 40.0):
        assert horizontal_error_m(sample, result.flight.truth) < 6.0
    assert math.sqrt(np.linalg.eigvalsh(result.samples[-1].state.covariance[:2, :2])[-1]) < 4.0
