"""Export a recorded flight to the field's formats: one MCAP file, or a rosbag2 directory.

ROS messages keep their CDR bytes exactly as recorded; JSON records go on ``/fdr/<kind>``
topics (and logs, in rosbag2, on ``/rosout`` as rcl_interfaces/msg/Log). Whatever the reader
recovered from a damaged flight is exported; what could not be is counted, never hidden.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import orjson
from mcap.well_known import MessageEncoding, Profile, SchemaEncoding
from mcap.writer import Writer as McapWriter
from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, WriterError
from rosbags.rosbag2 import Writer as Rosbag2Writer
from rosbags.typesys import TypesysError
from rosbags.typesys.store import Typestore

from gps_denied_onboard import rosbag_types
from gps_denied_onboard.fdr.errors import ExportOutputExistsError, FlightNotFoundError
from gps_denied_onboard.fdr.kinds import KINDS, Kind
from gps_denied_onboard.fdr.reader import FlightScan, scan_flight
from gps_denied_onboard.fdr.records import Record, RosMessage
from gps_denied_onboard.graph import TOPICS, Topic
from gps_denied_onboard.rosbag_qos import to_rosbag_qos

logger = logging.getLogger(__name__)

JSON_TOPIC_PREFIX = "/fdr/record/"  # not "/fdr/": a kind named "status" would clash with /fdr/status
ROSOUT_TOPIC = Topic.ROSOUT.value
LOG_MSG_TYPE = "rcl_interfaces/msg/Log"
STRING_MSG_TYPE = "std_msgs/msg/String"
SKIP_READER_ISSUES = "reader_issues"  # damaged spans the reader could not recover (one per issue)
SKIP_NEGATIVE_TIME = "negative_wall_ns"  # MCAP and rosbag2 times are unsigned
SKIP_UNKNOWN_TYPE = "unknown_type:"  # + the ROS type whose definition was not found

# rcl_interfaces/msg/Log levels; Python's numeric levels use the same values.
LOG_LEVELS: dict[str, int] = {
    "DEBUG": 10,
    "INFO": 20,
    "WARN": 30,
    "WARNING": 30,
    "ERROR": 40,
    "FATAL": 50,
    "CRITICAL": 50,
}
_LOG_LEVEL_UNSET = 0  # rcutils' "no severity": an unreadable level is shown as such, not guessed

_RECORD_FIELDS = {
    "schema_version": {"type": "integer"},
    "mono_ns": {"type": "integer"},
    "wall_ns": {"type": "integer"},
    "producer_id": {"type": "string"},
}
_SPECS_BY_NAME = {kind.value: spec for kind, spec in KINDS.items()}
_QOS_BY_TOPIC = {spec.name: spec.qos for spec in TOPICS}


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote and what it could not."""

    messages_written: int
    topics: dict[str, int]  # messages per exported topic
    skipped: dict[str, int]  # reason -> count; see the SKIP_* constants
    output: Path


def export_mcap(flight_dir: Path, out: Path) -> ExportResult:
    """Write the flight as one MCAP file (ros2 profile: CDR channels with ros2msg schemas, JSON channels)."""
    scan = _scan(flight_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        stream = out.open("xb")  # exclusive create: refusing to overwrite cannot race
    except FileExistsError as exc:
        raise ExportOutputExistsError(f"export output {out} exists already, not overwriting") from exc
    types = _Types(rosbag_types.onboard_typestore())
    tally = _Tally(scan)
    channels: dict[tuple[str, str], int | None] = {}  # (topic, ROS type or JSON kind) -> MCAP channel id
    sequences: Counter[int] = Counter()
    try:
        with stream:
            writer = McapWriter(stream)
            writer.start(profile=Profile.ROS2, library="gps_denied_onboard.fdr.export")
            writer.add_metadata("fdr_flight", _flight_metadata(scan))
            for entry in tally.entries():
                if isinstance(entry, RosMessage):
                    key, data = (entry.topic, entry.msg_type), entry.cdr
                    if key not in channels:
                        channels[key] = _mcap_ros_channel(writer, types, entry.topic, entry.msg_type)
                    topic = entry.topic
                else:
                    topic = json_topic(entry.kind)
                    key, data = (topic, entry.kind), entry.to_json()
                    if key not in channels:
                        channels[key] = _mcap_json_channel(writer, topic, entry.kind)
                channel_id = channels[key]
                if channel_id is None:
                    tally.skip(SKIP_UNKNOWN_TYPE + key[1])
                    continue
                writer.add_message(
                    channel_id,
                    log_time=entry.wall_ns,
                    data=data,
                    publish_time=entry.wall_ns,
                    sequence=sequences[channel_id],
                )
                sequences[channel_id] += 1
                tally.wrote(topic)
            writer.finish()  # type: ignore[no-untyped-call]
    except BaseException:
        out.unlink(missing_ok=True)  # a half-written file would block the retry (no overwrite)
        raise
    return tally.result(out)


def export_rosbag2(flight_dir: Path, out_dir: Path) -> ExportResult:
    """Write the flight as a rosbag2 directory (MCAP storage, metadata.yaml) for ``ros2 bag info/play``."""
    scan = _scan(flight_dir)
    if out_dir.exists() or out_dir.is_symlink():
        raise ExportOutputExistsError(f"export output {out_dir} exists already, not overwriting")
    types = _Types(rosbag_types.onboard_typestore())
    tally = _Tally(scan)
    try:
        writer = Rosbag2Writer(out_dir, version=9, storage_plugin=StoragePlugin.MCAP)
        writer.open()
    except WriterError as exc:  # created by someone else since the check: not ours to remove
        raise ExportOutputExistsError(f"export output {out_dir} exists already, not overwriting: {exc}") from exc
    connections: dict[tuple[str, str], Connection | None] = {}  # (topic, ROS type) -> connection; None: unknown
    try:
        for key, value in _flight_metadata(scan).items():
            writer.set_custom_data(f"fdr.{key}", value)
        for entry in tally.entries():
            if isinstance(entry, RosMessage):
                topic, msg_type, data = entry.topic, entry.msg_type, entry.cdr
            elif entry.kind == Kind.LOG.value:
                topic, msg_type, data = ROSOUT_TOPIC, LOG_MSG_TYPE, _log_cdr(types.store, entry)
            else:
                topic, msg_type, data = json_topic(entry.kind), STRING_MSG_TYPE, _string_cdr(types.store, entry)
            if (topic, msg_type) not in connections:
                connections[topic, msg_type] = _bag_connection(writer, types, topic, msg_type)
            connection = connections[topic, msg_type]
            if connection is None:
                tally.skip(SKIP_UNKNOWN_TYPE + msg_type)
                continue
            writer.write(connection, entry.wall_ns, data)
            tally.wrote(topic)
        writer.close()
    except BaseException:
        with suppress(Exception):  # the original error is the one worth raising
            writer.abort()
        shutil.rmtree(out_dir, ignore_errors=True)  # ours: it did not exist before open()
        raise
    return tally.result(out_dir)


def json_topic(kind: str) -> str:
    """The topic of a JSON record kind: ``/fdr/<kind>``, made a valid ROS name for kinds from newer writers."""
    token = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", kind))
    token = token or "unnamed"
    if token[0].isdigit():  # a ROS name token must not start with a digit
        token = f"kind_{token}"
    return JSON_TOPIC_PREFIX + token


def _scan(flight_dir: Path) -> FlightScan:
    if not flight_dir.is_dir():
        raise FlightNotFoundError(f"no FDR flight at {flight_dir}: the directory does not exist")
    scan = scan_flight(flight_dir)
    if not scan.segments:
        raise FlightNotFoundError(f"no FDR flight at {flight_dir}: the directory holds no segment files")
    if scan.issues:
        logger.warning(
            "flight %s: %d damaged spans not recovered (first: %s); exporting the rest",
            flight_dir,
            len(scan.issues),
            scan.issues[0],
        )
    return scan


class _Types:
    """A typestore and the full ros2msg definitions generated from it, one lookup (and one warning) per type."""

    def __init__(self, store: Typestore) -> None:
        self.store = store
        self._msgdefs: dict[str, str | None] = {}

    def msgdef(self, msg_type: str) -> str | None:
        """The main definition, then each dependency after a line of 80 '=' and ``MSG: pkg/Name``; None if unknown."""
        if msg_type not in self._msgdefs:
            try:
                self._msgdefs[msg_type] = self.store.generate_msgdef(msg_type, ros_version=2)[0]
            except (TypesysError, KeyError, AssertionError) as exc:  # rosbags asserts on names without /msg/
                logger.warning("no message definition for %s (%s): its messages are not exported", msg_type, exc)
                self._msgdefs[msg_type] = None
        return self._msgdefs[msg_type]


def _mcap_ros_channel(writer: McapWriter, types: _Types, topic: str, msg_type: str) -> int | None:
    msgdef = types.msgdef(msg_type)
    if msgdef is None:
        return None
    schema_id = writer.register_schema(name=msg_type, encoding=SchemaEncoding.ROS2, data=msgdef.encode())
    return int(writer.register_channel(topic=topic, message_encoding=MessageEncoding.CDR, schema_id=schema_id))


def _mcap_json_channel(writer: McapWriter, topic: str, kind: str) -> int:
    spec = _SPECS_BY_NAME.get(kind)
    payload_keys = spec.payload_keys if spec is not None else ()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"fdr/{kind}",
        "description": spec.description if spec is not None else "record kind unknown to this version",
        "type": "object",
        "required": [*_RECORD_FIELDS, "kind", "payload"],
        "properties": {
            **_RECORD_FIELDS,
            "kind": {"const": kind},
            # keys are not required: records are forward-compatible and payloads may grow
            "payload": {"type": "object", "properties": {key: {} for key in payload_keys}},
        },
    }
    schema_id = writer.register_schema(
        name=f"fdr/{kind}", encoding=SchemaEncoding.JSONSchema, data=orjson.dumps(schema)
    )
    return int(writer.register_channel(topic=topic, message_encoding=MessageEncoding.JSON, schema_id=schema_id))


def _bag_connection(writer: Rosbag2Writer, types: _Types, topic: str, msg_type: str) -> Connection | None:
    msgdef = types.msgdef(msg_type)
    if msgdef is None:
        return None
    qos = _QOS_BY_TOPIC.get(topic)
    profiles = [to_rosbag_qos(qos)] if qos is not None else []
    return writer.add_connection(
        topic, msg_type, msgdef=msgdef, rihs01=types.store.hash_rihs01(msg_type), offered_qos_profiles=profiles
    )


def _log_level(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= 255 else _LOG_LEVEL_UNSET  # Log.level is a uint8
    if isinstance(value, str):
        return LOG_LEVELS.get(value.strip().upper(), _LOG_LEVEL_UNSET)
    return _LOG_LEVEL_UNSET


def _log_cdr(typestore: Typestore, record: Record) -> bytes:
    """A ``log`` record as rcl_interfaces/msg/Log CDR; the traceback is appended to msg, which has no field for it."""
    payload = record.payload
    text = str(payload.get("message", ""))
    if payload.get("exc_text"):
        text = f"{text}\n{payload['exc_text']}"
    line = payload.get("line")
    stamp = typestore.types["builtin_interfaces/msg/Time"](
        sec=record.wall_ns // 1_000_000_000, nanosec=record.wall_ns % 1_000_000_000
    )
    msg = typestore.types[LOG_MSG_TYPE](
        stamp=stamp,
        level=_log_level(payload.get("level")),
        name=str(payload.get("component") or record.producer_id),
        msg=text,
        file=str(payload.get("file") or ""),
        function=str(payload.get("function") or ""),
        line=line if isinstance(line, int) and not isinstance(line, bool) and 0 <= line < 2**32 else 0,
    )
    return bytes(typestore.serialize_cdr(msg, LOG_MSG_TYPE))


def _string_cdr(typestore: Typestore, record: Record) -> bytes:
    """Any other JSON record as std_msgs/msg/String CDR holding the record's JSON."""
    msg = typestore.types[STRING_MSG_TYPE](data=record.to_json().decode("utf-8"))
    return bytes(typestore.serialize_cdr(msg, STRING_MSG_TYPE))


def _flight_metadata(scan: FlightScan) -> dict[str, str]:
    header = next((seg.header for seg in scan.segments if seg.header is not None), None)
    return {
        "flight_id": header.flight_id if header is not None else "",
        "segments": str(len(scan.segments)),
        "reader_issues": "\n".join(str(issue) for issue in scan.issues),
    }


class _Tally:
    """Counts per topic and per skip reason while an export walks the flight."""

    def __init__(self, scan: FlightScan) -> None:
        self._scan = scan
        self.topics: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        if scan.issues:
            self.skipped[SKIP_READER_ISSUES] = len(scan.issues)

    def entries(self) -> Iterator[Record | RosMessage]:
        """Every recovered entry that can carry an unsigned export time."""
        for entry in self._scan.entries():
            if entry.wall_ns < 0:
                self.skip(SKIP_NEGATIVE_TIME)
                continue
            yield entry

    def wrote(self, topic: str) -> None:
        self.topics[topic] += 1

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def result(self, output: Path) -> ExportResult:
        if any(self.skipped.values()):
            logger.info("export to %s skipped %s", output, dict(self.skipped))
        return ExportResult(sum(self.topics.values()), dict(self.topics), dict(self.skipped), output)
