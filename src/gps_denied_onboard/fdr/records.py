"""Versioned records: JSON records (events, logs, bookkeeping) and ROS message records.

A JSON record is ``{"schema_version", "mono_ns", "wall_ns", "producer_id", "kind",
"payload", ...}``; any field or kind this version does not know is preserved on parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from gps_denied_onboard.fdr.errors import RecordSchemaError

SCHEMA_VERSION = 1
_REQUIRED = ("schema_version", "mono_ns", "wall_ns", "producer_id", "kind", "payload")


@dataclass(frozen=True)
class Record:
    """One JSON record. ``extra`` holds top-level fields written by a newer version."""

    mono_ns: int
    wall_ns: int
    producer_id: str
    kind: str
    payload: Mapping[str, Any]
    schema_version: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """Serialise with orjson; unknown fields read from a newer file are written back."""
        doc: dict[str, Any] = dict(self.extra)
        doc.update(
            schema_version=self.schema_version,
            mono_ns=self.mono_ns,
            wall_ns=self.wall_ns,
            producer_id=self.producer_id,
            kind=self.kind,
            payload=dict(self.payload),
        )
        try:
            return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as exc:
            raise RecordSchemaError(
                f"record {self.kind!r} from {self.producer_id!r} is not JSON-serialisable: {exc}"
            ) from exc

    @classmethod
    def from_json(cls, data: bytes | memoryview) -> Record:
        """Parse a JSON record; raise RecordSchemaError naming what is wrong."""
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RecordSchemaError(f"record body is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise RecordSchemaError(f"record must be a JSON object, got {type(doc).__name__}")
        missing = [key for key in _REQUIRED if key not in doc]
        if missing:
            raise RecordSchemaError(f"record lacks {missing}")
        if not isinstance(doc["payload"], dict):
            raise RecordSchemaError(f"record payload must be an object, got {type(doc['payload']).__name__}")
        for key in ("schema_version", "mono_ns", "wall_ns"):
            if not isinstance(doc[key], int) or isinstance(doc[key], bool):
                raise RecordSchemaError(f"record field {key!r} must be an integer, got {doc[key]!r}")
        if not isinstance(doc["kind"], str) or not isinstance(doc["producer_id"], str):
            raise RecordSchemaError("record fields 'kind' and 'producer_id' must be strings")
        extra = {k: v for k, v in doc.items() if k not in _REQUIRED}
        return cls(
            mono_ns=doc["mono_ns"],
            wall_ns=doc["wall_ns"],
            producer_id=doc["producer_id"],
            kind=doc["kind"],
            payload=doc["payload"],
            schema_version=doc["schema_version"],
            extra=extra,
        )


class RosMessage(NamedTuple):
    """A ROS message as received: serialised CDR bytes, never re-encoded."""

    mono_ns: int
    wall_ns: int
    topic: str
    msg_type: str
    cdr: bytes
