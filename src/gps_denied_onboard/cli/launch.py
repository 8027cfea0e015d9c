"""`onboard launch flight`: start the graph where `ros2 launch` is not installed."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from gps_denied_onboard.bringup.errors import BringupError
from gps_denied_onboard.bringup.plan import LOG_LEVELS, LaunchArgs, installed_prefix, plan, write_overlay
from gps_denied_onboard.bringup.supervisor import Supervisor


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `launch` with the arguments of flight.launch.py."""
    parser = subparsers.add_parser("launch", help="start the flight graph (same arguments as flight.launch.py)")
    parser.add_argument("graph", choices=["flight"], help="which graph to start")
    parser.add_argument(
        "--config", type=Path, default=None, help="ROS 2 parameter file (default: installed flight.yaml)"
    )
    parser.add_argument("--fdr-root", type=Path, default=None, help="flight data recorder root directory")
    parser.add_argument("--namespace", default="", help="namespace of every node")
    parser.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    parser.add_argument("--use-sim-time", action="store_true", help="follow /clock (replay)")
    parser.add_argument("--single-process", action="store_true", help="all nodes in this process")
    parser.add_argument("--stop-timeout", type=float, default=10.0, help="seconds a node gets to exit on SIGINT")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan the graph from the installed package and run it until SIGINT/SIGTERM or a failure."""
    try:
        prefix = installed_prefix(os.environ.get("AMENT_PREFIX_PATH", ""))
        config = args.config or prefix / "share" / "onboard" / "config" / "flight.yaml"
        launch_args = LaunchArgs(
            config=config,
            fdr_root=args.fdr_root,
            namespace=args.namespace,
            log_level=args.log_level,
            use_sim_time=args.use_sim_time,
        )
    except BringupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="onboard-launch-") as tmp:
        overlay = write_overlay(launch_args, Path(tmp))
        if args.single_process:
            from gps_denied_onboard.ros.single_process import run_in_process  # noqa: PLC0415 - rclpy only when asked for

            return run_in_process(launch_args, overlay)
        try:
            processes = plan(prefix, launch_args, overlay)
        except BringupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return Supervisor(processes, stop_timeout_s=args.stop_timeout).run().exit_code
