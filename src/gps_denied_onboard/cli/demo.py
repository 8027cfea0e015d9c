"""`onboard demo`: the main job on the embedded default flight (README's first command).

Simulates the default scenario (cached), runs the whole graph on it through replay, exports the
recorded flight, evaluates it, prints the metrics table and, as its last line, the report
directory. With ``--repeat N`` (N > 1) or ``--load`` it simulates once, runs the graph N times
(``--load``: each with one competing CPU-bound process at nice 10), prints the runs side by side
with VIO against the estimator issue's thresholds (reported, not enforced), writes repeat.json, and
its last line is the batch directory holding repeat.json (run K's report: ``run-K/report``).
Exit codes: 0 done; 1 the graph or an export/evaluation step failed; 2 a bad option or scenario.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gps_denied_onboard.bringup.errors import BringupError
from gps_denied_onboard.bringup.plan import installed_prefix
from gps_denied_onboard.demo.errors import DemoGraphError, DemoOptionError, DemoScenarioError
from gps_denied_onboard.errors import OnboardError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `demo` and its options."""
    parser = subparsers.add_parser(
        "demo",
        help="simulate a flight, run the whole graph on it through replay, evaluate it",
        description="The main job: simulate the scenario (cached), launch the flight graph on sim time, replay "
        "the flight into it, export what the recorder recorded, and evaluate it against ground truth.",
    )
    parser.add_argument("--scenario", default="default", help="scenario name (default, short) or YAML file")
    parser.add_argument(
        "--rate", type=float, default=None, help="replay speed, 1 = real time (default 0.5: see README, The demo)"
    )
    parser.add_argument(
        "--backend", choices=["eskf", "isam2"], default=None, help="state estimator backend (default isam2)"
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="cache and runs (default: data root/demo)")
    parser.add_argument("--fresh", action="store_true", help="simulate again even if the flight is cached")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the graph N times on the one simulated flight, print the runs side by side with VIO and write "
        "repeat.json; the last line is then the directory holding repeat.json (default 1: one run, the metrics "
        "table, the report directory last)",
    )
    parser.add_argument(
        "--load",
        action="store_true",
        help="one competing CPU-bound process at nice 10 during each graph run (output as with --repeat)",
    )
    parser.set_defaults(func=run)


def _say(line: str) -> None:
    print(f"[demo] {line}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the demo; print progress, the metrics (or repeat) table and the report (or batch) directory last."""
    from gps_denied_onboard.demo.repeat import format_repeat_result, run_repeat  # noqa: PLC0415 - heavy imports
    from gps_denied_onboard.demo.run import DemoOptions, format_result, run_demo  # noqa: PLC0415

    if args.rate is not None and not (0.05 <= args.rate <= 20.0):
        print(f"error: --rate must be within [0.05, 20], got {args.rate}", file=sys.stderr)
        return EXIT_USAGE
    try:
        base_params = installed_prefix(os.environ.get("AMENT_PREFIX_PATH", "")) / "share/onboard/config/flight.yaml"
        given = {
            "scenario": args.scenario,
            "rate": args.rate,
            "backend": args.backend,
            "fresh": args.fresh,
            "load": args.load,
        }
        chosen = {name: value for name, value in given.items() if value is not None}  # the rest: DemoOptions'
        options = DemoOptions(**chosen) if args.work_dir is None else DemoOptions(**chosen, work_dir=args.work_dir)
        if args.repeat != 1 or args.load:
            batch = run_repeat(options, base_params, args.repeat, _say)
            print(format_repeat_result(batch))
            print(batch.batch_dir)
            return EXIT_OK
        result = run_demo(options, base_params, _say)
    except (DemoScenarioError, DemoOptionError, BringupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DemoGraphError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OnboardError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(format_result(result))
    print(result.report_dir)
    return EXIT_OK
