"""`onboard eval BAG`: ATE/RPE of odometry topics against the bag's ground truth, per scenario phase,
with spoof detection latency; writes report.json and PNG plots, prints a table.

Exit codes: 0 evaluated; 2 a usage or input error (bad option, missing or unreadable bag, missing
topic, no associated poses, malformed trajectory), printed as one `error:` line.
The last line printed is the report directory (``--json`` prints the report JSON only).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from gps_denied_onboard.evaluation.associate import DEFAULT_MAX_DIFF_S
from gps_denied_onboard.evaluation.errors import BadOptionError, EvaluationError
from gps_denied_onboard.evaluation.metrics import RpeOptions, parse_delta_unit
from gps_denied_onboard.evaluation.options import DEFAULT_TOPICS, EvalOptions, TopicOptions, parse_topic_option
from gps_denied_onboard.evaluation.pipeline import default_out_dir, evaluate_bag, evaluate_tum
from gps_denied_onboard.evaluation.report import EvaluationReport, format_table, report_to_json
from gps_denied_onboard.graph import Topic

EXIT_OK = 0
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `eval` and its options."""
    parser = subparsers.add_parser(
        "eval",
        help="ATE/RPE of odometry against ground truth, per scenario phase; report.json and plots",
        description="Evaluate odometry topics of a rosbag2 bag (MCAP or sqlite3) against its ground truth "
        f"({Topic.GROUND_TRUTH.value}): ATE and RPE (evo's definitions), drift, metrics inside each "
        "GNSS-denied/jammed/spoofed/featureless window, and spoof detection latency from "
        f"{Topic.STATE_STATUS.value}. With --tum-reference, evaluate TUM files instead of a bag.",
    )
    parser.add_argument("bag", type=Path, nargs="?", help="rosbag2 directory (omit with --tum-reference)")
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="T[:ALIGN[:FIRST_S]]",
        help="odometry topic to evaluate (repeatable); ALIGN: none|se3|sim3|origin (default: none when in the "
        "ground truth's frame, else se3); FIRST_S: align on the first S seconds only. Default: "
        + ", ".join(t.value for t in DEFAULT_TOPICS),
    )
    parser.add_argument(
        "--ground-truth", default=Topic.GROUND_TRUTH.value, metavar="T", help="ground truth topic (%(default)s)"
    )
    parser.add_argument(
        "--tum-reference", type=Path, default=None, metavar="FILE", help="TUM ground truth file instead of a bag"
    )
    parser.add_argument(
        "--tum-estimate",
        action="append",
        default=[],
        metavar="FILE[:ALIGN[:FIRST_S]]",
        help="TUM estimate file to evaluate against --tum-reference (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="report directory (default: BAG-eval)")
    parser.add_argument(
        "--t-max-diff",
        type=float,
        default=DEFAULT_MAX_DIFF_S,
        metavar="S",
        help="max stamp difference of associated poses (default %(default)s)",
    )
    parser.add_argument("--t-offset", type=float, default=0.0, metavar="S", help="added to estimate stamps")
    parser.add_argument("--rpe-delta", type=float, default=1.0, metavar="N", help="RPE delta (default %(default)g)")
    parser.add_argument(
        "--rpe-delta-unit", default="f", metavar="f|m", help="RPE delta unit: f frames, m metres (default f)"
    )
    parser.add_argument(
        "--rpe-pairs-from-reference",
        action="store_true",
        help="with --rpe-delta-unit m: measure the distance along the ground truth, not the estimate",
    )
    parser.add_argument("--no-plots", action="store_true", help="write report.json only")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def _options(args: argparse.Namespace) -> EvalOptions:
    tum = args.tum_reference is not None
    if tum and args.bag is not None:
        raise BadOptionError("give either a BAG or --tum-reference, not both")
    if not tum and args.bag is None:
        raise BadOptionError("no input: give a BAG directory or --tum-reference FILE")
    if tum and (args.topic or not args.tum_estimate):
        raise BadOptionError("--tum-reference takes --tum-estimate FILE (one or more), not --topic")
    if not tum and args.tum_estimate:
        raise BadOptionError("--tum-estimate needs --tum-reference")
    specs = args.tum_estimate if tum else args.topic
    topics: tuple[TopicOptions, ...] = tuple(parse_topic_option(spec) for spec in specs)
    rpe = RpeOptions(args.rpe_delta, parse_delta_unit(args.rpe_delta_unit), args.rpe_pairs_from_reference)
    return EvalOptions(
        **({"topics": topics} if topics else {}),
        ground_truth=args.ground_truth,
        t_max_diff_s=args.t_max_diff,
        t_offset_s=args.t_offset,
        rpe=rpe,
        plots=not args.no_plots,
    )


def evaluate(args: argparse.Namespace) -> EvaluationReport:
    """Parse the options and run the evaluation they ask for."""
    options = _options(args)
    source: Path = args.bag if args.tum_reference is None else args.tum_reference
    out_dir = args.out or default_out_dir(source)
    if args.tum_reference is not None:
        return evaluate_tum(args.tum_reference, out_dir, options)
    return evaluate_bag(args.bag, out_dir, options)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the table and then the report directory; typed errors are one `error:` line."""
    try:
        report = evaluate(args)
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(orjson.dumps(report_to_json(report), option=orjson.OPT_INDENT_2).decode())
    else:
        print(format_table(report))
        print(report.out_dir)
    return EXIT_OK
