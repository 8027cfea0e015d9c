"""Entry point of the `onboard` tool: one command, one subcommand per capability."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gps_denied_onboard import __version__
from gps_denied_onboard.cli import demo, doctor, fdr, launch, replay, sim
from gps_denied_onboard.cli import eval as eval_cmd


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="onboard", description="GPS-denied onboard navigation suite")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_parser(subparsers)
    doctor.add_parser(subparsers)
    fdr.add_parser(subparsers)
    launch.add_parser(subparsers)
    replay.add_parser(subparsers)
    sim.add_parser(subparsers)
    eval_cmd.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and run the chosen subcommand; return its exit code."""
    args = build_parser().parse_args(list(argv) if argv is not None else sys.argv[1:])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
