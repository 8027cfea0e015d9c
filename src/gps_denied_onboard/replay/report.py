"""What a replay did: messages published per topic, bag and wall durations, topics skipped. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gps_denied_onboard.replay.plan import CLOCK_TOPIC


@dataclass(frozen=True)
class ReplayReport:
    """The outcome of one replay."""

    bag: Path
    published: Mapping[str, int]  # messages published per topic (the published name, after remapping)
    in_window: Mapping[str, int]  # messages per published topic that the window holds
    clock_published: int  # /clock messages: one before each message
    bag_duration_s: float  # bag time from the first message published to the last
    wall_duration_s: float  # wall time from just before the first message to just after the last
    skipped: Mapping[str, str]  # bag topic -> why it was not replayed
    unmatched: tuple[str, ...]  # topics still short of subscribers when the replay began
    rate: float | None  # real-time factor; None: as fast as possible, or deterministic
    deterministic: bool
    interrupted: bool = False

    @property
    def messages_published(self) -> int:
        """Messages published on all topics, /clock not counted."""
        return sum(self.published.values())


def _mode(report: ReplayReport) -> str:
    if report.deterministic:
        return "deterministic, stepped message by message"
    return "as fast as possible" if report.rate is None else f"rate {report.rate:g}x"


def format_report(report: ReplayReport) -> str:
    """The report as a table: one row per topic, then the durations, skipped and unmatched topics."""
    rows = [
        (topic, str(report.published.get(topic, 0)), str(count)) for topic, count in sorted(report.in_window.items())
    ]
    rows.append((CLOCK_TOPIC, str(report.clock_published), "-"))
    header = ("topic", "published", "in window")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    lines = [f"replayed {report.bag} ({_mode(report)}){' - INTERRUPTED' if report.interrupted else ''}"]
    for row in [header, *rows]:
        lines.append(f"  {row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}")
    lines.append(
        f"{report.messages_published} messages; bag time {report.bag_duration_s:.3f} s, "
        f"wall time {report.wall_duration_s:.3f} s"
    )
    if report.skipped:
        lines.append("skipped:")
        lines.extend(f"  {topic}: {reason}" for topic, reason in sorted(report.skipped.items()))
    if report.unmatched:
        lines.append(f"short of subscribers at the start (first messages may be lost): {', '.join(report.unmatched)}")
    return "\n".join(lines)


def report_to_json(report: ReplayReport) -> dict[str, Any]:
    """The report as JSON-ready data."""
    return {
        "bag": str(report.bag),
        "published": dict(sorted(report.published.items())),
        "in_window": dict(sorted(report.in_window.items())),
        "clock_published": report.clock_published,
        "messages_published": report.messages_published,
        "bag_duration_s": report.bag_duration_s,
        "wall_duration_s": report.wall_duration_s,
        "skipped": dict(sorted(report.skipped.items())),
        "unmatched": list(report.unmatched),
        "rate": report.rate,
        "deterministic": report.deterministic,
        "interrupted": report.interrupted,
    }
