"""The main job on the embedded default: simulate, replay through the whole graph, export, evaluate.

1. The scenario's flight is simulated once into a rosbag2 bag and cached, keyed by the scenario
   and the simulator's source, so a second run starts at once and a code change regenerates it.
2. The flight graph (`onboard launch flight --use-sim-time`) runs as on the vehicle, one process
   per node, and `onboard replay` plays the bag into it; the recorder records every topic.
3. The recorded FDR flight is exported to rosbag2 and evaluated against the simulator's ground
   truth (which the recorder kept like every other topic): ATE, per-phase errors, spoof latency.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gps_denied_onboard import sim
from gps_denied_onboard.demo.errors import DemoScenarioError
from gps_denied_onboard.demo.graph_run import GraphRun, run_graph_on_bag
from gps_denied_onboard.demo.load import LOAD_NICE, competing_cpu_load
from gps_denied_onboard.evaluation.options import EvalOptions
from gps_denied_onboard.evaluation.pipeline import evaluate_bag
from gps_denied_onboard.evaluation.report import EvaluationReport, format_table
from gps_denied_onboard.fdr.export import ExportResult, export_rosbag2
from gps_denied_onboard.paths import data_root
from gps_denied_onboard.sim.bag import BagSummary, simulate_bag
from gps_denied_onboard.sim.errors import SimError
from gps_denied_onboard.sim.scenario import Scenario, resolve_scenario
from gps_denied_onboard.sim.trajectory import plan_trajectory

ESTIMATOR_NODE = "state_estimator_node"
COMPASS_ERROR_DEG = 3.0  # the heading prior is the true heading off by this: a calibrated compass at arming
COMPASS_SIGMA_DEG = 10.0


@dataclass(frozen=True)
class DemoOptions:
    """What to fly and where to put it."""

    scenario: str = "default"
    # Half real time: on a 2-core machine the five nodes, the replayer and the recorder with VIO
    # need more CPU than real time leaves (VIO answers late, the estimator starves); the Jetson
    # target has 6-8 cores. README "The demo".
    rate: float = 0.5  # replay speed (real time = 1)
    # isam2 fuses VIO's relative rotation (BetweenFactorPose3); the ESKF fuses VIO's body velocity
    # only, so without GNSS its yaw follows the gyro bias.
    backend: str = "isam2"
    work_dir: Path = field(default_factory=lambda: data_root() / "demo")
    fresh: bool = False  # simulate again even if the cached bag exists
    load: bool = False  # one competing CPU-bound process at nice 10 during each graph run


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo made, for the summary and for tests."""

    bag: Path
    run_dir: Path
    graph: GraphRun
    export: ExportResult
    report: EvaluationReport
    report_dir: Path


def _simulator_fingerprint() -> str:
    """Hash of the simulator's source: a changed simulator must not reuse an old bag."""
    digest = hashlib.sha256()
    for path in sorted(Path(sim.__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cached_bag(scenario: Scenario, cache_root: Path, *, fresh: bool, say: Callable[[str], None]) -> Path:
    """The scenario's bag, simulated now unless an identical one is cached."""
    key = hashlib.sha256(repr(scenario).encode() + _simulator_fingerprint().encode()).hexdigest()[:16]
    bag = cache_root / f"{scenario.name}-{key}"
    if bag.is_dir() and (bag / "metadata.yaml").is_file() and not fresh:
        say(f"scenario {scenario.name!r}: simulated flight cached at {bag}")
        return bag
    if bag.exists():
        shutil.rmtree(bag)
    cache_root.mkdir(parents=True, exist_ok=True)
    partial = cache_root / f".{bag.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    say(f"scenario {scenario.name!r}: simulating the flight (camera, IMU, GNSS, baro, ground truth) ...")
    started = time.monotonic()
    summary: BagSummary = simulate_bag(scenario, partial)
    partial.rename(bag)  # a half-written bag is never mistaken for a cached one
    say(
        f"  {summary.duration_s:.0f} s flight, {summary.distance_flown_m:.0f} m flown, "
        f"{sum(summary.counts.values())} messages on {len(summary.counts)} topics, "
        f"simulated in {time.monotonic() - started:.1f} s -> {bag}"
    )
    return bag


def initial_heading_deg(scenario: Scenario) -> float:
    """The vehicle's true heading at arming (ENU yaw, degrees)."""
    trajectory = plan_trajectory(scenario.mission, scenario.flight)
    yaw = float(trajectory.states(np.array([0.0])).yaw_rad[0])
    return math.degrees(math.atan2(math.sin(yaw), math.cos(yaw)))


def write_params(base_params: Path, scenario: Scenario, backend: str, out: Path) -> Path:
    """The flight parameters with the estimator's per-flight inputs: backend and compass heading at arming."""
    doc: dict[str, Any] = yaml.safe_load(base_params.read_text(encoding="utf-8")) or {}
    section = doc.setdefault(ESTIMATOR_NODE, {}).setdefault("ros__parameters", {})
    section.update(
        {
            "backend": backend,
            "origin.mode": "first_gnss",  # home position from GNSS at rest, as an autopilot does
            "origin.yaw_known": True,
            "origin.yaw_deg": round(initial_heading_deg(scenario) + COMPASS_ERROR_DEG, 3),
            "origin.sigma_yaw_deg": COMPASS_SIGMA_DEG,
        }
    )
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out


def prepare_flight(options: DemoOptions, say: Callable[[str], None]) -> tuple[Scenario, Path]:
    """The scenario to fly and its simulated bag (from the cache when it is there)."""
    try:
        scenario = resolve_scenario(options.scenario)
    except SimError as exc:
        raise DemoScenarioError(f"scenario {options.scenario!r}: {exc}") from exc
    return scenario, cached_bag(scenario, options.work_dir / "cache", fresh=options.fresh, say=say)


def new_run_dir(work_dir: Path, suffix: str = "") -> Path:
    """A new, empty run directory under ``work_dir/runs``, named by the UTC time now."""
    run_dir = work_dir / "runs" / (datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + suffix)
    run_dir.mkdir(parents=True, exist_ok=False)
    return run_dir


def run_once(
    options: DemoOptions,
    *,
    scenario: Scenario,
    bag: Path,
    base_params: Path,
    run_dir: Path,
    say: Callable[[str], None],
) -> DemoResult:
    """Run the graph once on ``bag`` in ``run_dir`` (loaded if ``options.load``), export and evaluate the flight."""
    params = write_params(base_params, scenario, options.backend, run_dir / "flight.yaml")
    say(f"estimator backend {options.backend}; parameters {params}")
    with competing_cpu_load(enabled=options.load) as hog_pid:
        if hog_pid is not None:
            say(f"competing load: one CPU-bound process at nice {LOAD_NICE} (pid {hog_pid}) for the graph run")
        graph = run_graph_on_bag(bag, run_dir=run_dir, params_file=params, rate=options.rate, say=say)
    published = graph.replay_report.get("messages_published", "?")
    say(f"replay done in {graph.wall_s:.0f} s wall ({published} messages); graph stopped, flight {graph.flight_dir}")
    export_dir = run_dir / "flight_rosbag2"
    export = export_rosbag2(graph.flight_dir, export_dir)
    say(f"FDR flight exported to rosbag2: {sum(export.topics.values())} messages on {len(export.topics)} topics")
    report_dir = run_dir / "report"
    report = evaluate_bag(export_dir, report_dir, EvalOptions())
    return DemoResult(bag, run_dir, graph, export, report, report_dir)


def run_demo(options: DemoOptions, base_params: Path, say: Callable[[str], None]) -> DemoResult:
    """Run the whole main job once and return what it produced."""
    scenario, bag = prepare_flight(options, say)
    run_dir = new_run_dir(options.work_dir)
    return run_once(options, scenario=scenario, bag=bag, base_params=base_params, run_dir=run_dir, say=say)


def format_result(result: DemoResult) -> str:
    """The metrics table (the evaluator's) under a one-line heading."""
    return "\n".join(["", "evaluation of the recorded flight against ground truth:", format_table(result.report)])
