"""FakeFdrClient: a test double of the recorder for components' tests. Never import it from
production code (a test enforces that). It uses the real rings, so the overrun policy a
component sees in its tests is the real one; it only skips the writer and the disk."""

from __future__ import annotations

from dataclasses import dataclass, field

from gps_denied_onboard.fdr.client import Entry, FdrClient, PendingRecord
from gps_denied_onboard.fdr.config import QueueConfig
from gps_denied_onboard.fdr.records import RosMessage


@dataclass
class FakeFlight:
    """Everything drained so far, per producer, plus the overrun counts the writer would record."""

    entries: dict[str, list[Entry]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def records(self, producer_id: str, kind: str | None = None) -> list[PendingRecord]:
        """JSON records of ``producer_id`` (optionally of one kind), in order."""
        return [
            e
            for e in self.entries.get(producer_id, [])
            if isinstance(e, PendingRecord) and (kind is None or e.kind == kind)
        ]

    def ros_messages(self, producer_id: str) -> list[RosMessage]:
        """ROS messages of ``producer_id``, in order."""
        return [e for e in self.entries.get(producer_id, []) if isinstance(e, RosMessage)]


class FakeFdrClient(FdrClient):
    """An FdrClient whose drain goes to memory instead of segment files."""

    def __init__(self, queues: QueueConfig | None = None) -> None:
        super().__init__(queues)
        self.flight = FakeFlight()

    def drain(self) -> FakeFlight:
        """Move everything queued into ``self.flight`` (as the writer would) and return it."""
        for ring in self.rings():
            drained = ring.drain(max_items=len(ring) + 1)
            if drained.dropped:
                self.flight.dropped[ring.producer_id] = self.flight.dropped.get(ring.producer_id, 0) + drained.dropped
            self.flight.entries.setdefault(ring.producer_id, []).extend(drained.items)
        return self.flight
