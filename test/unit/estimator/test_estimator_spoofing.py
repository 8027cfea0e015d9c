"""GNSS spoofing on synthetic flights, for every backend: slow drifts are caught and not followed,
jumps are refused at once, and the detection delay per drift rate is measured (printed: run with -s)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from estimator_synthetic import (
    BACKENDS,
    Flight,
    Sample,
    Scenario,
    Spoof,
    config_for,
    horizontal_error_m,
    run,
    simulate,
    spoof_offset,
    start,
)

from gps_denied_onboard.estimator.gate import GnssTrust
from gps_denied_onboard.estimator.status import EVENT_GNSS_TRUST, EstimatorSnapshot, SourceLabel

NS = 1_000_000_000
ONSET_S = 15.0  # GNSS is trusted from about 7 s (2 s rest, 5 s dwell)


def fly_spoofed(
    backend: str, spoof: Spoof, duration_s: float, seed: int = 31, gnss_off: tuple[tuple[float, float], ...] = ()
) -> tuple[list[Sample], list[tuple[float, object, object, object]], Flight, EstimatorSnapshot]:
    scenario = Scenario(seed=seed, duration_s=duration_s, spoof=spoof, gnss_off=gnss_off)
    flight = simulate(scenario)
    estimator = start(flight, config_for(scenario, backend))
    samples = run(estimator, flight, every_s=0.25)
    t0 = int(flight.truth.t_ns[0])
    changes = [
        ((e.stamp_ns - t0) / NS, e.data["previous"], e.data["current"], e.data["reason"])
        for e in estimator.drain_events()
        if e.name == EVENT_GNSS_TRUST
    ]
    return samples, changes, flight, estimator.status()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_slow_drift_is_rejected_and_not_followed(backend: str) -> None:
    spoof = Spoof(start_s=ONSET_S, drift_mps=2.0)
    samples, changes, flight, status = fly_spoofed(backend, spoof, duration_s=45.0)
    trusted_before = [c for c in changes if c[0] < ONSET_S]
    assert trusted_before[-1][2] == "TRUSTED", "the scenario must start with trusted GNSS"
    after = [c for c in changes if c[0] >= ONSET_S]
    assert after[0][2] == "REJECTED"
    assert after[0][0] - ONSET_S < 4.0
    assert "TRUSTED" not in [c[2] for c in after], "a drifting spoof must never be trusted again"
    final_offset = spoof_offset(spoof, np.array([45.0 - 0.2]))[0]
    assert math.hypot(final_offset[0], final_offset[1]) > 55.0  # GNSS ends up tens of metres away
    # The estimate does not follow: its error stays at VIO-drift level the whole time.
    worst = max(horizontal_error_m(s, flight.truth) for s in samples if s.t_s >= ONSET_S)
    assert worst < 3.0
    assert status.gnss_trust is GnssTrust.REJECTED
    assert status.source is SourceLabel.VIO_ONLY
    assert status.gnss_horizontal_delta_m > 50.0
    assert status.gnss_reject_reason


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("drift_mps", "max_delay_s"), [(1.0, 8.0), (2.0, 4.0), (5.0, 2.0)])
def test_detection_delay_per_drift_rate(backend: str, drift_mps: float, max_delay_s: float) -> None:
    spoof = Spoof(start_s=ONSET_S, drift_mps=drift_mps, direction_deg=120.0)
    samples, changes, flight, _ = fly_spoofed(backend, spoof, duration_s=ONSET_S + max_delay_s + 1.0, seed=32)
    rejection = next(c for c in changes if c[0] >= ONSET_S and c[2] == "REJECTED")
    delay_s = rejection[0] - ONSET_S
    offset_m = drift_mps * delay_s
    worst = max(horizontal_error_m(s, flight.truth) for s in samples if s.t_s >= ONSET_S)
    print(
        f"\n[spoof detection] backend={backend} drift={drift_mps:.0f} m/s delay={delay_s:.1f} s "
        f"offset_at_detection={offset_m:.1f} m worst_estimate_error={worst:.2f} m by: {rejection[3]}"
    )
    assert 0.0 < delay_s <= max_delay_s
    assert worst < 3.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_jump_is_rejected_at_the_first_spoofed_fix_and_leaves_no_trace(backend: str) -> None:
    spoof = Spoof(start_s=ONSET_S, jump_m=50.0)
    samples, changes, _, status = fly_spoofed(backend, spoof, duration_s=25.0)
    after = [c for c in changes if c[0] >= ONSET_S]
    assert after[0][2] == "REJECTED"
    assert after[0][0] - ONSET_S < 0.2 + 1e-6  # the first fix of the jump (5 Hz)
    assert after[0][3].startswith("horizontal innovation mahalanobis")
    assert status.gnss_trust is GnssTrust.REJECTED
    # Oracle: the same flight with GNSS simply absent from the onset. No spoofed fix was fused, so
    # the estimates must be the same numbers.
    denied, _, _, _ = fly_spoofed(backend, Spoof(start_s=1e9), duration_s=25.0, gnss_off=((ONSET_S, 25.0),))
    assert len(denied) == len(samples)
    for spoofed, clean in zip(samples, denied, strict=True):
        assert spoofed.state.t_ns == clean.state.t_ns
        np.testing.assert_allclose(spoofed.state.position_m, clean.state.position_m, rtol=0, atol=1e-9)
