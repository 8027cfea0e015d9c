"""The fusion horizon and the output predictor: VIO waited for up to vio.max_delay_s, every late,
duplicate or gapped VIO message counted by reason and said on /events, and the published state
carried to the newest IMU sample."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from estimator_synthetic import BACKENDS, Flight, Measurement, Scenario, config_for, feed, simulate, start

from gps_denied_onboard.estimator.config import TimingConfig
from gps_denied_onboard.estimator.core import StateEstimator
from gps_denied_onboard.estimator.status import EVENT_VIO_DISCONTINUITY, EVENT_VIO_NOT_FUSED

NS = 1_000_000_000
SCENARIO = Scenario(seed=71, duration_s=12.0, baro_rate_hz=5.0)


@pytest.fixture(scope="module")
def flight() -> Flight:
    return simulate(SCENARIO)


def vio_late_by(flight: Flight, delay_s: float, *, keep: object = None) -> list[Measurement]:
    """The flight's calls with every VIO message arriving ``delay_s`` after its stamp."""
    others = [(m.t_ns, 0, i, m) for i, m in enumerate(flight.measurements) if m.kind != "vio"]
    vio = [(m.t_ns + round(delay_s * NS), 1, i, m) for i, m in enumerate(flight.measurements) if m.kind == "vio"]
    return [m for *_, m in sorted(others + vio, key=lambda item: item[:3])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_published_state_is_at_the_newest_imu_sample_whatever_the_fusion_waits_for(
    flight: Flight, backend: str
) -> None:
    """VIO 0.8 s late: the fused time waits for it, and the estimate is still at the newest IMU stamp:
    the fused state carried forward by the IMU alone, as an estimator that fused the same data and
    then propagated (and fused nothing else) would have it."""
    late = start(flight, config_for(SCENARIO, backend))
    newest_imu = int(flight.truth.t_ns[0]) + 9 * NS  # mid-flight: later VIO is still in flight
    calls = vio_late_by(flight, 0.8)
    feed(late, calls[: next(i for i, m in enumerate(calls) if m.kind == "imu" and m.t_ns > newest_imu)])
    estimate = late.estimate()
    assert estimate is not None
    assert estimate.state.t_ns == newest_imu
    assert estimate.fused_ns <= newest_imu - 700_000_000  # the fusion horizon waited for VIO
    assert 700.0 <= late.status().fusion_delay_ms <= 1000.0
    # Only the messages stamped before the first one arrived are late: until then nothing says VIO runs.
    assert late.status().vio_not_fused_by_reason.get("late", 0) <= 0.8 * 20 + 1
    reference = start(flight, config_for(SCENARIO, backend))
    fused = [m for m in flight.measurements if m.t_ns <= estimate.fused_ns]
    imu_after = [m for m in flight.measurements if m.kind == "imu" and estimate.fused_ns < m.t_ns <= newest_imu]
    feed(reference, fused + imu_after)
    reference.flush()
    expected = reference.estimate()
    assert expected is not None
    assert expected.state.t_ns == newest_imu
    assert np.linalg.norm(estimate.state.position_m - expected.state.position_m) < 0.05
    assert np.linalg.norm(estimate.state.velocity_mps - expected.state.velocity_mps) < 0.05
    assert np.all(np.diag(estimate.state.covariance)[:9] > 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_vio_later_than_the_wait_is_counted_late_and_said(flight: Flight, backend: str) -> None:
    estimator = start(flight, config_for(SCENARIO, backend))
    calls = vio_late_by(flight, 2.5)  # beyond vio.max_delay_s (2.0 s)
    feed(estimator, calls)
    estimator.flush()
    status = estimator.status()
    vio_messages = sum(1 for m in flight.measurements if m.kind == "vio")
    assert status.vio_received == vio_messages
    assert status.vio_not_fused_by_reason.get("late", 0) > 0.5 * vio_messages
    assert status.vio_received == status.vio_updates + status.vio_anchored + status.vio_not_fused
    events = [e for e in estimator.drain_events() if e.name == EVENT_VIO_NOT_FUSED]
    assert any(e.data["reason"] == "late" for e in events)
    # Rate-limited: at most one event per reason per second of stamps, each with the running count.
    assert len([e for e in events if e.data["reason"] == "late"]) <= SCENARIO.duration_s + 1


def test_a_duplicated_vio_message_is_refused_counted_and_the_state_is_untouched(flight: Flight) -> None:
    estimator = start(flight, config_for(SCENARIO, "eskf"))
    vio = [m for m in flight.measurements if m.kind == "vio"]
    half = flight.measurements[: len(flight.measurements) // 2]
    feed(estimator, half)
    last_vio = [m for m in half if m.kind == "vio"][-1]
    before = estimator.estimate()
    result = estimator.add_vio(last_vio.t_ns, **last_vio.args)  # type: ignore[arg-type]
    assert not result.accepted
    assert result.reason.value == "duplicate_stamp"
    after = estimator.estimate()
    assert before is not None
    assert after is not None
    np.testing.assert_array_equal(after.state.position_m, before.state.position_m)
    assert estimator.status().vio_not_fused_by_reason.get("duplicate") == 1
    assert len(vio) > 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_vio_gap_is_bridged_by_one_increment(flight: Flight, backend: str) -> None:
    """Two seconds of VIO frames dropped under load: the next message spans the gap, no new chain."""
    t0 = int(flight.truth.t_ns[0])
    gap = [m for m in flight.measurements if not (m.kind == "vio" and 6.0 * NS <= m.t_ns - t0 < 8.0 * NS)]
    estimator = start(flight, config_for(SCENARIO, backend))
    feed(estimator, gap)
    estimator.flush()
    status = estimator.status()
    assert "gap" not in status.vio_not_fused_by_reason
    assert not [e for e in estimator.drain_events() if e.name == EVENT_VIO_DISCONTINUITY]
    assert status.vio_received == status.vio_updates + status.vio_anchored + status.vio_not_fused
    assert status.vio_anchored == 1


def test_vio_is_refused_while_its_health_says_lost(flight: Flight) -> None:
    estimator = start(flight, config_for(SCENARIO, "eskf"))
    half = flight.measurements[: len(flight.measurements) // 2]
    feed(estimator, half)
    estimator.set_vio_health(False)
    nxt = next(m for m in flight.measurements[len(half) :] if m.kind == "vio")
    result = estimator.add_vio(nxt.t_ns, **nxt.args)  # type: ignore[arg-type]
    assert not result.accepted
    assert result.reason.value == "vio_lost"
    assert estimator.status().vio_not_fused_by_reason.get("lost") == 1
    with pytest.raises(TypeError):
        estimator.set_vio_health("no")  # type: ignore[arg-type]


def test_the_wait_can_be_switched_off(flight: Flight) -> None:
    config = config_for(SCENARIO, "eskf", timing=TimingConfig(reorder_window_s=0.05))
    config = replace(config, vio=replace(config.vio, max_delay_s=0.0))
    estimator: StateEstimator = start(flight, config)
    feed(estimator, vio_late_by(flight, 0.3))
    assert estimator.status().vio_not_fused_by_reason.get("late", 0) > 0  # nothing waits: 0.3 s is late
