"""When to publish each replayed message: real time scaled by a rate, or as fast as possible. Pure."""

from __future__ import annotations

import math
from collections.abc import Callable

from gps_denied_onboard.replay.errors import BadRateError

NS_PER_S = 1_000_000_000


def rate_from_option(rate: float) -> float | None:
    """``--rate``: > 0 scales real time (2.0 = twice as fast); 0 means as fast as possible (None)."""
    if not math.isfinite(rate) or rate < 0:
        raise BadRateError(f"--rate must be a finite number >= 0 (0: as fast as possible), got {rate}")
    return None if rate == 0 else rate


class Pacer:
    """The schedule of a real-time-scaled replay: the message stamped ``s`` is due
    ``(s - first_stamp_ns) / rate`` seconds after the schedule starts, which is the first call
    to ``delay_s``; so the time spent waiting for subscribers is not counted, and a late
    message is published at once without shifting the rest of the schedule.
    """

    def __init__(self, first_stamp_ns: int, rate: float | None, clock: Callable[[], float]) -> None:
        if rate is not None and (not math.isfinite(rate) or rate <= 0):
            raise BadRateError(f"a pacing rate must be finite and > 0 (None: as fast as possible), got {rate}")
        self.first_stamp_ns = first_stamp_ns
        self.rate = rate
        self._clock = clock  # monotonic seconds
        self._started_s: float | None = None

    def delay_s(self, stamp_ns: int) -> float:
        """Seconds to sleep before publishing the message stamped ``stamp_ns`` (0 when it is due or late)."""
        now = self._clock()
        if self._started_s is None:
            self._started_s = now
        if self.rate is None:
            return 0.0
        due = self._started_s + max(0, stamp_ns - self.first_stamp_ns) / NS_PER_S / self.rate
        return max(0.0, due - now)
