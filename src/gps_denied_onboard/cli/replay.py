"""`onboard replay BAG`: play a rosbag2 bag (MCAP or sqlite3) into the graph as raw CDR, with /clock.

Exit codes: 0 the bag was replayed; 2 a usage error (bad option, missing or unreadable bag,
bad remap or window), 3 a graph node could not start (``--deterministic``, e.g. the recorder
cannot open its flight), 130 interrupted (the report says what was published until then).
rclpy is imported only when a replay runs, so ``--help`` works without ROS.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import orjson

from gps_denied_onboard.bringup.errors import BringupError
from gps_denied_onboard.bringup.plan import LaunchArgs, installed_prefix, write_overlay
from gps_denied_onboard.errors import OnboardError
from gps_denied_onboard.replay.bag import Window, parse_remaps
from gps_denied_onboard.replay.errors import ReplayError
from gps_denied_onboard.replay.pacing import rate_from_option
from gps_denied_onboard.replay.plan import DEFAULT_QUIET_S, DEFAULT_WAIT_FOR_SUBSCRIBERS_S, ReplayOptions
from gps_denied_onboard.replay.report import ReplayReport, format_report, report_to_json

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `replay` and its options."""
    parser = subparsers.add_parser(
        "replay",
        help="play a rosbag2 bag into the graph as raw CDR, with /clock",
        description="Publish a rosbag2 bag's messages (CDR bytes untouched) on their topics, each after a "
        "/clock at its bag stamp. Live by default, into whatever graph runs; --deterministic runs the "
        "graph in this process on sim time and steps it message by message.",
    )
    parser.add_argument("bag", type=Path, help="rosbag2 directory (MCAP or sqlite3 storage)")
    parser.add_argument(
        "--rate", type=float, default=None, help="real-time factor (default 1.0); 0: as fast as the graph keeps up"
    )
    parser.add_argument("--start", type=float, default=0.0, metavar="S", help="skip the bag's first S seconds")
    parser.add_argument(
        "--duration", type=float, default=None, metavar="D", help="replay D seconds (default: to the end)"
    )
    parser.add_argument(
        "--remap", action="append", default=[], metavar="FROM:=TO", help="publish bag topic FROM on TO (repeatable)"
    )
    parser.add_argument(
        "--wait-for-subscribers",
        type=float,
        default=DEFAULT_WAIT_FOR_SUBSCRIBERS_S,
        metavar="S",
        help="wait up to S seconds for every topic's subscribers before the first message (default %(default)s)",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="run the graph in this process on sim time; every callback finishes before the next message",
    )
    parser.add_argument(
        "--quiet-period",
        type=float,
        default=DEFAULT_QUIET_S,
        metavar="S",
        help="--deterministic: a step ends when no callback became ready for S seconds (default %(default)s)",
    )
    parser.add_argument("--fdr-root", type=Path, default=None, help="--deterministic: the recorder's flight root")
    parser.add_argument("--config", type=Path, default=None, help="--deterministic: ROS 2 parameter file of the graph")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def _options(args: argparse.Namespace) -> ReplayOptions:
    if args.deterministic and args.rate is not None:
        raise ReplayError("--rate does not apply to --deterministic, which steps the graph message by message")
    if not args.deterministic and (args.fdr_root is not None or args.config is not None):
        raise ReplayError("--fdr-root and --config configure the in-process graph: they need --deterministic")
    return ReplayOptions(
        bag=args.bag,
        rate=rate_from_option(1.0 if args.rate is None else args.rate),
        window=Window(args.start, args.duration),
        remaps=parse_remaps(args.remap),
        wait_for_subscribers_s=args.wait_for_subscribers,
        deterministic=args.deterministic,
        quiet_s=args.quiet_period,
    )


def _replay(args: argparse.Namespace, options: ReplayOptions) -> ReplayReport:
    if not options.deterministic:
        from gps_denied_onboard.ros.replayer import replay_live  # noqa: PLC0415 - rclpy only when replaying

        return replay_live(options)
    prefix = installed_prefix(os.environ.get("AMENT_PREFIX_PATH", ""))
    config = args.config or prefix / "share" / "onboard" / "config" / "flight.yaml"
    launch_args = LaunchArgs(config=config, fdr_root=args.fdr_root, use_sim_time=True, stepped=True)
    from gps_denied_onboard.ros.replayer import replay_deterministic  # noqa: PLC0415 - rclpy only when replaying

    with tempfile.TemporaryDirectory(prefix="onboard-replay-") as tmp:
        return replay_deterministic(options, launch_args, write_overlay(launch_args, Path(tmp)))


def run(args: argparse.Namespace) -> int:
    """Replay the bag and print the per-topic report; typed errors are one `error:` line."""
    try:
        options = _options(args)
        report = _replay(args, options)
    except (ReplayError, BringupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before the replay began (waiting for subscribers, starting the graph)
        print("interrupted before the first message", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OnboardError as exc:  # a graph node refused to start (NodeStartupError carries its exit code)
        print(f"error: {exc}", file=sys.stderr)
        code: int = getattr(exc, "exit_code", EXIT_USAGE)
        return code
    if args.json:
        print(orjson.dumps(report_to_json(report), option=orjson.OPT_INDENT_2).decode())
    else:
        print(format_report(report))
    return EXIT_INTERRUPTED if report.interrupted else EXIT_OK
