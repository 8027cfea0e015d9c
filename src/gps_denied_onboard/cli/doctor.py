"""`onboard doctor`: report whether this machine can run the suite."""

from __future__ import annotations

import argparse
from pathlib import Path

from gps_denied_onboard import doctor
from gps_denied_onboard.paths import default_fdr_root


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `doctor` subcommand."""
    parser = subparsers.add_parser("doctor", help="environment report; non-zero exit if a required piece is missing")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--fdr-root", type=Path, default=None, help="flight root to check (default: %(default)s)")
    parser.add_argument("--min-free-gib", type=float, default=1.0, help="free space required at the flight root")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run every check, print the report, return 1 if a required check failed."""
    fdr_root = args.fdr_root if args.fdr_root is not None else default_fdr_root()
    results = doctor.run_checks(fdr_root=fdr_root, min_free_bytes=int(args.min_free_gib * 2**30))
    print(doctor.to_json(results) if args.json else doctor.format_table(results))
    failed = doctor.failed_required(results)
    if failed and not args.json:
        print(f"\n{len(failed)} required check(s) failed: {', '.join(r.name for r in failed)}")
    return 1 if failed else 0
