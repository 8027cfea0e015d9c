"""Reading segments back, including after a crash: every complete frame is recovered.

The reader never raises on a damaged file. A frame whose length field runs past the end
of the file is a torn tail (the write was cut); a frame whose CRC fails, or whose body
does not decode, is corruption, and the reader resynchronises on the next offset where a
whole frame checks out. Every problem is reported with its segment and byte offset.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.errors import RecordSchemaError, SegmentFormatError
from gps_denied_onboard.fdr.records import Record, RosMessage


class Problem(str, enum.Enum):
    """What can be wrong at an offset of a segment."""

    BAD_PREAMBLE = "bad_preamble"  # not a segment, or an unsupported format version
    MISSING_HEADER = "missing_header"  # the first frame is not a segment header
    TORN_TAIL = "torn_tail"  # the file ends inside a frame: a cut write
    CRC_MISMATCH = "crc_mismatch"  # bytes changed after they were written
    BAD_LENGTH = "bad_length"  # a length field larger than any frame can be
    BAD_BODY = "bad_body"  # the CRC holds but the body does not decode
    UNKNOWN_CHANNEL = "unknown_channel"  # a ROS frame whose channel was never announced

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SegmentIssue:
    """One problem found while reading, located to the byte."""

    segment: Path
    offset: int
    problem: Problem
    detail: str
    skipped_bytes: int = 0  # bytes passed over before the reader found a good frame again

    def __str__(self) -> str:
        return f"{self.segment.name}@{self.offset}: {self.problem} ({self.detail})"


@dataclass
class SegmentScan:
    """The result of reading one segment: its header, its entries in file order, its problems."""

    path: Path
    header: fmt.SegmentHeader | None = None
    entries: list[Record | RosMessage] = field(default_factory=list)
    issues: list[SegmentIssue] = field(default_factory=list)
    size_bytes: int = 0
    good_bytes: int = 0  # offset just past the last good frame

    @property
    def torn_tail(self) -> SegmentIssue | None:
        """The torn-tail issue, if the segment ends inside a frame."""
        return next((i for i in self.issues if i.problem is Problem.TORN_TAIL), None)


def _frame_at(buf: bytes, offset: int, size: int) -> tuple[int, memoryview] | Problem:
    """Return (next offset, body) for a checked frame at ``offset``, or the problem found there."""
    if offset + fmt.LENGTH.size > size:
        return Problem.TORN_TAIL
    (length,) = fmt.LENGTH.unpack_from(buf, offset)
    if length > fmt.MAX_BODY_BYTES or length == 0:
        return Problem.BAD_LENGTH
    end = offset + fmt.LENGTH.size + length + fmt.CRC.size
    if end > size:
        return Problem.TORN_TAIL
    view = memoryview(buf)
    length_bytes = view[offset : offset + fmt.LENGTH.size]
    body = view[offset + fmt.LENGTH.size : end - fmt.CRC.size]
    (stored,) = fmt.CRC.unpack_from(buf, end - fmt.CRC.size)
    if fmt.frame_crc(length_bytes, body) != stored:
        return Problem.CRC_MISMATCH
    return end, body


_TAGS = frozenset(tag[0] for tag in (fmt.TAG_HEADER, fmt.TAG_JSON, fmt.TAG_ROS))


def _resync(buf: bytes, start: int, size: int) -> int | None:
    """The first offset after ``start`` where a complete frame with a valid CRC begins.

    A known tag byte right after the length field is checked before any CRC is computed,
    so a long stretch of garbage costs a byte comparison per offset, not a CRC each.
    """
    tag_at = fmt.LENGTH.size
    for offset in range(start + 1, size - fmt.FRAME_OVERHEAD):
        if buf[offset + tag_at] in _TAGS and not isinstance(_frame_at(buf, offset, size), Problem):
            return offset
    return None


def scan_segment(path: Path, channels: dict[int, fmt.Channel] | None = None) -> SegmentScan:
    """Read one segment completely. ``channels`` (channel id -> Channel) is updated in place,
    so a caller reading a whole flight keeps ids known from earlier segments."""
    channels = {} if channels is None else channels
    scan = SegmentScan(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        scan.issues.append(SegmentIssue(path, 0, Problem.BAD_PREAMBLE, f"unreadable: {exc}"))
        return scan
    size = scan.size_bytes = len(data)
    if size < fmt.PREAMBLE_SIZE and fmt.preamble().startswith(data):
        # Cut right after the segment was created: nothing was in it yet.
        scan.issues.append(SegmentIssue(path, 0, Problem.TORN_TAIL, f"segment cut inside its preamble ({size} bytes)"))
        return scan
    try:
        fmt.check_preamble(data)
    except SegmentFormatError as exc:
        scan.issues.append(SegmentIssue(path, 0, Problem.BAD_PREAMBLE, str(exc)))
        return scan
    offset = scan.good_bytes = fmt.PREAMBLE_SIZE
    while offset < size:
        found = _frame_at(data, offset, size)
        if isinstance(found, Problem) and not any(data[offset:]):
            # File systems may zero-fill blocks allocated but never written before a crash.
            scan.issues.append(SegmentIssue(path, offset, Problem.TORN_TAIL, f"{size - offset} zero bytes at the end"))
            break
        if isinstance(found, Problem):
            resume = _resync(data, offset, size)
            if found is Problem.TORN_TAIL and resume is None:
                # Nothing valid follows: the write was cut here (crash, power loss).
                scan.issues.append(
                    SegmentIssue(path, offset, Problem.TORN_TAIL, f"{size - offset} bytes of a cut frame")
                )
                break
            if found is Problem.TORN_TAIL:
                found = Problem.BAD_LENGTH  # valid frames follow: a damaged length field, not a cut write
            skipped = (resume if resume is not None else size) - offset
            scan.issues.append(SegmentIssue(path, offset, found, f"skipped {skipped} bytes", skipped))
            if resume is None:
                break
            offset = resume
            continue
        next_offset, body = found
        _decode_into(scan, channels, offset, body)
        offset = scan.good_bytes = next_offset
    return scan


def _decode_into(scan: SegmentScan, channels: dict[int, fmt.Channel], offset: int, body: memoryview) -> None:
    try:
        item = fmt.decode_body(body)
    except RecordSchemaError as exc:
        scan.issues.append(SegmentIssue(scan.path, offset, Problem.BAD_BODY, str(exc)))
        return
    if isinstance(item, fmt.SegmentHeader):
        if scan.header is None and offset == fmt.PREAMBLE_SIZE:
            scan.header = item
            channels.update({c.channel_id: c for c in item.channels})
        else:
            scan.issues.append(
                SegmentIssue(scan.path, offset, Problem.BAD_BODY, "segment header after the first frame")
            )
        return
    if offset == fmt.PREAMBLE_SIZE:
        scan.issues.append(SegmentIssue(scan.path, offset, Problem.MISSING_HEADER, "first frame is not a header"))
    if isinstance(item, Record):
        if item.kind == "topic":
            try:
                channel = fmt.Channel.from_dict(item.payload)
            except RecordSchemaError as exc:
                scan.issues.append(SegmentIssue(scan.path, offset, Problem.BAD_BODY, str(exc)))
            else:
                channels[channel.channel_id] = channel
        scan.entries.append(item)
        return
    channel_of = channels.get(item.channel_id)
    if channel_of is None:
        scan.issues.append(
            SegmentIssue(scan.path, offset, Problem.UNKNOWN_CHANNEL, f"channel {item.channel_id} never announced")
        )
        return
    scan.entries.append(RosMessage(item.mono_ns, item.wall_ns, channel_of.topic, channel_of.msg_type, item.cdr))


def segment_paths(flight_dir: Path) -> list[Path]:
    """The flight's segment files in index order (other files are ignored)."""
    indexed = [(fmt.segment_index(p.name), p) for p in flight_dir.iterdir() if p.is_file()]
    return [p for index, p in sorted((i, p) for i, p in indexed if i is not None)]


@dataclass
class FlightScan:
    """Every segment of a flight, read in order with a shared channel table."""

    flight_dir: Path
    segments: list[SegmentScan]
    channels: dict[int, fmt.Channel]

    @property
    def issues(self) -> list[SegmentIssue]:
        """All problems, in segment and offset order."""
        return [issue for seg in self.segments for issue in seg.issues]

    def entries(self) -> Iterator[Record | RosMessage]:
        """Every recovered entry, in the order it was written."""
        for seg in self.segments:
            yield from seg.entries

    @property
    def footer(self) -> Record | None:
        """The flight_footer record if it is the flight's last entry (a clean close).

        A footer followed by more records belongs to an earlier run of a resumed flight.
        """
        for seg in reversed(self.segments):
            if seg.entries:
                last = seg.entries[-1]
                return last if isinstance(last, Record) and last.kind == "flight_footer" else None
        return None


def scan_flight(flight_dir: Path) -> FlightScan:
    """Read a whole flight directory. Never raises on damaged content; a missing directory
    raises FileNotFoundError."""
    if not flight_dir.is_dir():
        raise FileNotFoundError(f"flight directory {flight_dir} does not exist")
    paths = segment_paths(flight_dir)
    channels: dict[int, fmt.Channel] = {}
    # Seed the table from every segment header first: a message whose `topic` record was damaged
    # is still resolved through the header of any later segment that lists its channel.
    for path in paths:
        header = read_segment_header(path)
        if header is not None:
            channels.update({c.channel_id: c for c in header.channels})
    segments = [scan_segment(path, channels) for path in paths]
    return FlightScan(flight_dir, segments, channels)


def read_segment_header(path: Path) -> fmt.SegmentHeader | None:
    """The header of one segment, or None if it cannot be read (scan_segment says why)."""
    try:
        with path.open("rb") as stream:
            head = stream.read(fmt.PREAMBLE_SIZE + fmt.LENGTH.size)
            fmt.check_preamble(head)
            (length,) = fmt.LENGTH.unpack_from(head, fmt.PREAMBLE_SIZE)
            if length > fmt.MAX_BODY_BYTES:
                return None
            rest = stream.read(length + fmt.CRC.size)
    except (OSError, SegmentFormatError):
        return None
    data = head + rest
    found = _frame_at(data, fmt.PREAMBLE_SIZE, len(data))
    if isinstance(found, Problem):
        return None
    try:
        item = fmt.decode_body(found[1])
    except RecordSchemaError:
        return None
    return item if isinstance(item, fmt.SegmentHeader) else None
