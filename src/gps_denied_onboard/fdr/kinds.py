"""The one table of record kinds: each kind's payload keys and its recording policy.

Parsing is forward-compatible: a kind missing from this table is kept as it is, never
dropped; the table says what a *writer* of this version puts in each payload.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(str, enum.Enum):
    """Record kinds written by this version of the suite."""

    FLIGHT_HEADER = "flight_header"
    FLIGHT_FOOTER = "flight_footer"
    TOPIC = "topic"
    OVERRUN = "overrun"
    SEGMENT_ROLLOVER = "segment_rollover"
    WRITER_DEGRADED = "writer_degraded"
    WRITER_RECOVERED = "writer_recovered"
    LOG = "log"
    EVENT = "event"
    FAILED_TILE_THUMBNAIL = "failed_tile_thumbnail"
    ROS_MESSAGE = "ros_message"  # binary frame: CDR bytes as received, never JSON

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class KindSpec:
    """What a record of this kind carries."""

    kind: Kind
    payload_keys: tuple[str, ...]
    description: str
    max_rate_hz: float | None = None  # enforced at the writer; over-cap records become overrun counts


KINDS: dict[Kind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            Kind.FLIGHT_HEADER,
            ("flight_id", "start_wall_ns", "start_mono_ns", "config", "software_version"),
            "first record of a flight",
        ),
        KindSpec(
            Kind.FLIGHT_FOOTER,
            ("records_written", "records_dropped_overrun", "bytes_written", "rollover_count", "clean_shutdown"),
            "last record of a cleanly closed flight",
        ),
        KindSpec(
            Kind.TOPIC,
            ("channel_id", "topic", "msg_type", "producer_id"),
            "a ROS topic joined after the segment header was written",
        ),
        KindSpec(
            Kind.OVERRUN,
            ("origin_producer_id", "dropped_count", "reason"),
            "records lost to a full ring, a rate cap or a failed write; their sum is the total loss",
        ),
        KindSpec(
            Kind.SEGMENT_ROLLOVER,
            ("deleted_segment", "deleted_bytes", "flight_bytes", "cap_bytes", "rollover_count", "oldest_kept_segment"),
            "an old closed segment deleted to keep the flight under its cap",
        ),
        KindSpec(Kind.WRITER_DEGRADED, ("errno", "error", "segment"), "writes started failing (ENOSPC, EIO)"),
        KindSpec(Kind.WRITER_RECOVERED, ("unwritten_records", "degraded_s"), "writes work again"),
        KindSpec(
            Kind.LOG,
            ("level", "component", "message", "exc_text", "file", "function", "line"),
            "a WARN/ERROR/FATAL log line",
        ),
        KindSpec(Kind.EVENT, ("name", "data"), "a component event (state transition, decision)"),
        KindSpec(
            Kind.FAILED_TILE_THUMBNAIL,
            ("tile_id", "reason", "thumbnail_jpeg_b64"),
            "a small image of a tile that failed to match",
            max_rate_hz=0.1,
        ),
        KindSpec(Kind.ROS_MESSAGE, ("channel_id",), "a ROS message, stored as its CDR bytes"),
    )
}

# Privacy rule: raw camera frames are never recorded, whoever asks.
FORBIDDEN_KINDS: frozenset[str] = frozenset({"raw_nav_frame", "raw_ai_cam_frame"})
