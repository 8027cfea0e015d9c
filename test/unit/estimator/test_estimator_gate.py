"""The GNSS trust state machine on hand-made numbers: checks, transitions, dwell, timeout, drift test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2

from gps_denied_onboard.estimator.config import GateConfig
from gps_denied_onboard.estimator.gate import (
    GateDecision,
    GnssCheck,
    GnssSample,
    GnssTrust,
    GnssTrustGate,
    ReferencePoint,
)

NS = 1_000_000_000
GNSS_COV = np.diag([1.0, 1.0, 4.0])
PRIOR_COV = np.diag([0.25, 0.25, 0.5])
ZERO3 = np.zeros((3, 3))


def sample(t_s: float, position: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> GnssSample:
    return GnssSample(round(t_s * NS), np.array(position, dtype=float), GNSS_COV)


def reference(position: tuple[float, float, float], chain_id: int = 1) -> ReferencePoint:
    return ReferencePoint(np.array(position, dtype=float), ZERO3, chain_id, ZERO3)


def assess(
    gate: GnssTrustGate,
    t_s: float,
    position: tuple[float, float, float] = (0.0, 0.0, 0.0),
    *,
    prior: tuple[float, float, float] = (0.0, 0.0, 0.0),
    prior_cov: np.ndarray = PRIOR_COV,
    ref: ReferencePoint | None = None,
) -> GateDecision:
    return gate.assess(sample(t_s, position), np.array(prior, dtype=float), prior_cov, ref)


def test_thresholds_are_the_chi_square_quantiles() -> None:
    gate = GnssTrustGate(GateConfig(innovation_probability=0.999, drift_probability=0.99))
    assert gate.innovation_threshold == pytest.approx(math.sqrt(13.815511), rel=1e-6)  # chi2_2(0.999)
    assert gate.drift_threshold == pytest.approx(math.sqrt(chi2.ppf(0.99, 2)), rel=1e-12)


def test_promotion_needs_the_dwell_and_only_trusted_samples_are_fused() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=2.0))
    assert gate.trust is GnssTrust.UNAVAILABLE
    first = assess(gate, 10.0)
    assert first.trust is GnssTrust.PROBATION
    assert first.consistent
    assert not first.fuse
    assert [(t.previous, t.current) for t in first.transitions] == [(GnssTrust.UNAVAILABLE, GnssTrust.PROBATION)]
    middle = assess(gate, 11.5)
    assert middle.trust is GnssTrust.PROBATION
    assert not middle.fuse
    assert middle.dwell_s == pytest.approx(1.5)
    promoted = assess(gate, 12.0)
    assert promoted.trust is GnssTrust.TRUSTED
    assert promoted.fuse
    assert promoted.transitions[0].reason == "consistent for 2.0 s"
    assert assess(gate, 12.2).fuse


def test_zero_dwell_promotes_on_the_first_consistent_sample_with_both_transitions() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=0.0))
    decision = assess(gate, 1.0)
    assert decision.fuse
    assert [t.current for t in decision.transitions] == [GnssTrust.PROBATION, GnssTrust.TRUSTED]


def test_a_jump_fails_the_innovation_check_and_rejects() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=0.0))
    assess(gate, 1.0)
    decision = assess(gate, 1.2, (6.0, 0.0, 0.0))  # 6 m against sqrt(1 + 0.25) m: 5.4 sigma
    expected = 6.0 / math.sqrt(1.25)
    assert decision.failed is GnssCheck.INNOVATION
    assert decision.mahalanobis == pytest.approx(expected)
    assert decision.trust is GnssTrust.REJECTED
    assert not decision.fuse
    assert decision.reason.startswith(f"horizontal innovation mahalanobis {expected:.2f} > ")
    assert decision.horizontal_delta_m == pytest.approx(6.0)


def test_any_reject_resets_the_dwell() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=2.0, first_fix_distance_only=False))
    assess(gate, 0.0)
    assess(gate, 1.5)
    assert gate.dwell_s() == pytest.approx(1.5)
    assess(gate, 1.7, (50.0, 0.0, 0.0))
    assert gate.trust is GnssTrust.REJECTED
    assert gate.dwell_s() == 0.0
    restart = assess(gate, 1.9)
    assert restart.trust is GnssTrust.PROBATION
    assert restart.dwell_s == 0.0
    assert assess(gate, 3.8).trust is GnssTrust.PROBATION  # 1.9 s of dwell, not 3.8
    assert assess(gate, 3.9).trust is GnssTrust.TRUSTED


def test_distance_bound_holds_even_when_the_covariance_would_pass() -> None:
    gate = GnssTrustGate(GateConfig(max_horizontal_delta_m=200.0))
    huge = np.diag([1e6, 1e6, 1e6])  # after a long dead-reckoning stretch anything passes the innovation gate
    decision = assess(gate, 1.0, (180.0, 150.0, 0.0), prior_cov=huge)
    assert decision.mahalanobis < gate.innovation_threshold
    assert decision.failed is GnssCheck.HORIZONTAL_DELTA
    assert decision.horizontal_delta_m == pytest.approx(math.hypot(180.0, 150.0))
    assert "horizontal delta 234.3 m > 200 m" in decision.reason
    assert assess(gate, 1.2, (120.0, 150.0, 0.0), prior_cov=huge).consistent  # 192 m is inside the bound


def test_timeout_makes_the_trust_unavailable() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=0.0, timeout_s=2.0))
    assess(gate, 1.0)
    assert gate.check_timeout(round(3.0 * NS)) is None  # exactly the timeout: still available
    transition = gate.check_timeout(round(3.1 * NS))
    assert transition is not None
    assert transition.current is GnssTrust.UNAVAILABLE
    assert transition.previous is GnssTrust.TRUSTED
    assert transition.reason == "no GNSS sample for 2.10 s"
    assert gate.check_timeout(round(4.0 * NS)) is None  # already unavailable: no repeated transition


def test_a_late_sample_reports_the_timeout_then_its_own_transition() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=0.0, timeout_s=1.0))
    assess(gate, 1.0)
    decision = assess(gate, 5.0)
    assert [t.current for t in decision.transitions] == [GnssTrust.UNAVAILABLE, GnssTrust.PROBATION, GnssTrust.TRUSTED]


def test_drift_test_catches_gnss_moving_unlike_the_reference() -> None:
    config = GateConfig(dwell_s=0.0, drift_window_s=10.0, drift_min_window_s=1.0, reference_drift_fraction=0.0)
    gate = GnssTrustGate(config)
    # Both move east at 5 m/s; then GNSS adds 2 m/s north. The prior follows GNSS (fused spoof).
    failed_at = None
    for k in range(101):
        t = k * 0.2
        vio_east = 5.0 * t
        spoof_north = 2.0 * max(t - 10.0, 0.0)
        position = (vio_east, spoof_north, 0.0)
        decision = assess(gate, t, position, prior=position, ref=reference((vio_east, 0.0, 0.0)))
        if not decision.consistent:
            failed_at = t
            break
    assert failed_at is not None
    assert decision.failed is GnssCheck.DRIFT
    assert decision.mahalanobis == 0.0  # the innovation alone could never see it
    # Oracle: sigma of a displacement difference is sqrt(1 + 1) m per horizontal axis.
    threshold_m = gate.drift_threshold * math.sqrt(2.0)
    expected_t = 10.0 + threshold_m / 2.0
    assert expected_t <= failed_at <= expected_t + 0.2 + 1e-9
    assert decision.drift_window_s == pytest.approx(10.0)


def test_drift_test_uses_the_attitude_uncertainty_of_the_reference() -> None:
    # A 100 m displacement with a 3 deg heading sigma is 5.2 m of lateral uncertainty: 5 m is consistent.
    gate = GnssTrustGate(GateConfig(dwell_s=0.0, drift_min_window_s=1.0, reference_drift_fraction=0.0))
    yaw_cov = np.diag([0.0, 0.0, math.radians(3.0) ** 2])
    start = ReferencePoint(np.zeros(3), ZERO3, 1, yaw_cov)
    end = ReferencePoint(np.array([100.0, 0.0, 0.0]), ZERO3, 1, yaw_cov)
    assess(gate, 0.0, ref=start)
    decision = assess(gate, 5.0, (100.0, 5.0, 0.0), prior=(100.0, 5.0, 0.0), ref=end)
    sigma_north = math.sqrt(2.0 + (100.0 * math.radians(3.0)) ** 2)
    assert decision.drift_mahalanobis == pytest.approx(5.0 / sigma_north, rel=1e-9)
    assert decision.consistent


def test_drift_test_needs_one_unbroken_reference_chain() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=0.0, drift_min_window_s=1.0))
    assess(gate, 0.0, ref=reference((0.0, 0.0, 0.0), chain_id=1))
    broken = assess(gate, 5.0, (50.0, 0.0, 0.0), prior=(50.0, 0.0, 0.0), ref=reference((0.0, 0.0, 0.0), chain_id=2))
    assert math.isnan(broken.drift_mahalanobis)
    assert broken.consistent
    no_reference = assess(gate, 5.2, (51.0, 0.0, 0.0), prior=(51.0, 0.0, 0.0))
    assert math.isnan(no_reference.drift_mahalanobis)


def test_drift_test_waits_for_the_minimum_window() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=0.0, drift_min_window_s=2.0))
    assess(gate, 0.0, ref=reference((0.0, 0.0, 0.0)))
    early = assess(gate, 1.0, (30.0, 0.0, 0.0), prior=(30.0, 0.0, 0.0), ref=reference((0.0, 0.0, 0.0)))
    assert math.isnan(early.drift_mahalanobis)
    late = assess(gate, 2.0, (30.0, 0.0, 0.0), prior=(30.0, 0.0, 0.0), ref=reference((0.0, 0.0, 0.0)))
    assert late.failed is GnssCheck.DRIFT


def test_reset_forgets_trust_and_history() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=0.0, drift_min_window_s=1.0))
    assess(gate, 0.0, ref=reference((0.0, 0.0, 0.0)))
    gate.reset()
    assert gate.trust is GnssTrust.UNAVAILABLE
    after = assess(gate, 5.0, (80.0, 0.0, 0.0), prior=(80.0, 0.0, 0.0), ref=reference((0.0, 0.0, 0.0)))
    assert math.isnan(after.drift_mahalanobis), "the history before the reset must not be used"


def test_first_acquisition_is_judged_on_the_distance_bound_alone() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=1.0, max_horizontal_delta_m=200.0))
    # 30 m from a VIO-only estimate flown on a compass heading: accepted until GNSS was trusted once...
    first = assess(gate, 0.0, (30.0, 0.0, 0.0))
    assert first.consistent
    assert first.mahalanobis > gate.innovation_threshold
    assert first.trust is GnssTrust.PROBATION
    far = assess(gate, 0.2, (250.0, 0.0, 0.0))
    assert far.failed is GnssCheck.HORIZONTAL_DELTA  # ...but never beyond the distance bound
    assess(gate, 0.4, (30.0, 0.0, 0.0))
    assert assess(gate, 1.4, (30.0, 0.0, 0.0), prior=(30.0, 0.0, 0.0)).trust is GnssTrust.TRUSTED
    # From now on every check applies: the same 30 m offset is a jump.
    assert assess(gate, 1.6, (60.0, 0.0, 0.0), prior=(30.0, 0.0, 0.0)).failed is GnssCheck.INNOVATION


def test_strict_first_fix_applies_every_check_from_the_start() -> None:
    gate = GnssTrustGate(GateConfig(first_fix_distance_only=False))
    assert assess(gate, 0.0, (30.0, 0.0, 0.0)).failed is GnssCheck.INNOVATION


def test_a_reset_starts_a_new_first_acquisition() -> None:
    gate = GnssTrustGate(GateConfig(dwell_s=0.0))
    assess(gate, 0.0)
    assert gate.trust is GnssTrust.TRUSTED
    gate.reset()
    assert assess(gate, 1.0, (30.0, 0.0, 0.0)).consistent


def _trusted_gate(**overrides: object) -> GnssTrustGate:
    gate = GnssTrustGate(GateConfig(dwell_s=1.0, timeout_s=2.0, **overrides))  # type: ignore[arg-type]
    for k in range(6):
        assess(gate, 0.2 * k)
    assert gate.trust is GnssTrust.TRUSTED
    return gate


def test_after_an_outage_gnss_within_the_estimates_uncertainty_is_reacquired() -> None:
    """A denial left the estimate 25 m off with an honest covariance (sigma ~12 m): the genuine
    fix is within the gate and comes back through PROBATION to TRUSTED."""
    gate = _trusted_gate()
    prior_cov = np.diag([150.0, 150.0, 10.0])
    back = assess(gate, 31.0, (25.0, 0.0, 0.0), prior_cov=prior_cov)
    assert back.transitions[0].current is GnssTrust.UNAVAILABLE  # the outage, seen at the first returning fix
    assert back.consistent
    assert back.trust is GnssTrust.PROBATION
    decisions = [assess(gate, 31.0 + 0.2 * k, (25.0, 0.0, 0.0), prior_cov=prior_cov) for k in range(1, 6)]
    assert decisions[-1].trust is GnssTrust.TRUSTED
    assert decisions[-1].fuse


@pytest.mark.parametrize("offset_m", [30.0, 60.0, 200.0])
def test_jam_then_spoof_with_an_offset_beyond_the_estimates_uncertainty_is_never_trusted(offset_m: float) -> None:
    """After a VIO-aided denial (sigma ~2 m) GNSS comes back carrying a constant offset."""
    gate = _trusted_gate()
    prior_cov = np.diag([4.0, 4.0, 2.0])
    decisions = [assess(gate, 31.0 + 0.2 * k, (offset_m, 0.0, 0.0), prior_cov=prior_cov) for k in range(100)]
    assert all(not d.consistent and not d.fuse for d in decisions)
    assert gate.trust is GnssTrust.REJECTED


def test_after_an_active_rejection_the_innovation_check_stays_on() -> None:
    gate = _trusted_gate()
    spoofed = assess(gate, 1.4, (30.0, 0.0, 0.0))
    assert spoofed.failed is GnssCheck.INNOVATION
    later = [assess(gate, 1.6 + 0.2 * k, (30.0, 0.0, 0.0)) for k in range(10)]
    assert all(d.failed is GnssCheck.INNOVATION for d in later)
    assert gate.trust is GnssTrust.REJECTED


def test_a_rejection_ends_once_the_estimates_uncertainty_covers_the_genuine_fix() -> None:
    """The estimate drifted 20 m; while its covariance says 0.5 m GNSS is rejected, once it has grown
    honestly (nothing fused for a while) the same genuine fixes are trusted again."""
    gate = _trusted_gate()
    assert assess(gate, 1.4, (20.0, 0.0, 0.0)).failed is GnssCheck.INNOVATION
    grown = np.diag([120.0, 120.0, 10.0])
    decisions = [assess(gate, 20.0 + 0.2 * k, (20.0, 0.0, 0.0), prior_cov=grown) for k in range(6)]
    assert decisions[-1].trust is GnssTrust.TRUSTED


def test_a_height_off_by_the_baro_gnss_offset_is_withheld_without_rejecting_the_fix() -> None:
    gate = _trusted_gate()
    decision = assess(gate, 1.4, (0.0, 0.0, 8.0))
    assert decision.consistent
    assert decision.fuse
    assert not decision.fuse_vertical
    assert decision.vertical_mahalanobis > 3.0
    assert gate.trust is GnssTrust.TRUSTED
