"""Without VIO (IMU + GNSS only) the gate's drift test runs against a free-inertial reference, and
late stamps: only the IMU stream resets, a late GNSS fix is dropped, a late GeoFix is applied."""

from __future__ import annotations

import math

import numpy as np
import pytest
from estimator_synthetic import Flight, Scenario, Spoof, config_for, feed, horizontal_error_m, run, simulate, start

from gps_denied_onboard.estimator.core import StateEstimator
from gps_denied_onboard.estimator.intake import IntakeReason, ResetReason
from gps_denied_onboard.estimator.status import EVENT_GNSS_TRUST

NS = 1_000_000_000
ONSET_S = 15.0
NO_VIO = {"vio_rate_hz": 0.0}


def fly(drift_mps: float, duration_s: float, seed: int) -> tuple[list[tuple[float, str, str]], float, float]:
    """Trust changes after the onset and the worst horizontal error up to the first rejection."""
    spoof = Spoof(start_s=ONSET_S, drift_mps=drift_mps, direction_deg=120.0)
    scenario = Scenario(seed=seed, duration_s=duration_s, spoof=spoof, **NO_VIO)  # type: ignore[arg-type]
    flight = simulate(scenario)
    estimator = start(flight, config_for(scenario, "eskf"))
    samples = run(estimator, flight, every_s=0.25)
    t0 = int(flight.truth.t_ns[0])
    changes = [
        ((e.stamp_ns - t0) / NS, str(e.data["current"]), str(e.data["reason"]))
        for e in estimator.drain_events()
        if e.name == EVENT_GNSS_TRUST
    ]
    before = [c for c in changes if c[0] < ONSET_S]
    assert before, "the scenario must start with trusted GNSS"
    assert before[-1][1] == "TRUSTED"
    rejection = next(c for c in changes if c[0] >= ONSET_S and c[1] == "REJECTED")
    worst = max(horizontal_error_m(s, flight.truth) for s in samples if ONSET_S <= s.t_s <= rejection[0])
    return changes, rejection[0] - ONSET_S, worst


@pytest.mark.parametrize(("drift_mps", "max_delay_s"), [(2.0, 5.5), (5.0, 2.5)])
def test_a_drift_spoof_is_caught_without_vio(drift_mps: float, max_delay_s: float) -> None:
    _, delay_s, worst = fly(drift_mps, ONSET_S + max_delay_s + 1.0, seed=32)
    print(f"\n[inertial reference] drift={drift_mps:.0f} m/s delay={delay_s:.1f} s worst_error={worst:.1f} m")
    assert 0.0 < delay_s <= max_delay_s
    assert worst <= drift_mps * max_delay_s + 3.0  # the estimate follows at most the spoof until caught


def test_the_inertial_reference_is_what_catches_a_2_mps_drift() -> None:
    changes, _, _ = fly(2.0, ONSET_S + 7.0, seed=39)
    rejection = next(c for c in changes if c[0] >= ONSET_S and c[1] == "REJECTED")
    assert "free-inertial IMU reference" in rejection[2]


@pytest.mark.parametrize("seed", [30, 31, 33])
def test_no_drift_rejection_on_a_nominal_flight_without_vio(seed: int) -> None:
    scenario = Scenario(seed=seed, duration_s=40.0, **NO_VIO)  # type: ignore[arg-type]
    flight = simulate(scenario)
    estimator = start(flight, config_for(scenario, "eskf"))
    feed(estimator, flight.measurements)
    reasons = [str(e.data["reason"]) for e in estimator.drain_events() if e.name == EVENT_GNSS_TRUST]
    assert not [r for r in reasons if r.startswith("drift")]


# ----------------------------------------------------------------------------- late stamps
@pytest.fixture(scope="module")
def flight() -> Flight:
    return simulate(Scenario(seed=5, duration_s=12.0, geofix_rate_hz=1.0))


def flown(flight: Flight) -> StateEstimator:
    estimator = start(flight, config_for(flight.scenario, "eskf"))
    feed(estimator, flight.measurements)
    assert estimator.initialized
    return estimator


def fix_args(flight: Flight, kind: str, late_s: float) -> dict[str, object]:
    template = next(m for m in reversed(flight.measurements) if m.kind == kind)
    return {"t_ns": template.t_ns - round(late_s * NS), **template.args}


def test_a_gnss_fix_2_s_late_is_rejected_without_a_reset(flight: Flight) -> None:
    estimator = flown(flight)
    resets = estimator.status().resets
    result = estimator.add_gnss(**fix_args(flight, "gnss", 2.0))  # type: ignore[arg-type]
    assert result.reason is IntakeReason.OUT_OF_ORDER
    assert result.reset is None
    assert "late gnss message" in result.detail
    assert estimator.initialized
    assert estimator.status().resets == resets


def test_an_imu_stamp_2_s_back_still_resets(flight: Flight) -> None:
    estimator = flown(flight)
    last = next(m for m in reversed(flight.measurements) if m.kind == "imu")
    sample = last.args["sample"]
    back = type(sample)(sample.t_ns - 2 * NS, sample.accel_mps2, sample.gyro_radps)  # type: ignore[attr-defined]
    result = estimator.add_imu(back)
    assert result.reset is ResetReason.BACKWARD_TIME_JUMP
    assert not estimator.initialized


def test_a_geofix_300_ms_late_is_applied_and_one_2_s_late_is_rejected(flight: Flight) -> None:
    estimator = flown(flight)
    accepted = estimator.status().geofix_accepted
    args = fix_args(flight, "geofix", 0.0)
    late = {**args, "t_ns": int(args["t_ns"]) - 300_000_000}  # type: ignore[call-overload]
    # Stamped 300 ms before its own slot: the position is the truth then, so the fix stays consistent.
    truth = flight.truth
    i = truth.index(int(late["t_ns"]))  # type: ignore[call-overload]
    lat, lon, alt = flight.plane.geodetic_from_enu(truth.position_m[i])
    late.update(latitude_deg=float(lat), longitude_deg=float(lon), altitude_m=float(alt))
    result = estimator.add_geofix(**late)  # type: ignore[arg-type]
    assert result.accepted, result.detail
    assert estimator.status().geofix_accepted == accepted + 1
    too_late = {**args, "t_ns": int(args["t_ns"]) - 2 * NS}  # type: ignore[call-overload]
    result = estimator.add_geofix(**too_late)  # type: ignore[arg-type]
    assert result.reason is IntakeReason.OUT_OF_ORDER
    assert result.reset is None
    assert estimator.initialized
    assert math.isfinite(float(np.linalg.norm(estimator.estimate().state.position_m)))  # type: ignore[union-attr]
