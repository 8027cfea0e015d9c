"""What a recorded flight holds and whether it is intact, computed from a FlightScan.

``summarize`` gathers the facts (segments, records per kind and topic, time span, drops,
rollovers, gaps, problems, footer); ``verify_flight`` turns them into the list of things
wrong with the flight, the reader's problems first, then the flight-level checks.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.kinds import Kind
from gps_denied_onboard.fdr.reader import FlightScan, Problem, SegmentIssue
from gps_denied_onboard.fdr.records import Record, RosMessage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KindCounts:
    """Entries of one kind; ``frame_bytes`` includes the 8 bytes of length and CRC per frame."""

    count: int
    frame_bytes: int


@dataclass(frozen=True)
class TopicCounts:
    """ROS messages of one topic; ``cdr_bytes`` counts the serialised messages only."""

    msg_type: str
    count: int
    cdr_bytes: int


@dataclass(frozen=True)
class SegmentSummary:
    """One segment file as read."""

    index: int
    name: str
    size_bytes: int
    good_bytes: int
    records: int
    issues: int
    has_header: bool


@dataclass(frozen=True)
class TimeSpan:
    """Earliest and latest stamps over all recovered entries (min/max: stamps need not be in file order)."""

    first_wall_ns: int
    last_wall_ns: int
    first_mono_ns: int
    last_mono_ns: int

    @property
    def duration_s(self) -> float:
        """Monotonic duration: the wall clock may step during a flight."""
        return (self.last_mono_ns - self.first_mono_ns) / 1e9


@dataclass(frozen=True)
class Gap:
    """A segment index missing from the sequence 0..last present index."""

    index: int
    name: str
    explained_by_rollover: bool


@dataclass(frozen=True)
class FooterValues:
    """The flight_footer payload; a field that is absent or of the wrong type is None."""

    segment: str
    records_written: int | None
    records_dropped_overrun: int | None
    bytes_written: int | None
    rollover_count: int | None
    clean_shutdown: bool | None


@dataclass(frozen=True)
class FlightSummary:
    """Everything ``onboard fdr inspect`` shows about a flight."""

    flight_dir: Path
    flight_id: str
    segments: tuple[SegmentSummary, ...]
    records: int
    kinds: Mapping[str, KindCounts]
    topics: Mapping[str, TopicCounts]
    time_span: TimeSpan | None
    drops: int
    drops_by_origin: Mapping[str, int]
    rollovers: int
    deleted_segments: tuple[str, ...]
    gaps: tuple[Gap, ...]
    crc_failures: tuple[SegmentIssue, ...]
    torn_tails: tuple[SegmentIssue, ...]
    other_problems: tuple[SegmentIssue, ...]
    has_flight_header: bool
    footer: FooterValues | None

    @property
    def clean_shutdown(self) -> bool:
        """True only if the flight was closed with a footer saying so."""
        return self.footer is not None and self.footer.clean_shutdown is True

    @property
    def problems(self) -> tuple[SegmentIssue, ...]:
        """Every reader problem, in segment and offset order."""
        merged = (*self.crc_failures, *self.torn_tails, *self.other_problems)
        return tuple(sorted(merged, key=lambda i: (i.segment.name, i.offset)))


class Check(str, enum.Enum):
    """Flight-level problems that verify finds on top of the reader's."""

    MISSING_SEGMENT = "missing_segment"  # a gap no segment_rollover record explains
    FOOTER_MISMATCH = "footer_mismatch"  # the footer's counts disagree with what was recovered
    HEADER_MISMATCH = "header_mismatch"  # a segment header names another flight or index than its file
    MISSING_FLIGHT_HEADER = "missing_flight_header"  # segment 0 is present without its flight_header

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One verify failure; ``offset`` is None for a problem of a whole segment or flight."""

    segment: str
    offset: int | None
    problem: Problem | Check
    detail: str

    def __str__(self) -> str:
        where = self.segment if self.offset is None else f"{self.segment}@{self.offset}"
        return f"{where}: {self.problem} ({self.detail})"


def _int_field(payload: Mapping[str, Any], key: str) -> int | None:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _frame_bytes(entry: Record | RosMessage) -> int:
    # Re-encoding gives the recorded body length: the writer serialises with the same orjson call.
    if isinstance(entry, RosMessage):
        return fmt.ROS_PREFIX.size + len(entry.cdr) + fmt.FRAME_OVERHEAD
    return len(fmt.encode_json_body(entry)) + fmt.FRAME_OVERHEAD


def _footer(scan: FlightScan) -> FooterValues | None:
    for seg in reversed(scan.segments):
        for entry in reversed(seg.entries):
            if isinstance(entry, Record) and entry.kind == Kind.FLIGHT_FOOTER:
                clean = entry.payload.get("clean_shutdown")
                return FooterValues(
                    segment=seg.path.name,
                    records_written=_int_field(entry.payload, "records_written"),
                    records_dropped_overrun=_int_field(entry.payload, "records_dropped_overrun"),
                    bytes_written=_int_field(entry.payload, "bytes_written"),
                    rollover_count=_int_field(entry.payload, "rollover_count"),
                    clean_shutdown=clean if isinstance(clean, bool) else None,
                )
    return None


def _gaps(present: set[int], deleted: tuple[str, ...]) -> tuple[Gap, ...]:
    if not present:
        return ()
    deleted_indices = {i for i in map(fmt.segment_index, deleted) if i is not None}
    # Rollover deletes oldest first, so a deletion of segment j implies every i < j went before it;
    # their own rollover records may have been in segments deleted since.
    newest_deleted = max(deleted_indices, default=-1)
    return tuple(
        Gap(i, fmt.segment_name(i), i in deleted_indices or i < newest_deleted)
        for i in range(max(present))
        if i not in present
    )


def _widen(span: TimeSpan | None, entry: Record | RosMessage) -> TimeSpan:
    if span is None:
        return TimeSpan(entry.wall_ns, entry.wall_ns, entry.mono_ns, entry.mono_ns)
    return TimeSpan(
        min(span.first_wall_ns, entry.wall_ns),
        max(span.last_wall_ns, entry.wall_ns),
        min(span.first_mono_ns, entry.mono_ns),
        max(span.last_mono_ns, entry.mono_ns),
    )


def _flight_id(scan: FlightScan) -> str:
    for seg in scan.segments:
        if seg.header is not None:
            return seg.header.flight_id
    for entry in scan.entries():
        if isinstance(entry, Record) and entry.kind == Kind.FLIGHT_HEADER:
            flight_id = entry.payload.get("flight_id")
            if isinstance(flight_id, str):
                return flight_id
    return scan.flight_dir.name


def summarize(scan: FlightScan) -> FlightSummary:
    """Count and locate everything in a scanned flight; never raises on damaged content."""
    kind_counts: Counter[str] = Counter()
    kind_bytes: Counter[str] = Counter()
    topic_counts: Counter[str] = Counter()
    topic_bytes: Counter[str] = Counter()
    topic_types: dict[str, set[str]] = {}
    drops_by_origin: Counter[str] = Counter()
    deleted: list[str] = []
    rollovers = 0
    has_flight_header = False
    records = 0
    span: TimeSpan | None = None
    for entry in scan.entries():
        records += 1
        span = _widen(span, entry)
        if isinstance(entry, RosMessage):
            kind = str(Kind.ROS_MESSAGE)
            topic_counts[entry.topic] += 1
            topic_bytes[entry.topic] += len(entry.cdr)
            topic_types.setdefault(entry.topic, set()).add(entry.msg_type)
        else:
            kind = entry.kind
            if kind == Kind.OVERRUN:
                dropped = _int_field(entry.payload, "dropped_count")
                if dropped is None:
                    logger.warning("overrun record without an integer dropped_count: %r", dict(entry.payload))
                else:
                    origin = entry.payload.get("origin_producer_id", entry.producer_id)
                    drops_by_origin[str(origin)] += dropped
            elif kind == Kind.SEGMENT_ROLLOVER:
                rollovers += 1
                name = entry.payload.get("deleted_segment")
                if isinstance(name, str):
                    deleted.append(name)
            elif kind == Kind.FLIGHT_HEADER:
                has_flight_header = True
        kind_counts[kind] += 1
        kind_bytes[kind] += _frame_bytes(entry)

    segments = []
    for seg in scan.segments:
        index = fmt.segment_index(seg.path.name)
        segments.append(
            SegmentSummary(
                index=-1 if index is None else index,
                name=seg.path.name,
                size_bytes=seg.size_bytes,
                good_bytes=seg.good_bytes,
                records=len(seg.entries),
                issues=len(seg.issues),
                has_header=seg.header is not None,
            )
        )
    issues = scan.issues
    return FlightSummary(
        flight_dir=scan.flight_dir,
        flight_id=_flight_id(scan),
        segments=tuple(segments),
        records=records,
        kinds={k: KindCounts(kind_counts[k], kind_bytes[k]) for k in sorted(kind_counts)},
        topics={
            t: TopicCounts(" | ".join(sorted(topic_types[t])), topic_counts[t], topic_bytes[t])
            for t in sorted(topic_counts)
        },
        time_span=span,
        drops=sum(drops_by_origin.values()),
        drops_by_origin=dict(sorted(drops_by_origin.items())),
        rollovers=rollovers,
        deleted_segments=tuple(deleted),
        gaps=_gaps({s.index for s in segments if s.index >= 0}, tuple(deleted)),
        crc_failures=tuple(i for i in issues if i.problem is Problem.CRC_MISMATCH),
        torn_tails=tuple(i for i in issues if i.problem is Problem.TORN_TAIL),
        other_problems=tuple(i for i in issues if i.problem not in (Problem.CRC_MISMATCH, Problem.TORN_TAIL)),
        has_flight_header=has_flight_header,
        footer=_footer(scan),
    )


def _footer_findings(summary: FlightSummary) -> list[Finding]:
    footer = summary.footer
    if footer is None:
        return []
    findings = []
    recovered = summary.records - 1  # the footer does not count itself
    # Rolled-over segments took their records (and overrun records) with them: only an excess is wrong then.
    rolled = summary.rollovers > 0 or bool(footer.rollover_count) or any(g.explained_by_rollover for g in summary.gaps)
    pairs = (
        ("records_written", footer.records_written, recovered, "records recovered"),
        ("records_dropped_overrun", footer.records_dropped_overrun, summary.drops, "dropped in overrun records"),
    )
    for field_name, claimed, found, what in pairs:
        if claimed is None:
            findings.append(
                Finding(footer.segment, None, Check.FOOTER_MISMATCH, f"footer lacks an integer {field_name}")
            )
        elif (found > claimed) if rolled else (found != claimed):
            relation = "at most" if rolled else "exactly"
            findings.append(
                Finding(
                    footer.segment,
                    None,
                    Check.FOOTER_MISMATCH,
                    f"footer {field_name}={claimed} but {found} {what} (expected {relation} {claimed})",
                )
            )
    if footer.rollover_count is not None and summary.rollovers > footer.rollover_count:
        findings.append(
            Finding(
                footer.segment,
                None,
                Check.FOOTER_MISMATCH,
                f"footer rollover_count={footer.rollover_count} but {summary.rollovers} segment_rollover records",
            )
        )
    return findings


def verify_flight(scan: FlightScan) -> list[Finding]:
    """Every corruption and inconsistency in a flight; an empty list means it is intact."""
    summary = summarize(scan)
    findings = []
    for issue in scan.issues:
        detail = issue.detail
        if issue.problem is Problem.TORN_TAIL:
            detail += "; a torn tail counts as a problem for verify: the last write was cut"
        findings.append(Finding(issue.segment.name, issue.offset, issue.problem, detail))
    for seg in scan.segments:
        header, index = seg.header, fmt.segment_index(seg.path.name)
        if header is not None and (header.segment_index != index or header.flight_id != summary.flight_id):
            findings.append(
                Finding(
                    seg.path.name,
                    fmt.PREAMBLE_SIZE,
                    Check.HEADER_MISMATCH,
                    f"header says flight {header.flight_id!r} segment {header.segment_index}, "
                    f"file is segment {index} of flight {summary.flight_id!r}",
                )
            )
    findings += [
        Finding(gap.name, None, Check.MISSING_SEGMENT, "missing and no segment_rollover record explains it")
        for gap in summary.gaps
        if not gap.explained_by_rollover
    ]
    first = summary.segments[0] if summary.segments else None
    if first is not None and first.index == 0 and not summary.has_flight_header:
        findings.append(Finding(first.name, None, Check.MISSING_FLIGHT_HEADER, "segment 0 has no flight_header record"))
    findings += _footer_findings(summary)
    return findings


def _iso(wall_ns: int) -> str:
    return datetime.fromtimestamp(wall_ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: frozenset[int]) -> list[str]:
    """Aligned columns, indented under their section line; figures (``right``) right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def format_summary_table(summary: FlightSummary) -> str:
    """A terminal-readable report of a flight summary."""
    lines = [f"flight {summary.flight_id}  ({summary.flight_dir})", ""]
    lines.append(f"segments: {len(summary.segments)}")
    lines += _table(
        ("segment", "size", "good", "records", "issues"),
        [(s.name, str(s.size_bytes), str(s.good_bytes), str(s.records), str(s.issues)) for s in summary.segments],
        frozenset({1, 2, 3, 4}),
    )
    lines += ["", f"records: {summary.records}"]
    lines += _table(
        ("kind", "count", "bytes"),
        [(k, str(c.count), str(c.frame_bytes)) for k, c in summary.kinds.items()],
        frozenset({1, 2}),
    )
    if summary.topics:
        lines += ["", f"topics: {len(summary.topics)}"]
        lines += _table(
            ("topic", "type", "count", "cdr bytes"),
            [(t, c.msg_type, str(c.count), str(c.cdr_bytes)) for t, c in summary.topics.items()],
            frozenset({2, 3}),
        )
    lines.append("")
    span = summary.time_span
    if span is None:
        lines.append("time span: no records")
    else:
        lines.append(f"time span: {_iso(span.first_wall_ns)} .. {_iso(span.last_wall_ns)}  ({span.duration_s:.3f} s)")
    by_origin = ", ".join(f"{o}: {n}" for o, n in summary.drops_by_origin.items())
    lines.append(f"drops: {summary.drops}" + (f"  ({by_origin})" if by_origin else ""))
    deleted = ", ".join(summary.deleted_segments)
    lines.append(f"rollovers: {summary.rollovers}" + (f"  (deleted {deleted})" if deleted else ""))
    gaps = ", ".join(
        f"{g.name} ({'explained by rollover' if g.explained_by_rollover else 'UNEXPLAINED'})" for g in summary.gaps
    )
    lines.append(f"gaps: {len(summary.gaps)}" + (f"  {gaps}" if gaps else ""))
    problems = summary.problems
    lines.append(
        f"problems: {len(problems)}  (crc failures: {len(summary.crc_failures)}, torn tails: "
        f"{len(summary.torn_tails)}, other: {len(summary.other_problems)})"
    )
    lines += [f"  {issue}" for issue in problems]
    footer = summary.footer
    lines.append(f"clean shutdown: {'yes' if summary.clean_shutdown else 'no'}")
    if footer is None:
        lines.append("footer: none (the flight was not closed)")
    else:
        lines.append(
            f"footer: records_written={footer.records_written} records_dropped_overrun="
            f"{footer.records_dropped_overrun} bytes_written={footer.bytes_written} "
            f"rollover_count={footer.rollover_count} clean_shutdown={footer.clean_shutdown}"
        )
    return "\n".join(lines)


def _issue_json(issue: SegmentIssue) -> dict[str, Any]:
    return {
        "segment": issue.segment.name,
        "offset": issue.offset,
        "problem": issue.problem.value,
        "detail": issue.detail,
        "skipped_bytes": issue.skipped_bytes,
    }


def summary_to_json(summary: FlightSummary) -> dict[str, Any]:
    """The summary as plain JSON-ready values (str keys, ints, floats, bools, lists, None)."""
    span = summary.time_span
    footer = summary.footer
    return {
        "flight_dir": str(summary.flight_dir),
        "flight_id": summary.flight_id,
        "segments": [
            {
                "index": s.index,
                "name": s.name,
                "size_bytes": s.size_bytes,
                "good_bytes": s.good_bytes,
                "records": s.records,
                "issues": s.issues,
                "has_header": s.has_header,
            }
            for s in summary.segments
        ],
        "records": summary.records,
        "kinds": {k: {"count": c.count, "frame_bytes": c.frame_bytes} for k, c in summary.kinds.items()},
        "topics": {
            t: {"msg_type": c.msg_type, "count": c.count, "cdr_bytes": c.cdr_bytes} for t, c in summary.topics.items()
        },
        "time_span": None
        if span is None
        else {
            "first_wall_ns": span.first_wall_ns,
            "last_wall_ns": span.last_wall_ns,
            "first_mono_ns": span.first_mono_ns,
            "last_mono_ns": span.last_mono_ns,
            "duration_s": span.duration_s,
        },
        "drops": {"total": summary.drops, "by_origin": dict(summary.drops_by_origin)},
        "rollovers": {"count": summary.rollovers, "deleted_segments": list(summary.deleted_segments)},
        "gaps": [
            {"index": g.index, "segment": g.name, "explained_by_rollover": g.explained_by_rollover}
            for g in summary.gaps
        ],
        "problems": {
            "crc_failures": [_issue_json(i) for i in summary.crc_failures],
            "torn_tails": [_issue_json(i) for i in summary.torn_tails],
            "other": [_issue_json(i) for i in summary.other_problems],
        },
        "has_flight_header": summary.has_flight_header,
        "clean_shutdown": summary.clean_shutdown,
        "footer": None
        if footer is None
        else {
            "segment": footer.segment,
            "records_written": footer.records_written,
            "records_dropped_overrun": footer.records_dropped_overrun,
            "bytes_written": footer.bytes_written,
            "rollover_count": footer.rollover_count,
            "clean_shutdown": footer.clean_shutdown,
        },
    }
