"""`onboard sim`: simulate a flight from a scenario and write it as a rosbag2 bag (MCAP).

Exit codes: 0 the bag was written; 2 a bad scenario, option, orthophoto or output directory
(one ``error:`` line); 130 interrupted (nothing is left behind: a partial bag is removed).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from gps_denied_onboard.errors import OnboardError
from gps_denied_onboard.sim.bag import BagSummary, simulate_bag
from gps_denied_onboard.sim.errors import ScenarioValueError
from gps_denied_onboard.sim.scenario import Scenario, resolve_scenario

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `sim` and its options."""
    parser = subparsers.add_parser(
        "sim",
        help="simulate a flight (camera, IMU, GNSS, baro, ground truth) into a rosbag2 bag",
        description="Fly a scenario's mission with a multirotor model and write the sensors, the ground truth "
        "and the scenario's event windows as a rosbag2 directory (MCAP storage), deterministic for a seed.",
    )
    parser.add_argument(
        "--scenario",
        default=None,
        metavar="FILE|NAME",
        help="scenario YAML file, or a named scenario (default, short, aggressive); default: the built-in default",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output bag directory (must not exist; default: ./sim_<scenario>_seed<seed>)",
    )
    parser.add_argument("--seed", type=int, default=None, metavar="N", help="override the scenario's seed")
    parser.add_argument(
        "--duration", type=float, default=None, metavar="S", help="simulate only the first S seconds of the flight"
    )
    parser.add_argument(
        "--orthophoto",
        type=Path,
        default=None,
        metavar="GEOTIFF",
        help="fly over this GeoTIFF instead of the scenario's ground",
    )
    parser.set_defaults(func=run)


def _scenario(args: argparse.Namespace) -> Scenario:
    scenario = resolve_scenario(args.scenario)
    if args.seed is not None:
        if args.seed < 0:
            raise ScenarioValueError(f"--seed must be >= 0, got {args.seed}")
        scenario = dataclasses.replace(scenario, seed=args.seed)
    return scenario


def format_summary(summary: BagSummary) -> str:
    """The short human summary printed after a run."""
    lines = [
        f"wrote {summary.path}",
        f"  flight: {summary.duration_s:.1f} s, {summary.distance_flown_m:.0f} m flown",
        f"  IMU clipped: {summary.accel_clipped_samples} accelerometer, {summary.gyro_clipped_samples} gyro samples",
        "  topics:",
    ]
    width = max(len(topic) for topic in summary.counts)
    lines += [f"    {topic:<{width}}  {count:>7d}" for topic, count in summary.counts.items()]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Simulate and write the bag; typed errors are one `error:` line."""
    try:
        scenario = _scenario(args)
        out = args.out if args.out is not None else Path(f"sim_{scenario.name}_seed{scenario.seed}")
        summary = simulate_bag(scenario, out, orthophoto=args.orthophoto, duration_s=args.duration)
    except OnboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: no bag written", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(format_summary(summary))
    return EXIT_OK
