"""The outcome of an evaluation: per-topic results, the versioned ``report.json`` and a text table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from gps_denied_onboard import __version__
from gps_denied_onboard.evaluation.align import AlignmentResult
from gps_denied_onboard.evaluation.associate import NS_PER_S, Association
from gps_denied_onboard.evaluation.errors import ReportWriteError
from gps_denied_onboard.evaluation.metrics import (
    AbsoluteErrors,
    Drift,
    ErrorStats,
    PhaseMetrics,
    RelativeErrors,
    SliceMetrics,
    SpoofDetection,
    WindowMetrics,
)
from gps_denied_onboard.evaluation.options import EvalOptions
from gps_denied_onboard.evaluation.phases import PhaseWindow, StatusSeries
from gps_denied_onboard.evaluation.trajectory import Trajectory

REPORT_SCHEMA = "onboard.eval.report"
REPORT_SCHEMA_VERSION = 1  # bump on any change a reader of report.json would notice
REPORT_FILE = "report.json"


@dataclass(frozen=True, eq=False)
class TopicEvaluation:
    """One estimate evaluated against the ground truth."""

    topic: str
    frame_id: str
    estimate_poses: int
    alignment: AlignmentResult
    alignment_reason: str  # "given" or why the automatic choice was made
    align_first_s: float | None
    association: Association
    reference: Trajectory  # the associated ground-truth poses
    estimate: Trajectory  # the associated estimate poses, aligned
    ate: AbsoluteErrors
    rpe: RelativeErrors | None
    rpe_skipped: str  # why ``rpe`` is None (empty otherwise)
    drift: Drift
    phases: PhaseMetrics


@dataclass(frozen=True, eq=False)
class EvaluationReport:
    """Everything ``onboard eval`` found, ready for report.json, the table and the plots."""

    source: Path  # the bag directory, or the reference TUM file
    source_kind: str  # "rosbag2" | "tum"
    ground_truth_topic: str
    ground_truth: Trajectory
    topics: tuple[TopicEvaluation, ...]
    absent: Mapping[str, str]  # asked-for topic -> why it was not evaluated
    phases: tuple[PhaseWindow, ...]
    status: StatusSeries | None
    spoof: tuple[SpoofDetection, ...]
    options: EvalOptions
    out_dir: Path | None = None
    plots: Mapping[str, Path] = field(default_factory=dict)  # plot name -> PNG written

    @property
    def start_ns(self) -> int:
        """The ground truth's first stamp: time zero of the report."""
        return int(self.ground_truth.stamps_ns[0])

    @property
    def duration_s(self) -> float:
        """Flight duration: ground truth's first stamp to its last."""
        return self.ground_truth.duration_s

    @property
    def distance_flown_m(self) -> float:
        """Ground truth path length."""
        return self.ground_truth.path_length_m()

    def relative_s(self, stamp_ns: int) -> float:
        """Seconds from the report's time zero."""
        return (stamp_ns - self.start_ns) / NS_PER_S

    def topic(self, name: str) -> TopicEvaluation:
        """The evaluation of ``name``."""
        for evaluation in self.topics:
            if evaluation.topic == name:
                return evaluation
        raise KeyError(name)


def _stats(stats: ErrorStats | None) -> dict[str, Any] | None:
    return None if stats is None else stats.to_json()


def _slice_json(metrics: SliceMetrics) -> dict[str, Any]:
    return {
        "samples": metrics.samples,
        "duration_s": metrics.duration_s,
        "distance_m": metrics.distance_m,
        "ate_translation_m": _stats(metrics.translation_m),
        "ate_rotation_deg": _stats(metrics.rotation_deg),
        "max_error_m": None if metrics.translation_m is None else metrics.translation_m.max,
    }


def _window_json(window: WindowMetrics) -> dict[str, Any]:
    return {
        "phase_index": window.index,
        "name": window.window.label,
        "category": window.window.category.value,
        **_slice_json(window.metrics),
        "error_at_start_m": window.error_at_start_m,
        "error_at_end_m": window.error_at_end_m,
        "error_growth_m": window.error_growth_m,
        "error_growth_pct_of_distance": window.growth_pct,
    }


def _phases_json(phases: PhaseMetrics) -> dict[str, Any]:
    return {
        "by_category": {category.value: _slice_json(m) for category, m in phases.by_category.items()},
        "windows": [_window_json(w) for w in phases.windows],
    }


def _alignment_json(evaluation: TopicEvaluation) -> dict[str, Any]:
    alignment = evaluation.alignment
    return {
        "method": alignment.method.value,
        "reason": evaluation.alignment_reason,
        "first_s": evaluation.align_first_s,
        "poses_used": alignment.poses_used,
        "rotation": alignment.rotation.tolist(),
        "translation_m": alignment.translation_m.tolist(),
        "yaw_deg": alignment.yaw_deg,
        "scale": alignment.scale,
    }


def _association_json(association: Association) -> dict[str, Any]:
    return {
        "reference_poses": association.reference_poses,
        "estimate_poses": association.estimate_poses,
        "matched": association.count,
        "max_diff_s": association.max_diff_ns / NS_PER_S,
        "offset_s": association.offset_ns / NS_PER_S,
        "mean_abs_dt_s": association.mean_abs_dt_s,
        "max_abs_dt_s": association.max_abs_dt_s,
    }


def _rpe_json(rpe: RelativeErrors | None) -> dict[str, Any] | None:
    if rpe is None:
        return None
    return {
        "delta": rpe.options.delta,
        "delta_unit": rpe.options.unit.value,
        "pairs_from_reference": rpe.options.pairs_from_reference,
        "pairs": int(rpe.pairs.shape[0]),
        "translation_m": rpe.translation_stats.to_json(),
        "rotation_deg": rpe.rotation_stats.to_json(),
    }


def _topic_json(report: EvaluationReport, evaluation: TopicEvaluation) -> dict[str, Any]:
    ate_t = evaluation.ate.translation_stats
    drift = evaluation.drift
    stamps = evaluation.reference.stamps_ns
    return {
        "frame_id": evaluation.frame_id,
        "estimate_poses": evaluation.estimate_poses,
        "evaluated_from_s": report.relative_s(int(stamps[0])),
        "evaluated_to_s": report.relative_s(int(stamps[-1])),
        "ate_rmse_m": ate_t.rmse,
        "max_error_m": ate_t.max,
        "alignment": _alignment_json(evaluation),
        "association": _association_json(evaluation.association),
        "ate": {"translation_m": ate_t.to_json(), "rotation_deg": evaluation.ate.rotation_stats.to_json()},
        "rpe": _rpe_json(evaluation.rpe),
        "rpe_skipped": evaluation.rpe_skipped or None,
        "drift": {
            "distance_m": drift.distance_m,
            "final_error_m": drift.final_error_m,
            "max_error_m": drift.max_error_m,
            "final_pct_of_distance": drift.final_pct,
            "max_pct_of_distance": drift.max_pct,
        },
        "phases": _phases_json(evaluation.phases),
    }


def _phase_window_json(report: EvaluationReport, index: int, window: PhaseWindow) -> dict[str, Any]:
    return {
        "index": index,
        "name": window.label,
        "kind": window.kind.name,
        "category": window.category.value,
        "start_s": report.relative_s(window.start_ns),
        "end_s": report.relative_s(window.end_ns),
        "start_ns": window.start_ns,
        "end_ns": window.end_ns,
    }


def _spoof_json(report: EvaluationReport, detection: SpoofDetection) -> dict[str, Any]:
    return {
        "phase_index": detection.index,
        "name": detection.window.label,
        "kind": detection.window.kind.name,
        "detected": detection.detected,
        "latency_s": detection.latency_s,
        "detected_at_s": None if detection.detected_ns is None else report.relative_s(detection.detected_ns),
        "trigger": detection.trigger,
    }


def report_to_json(report: EvaluationReport) -> dict[str, Any]:
    """The report as JSON-ready data (schema ``onboard.eval.report``, version REPORT_SCHEMA_VERSION)."""
    gt = report.ground_truth
    options = report.options
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "generator": f"onboard eval {__version__}",
        "source": {"kind": report.source_kind, "path": str(report.source)},
        "out_dir": None if report.out_dir is None else str(report.out_dir),
        "flight_duration_s": report.duration_s,
        "distance_flown_m": report.distance_flown_m,
        "ground_truth": {
            "topic": report.ground_truth_topic,
            "frame_id": gt.frame_id,
            "poses": gt.num_poses,
            "start_ns": report.start_ns,
            "end_ns": int(gt.stamps_ns[-1]),
        },
        "options": {
            "topics": [t.spec() for t in options.topics],
            "t_max_diff_s": options.t_max_diff_s,
            "t_offset_s": options.t_offset_s,
            "rpe": {
                "delta": options.rpe.delta,
                "delta_unit": options.rpe.unit.value,
                "pairs_from_reference": options.rpe.pairs_from_reference,
            },
        },
        "topics": {evaluation.topic: _topic_json(report, evaluation) for evaluation in report.topics},
        "absent_topics": dict(sorted(report.absent.items())),
        "phases": [_phase_window_json(report, i, w) for i, w in enumerate(report.phases)],
        "estimator_status": None if report.status is None else {"messages": len(report.status)},
        "spoof_detection": [_spoof_json(report, d) for d in report.spoof],
        "plots": {name: path.name for name, path in sorted(report.plots.items())},
    }


def write_report_json(report: EvaluationReport, out_dir: Path) -> Path:
    """Write ``report.json`` into ``out_dir`` (created if needed; an older report there is replaced)."""
    path = out_dir / REPORT_FILE
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps(report_to_json(report), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        tmp = path.with_name(f".{REPORT_FILE}.tmp")
        tmp.write_bytes(data + b"\n")
        tmp.replace(path)  # a reader never sees half a report
    except OSError as exc:
        raise ReportWriteError(f"cannot write {path}: {exc}") from exc
    return path


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None or not np.isfinite(value) else format(value, fmt)


def text_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell: the first left-aligned, the rest right-aligned, each line indented."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            f"{row[0]:<{widths[0]}}",
            *(f"{cell:>{width}}" for cell, width in zip(row[1:], widths[1:], strict=True)),
        ]
        lines.append("  " + "  ".join(cells))
    return lines


def format_table(report: EvaluationReport) -> str:
    """The report as text: one row per topic (ATE, RPE, drift), per-phase ATE, spoof detection, absences."""
    lines = [
        (
            f"evaluated {report.source} against {report.ground_truth_topic}: "
            f"{report.duration_s:.1f} s, {report.distance_flown_m:.1f} m flown"
        )
    ]
    rpe = report.options.rpe
    header = ("topic", "align", "matched", "ATE rmse m", "mean m", "max m", "rot rmse deg",
              f"RPE/{rpe.delta:g}{rpe.unit.value} m", "RPE deg", "final drift %")  # fmt: skip
    rows = []
    for e in report.topics:
        t = e.ate.translation_stats
        rows.append((
            e.topic, e.alignment.method.value, f"{e.association.count}/{e.estimate_poses}",
            _num(t.rmse), _num(t.mean), _num(t.max), _num(e.ate.rotation_stats.rmse),
            _num(None if e.rpe is None else e.rpe.translation_stats.rmse),
            _num(None if e.rpe is None else e.rpe.rotation_stats.rmse),
            _num(e.drift.final_pct, ".2f"),
        ))  # fmt: skip
    lines.extend(text_table(header, rows))
    categories = list(dict.fromkeys(c for e in report.topics for c in e.phases.by_category))
    if len(categories) > 1:
        lines.append("ATE per phase, rmse / max m:")
        phase_rows = []
        for e in report.topics:
            cells = []
            for category in categories:
                stats = e.phases.by_category[category].translation_m if category in e.phases.by_category else None
                cells.append("-" if stats is None else f"{stats.rmse:.3f} / {stats.max:.3f}")
            phase_rows.append((e.topic, *cells))
        lines.extend(text_table(("topic", *(c.value for c in categories)), phase_rows))
    for detection in report.spoof:
        window = detection.window
        span = f"{report.relative_s(window.start_ns):.1f}-{report.relative_s(window.end_ns):.1f} s"
        outcome = (
            f"detected after {detection.latency_s:.3f} s ({detection.trigger})"
            if detection.latency_s is not None
            else detection.trigger
        )
        lines.append(f"spoof {window.label} ({window.kind.name}, {span}): {outcome}")
    for e in report.topics:
        if e.rpe is None:
            lines.append(f"{e.topic}: no RPE: {e.rpe_skipped}")
    for topic, reason in sorted(report.absent.items()):
        lines.append(f"absent: {topic} ({reason})")
    return "\n".join(lines)
