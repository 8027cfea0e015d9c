"""Synthetic FDR flights, written with the format functions alone, and what a reader must recover.

A ``FlightBuilder`` hands out one ``SegmentBuilder`` per segment; each call adds one frame
and returns the entry it stands for. ``FlightBuilder.write`` puts the segments on disk
(optionally leaving some out, as a rollover would) and returns a ``BuiltFlight`` holding
every frame's byte range and the entries ``scan_flight`` must return, in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.records import Record, RosMessage

WALL0_NS = 1_714_557_600_000_000_000  # 2024-05-01T10:00:00Z
MONO0_NS = 5_000_000_000
STEP_NS = 10_000_000  # one tick of the synthetic clock per entry: 10 ms
SOFTWARE_VERSION = "0.1.0-test"

IMU = fmt.Channel(1, "/imu/data", "sensor_msgs/msg/Imu", "imu_driver")
ODOM = fmt.Channel(2, "/vio/odometry", "nav_msgs/msg/Odometry", "vio_node")
GEOFIX = fmt.Channel(7, "/geoloc/fix", "onboard/msg/GeoFix", "inference_node")  # joins late: a topic record

Entry = Record | RosMessage


def cdr_bytes(seed: int, size: int = 24) -> bytes:
    """Deterministic stand-in for a serialised message: a CDR encapsulation header and hashed bytes."""
    body = b"".join(hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"\x00\x01\x00\x00" + body[:size]


@dataclass(frozen=True)
class Frame:
    """One frame as written: its byte range in the file, its body, and what it decodes to."""

    offset: int
    end: int
    body: bytes
    item: fmt.SegmentHeader | Record | fmt.RosFrame | None  # None: a raw body the reader must reject

    @property
    def size(self) -> int:
        """Frame length in bytes, length field and CRC included."""
        return self.end - self.offset


@dataclass(frozen=True)
class BuiltSegment:
    """A segment on disk (or left out) with its frames and the entries a reader recovers from it."""

    index: int
    path: Path
    data: bytes
    frames: tuple[Frame, ...]
    entries: tuple[Entry, ...]
    written: bool


@dataclass(frozen=True)
class BuiltFlight:
    """A flight directory and what reading it must give."""

    flight_dir: Path
    segments: tuple[BuiltSegment, ...]  # every segment built, including those left out

    @property
    def present(self) -> tuple[BuiltSegment, ...]:
        """The segments that were written to disk."""
        return tuple(s for s in self.segments if s.written)

    @property
    def entries(self) -> list[Entry]:
        """Every entry scan_flight must recover, in file order."""
        return [e for s in self.present for e in s.entries]


def build_segment_bytes(bodies: list[bytes], *, head: bytes | None = None) -> tuple[bytes, list[tuple[int, int]]]:
    """Preamble (or ``head``) plus one frame per body; returns the bytes and each frame's (offset, end)."""
    data = bytearray(fmt.preamble() if head is None else head)
    spans = []
    for body in bodies:
        start = len(data)
        data += fmt.encode_frame(body)
        spans.append((start, len(data)))
    return bytes(data), spans


@dataclass
class SegmentBuilder:
    """Frames of one segment, in the order they are added; the header frame comes first."""

    flight: FlightBuilder
    index: int
    header: fmt.SegmentHeader | None
    bodies: list[bytes] = field(default_factory=list)
    items: list[fmt.SegmentHeader | Record | fmt.RosFrame | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.header is not None:
            self.raw(self.header.to_body(), self.header)

    def raw(self, body: bytes, item: fmt.SegmentHeader | Record | fmt.RosFrame | None = None) -> None:
        """Append any frame body (``item``: what it decodes to, None if the reader must reject it)."""
        self.bodies.append(body)
        self.items.append(item)

    def record(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        producer_id: str = "test_node",
        extra: Mapping[str, Any] | None = None,
    ) -> Record:
        """Append a JSON record stamped by the flight's clock."""
        mono_ns, wall_ns = self.flight.tick()
        rec = Record(mono_ns, wall_ns, producer_id, kind, dict(payload), extra=dict(extra or {}))
        self.raw(fmt.encode_json_body(rec), rec)
        if kind != "flight_footer":
            self.flight.records_written += 1
        return rec

    def flight_header(self) -> Record:
        """The flight_header record segment 0 starts with."""
        mono_ns, wall_ns = self.flight.clock()
        return self.record(
            "flight_header",
            {
                "flight_id": self.flight.flight_id,
                "start_wall_ns": wall_ns,
                "start_mono_ns": mono_ns,
                "config": {"segment_max_bytes": 1 << 20},
                "software_version": SOFTWARE_VERSION,
            },
            producer_id="fdr_node",
        )

    def event(self, name: str, data: Mapping[str, Any] | None = None, *, producer_id: str = "test_node") -> Record:
        """Append an ``event`` record."""
        return self.record("event", {"name": name, "data": dict(data or {})}, producer_id=producer_id)

    def topic(self, channel: fmt.Channel) -> Record:
        """Announce a channel that joined after the segment header (later headers list it)."""
        self.flight.channels[channel.channel_id] = channel
        return self.record("topic", channel.to_dict(), producer_id="fdr_node")

    def ros(self, channel: fmt.Channel | int, cdr: bytes | None = None) -> fmt.RosFrame:
        """Append a ROS message frame on a channel (an int: a channel id that may never be announced)."""
        channel_id = channel if isinstance(channel, int) else channel.channel_id
        mono_ns, wall_ns = self.flight.tick()
        frame = fmt.RosFrame(channel_id, mono_ns, wall_ns, cdr if cdr is not None else cdr_bytes(mono_ns))
        self.raw(fmt.encode_ros_body(frame.channel_id, frame.mono_ns, frame.wall_ns, frame.cdr), frame)
        self.flight.records_written += 1
        return frame

    def overrun(self, origin: str, dropped: int, reason: str = "ring_full") -> Record:
        """Append an overrun record: ``dropped`` records from ``origin`` were lost."""
        self.flight.dropped += dropped
        payload = {"origin_producer_id": origin, "dropped_count": dropped, "reason": reason}
        return self.record("overrun", payload, producer_id="fdr_node")

    def rollover(self, deleted_index: int, deleted_bytes: int = 4096) -> Record:
        """Append a segment_rollover record saying segment ``deleted_index`` was deleted."""
        self.flight.rollovers += 1
        payload = {
            "deleted_segment": fmt.segment_name(deleted_index),
            "deleted_bytes": deleted_bytes,
            "flight_bytes": 1 << 20,
            "cap_bytes": 1 << 20,
        }
        return self.record("segment_rollover", payload, producer_id="fdr_node")

    def footer(
        self,
        *,
        clean_shutdown: bool = True,
        records_written: int | None = None,
        records_dropped_overrun: int | None = None,
        rollover_count: int | None = None,
    ) -> Record:
        """Append the flight_footer; counts default to what the builder wrote so far."""
        payload = {
            "records_written": self.flight.records_written if records_written is None else records_written,
            "records_dropped_overrun": self.flight.dropped
            if records_dropped_overrun is None
            else records_dropped_overrun,
            "bytes_written": 12345,
            "rollover_count": self.flight.rollovers if rollover_count is None else rollover_count,
            "clean_shutdown": clean_shutdown,
        }
        return self.record("flight_footer", payload, producer_id="fdr_node")

    def to_bytes(self) -> tuple[bytes, list[Frame]]:
        """The segment file's bytes and its frames."""
        data, spans = build_segment_bytes(self.bodies)
        frames = [Frame(s, e, b, it) for (s, e), b, it in zip(spans, self.bodies, self.items, strict=True)]
        return data, frames


@dataclass
class FlightBuilder:
    """Segments of one flight, sharing a clock, a channel table and the footer's counters."""

    flight_id: str = "test-flight"
    initial_channels: tuple[fmt.Channel, ...] = (IMU, ODOM)
    segments: list[SegmentBuilder] = field(default_factory=list)
    channels: dict[int, fmt.Channel] = field(default_factory=dict)
    records_written: int = 0
    dropped: int = 0
    rollovers: int = 0
    _ticks: int = 0

    def __post_init__(self) -> None:
        self.channels.update({c.channel_id: c for c in self.initial_channels})

    def clock(self) -> tuple[int, int]:
        """The current (mono_ns, wall_ns) without advancing."""
        mono_ns = MONO0_NS + self._ticks * STEP_NS
        return mono_ns, WALL0_NS + self._ticks * STEP_NS

    def tick(self) -> tuple[int, int]:
        """The current stamps, then advance the clock one step."""
        stamps = self.clock()
        self._ticks += 1
        return stamps

    def segment(self, *, header: bool = True, channels: tuple[fmt.Channel, ...] | None = None) -> SegmentBuilder:
        """Start the next segment; its header lists every channel known so far unless ``channels`` is given."""
        index = len(self.segments)
        mono_ns, wall_ns = self.clock()
        table = tuple(self.channels.values()) if channels is None else channels
        seg_header = fmt.SegmentHeader(self.flight_id, index, wall_ns, mono_ns, SOFTWARE_VERSION, table)
        seg = SegmentBuilder(self, index, seg_header if header else None)
        self.segments.append(seg)
        return seg

    def write(self, flight_root: Path, *, omit: Collection[int] = ()) -> BuiltFlight:
        """Write every segment not in ``omit`` under ``flight_root/flight_id``."""
        flight_dir = flight_root / self.flight_id
        flight_dir.mkdir(parents=True, exist_ok=True)
        known: dict[int, fmt.Channel] = {}  # what a reader learns, from the segments it can see
        built = []
        for seg in self.segments:
            data, frames = seg.to_bytes()
            path = flight_dir / fmt.segment_name(seg.index)
            written = seg.index not in omit
            if written:
                path.write_bytes(data)
            built.append(BuiltSegment(seg.index, path, data, tuple(frames), expected_entries(frames, known), written))
        return BuiltFlight(flight_dir, tuple(built))


def expected_entries(
    frames: list[Frame] | tuple[Frame, ...],
    channels: dict[int, fmt.Channel],
    *,
    readable: Collection[int] | None = None,
) -> tuple[Entry, ...]:
    """What a reader recovers from ``frames`` (only those at indices in ``readable``, if given).

    ``channels`` is updated in place from header and topic frames, as the reader does.
    """
    out: list[Entry] = []
    for i, frame in enumerate(frames):
        if readable is not None and i not in readable:
            continue
        item = frame.item
        if isinstance(item, fmt.SegmentHeader):
            if frame.offset == fmt.PREAMBLE_SIZE:
                channels.update({c.channel_id: c for c in item.channels})
        elif isinstance(item, Record):
            if item.kind == "topic":
                channel = fmt.Channel.from_dict(item.payload)
                channels[channel.channel_id] = channel
            out.append(item)
        elif isinstance(item, fmt.RosFrame) and item.channel_id in channels:
            ch = channels[item.channel_id]
            out.append(RosMessage(item.mono_ns, item.wall_ns, ch.topic, ch.msg_type, item.cdr))
    return tuple(out)


def standard_flight(flight_root: Path, flight_id: str = "test-flight", *, footer: bool = True) -> BuiltFlight:
    """Two segments: flight header, IMU and odometry messages, a late /geoloc/fix channel, overruns.

    Figures: 17 records written (footer excluded), 5 dropped (vio_node 3, imu_driver 2),
    /imu/data 6 messages, /vio/odometry 3, /geoloc/fix 2.
    """
    flight = FlightBuilder(flight_id)
    seg0 = flight.segment()
    seg0.flight_header()
    for _ in range(3):
        seg0.ros(IMU)
    seg0.ros(ODOM)
    seg0.event("vio_state", {"from": "INITIALIZING", "to": "OK"}, producer_id="vio_node")
    seg0.overrun("vio_node", 3)
    seg0.topic(GEOFIX)
    seg0.ros(GEOFIX, cdr_bytes(99, size=40))
    seg1 = flight.segment()  # its header lists GEOFIX too: ids are stable for the flight
    for _ in range(3):
        seg1.ros(IMU)
    seg1.ros(ODOM)
    seg1.ros(ODOM)
    seg1.ros(GEOFIX, cdr_bytes(100, size=40))
    seg1.overrun("imu_driver", 2, reason="rate_cap")
    seg1.event("landed")
    if footer:
        seg1.footer()
    return flight.write(flight_root)
