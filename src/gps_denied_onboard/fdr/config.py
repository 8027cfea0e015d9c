"""The recorder's typed configuration; every invalid value is refused with its name and range."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from gps_denied_onboard.fdr.errors import FdrConfigError

MIN_QUEUE, MAX_QUEUE = 2, 2**24
MIN_SEGMENT_BYTES = 64 * 2**10


def _check_queue(name: str, size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_QUEUE <= size <= MAX_QUEUE:
        raise FdrConfigError(f"{name} must be an integer in [{MIN_QUEUE}, {MAX_QUEUE}], got {size!r}")
    if size & (size - 1):
        raise FdrConfigError(f"{name} must be a power of two, got {size}")


@dataclass(frozen=True)
class QueueConfig:
    """Ring capacities: one default (``fdr.queue_size``) and per-producer overrides."""

    queue_size: int = 4096
    overrides: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_queue("fdr.queue_size", self.queue_size)
        for producer_id, size in self.overrides.items():
            if not producer_id:
                raise FdrConfigError("fdr.queue_overrides: empty producer id")
            _check_queue(f"fdr.queue_overrides[{producer_id!r}]", size)
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def capacity_for(self, producer_id: str) -> int:
        """Ring capacity of ``producer_id``."""
        return self.overrides.get(producer_id, self.queue_size)


@dataclass(frozen=True)
class FdrConfig:
    """Where and how the writer records a flight."""

    flight_root: Path
    queues: QueueConfig = field(default_factory=QueueConfig)
    segment_size_bytes: int = 64 * 2**20
    flight_cap_bytes: int = 64 * 2**30
    fsync_interval_s: float = 1.0  # bounds what a power loss can take
    drain_interval_s: float = 0.02  # writer wake-up period when producers are quiet
    batch_max_records: int = 2048  # per producer per drain, so one busy producer cannot starve the rest
    degraded_retry_s: float = 1.0  # how often a failing writer retries the disk
    software_version: str = "0+unknown"

    def __post_init__(self) -> None:
        object.__setattr__(self, "flight_root", Path(self.flight_root))
        if self.segment_size_bytes < MIN_SEGMENT_BYTES:
            raise FdrConfigError(
                f"fdr.segment_size_bytes must be >= {MIN_SEGMENT_BYTES}, got {self.segment_size_bytes}"
            )
        if self.flight_cap_bytes <= 0:
            raise FdrConfigError(f"fdr.flight_cap_bytes must be > 0, got {self.flight_cap_bytes}")
        if not 0 < self.fsync_interval_s <= 60:
            raise FdrConfigError(f"fdr.fsync_interval_s must be in (0, 60], got {self.fsync_interval_s}")
        if not 0 < self.drain_interval_s <= 1:
            raise FdrConfigError(f"fdr.drain_interval_s must be in (0, 1], got {self.drain_interval_s}")
        if not 1 <= self.batch_max_records <= 2**20:
            raise FdrConfigError(f"fdr.batch_max_records must be in [1, 1048576], got {self.batch_max_records}")
        if not 0 < self.degraded_retry_s <= 60:
            raise FdrConfigError(f"fdr.degraded_retry_s must be in (0, 60], got {self.degraded_retry_s}")

    @property
    def cap_below_segment(self) -> bool:
        """A misconfiguration: the flight cap cannot hold even one full segment."""
        return self.flight_cap_bytes < self.segment_size_bytes
