"""The replay schedule, against a fake monotonic clock: real time scaled by the rate, or no waiting."""

from __future__ import annotations

import pytest

from gps_denied_onboard.replay.errors import BadRateError
from gps_denied_onboard.replay.pacing import Pacer, rate_from_option

T0 = 1_717_000_000_000_000_000
MS = 1_000_000


class FakeClock:
    """A monotonic clock that moves only when told (seconds)."""

    def __init__(self, start_s: float = 100.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now_s += seconds


def play(pacer: Pacer, clock: FakeClock, stamps: list[int], work_s: float = 0.0) -> list[float]:
    """Publish times of ``stamps``, sleeping as told and spending ``work_s`` per publication."""
    published = []
    for stamp in stamps:
        clock.sleep(pacer.delay_s(stamp))
        published.append(clock.now_s)
        clock.sleep(work_s)
    return published


@pytest.mark.parametrize(
    ("rate", "expected"), [(1.0, [0.0, 0.5, 1.0, 2.0]), (2.0, [0.0, 0.25, 0.5, 1.0]), (0.5, [0.0, 1.0, 2.0, 4.0])]
)
def test_real_time_scaled_by_the_rate(rate: float, expected: list[float]) -> None:
    clock = FakeClock()
    pacer = Pacer(T0, rate, clock)
    published = play(pacer, clock, [T0, T0 + 500 * MS, T0 + 1000 * MS, T0 + 2000 * MS])
    assert [round(t - 100.0, 9) for t in published] == expected


def test_the_schedule_starts_at_the_first_call_not_at_construction() -> None:
    clock = FakeClock()
    pacer = Pacer(T0, 1.0, clock)
    clock.sleep(7.0)  # waiting for subscribers
    assert pacer.delay_s(T0) == 0.0
    assert pacer.delay_s(T0 + 250 * MS) == pytest.approx(0.25)


def test_a_window_starting_before_the_first_message_waits_for_it() -> None:
    clock = FakeClock()
    pacer = Pacer(T0, 2.0, clock)
    assert pacer.delay_s(T0 + 400 * MS) == pytest.approx(0.2)


def test_late_messages_go_at_once_and_the_schedule_does_not_drift() -> None:
    """Publishing slower than the bag (0.3 s of work per 0.1 s of bag time) never sleeps; once the
    work stops, the schedule is still anchored to the first message, not shifted by the lateness."""
    clock = FakeClock(0.0)
    pacer = Pacer(T0, 1.0, clock)
    stamps = [T0 + i * 100 * MS for i in range(5)]
    published = play(pacer, clock, stamps, work_s=0.3)
    assert published == pytest.approx([0.0, 0.3, 0.6, 0.9, 1.2])
    assert pacer.delay_s(T0 + 2000 * MS) == pytest.approx(2.0 - 1.5)


def test_as_fast_as_possible_never_waits() -> None:
    clock = FakeClock()
    pacer = Pacer(T0, None, clock)
    assert [pacer.delay_s(T0 + i * 1000 * MS) for i in range(5)] == [0.0] * 5


def test_rate_option() -> None:
    assert rate_from_option(1.0) == 1.0
    assert rate_from_option(2.5) == 2.5
    assert rate_from_option(0.0) is None, "0 means as fast as possible"


@pytest.mark.parametrize("rate", [-1.0, float("nan"), float("inf")])
def test_bad_rates_are_refused(rate: float) -> None:
    with pytest.raises(BadRateError, match="--rate must be a finite number >= 0"):
        rate_from_option(rate)


@pytest.mark.parametrize("rate", [0.0, -2.0, float("inf")])
def test_a_pacer_needs_a_positive_rate_or_none(rate: float) -> None:
    with pytest.raises(BadRateError, match="pacing rate must be finite and > 0"):
        Pacer(T0, rate, FakeClock())
