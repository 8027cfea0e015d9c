"""Producer side of the recorder: components hold a Producer and record without blocking."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from gps_denied_onboard.fdr.config import QueueConfig
from gps_denied_onboard.fdr.errors import ForbiddenRecordKindError, ProducerIdError, RecordSchemaError
from gps_denied_onboard.fdr.kinds import FORBIDDEN_KINDS, Kind
from gps_denied_onboard.fdr.records import RosMessage
from gps_denied_onboard.fdr.ring import ProducerRing


class PendingRecord(NamedTuple):
    """A JSON record waiting in a ring (stamped at enqueue time)."""

    mono_ns: int
    wall_ns: int
    kind: str
    payload: Mapping[str, Any]


Entry = PendingRecord | RosMessage


def check_producer_id(producer_id: str) -> str:
    """A producer id is a non-empty string without control characters."""
    if not isinstance(producer_id, str) or not producer_id.strip():
        raise ProducerIdError(f"producer id must be a non-empty string, got {producer_id!r}")
    if any(ord(ch) < 32 for ch in producer_id):
        raise ProducerIdError(f"producer id {producer_id!r} contains control characters")
    return producer_id


def check_kind(kind: str) -> str:
    """Refuse raw camera frames (privacy) and kinds that are not plain identifiers."""
    if kind in FORBIDDEN_KINDS:
        raise ForbiddenRecordKindError(f"record kind {kind!r} is never recorded: raw camera frames stay off the FDR")
    if not isinstance(kind, str) or not kind or not kind.replace("_", "").isalnum():
        raise RecordSchemaError(f"record kind must be a non-empty identifier, got {kind!r}")
    if kind == Kind.ROS_MESSAGE:
        raise RecordSchemaError("ROS messages are recorded with Producer.ros_message(), not as JSON records")
    return kind


_CHECKED_KINDS: set[str] = set()  # kinds that passed check_kind: checked once, not on every call


class Producer:
    """One producer's handle. ``record`` and ``ros_message`` never block and never raise
    for runtime conditions (a full ring drops its oldest record and counts it)."""

    __slots__ = ("_ring", "producer_id")

    def __init__(self, ring: ProducerRing[Entry]) -> None:
        self._ring = ring
        self.producer_id = ring.producer_id

    def record(self, kind: str, payload: Mapping[str, Any] | None = None) -> None:
        """Enqueue a JSON record. A forbidden or malformed kind is a typed error (a bug at the call site)."""
        if kind not in _CHECKED_KINDS:
            _CHECKED_KINDS.add(check_kind(kind))
        # try/except, not contextlib.suppress: this is the hot path and a with-block allocates.
        try:  # noqa: SIM105
            self._ring.push(PendingRecord(time.monotonic_ns(), time.time_ns(), kind, payload or {}))
        except Exception:  # noqa: BLE001, S110 - the contract: recording never fails the caller
            pass

    def ros_message(
        self, topic: str, msg_type: str, cdr: bytes, *, mono_ns: int | None = None, wall_ns: int | None = None
    ) -> None:
        """Enqueue a ROS message as the serialized CDR bytes received."""
        try:  # noqa: SIM105
            self._ring.push(
                RosMessage(
                    time.monotonic_ns() if mono_ns is None else mono_ns,
                    time.time_ns() if wall_ns is None else wall_ns,
                    topic,
                    msg_type,
                    cdr,
                )
            )
        except Exception:  # noqa: BLE001, S110 - the contract: recording never fails the caller
            pass

    @property
    def dropped_total(self) -> int:
        """Records this producer lost to overrun so far."""
        return self._ring.dropped_total


class FdrClient:
    """A ring per producer id, shared by every component of a process and drained by one writer."""

    def __init__(self, queues: QueueConfig | None = None) -> None:
        self.queues = queues or QueueConfig()
        self._rings: dict[str, ProducerRing[Entry]] = {}
        self._lock = threading.Lock()

    def producer(self, producer_id: str) -> Producer:
        """The producer handle for ``producer_id`` (created on first use, then shared)."""
        check_producer_id(producer_id)
        with self._lock:
            ring = self._rings.get(producer_id)
            if ring is None:
                ring = self._rings[producer_id] = ProducerRing(producer_id, self.queues.capacity_for(producer_id))
        return Producer(ring)

    def rings(self) -> list[ProducerRing[Entry]]:
        """A snapshot of the registered rings, in registration order."""
        with self._lock:
            return list(self._rings.values())

    def pending(self) -> int:
        """Records waiting in all rings."""
        return sum(len(ring) for ring in self.rings())
