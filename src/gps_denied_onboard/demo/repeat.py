"""Repeated demo runs on one simulated flight, side by side with VIO, against the estimator issue's thresholds.

The flight is simulated once; the graph runs N times on it (each optionally under one competing
CPU-bound process), each run in ``<batch>/run-K/`` with its own report. The runs and their
summary go to ``<batch>/repeat.json``. Thresholds are reported here, never enforced.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from gps_denied_onboard.demo.errors import DemoOptionError, DemoReportError
from gps_denied_onboard.demo.load import LOAD_NICE
from gps_denied_onboard.demo.run import DemoOptions, DemoResult, new_run_dir, prepare_flight, run_once
from gps_denied_onboard.evaluation.phases import PhaseCategory
from gps_denied_onboard.evaluation.report import EvaluationReport, text_table
from gps_denied_onboard.graph import Topic, topic_spec
from gps_denied_onboard.replay import bag as replay_bag
from gps_denied_onboard.replay.errors import ReplayError
from gps_denied_onboard.rosbag_types import shared_typestore

logger = logging.getLogger(__name__)

REPEAT_FILE = "repeat.json"
REPEAT_SCHEMA = "onboard.demo.repeat"
REPEAT_SCHEMA_VERSION = 1
STATE, VIO, STATUS = Topic.STATE_ODOMETRY.value, Topic.VIO_ODOMETRY.value, Topic.STATE_STATUS.value
# The estimator issue's acceptance thresholds, stated for the default flight and both backends.
STATE_RMSE_LIMIT_M = 1.5
STATE_MAX_LIMIT_M = 4.0
DENIED_MARGIN_M = 0.5  # denied-phase state RMSE may exceed VIO's by this much
SPREAD_LIMIT_PCT = 20.0  # (max - min) / mean of the state ATE RMSE over the runs
LOAD_RATIO_LIMIT = 1.5  # a loaded batch's mean state RMSE against a quiet batch's: compare two repeat.json


@dataclass(frozen=True)
class RunMetrics:
    """One graph run's numbers as the side-by-side table shows them (None: not evaluated)."""

    run: int
    report_dir: Path
    loaded: bool
    wall_s: float
    state_rmse_m: float | None
    state_max_m: float | None
    vio_rmse_m: float | None
    vio_max_m: float | None
    state_phase_rmse_m: Mapping[str, float]  # phase category -> RMSE
    vio_phase_rmse_m: Mapping[str, float]
    vio_fused: int | None = None  # from the estimator's last /state/status
    vio_received: int | None = None


@dataclass(frozen=True)
class Verdict:
    """One issue threshold and whether every run meets it (None: cannot be judged from these runs)."""

    name: str
    holds: bool | None
    worst: str  # the worst value found, or why it is not judged


@dataclass(frozen=True)
class RepeatSummary:
    """The runs, their means, the spread of the state ATE RMSE and the threshold verdicts."""

    runs: tuple[RunMetrics, ...]
    mean_state_rmse_m: float | None
    mean_state_max_m: float | None
    mean_vio_rmse_m: float | None
    spread_pct: float | None  # None with fewer than two evaluated runs
    verdicts: tuple[Verdict, ...]


@dataclass(frozen=True)
class RepeatResult:
    """What a batch produced: its options, its directory (holding repeat.json), the summary and the file."""

    options: DemoOptions
    batch_dir: Path
    summary: RepeatSummary
    json_path: Path


def _topic_numbers(report: EvaluationReport, topic: str) -> tuple[float | None, float | None, dict[str, float]]:
    try:
        evaluation = report.topic(topic)
    except KeyError:
        return None, None, {}
    stats = evaluation.ate.translation_stats
    phases = {
        category.value: metrics.translation_m.rmse
        for category, metrics in evaluation.phases.by_category.items()
        if metrics.translation_m is not None
    }
    return stats.rmse, stats.max, phases


def run_metrics(
    run: int,
    report: EvaluationReport,
    report_dir: Path,
    *,
    loaded: bool,
    wall_s: float,
    vio_counts: tuple[int, int] | None,
) -> RunMetrics:
    """The table's numbers of one evaluated run; ``vio_counts`` is (fused, received) or None."""
    state_rmse, state_max, state_phases = _topic_numbers(report, STATE)
    vio_rmse, vio_max, vio_phases = _topic_numbers(report, VIO)
    fused, received = vio_counts if vio_counts is not None else (None, None)
    return RunMetrics(
        run, report_dir, loaded, wall_s, state_rmse, state_max, vio_rmse, vio_max, state_phases,
        vio_phases, fused, received,
    )  # fmt: skip


def last_vio_counts(bag_dir: Path) -> tuple[int, int] | None:
    """(VIO messages fused, received) from the last /state/status in a bag; None if it cannot say."""
    msg_type = topic_spec(Topic.STATE_STATUS).msg_type
    last = None
    try:
        with replay_bag.Bag(bag_dir) as bag:
            for message in bag.messages(replay_bag.Window(), topics=[STATUS]):
                last = message.cdr
    except ReplayError as exc:
        logger.warning("no VIO counters from %s: %s", bag_dir, exc)
        return None
    store = shared_typestore()
    if last is None or msg_type not in store.types:
        return None
    status: Any = store.deserialize_cdr(last, msg_type)
    received = getattr(status, "vio_received", None)  # absent before EstimatorStatus counted receptions
    return (int(status.vio_updates), int(received)) if received is not None else None


def spread_pct(values: Sequence[float]) -> float | None:
    """(max - min) / mean of ``values`` in percent; None for fewer than two values or a zero mean."""
    if len(values) < 2 or (mean := statistics.fmean(values)) == 0:
        return None
    return 100.0 * (max(values) - min(values)) / mean


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _judge(name: str, values: Sequence[float | None], limit: float, unit: str) -> Verdict:
    if not values or None in values:
        return Verdict(name, False, "a run has no value")
    worst = max(v for v in values if v is not None)
    return Verdict(name, worst <= limit, f"worst {worst:.3f} {unit}")


def _denied_excess_m(run: RunMetrics) -> float | None:
    category = PhaseCategory.DENIED.value
    state, vio = run.state_phase_rmse_m.get(category), run.vio_phase_rmse_m.get(category)
    return None if state is None or vio is None else state - vio


def summarize(runs: Sequence[RunMetrics]) -> RepeatSummary:
    """Means, spread and the issue's verdicts, each judged on the worst run."""
    rmses = [r.state_rmse_m for r in runs]
    spread = None if None in rmses else spread_pct([v for v in rmses if v is not None])
    denied = f"denied: state RMSE <= VIO RMSE + {DENIED_MARGIN_M:g} m"
    has_denied = any(PhaseCategory.DENIED.value in r.state_phase_rmse_m for r in runs)
    verdicts = (
        _judge(f"state ATE RMSE <= {STATE_RMSE_LIMIT_M:g} m", rmses, STATE_RMSE_LIMIT_M, "m"),
        _judge(f"state ATE max <= {STATE_MAX_LIMIT_M:g} m", [r.state_max_m for r in runs], STATE_MAX_LIMIT_M, "m"),
        _judge(denied, [_denied_excess_m(r) for r in runs], DENIED_MARGIN_M, "m over VIO")
        if has_denied
        else Verdict(denied, None, "the flight has no denied phase"),
        Verdict(
            f"spread of state ATE RMSE <= {SPREAD_LIMIT_PCT:g} %",
            None if spread is None else spread <= SPREAD_LIMIT_PCT,
            "needs two evaluated runs" if spread is None else f"{spread:.1f} %",
        ),
    )
    return RepeatSummary(
        tuple(runs),
        _mean(rmses),
        _mean([r.state_max_m for r in runs]),
        _mean([r.vio_rmse_m for r in runs]),
        spread,
        verdicts,
    )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_repeat_table(summary: RepeatSummary) -> str:
    """One row per run (state and VIO ATE, per-phase RMSE state / VIO, VIO fused), then means and verdicts."""
    runs = summary.runs
    phases = [c.value for c in PhaseCategory if any(c.value in r.state_phase_rmse_m for r in runs)]
    counts = any(r.vio_fused is not None for r in runs)
    header = ("run", "load", "state rmse / max m", *phases, "VIO rmse / max m")
    header += ("VIO fused/recv", "wall s") if counts else ("wall s",)
    rows = []
    for r in runs:
        cells = [str(r.run), "yes" if r.loaded else "no", f"{_num(r.state_rmse_m)} / {_num(r.state_max_m)}"]
        cells += [f"{_num(r.state_phase_rmse_m.get(p))} / {_num(r.vio_phase_rmse_m.get(p))}" for p in phases]
        cells.append(f"{_num(r.vio_rmse_m)} / {_num(r.vio_max_m)}")
        if counts:
            cells.append("-" if r.vio_fused is None else f"{r.vio_fused}/{r.vio_received}")
        rows.append((*cells, f"{r.wall_s:.0f}"))
    spread = "-" if summary.spread_pct is None else f"{summary.spread_pct:.1f} %"
    lines = [
        f"ATE in m; {STATE} unaligned, {VIO} SE(3)-aligned; per phase: state RMSE / VIO RMSE",
        *text_table(header, rows),
        (
            f"mean over {len(runs)} run(s): state ATE rmse {_num(summary.mean_state_rmse_m)} m, max "
            f"{_num(summary.mean_state_max_m)} m; VIO ATE rmse {_num(summary.mean_vio_rmse_m)} m; "
            f"spread of state rmse (max-min)/mean {spread}"
        ),
        "issue thresholds (stated for the default flight), judged on the worst run:",
    ]
    for verdict in summary.verdicts:
        outcome = "not judged" if verdict.holds is None else "holds" if verdict.holds else "FAILS"
        lines.append(f"  {verdict.name}: {outcome} ({verdict.worst})")
    if any(r.loaded for r in runs):
        lines.append(f"  under load: compare the mean with a quiet batch's (issue: <= {LOAD_RATIO_LIMIT:g}x)")
    return "\n".join(lines)


def format_repeat_result(result: RepeatResult) -> str:
    """The side-by-side table under a one-line heading, and where the runs were written."""
    options = result.options
    heading = (
        f"{len(result.summary.runs)} run(s) of scenario {options.scenario!r}, backend {options.backend}, "
        f"{options.rate:g}x real time{', each under load' if options.load else ''}:"
    )
    table = format_repeat_table(result.summary)
    return "\n".join(["", heading, table, f"runs written to {result.json_path}"])


def _topic_json(rmse_m: float | None, max_m: float | None, phase_rmse_m: Mapping[str, float]) -> dict[str, Any]:
    return {"ate_rmse_m": rmse_m, "max_error_m": max_m, "phase_rmse_m": dict(phase_rmse_m)}


def repeat_to_json(summary: RepeatSummary, options: DemoOptions) -> dict[str, Any]:
    """The batch as JSON-ready data (schema ``onboard.demo.repeat``, version REPEAT_SCHEMA_VERSION)."""
    return {
        "schema": REPEAT_SCHEMA,
        "schema_version": REPEAT_SCHEMA_VERSION,
        "scenario": options.scenario,
        "backend": options.backend,
        "rate": options.rate,
        "load": {"processes": 1, "nice": LOAD_NICE} if options.load else None,
        "runs": [
            {
                "run": r.run,
                "report_dir": str(r.report_dir),
                "loaded": r.loaded,
                "wall_s": r.wall_s,
                STATE: _topic_json(r.state_rmse_m, r.state_max_m, r.state_phase_rmse_m),
                VIO: _topic_json(r.vio_rmse_m, r.vio_max_m, r.vio_phase_rmse_m),
                "vio_fused": r.vio_fused,
                "vio_received": r.vio_received,
            }
            for r in summary.runs
        ],
        "mean_state_ate_rmse_m": summary.mean_state_rmse_m,
        "mean_state_max_error_m": summary.mean_state_max_m,
        "mean_vio_ate_rmse_m": summary.mean_vio_rmse_m,
        "spread_pct": summary.spread_pct,
        "verdicts": [{"threshold": v.name, "holds": v.holds, "worst": v.worst} for v in summary.verdicts],
    }


def run_repeat(options: DemoOptions, base_params: Path, runs: int, say: Callable[[str], None]) -> RepeatResult:
    """Simulate once, run the graph ``runs`` times, write ``repeat.json`` in the batch directory."""
    if runs < 1:
        raise DemoOptionError(f"repeat needs at least 1 run, got {runs}")
    scenario, bag = prepare_flight(options, say)
    batch_dir = new_run_dir(options.work_dir, f"-x{runs}{'-load' if options.load else ''}")
    measured = []
    for run in range(1, runs + 1):
        say(f"run {run}/{runs}{' under load' if options.load else ''} in {batch_dir / f'run-{run}'}")
        run_dir = batch_dir / f"run-{run}"
        run_dir.mkdir()
        result: DemoResult = run_once(
            options, scenario=scenario, bag=bag, base_params=base_params, run_dir=run_dir, say=say
        )
        counts = last_vio_counts(result.export.output)
        metrics = run_metrics(
            run, result.report, result.report_dir, loaded=options.load, wall_s=result.graph.wall_s, vio_counts=counts
        )
        say(f"run {run}: /state/odometry ATE rmse {_num(metrics.state_rmse_m)} m, max {_num(metrics.state_max_m)} m")
        measured.append(metrics)
    summary = summarize(measured)
    path = batch_dir / REPEAT_FILE
    try:
        path.write_bytes(orjson.dumps(repeat_to_json(summary, options), option=orjson.OPT_INDENT_2) + b"\n")
    except OSError as exc:
        raise DemoReportError(f"cannot write {path}: {exc}") from exc
    return RepeatResult(options, batch_dir, summary, path)
