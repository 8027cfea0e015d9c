"""The segment file format, version 1: the contract between the writer and every reader.

A segment file is::

    preamble   MAGIC (8 bytes) | u16 format_version | u16 flags | u32 reserved     (16 bytes, LE)
    frame*     u32 body_length | body | u32 crc                                   (LE)

``crc`` is CRC-32 (zlib) over the 4 length bytes and the body, so a corrupt length is
caught as surely as a corrupt body. The first byte of a body is its tag:

    b"H"  segment header, JSON: flight id, segment index, the channel (topic/type) table
    b"J"  JSON record (gps_denied_onboard.fdr.records.Record)
    b"R"  ROS message: u32 channel_id | i64 mono_ns | i64 wall_ns | CDR bytes as received

The first frame of every segment is its header, so a segment can be read on its own.
Topics that join after a segment was opened are announced by a ``topic`` JSON record
before their first message.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gps_denied_onboard.fdr.errors import FdrConfigError, RecordSchemaError, SegmentFormatError
from gps_denied_onboard.fdr.records import Record

MAGIC = b"\x89GDOFDR\n"  # non-ASCII first byte and a newline: text-mode mangling shows at once
FORMAT_VERSION = 1
PREAMBLE = struct.Struct("<8sHHI")
PREAMBLE_SIZE = PREAMBLE.size  # 16
LENGTH = struct.Struct("<I")
CRC = struct.Struct("<I")
FRAME_OVERHEAD = LENGTH.size + CRC.size  # 8 bytes around every body
MAX_BODY_BYTES = 64 * 2**20  # a larger length field is corruption, not a message
ROS_PREFIX = struct.Struct("<cIqq")  # tag, channel_id, mono_ns, wall_ns

TAG_HEADER = b"H"
TAG_JSON = b"J"
TAG_ROS = b"R"

SEGMENT_SUFFIX = ".fdr"
_SEGMENT_RE = re.compile(r"^segment-(\d{4,})\.fdr$")
_FLIGHT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def preamble() -> bytes:
    """The 16 bytes every segment starts with."""
    return PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, 0)


def check_preamble(data: bytes) -> int:
    """Validate a segment's first 16 bytes and return its format version."""
    if len(data) < PREAMBLE_SIZE:
        raise SegmentFormatError(f"segment shorter than its {PREAMBLE_SIZE}-byte preamble ({len(data)} bytes)")
    magic, version, _flags, _reserved = PREAMBLE.unpack_from(data)
    if magic != MAGIC:
        raise SegmentFormatError(f"not an FDR segment: magic {magic!r} != {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise SegmentFormatError(f"unsupported FDR format version {version} (this reader: {FORMAT_VERSION})")
    return int(version)


def frame_crc(length_bytes: bytes | memoryview, body: bytes | memoryview) -> int:
    """CRC-32 over a frame's length field and body."""
    return zlib.crc32(body, zlib.crc32(length_bytes)) & 0xFFFFFFFF


def encode_frame(body: bytes) -> bytes:
    """Length-prefix and checksum one body."""
    if not body:
        raise RecordSchemaError("a frame body cannot be empty")
    if len(body) > MAX_BODY_BYTES:
        raise RecordSchemaError(f"frame body of {len(body)} bytes exceeds the {MAX_BODY_BYTES}-byte limit")
    length = LENGTH.pack(len(body))
    return b"".join((length, body, CRC.pack(frame_crc(length, body))))


@dataclass(frozen=True)
class Channel:
    """A ROS topic's entry in the channel table; ids are stable for a whole flight."""

    channel_id: int
    topic: str
    msg_type: str
    producer_id: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as in the header table and in ``topic`` records."""
        return {
            "channel_id": self.channel_id,
            "topic": self.topic,
            "msg_type": self.msg_type,
            "producer_id": self.producer_id,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Channel:
        """Parse a table entry or a ``topic`` record payload."""
        if not isinstance(doc, Mapping):
            raise RecordSchemaError(f"channel entry must be an object, got {type(doc).__name__}")
        channel_id = doc.get("channel_id")
        if not isinstance(channel_id, int) or isinstance(channel_id, bool) or not 0 <= channel_id < 2**32:
            raise RecordSchemaError(f"channel_id must be an integer in [0, 2^32), got {channel_id!r}")
        texts = [doc.get(key) for key in ("topic", "msg_type", "producer_id")]
        if not all(isinstance(text, str) and text for text in texts):
            raise RecordSchemaError(f"channel entry needs non-empty strings topic, msg_type, producer_id: {doc!r}")
        return cls(channel_id, *texts)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SegmentHeader:
    """The first frame of a segment: enough to read the segment without its siblings."""

    flight_id: str
    segment_index: int
    created_wall_ns: int
    created_mono_ns: int
    software_version: str
    channels: tuple[Channel, ...] = ()
    format_version: int = FORMAT_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_body(self) -> bytes:
        """The header frame's body (tag + JSON)."""
        doc = dict(self.extra)
        doc.update(
            format_version=self.format_version,
            flight_id=self.flight_id,
            segment_index=self.segment_index,
            created_wall_ns=self.created_wall_ns,
            created_mono_ns=self.created_mono_ns,
            software_version=self.software_version,
            channels=[c.to_dict() for c in self.channels],
        )
        return TAG_HEADER + orjson.dumps(doc)

    @classmethod
    def from_json(cls, data: bytes | memoryview) -> SegmentHeader:
        """Parse the JSON after the ``H`` tag."""
        try:
            doc = orjson.loads(data)
            known = (
                "format_version",
                "flight_id",
                "segment_index",
                "created_wall_ns",
                "created_mono_ns",
                "software_version",
                "channels",
            )
            return cls(
                flight_id=str(doc["flight_id"]),
                segment_index=int(doc["segment_index"]),
                created_wall_ns=int(doc["created_wall_ns"]),
                created_mono_ns=int(doc["created_mono_ns"]),
                software_version=str(doc["software_version"]),
                channels=tuple(Channel.from_dict(c) for c in doc["channels"]),
                format_version=int(doc["format_version"]),
                extra={k: v for k, v in doc.items() if k not in known},
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecordSchemaError(f"bad segment header: {exc}") from exc


@dataclass(frozen=True)
class RosFrame:
    """A decoded ROS message body: the CDR bytes exactly as recorded."""

    channel_id: int
    mono_ns: int
    wall_ns: int
    cdr: bytes


def encode_json_body(record: Record) -> bytes:
    """Body of a JSON record frame."""
    return TAG_JSON + record.to_json()


def encode_ros_body(channel_id: int, mono_ns: int, wall_ns: int, cdr: bytes | memoryview) -> bytes:
    """Body of a ROS message frame."""
    return ROS_PREFIX.pack(TAG_ROS, channel_id, mono_ns, wall_ns) + bytes(cdr)


def encode_ros_frame(channel_id: int, mono_ns: int, wall_ns: int, cdr: bytes) -> bytes:
    """A whole ROS message frame, the CDR bytes copied once (images make this the hot path).

    Same bytes as ``encode_frame(encode_ros_body(...))``."""
    prefix = ROS_PREFIX.pack(TAG_ROS, channel_id, mono_ns, wall_ns)
    body_len = len(prefix) + len(cdr)
    if body_len > MAX_BODY_BYTES:
        raise RecordSchemaError(f"frame body of {body_len} bytes exceeds the {MAX_BODY_BYTES}-byte limit")
    length = LENGTH.pack(body_len)
    crc = zlib.crc32(cdr, zlib.crc32(prefix, zlib.crc32(length))) & 0xFFFFFFFF
    return b"".join((length, prefix, cdr, CRC.pack(crc)))


def decode_body(body: bytes | memoryview) -> SegmentHeader | Record | RosFrame:
    """Decode one frame body by its tag; raise RecordSchemaError on an unknown tag or bad content."""
    if len(body) == 0:
        raise RecordSchemaError("empty frame body")
    tag = bytes(body[:1])
    if tag == TAG_JSON:
        return Record.from_json(body[1:])
    if tag == TAG_ROS:
        if len(body) < ROS_PREFIX.size:
            raise RecordSchemaError(f"ROS frame of {len(body)} bytes is shorter than its {ROS_PREFIX.size}-byte prefix")
        _tag, channel_id, mono_ns, wall_ns = ROS_PREFIX.unpack_from(body)
        return RosFrame(channel_id, mono_ns, wall_ns, bytes(body[ROS_PREFIX.size :]))
    if tag == TAG_HEADER:
        return SegmentHeader.from_json(body[1:])
    raise RecordSchemaError(f"unknown frame tag {tag!r}")


def segment_name(index: int) -> str:
    """File name of segment ``index``: segment-0000.fdr, segment-0001.fdr, ..."""
    return f"segment-{index:04d}{SEGMENT_SUFFIX}"


def segment_index(name: str) -> int | None:
    """The index in a segment file name, or None if the name is not a segment's."""
    match = _SEGMENT_RE.match(name)
    if match is None:
        return None
    index = int(match.group(1))
    return index if name == segment_name(index) else None  # one canonical name per index


def check_flight_id(flight_id: str) -> str:
    """A flight id is a safe directory name: 1-64 of [A-Za-z0-9._-], not starting with '.', '-' or '_'."""
    if not isinstance(flight_id, str) or not _FLIGHT_ID_RE.match(flight_id):
        raise FdrConfigError(
            f"flight id {flight_id!r} must be 1-64 characters of [A-Za-z0-9._-] starting with a letter or digit"
        )
    return flight_id
