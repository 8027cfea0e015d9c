"""Small helpers shared by the writer tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gps_denied_onboard.fdr.config import FdrConfig, QueueConfig
from gps_denied_onboard.fdr.reader import FlightScan, scan_flight
from gps_denied_onboard.fdr.records import Record, RosMessage
from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder

IMU = ("/imu/data", "sensor_msgs/msg/Imu")


def cdr(seq: int, size: int = 64) -> bytes:
    """A CDR-looking payload that carries its sequence number."""
    return b"\x00\x01\x00\x00" + seq.to_bytes(8, "little") + bytes(max(0, size - 12))


def seq_of(message: RosMessage) -> int:
    """The sequence number written by ``cdr``."""
    return int.from_bytes(message.cdr[4:12], "little")


def config(root: Path, **overrides: Any) -> FdrConfig:
    """A test configuration: small rings and segments, fast drains."""
    values: dict[str, Any] = {
        "queues": QueueConfig(queue_size=1 << 16),
        "segment_size_bytes": 64 * 1024,
        "drain_interval_s": 0.005,
        "fsync_interval_s": 0.2,
        "degraded_retry_s": 0.05,
    }
    values.update(overrides)
    return FdrConfig(flight_root=root, **values)


@contextmanager
def open_recorder(cfg: FdrConfig, flight_id: str = "flight-1", **kwargs: Any) -> Iterator[FlightRecorder]:
    """An open recorder, closed at the end if the test did not close it."""
    recorder = FlightRecorder(cfg, **kwargs)
    recorder.open_flight(FlightHeader(flight_id, {"test": True}, "1.2.3"))
    try:
        yield recorder
    finally:
        recorder.__exit__(None, None, None)


def records(scan: FlightScan, kind: str) -> list[Record]:
    """JSON records of one kind."""
    return [e for e in scan.entries() if isinstance(e, Record) and e.kind == kind]


def kinds(scan: FlightScan) -> Counter[str]:
    """Entry counts by kind (ROS messages by topic)."""
    return Counter(e.kind if isinstance(e, Record) else e.topic for e in scan.entries())


def overrun_sum(scan: FlightScan, origin: str | None = None) -> int:
    """Sum of dropped_count, optionally for one origin producer."""
    return sum(
        r.payload["dropped_count"]
        for r in records(scan, "overrun")
        if origin is None or r.payload["origin_producer_id"] == origin
    )


def flight_bytes(flight_dir: Path) -> int:
    """Bytes of all segment files on disk."""
    return sum(p.stat().st_size for p in flight_dir.glob("segment-*.fdr"))


__all__ = [
    "IMU",
    "cdr",
    "config",
    "flight_bytes",
    "kinds",
    "open_recorder",
    "overrun_sum",
    "records",
    "scan_flight",
    "seq_of",
]
