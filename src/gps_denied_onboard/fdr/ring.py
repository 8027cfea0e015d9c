"""A bounded, drop-oldest ring per producer: enqueue never blocks and never raises.

Loss accounting: every record evicted from a full ring adds one to the ring's pending
drop count. The writer turns that count into one ``overrun`` record placed before the
surviving records it drains with it (the lost ones were older than all of them). The
count lives outside the ring, so a marker can never itself be evicted: the sum of all
overrun ``dropped_count`` values equals the records lost, exactly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
ERROR_LOG_PERIOD_NS = 1_000_000_000  # at most one overrun ERROR per producer per second


@dataclass(frozen=True)
class Drained(Generic[T]):
    """What one drain took from a ring: records lost before these items, then the items."""

    dropped: int
    items: list[T]


class ProducerRing(Generic[T]):
    """Bounded FIFO of one producer's records with exact drop counting."""

    __slots__ = (
        "_capacity",
        "_dropped_pending",
        "_items",
        "_last_error_ns",
        "_lock",
        "dropped_total",
        "producer_id",
        "pushed_total",
    )

    def __init__(self, producer_id: str, capacity: int) -> None:
        self.producer_id = producer_id
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._lock = threading.Lock()  # held for a few hundred ns: enqueue-side contention only with drain
        self._dropped_pending = 0
        self._last_error_ns = -ERROR_LOG_PERIOD_NS
        self.pushed_total = 0
        self.dropped_total = 0

    @property
    def capacity(self) -> int:
        """Maximum records held."""
        return self._capacity

    def push(self, item: T) -> None:
        """Append ``item``; if the ring is full, evict the oldest and count it as lost."""
        with self._lock:
            evicted = len(self._items) >= self._capacity
            if evicted:
                self._items.popleft()
                self._dropped_pending += 1
                self.dropped_total += 1
            self._items.append(item)
            self.pushed_total += 1
        if evicted:
            self._report_overrun()

    def _report_overrun(self) -> None:
        now = time.monotonic_ns()
        if now - self._last_error_ns < ERROR_LOG_PERIOD_NS:
            return
        self._last_error_ns = now
        with contextlib.suppress(Exception):  # a logging failure must never reach the producer
            logger.error(
                "FDR ring %r overrun: %d records dropped so far (capacity %d)",
                self.producer_id,
                self.dropped_total,
                self._capacity,
            )

    def drain(self, max_items: int) -> Drained[T]:
        """Take up to ``max_items`` oldest items and the drop count accrued before them."""
        with self._lock:
            count = min(max_items, len(self._items))
            items = [self._items.popleft() for _ in range(count)]
            dropped, self._dropped_pending = self._dropped_pending, 0
        return Drained(dropped, items)

    def __len__(self) -> int:
        return len(self._items)
