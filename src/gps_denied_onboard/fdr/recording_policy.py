"""What the FDR node records and how it subscribes: pure decisions, no rclpy.

The node asks the ROS graph what exists, then these functions decide which topics to
record, with which QoS (adapted to the publishers as rosbag2 does) and in which ring.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gps_denied_onboard.fdr.errors import FdrConfigError
from gps_denied_onboard.graph.qos import Durability, Reliability

# /rosout is recorded as `log` records (WARN and above only), never as raw INFO/DEBUG traffic.
DEFAULT_EXCLUDE = ("^/rosout$",)


@dataclass(frozen=True)
class TopicFilter:
    """Include/exclude regular expressions over topic names (``re.search`` semantics)."""

    include: tuple[str, ...] = (".*",)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE

    def __post_init__(self) -> None:
        for name, patterns in (("include_patterns", self.include), ("exclude_patterns", self.exclude)):
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise FdrConfigError(f"fdr {name}: invalid regular expression {pattern!r}: {exc}") from None
        object.__setattr__(self, "_include", [re.compile(p) for p in self.include])
        object.__setattr__(self, "_exclude", [re.compile(p) for p in self.exclude])

    def accepts(self, topic: str) -> bool:
        """Whether ``topic`` is recorded."""
        include: list[re.Pattern[str]] = self.__dict__["_include"]
        exclude: list[re.Pattern[str]] = self.__dict__["_exclude"]
        return any(p.search(topic) for p in include) and not any(p.search(topic) for p in exclude)


@dataclass(frozen=True)
class PublisherQos:
    """The part of a publisher's QoS that decides whether a subscription can match it."""

    reliability: Reliability
    durability: Durability


@dataclass(frozen=True)
class SubscriptionQos:
    """The QoS the recorder subscribes with."""

    reliability: Reliability
    durability: Durability
    depth: int


def adapt_qos(publishers: Sequence[PublisherQos], depth: int) -> SubscriptionQos:
    """Match every publisher, as rosbag2 does: best effort if any publisher is best effort
    (a reliable reader cannot match a best-effort writer), transient local only if all
    publishers are (to receive their latched samples without being incompatible with any)."""
    if not publishers:
        raise ValueError("adapt_qos needs at least one publisher")
    reliability = (
        Reliability.BEST_EFFORT
        if any(p.reliability is Reliability.BEST_EFFORT for p in publishers)
        else Reliability.RELIABLE
    )
    durability = (
        Durability.TRANSIENT_LOCAL
        if all(p.durability is Durability.TRANSIENT_LOCAL for p in publishers)
        else Durability.VOLATILE
    )
    return SubscriptionQos(reliability, durability, depth)


def parse_queue_overrides(entries: Iterable[str]) -> dict[str, int]:
    """``["/camera/image_raw=64", ...]`` -> ``{"/camera/image_raw": 64}``; sizes are checked by QueueConfig."""
    overrides: dict[str, int] = {}
    for entry in entries:
        topic, sep, size = entry.rpartition("=")
        if not sep or not topic:
            raise FdrConfigError(f"fdr queue_overrides entry {entry!r} must look like '<topic>=<power of two>'")
        try:
            overrides[topic] = int(size)
        except ValueError:
            raise FdrConfigError(f"fdr queue_overrides entry {entry!r}: {size!r} is not an integer") from None
    return overrides


def new_flight_id(now_s: float | None = None) -> str:
    """A sortable, unique flight id: UTC time plus 4 random hex digits (20261123T221500Z-1a2b)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now_s is None else now_s))
    return f"{stamp}-{secrets.token_hex(2)}"
