"""`onboard fdr`: inspect, verify and export a recorded flight.

Exit codes: 0 success (verify: the flight is intact), 1 the flight is damaged or the
export failed, 2 a usage error (bad arguments, no such flight directory).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.errors import FdrError
from gps_denied_onboard.fdr.reader import FlightScan, scan_flight, segment_paths
from gps_denied_onboard.fdr.summary import format_summary_table, summarize, summary_to_json, verify_flight

EXIT_OK = 0
EXIT_DAMAGED = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    """A flight directory that cannot be read as one; the CLI prints it and exits 2."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `fdr` subcommand and its `inspect`, `verify` and `export` actions."""
    parser = subparsers.add_parser("fdr", help="inspect, verify and export flight data recorder flights")
    actions = parser.add_subparsers(dest="fdr_command", required=True, metavar="ACTION")

    inspect = actions.add_parser("inspect", help="summary of a flight: segments, records, drops, gaps, problems")
    inspect.add_argument("flight_dir", type=Path, help="the flight's directory (<flight_root>/<flight_id>)")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.set_defaults(func=run_inspect)

    verify = actions.add_parser("verify", help="exit 0 if the flight is intact, 1 listing each problem if not")
    verify.add_argument("flight_dir", type=Path, help="the flight's directory (<flight_root>/<flight_id>)")
    verify.set_defaults(func=run_verify)

    export = actions.add_parser("export", help="write the flight's ROS messages to MCAP or a rosbag2 directory")
    export.add_argument("flight_dir", type=Path, help="the flight's directory (<flight_root>/<flight_id>)")
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--mcap", type=Path, metavar="OUT.mcap", help="write one MCAP file")
    target.add_argument("--rosbag2", type=Path, metavar="OUT_DIR", help="write a rosbag2 directory")
    export.set_defaults(func=run_export)


def _check_flight_dir(flight_dir: Path) -> None:
    """Raise _UsageError unless ``flight_dir`` is a directory holding at least one segment."""
    if not flight_dir.exists():
        raise _UsageError(f"flight directory {flight_dir} does not exist")
    if not flight_dir.is_dir():
        raise _UsageError(f"{flight_dir} is not a directory (give the flight's directory, not a segment file)")
    try:
        if segment_paths(flight_dir):
            return
        flights = sorted(p.name for p in flight_dir.iterdir() if p.is_dir() and segment_paths(p))
    except OSError as exc:
        raise _UsageError(f"cannot read {flight_dir}: {exc}") from exc
    hint = f"; it holds flights, e.g. {flight_dir / flights[0]}" if flights else ""
    raise _UsageError(f"no segment files (segment-NNNN{fmt.SEGMENT_SUFFIX}) in {flight_dir}{hint}")


def _scan(flight_dir: Path) -> FlightScan:
    _check_flight_dir(flight_dir)
    try:
        return scan_flight(flight_dir)
    except OSError as exc:  # the directory vanished or became unreadable between the check and the scan
        raise _UsageError(f"cannot read {flight_dir}: {exc}") from exc


def _usage_error(exc: _UsageError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_USAGE


def run_inspect(args: argparse.Namespace) -> int:
    """Print the flight's summary (table or JSON); damage is reported, not an error."""
    try:
        scan = _scan(args.flight_dir)
    except _UsageError as exc:
        return _usage_error(exc)
    summary = summarize(scan)
    if args.json:
        print(orjson.dumps(summary_to_json(summary), option=orjson.OPT_INDENT_2).decode())
    else:
        print(format_summary_table(summary))
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    """Print each problem as ``segment@offset: problem (detail)``; return 1 if there is any."""
    try:
        scan = _scan(args.flight_dir)
    except _UsageError as exc:
        return _usage_error(exc)
    findings = verify_flight(scan)
    for finding in findings:
        print(finding)
    segments = len(scan.segments)
    if findings:
        print(f"{args.flight_dir}: {len(findings)} problem(s) in {segments} segment(s)")
        return EXIT_DAMAGED
    records = sum(len(seg.entries) for seg in scan.segments)
    footer = scan.footer
    clean = footer is not None and footer.payload.get("clean_shutdown") is True
    closed = "closed cleanly" if clean else "not closed cleanly (no clean footer)"
    print(f"{args.flight_dir}: OK, {segments} segment(s), {records} records, {closed}")
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    """Export the flight's ROS messages; print what was written and what was skipped."""
    try:
        _check_flight_dir(args.flight_dir)
    except _UsageError as exc:
        return _usage_error(exc)
    from gps_denied_onboard.fdr import export  # noqa: PLC0415 - mcap and rosbags load only for an export

    out: Path = args.mcap if args.mcap is not None else args.rosbag2
    try:
        if args.mcap is not None:
            result = export.export_mcap(args.flight_dir, out)
        else:
            result = export.export_rosbag2(args.flight_dir, out)
    except (FdrError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DAMAGED
    print(f"wrote {result.messages_written} messages to {out}")
    for topic, count in sorted(result.topics.items()):
        print(f"  {topic}  {count}")
    if result.skipped:
        print(f"skipped {sum(result.skipped.values())}:")
        for reason, count in sorted(result.skipped.items()):
            print(f"  {reason}  {count}")
    return EXIT_OK
