"""A rosbag2 bag (MCAP or sqlite3 storage) read for replay: its topics, and its messages in
bag order within a time window, under topic remappings. Pure: rosbags, no rclpy.

rosbags' storage parsers raise whatever a corrupt byte trips (ReaderError, but also
UnicodeDecodeError, OverflowError, struct.error, sqlite errors); at this boundary every one
of them becomes a BagReadError naming the bag, so no caller ever sees a parser's traceback.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from rosbags.interfaces import Connection, ConnectionExtRosbag2, Qos
from rosbags.rosbag2 import Reader

from gps_denied_onboard.graph.qos import QosSpec
from gps_denied_onboard.replay.errors import BadRemapError, BadWindowError, BagNotFoundError, BagReadError
from gps_denied_onboard.rosbag_qos import from_rosbag_qos

NS_PER_S = 1_000_000_000
REMAP_SEPARATOR = ":="
# A fully qualified ROS 2 topic name: absolute, tokens of [A-Za-z0-9_] not starting with a digit.
_TOPIC_NAME_RE = re.compile(r"^(/[A-Za-z_][A-Za-z0-9_]*)+$")
_METADATA = "metadata.yaml"
_FDR_SEGMENT_GLOB = "segment-*.fdr"


@dataclass(frozen=True)
class BagTopic:
    """One topic of the bag: its message type(s), its message count, and the QoS it was recorded with."""

    name: str
    msg_types: tuple[str, ...]  # one, unless several publishers disagreed on the type
    count: int
    offered_qos: tuple[QosSpec, ...]  # one per recorded publisher; empty for bags older than rosbag2 v4


class BagMessage(NamedTuple):
    """One message as replayed: the topic it is published on (after remapping), its type, its bag
    receive stamp, and its serialized CDR bytes."""

    topic: str
    msg_type: str
    stamp_ns: int
    cdr: bytes


@dataclass(frozen=True)
class Window:
    """The part of the bag to replay: ``[start_s, start_s + duration_s]`` from the bag's first message."""

    start_s: float = 0.0
    duration_s: float | None = None  # None: to the end of the bag

    def __post_init__(self) -> None:
        if not math.isfinite(self.start_s) or self.start_s < 0:
            raise BadWindowError(f"--start must be a finite number of seconds >= 0, got {self.start_s}")
        if self.duration_s is not None and (not math.isfinite(self.duration_s) or self.duration_s <= 0):
            raise BadWindowError(f"--duration must be a finite number of seconds > 0, got {self.duration_s}")


def is_topic_name(name: str) -> bool:
    """Whether ``name`` is an absolute ROS 2 topic name."""
    return _TOPIC_NAME_RE.match(name) is not None


def check_topic_name(name: str, role: str) -> str:
    """Return ``name`` if it is an absolute ROS 2 topic name, else raise BadRemapError naming ``role``."""
    if not is_topic_name(name):
        raise BadRemapError(
            f"remap {role} {name!r} is not an absolute ROS topic name "
            "('/' then tokens of letters, digits and '_', none starting with a digit)"
        )
    return name


def parse_remaps(specs: Iterable[str]) -> dict[str, str]:
    """Parse ``FROM:=TO`` remappings (both absolute topic names; each FROM at most once)."""
    remaps: dict[str, str] = {}
    for spec in specs:
        source, separator, target = spec.partition(REMAP_SEPARATOR)
        if not separator:
            raise BadRemapError(f"remap {spec!r} is not of the form FROM:=TO")
        check_topic_name(source, "source")
        check_topic_name(target, "target")
        if source in remaps:
            raise BadRemapError(f"topic {source} is remapped twice: to {remaps[source]} and to {target}")
        remaps[source] = target
    return remaps


def _describe(exc: Exception) -> str:
    """``Type: message``, the type qualified when it is neither a builtin nor rosbags' (``struct.error``)."""
    kind, module = type(exc).__qualname__, type(exc).__module__
    if module != "builtins" and not module.startswith("rosbags"):
        kind = f"{module}.{kind}"
    return f"{kind}: {exc}"


def _offers(connection: Connection) -> list[Qos]:
    ext = connection.ext
    return list(ext.offered_qos_profiles) if isinstance(ext, ConnectionExtRosbag2) else []


class Bag:
    """An open rosbag2 bag. A context manager; every failure to read it is a typed ReplayError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            raise BagNotFoundError(f"bag {path} does not exist")
        if path.is_dir() and not (path / _METADATA).is_file():
            hint = ""
            if any(path.glob(_FDR_SEGMENT_GLOB)):
                hint = f"; it is an FDR flight: `onboard fdr export {path} --rosbag2 OUT_DIR` makes a bag of it"
            raise BagReadError(f"{path} is not a rosbag2 bag: it has no {_METADATA}{hint}")
        try:
            self._reader = Reader(path)
            self._reader.open()
        except Exception as exc:  # any parser error: see the module docstring
            raise BagReadError(f"cannot read bag {path}: {_describe(exc)}") from exc
        try:
            self.topics = self._read_topics()
            empty = self._reader.message_count == 0
            self.start_ns = 0 if empty else self._reader.start_time
            self.end_ns = 0 if empty else self._reader.end_time - 1  # rosbags' end_time is one past the last stamp
        except Exception as exc:  # any parser error: see the module docstring
            self.close()
            raise BagReadError(f"cannot read the topics of bag {path}: {_describe(exc)}") from exc

    def _read_topics(self) -> tuple[BagTopic, ...]:
        topics = []
        for name, info in sorted(self._reader.topics.items()):
            types = tuple(sorted({c.msgtype for c in info.connections}))
            offers = tuple(from_rosbag_qos(q) for c in info.connections for q in _offers(c))
            topics.append(BagTopic(name, types, info.msgcount, offers))
        return tuple(topics)

    @property
    def duration_ns(self) -> int:
        """Bag time from the first message to the last."""
        return self.end_ns - self.start_ns

    def topic(self, name: str) -> BagTopic:
        """The bag topic called ``name``."""
        for topic in self.topics:
            if topic.name == name:
                return topic
        raise KeyError(name)

    def window_ns(self, window: Window) -> tuple[int, int]:
        """The window as absolute bag stamps ``(first, last)``, both inclusive."""
        start = self.start_ns + round(window.start_s * NS_PER_S)
        if start > self.end_ns and window.start_s > 0:
            raise BadWindowError(
                f"--start {window.start_s} s is past the end of bag {self.path} "
                f"({self.duration_ns / NS_PER_S:.3f} s long)"
            )
        if window.duration_s is None:
            return start, self.end_ns
        return start, min(self.end_ns, start + round(window.duration_s * NS_PER_S))

    def check_remaps(self, remaps: Mapping[str, str]) -> dict[str, str]:
        """Every bag topic's output name; a remap of a topic the bag lacks, or one that would publish
        two bag topics on one name, is a BadRemapError."""
        names = {t.name for t in self.topics}
        if unknown := sorted(set(remaps) - names):
            raise BadRemapError(f"remapped topic(s) {unknown} not in bag {self.path}; it has {sorted(names)}")
        outputs = {name: remaps.get(name, name) for name in sorted(names)}
        by_output: dict[str, list[str]] = {}
        for source, target in outputs.items():
            by_output.setdefault(target, []).append(source)
        if merged := {target: sources for target, sources in by_output.items() if len(sources) > 1}:
            target, sources = next(iter(sorted(merged.items())))
            raise BadRemapError(f"remapping would publish bag topics {sources} all on {target}")
        return outputs

    def counts(self, window: Window, topics: Collection[str] | None = None) -> dict[str, int]:
        """Messages per bag topic within ``window`` (from the bag's index when it spans the whole bag)."""
        selected = [t for t in self.topics if topics is None or t.name in topics]
        first, last = self.window_ns(window)
        if first <= self.start_ns and last >= self.end_ns:
            return {t.name: t.count for t in selected}
        counted: Counter[str] = Counter({t.name: 0 for t in selected})
        for message in self._messages(first, last, [t.name for t in selected]):
            counted[message[0].topic] += 1
        return dict(counted)

    def messages(
        self, window: Window, remaps: Mapping[str, str] | None = None, topics: Collection[str] | None = None
    ) -> Iterator[BagMessage]:
        """Messages of ``topics`` (bag names; all if None) in bag order within ``window``, on their remapped names."""
        outputs = self.check_remaps(remaps or {})
        first, last = self.window_ns(window)
        names = [t.name for t in self.topics if topics is None or t.name in topics]
        for connection, stamp_ns, data in self._messages(first, last, names):
            yield BagMessage(outputs[connection.topic], connection.msgtype, stamp_ns, data)

    def _messages(self, first: int, last: int, names: Collection[str]) -> Iterator[tuple[Connection, int, bytes]]:
        connections = [c for c in self._reader.connections if c.topic in names]
        if not connections:
            return  # rosbags reads every topic when given none
        stream = self._reader.messages(connections, start=first, stop=last + 1)
        while True:
            try:
                connection, stamp_ns, data = next(stream)
            except StopIteration:
                return
            except Exception as exc:  # any parser error: see the module docstring
                raise BagReadError(f"cannot read the messages of bag {self.path}: {_describe(exc)}") from exc
            yield connection, stamp_ns, bytes(data)

    def close(self) -> None:
        """Close the bag's storage files (idempotent)."""
        if self._reader.is_open:
            self._reader.close()

    def __enter__(self) -> Bag:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
