"""The evaluation, end to end: read ground truth and estimates (a rosbag2 bag or TUM files),
associate, align, compute ATE/RPE/drift and per-phase metrics, then write report.json and plots.

``evaluate_bag`` is what ``onboard eval`` and the demo call; ``evaluate_trajectories`` is the
pure core for callers that already hold trajectories.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from gps_denied_onboard.evaluation import plots
from gps_denied_onboard.evaluation.align import Alignment, align
from gps_denied_onboard.evaluation.associate import NS_PER_S, associate, associated
from gps_denied_onboard.evaluation.bag_input import EvalBag
from gps_denied_onboard.evaluation.errors import MetricError, TopicMissingError
from gps_denied_onboard.evaluation.metrics import (
    absolute_errors,
    drift,
    phase_metrics,
    relative_errors,
    spoof_detection,
)
from gps_denied_onboard.evaluation.options import EvalOptions, TopicOptions
from gps_denied_onboard.evaluation.phases import PhaseWindow, StatusSeries
from gps_denied_onboard.evaluation.report import EvaluationReport, TopicEvaluation, write_report_json
from gps_denied_onboard.evaluation.trajectory import Trajectory, read_tum
from gps_denied_onboard.graph import Topic

logger = logging.getLogger(__name__)


def _choose_alignment(reference: Trajectory, estimate: Trajectory, options: TopicOptions) -> tuple[Alignment, str]:
    if options.alignment is not None:
        return options.alignment, "given"
    if estimate.frame_id and estimate.frame_id == reference.frame_id:
        return Alignment.NONE, f"auto: already in the reference frame {reference.frame_id!r}"
    frame, reference_frame = estimate.frame_id or "(unset)", reference.frame_id or "(unset)"
    return Alignment.SE3, f"auto: frame {frame!r} differs from the reference's {reference_frame!r}"


def evaluate_topic(
    reference: Trajectory,
    estimate: Trajectory,
    topic_options: TopicOptions,
    options: EvalOptions,
    phases: Sequence[PhaseWindow] = (),
) -> TopicEvaluation:
    """Evaluate one estimate against the (whole) reference."""
    association = associate(reference, estimate, max_diff_ns=options.max_diff_ns, offset_ns=options.offset_ns)
    ref_pairs, est_pairs = associated(reference, estimate, association)
    method, reason = _choose_alignment(reference, estimate, topic_options)
    poses = None
    if topic_options.align_first_s is not None:
        span_end = ref_pairs.stamps_ns[0] + round(topic_options.align_first_s * NS_PER_S)
        poses = int(np.searchsorted(ref_pairs.stamps_ns, span_end, side="right"))
    alignment = align(ref_pairs, est_pairs, method, poses=poses)
    aligned = alignment.apply(est_pairs, frame_id=reference.frame_id)
    ate = absolute_errors(ref_pairs, aligned)
    try:
        rpe, rpe_skipped = relative_errors(ref_pairs, aligned, options.rpe), ""
    except MetricError as exc:  # a short or hovering estimate: the report says so instead of failing
        logger.warning("%s: %s", estimate.name, exc)
        rpe, rpe_skipped = None, str(exc)
    return TopicEvaluation(
        topic=topic_options.topic,
        frame_id=estimate.frame_id,
        estimate_poses=estimate.num_poses,
        alignment=alignment,
        alignment_reason=reason,
        align_first_s=topic_options.align_first_s,
        association=association,
        reference=ref_pairs,
        estimate=aligned,
        ate=ate,
        rpe=rpe,
        rpe_skipped=rpe_skipped,
        drift=drift(ref_pairs, ate.translation_m),
        phases=phase_metrics(ref_pairs, ate, phases),
    )


def evaluate_trajectories(
    source: Path,
    source_kind: str,
    reference: Trajectory,
    estimates: Sequence[tuple[TopicOptions, Trajectory]],
    options: EvalOptions,
    *,
    phases: Sequence[PhaseWindow] = (),
    status: StatusSeries | None = None,
    absent: Mapping[str, str] | None = None,
) -> EvaluationReport:
    """Evaluate every estimate against ``reference``; no file is written."""
    return EvaluationReport(
        source=source,
        source_kind=source_kind,
        ground_truth_topic=reference.name,
        ground_truth=reference,
        topics=tuple(evaluate_topic(reference, est, topic, options, phases) for topic, est in estimates),
        absent=dict(absent or {}),
        phases=tuple(phases),
        status=status,
        spoof=spoof_detection(phases, status),
        options=options,
    )


def write_outputs(report: EvaluationReport, out_dir: Path) -> EvaluationReport:
    """Write the plots (when asked) and report.json into ``out_dir``; the report, with its files."""
    written = plots.write_plots(report, out_dir) if report.options.plots else {}
    report = dataclasses.replace(report, out_dir=out_dir, plots=written)
    write_report_json(report, out_dir)
    return report


def evaluate_bag(bag_dir: Path, out_dir: Path | None, options: EvalOptions | None = None) -> EvaluationReport:
    """Evaluate a rosbag2 bag's odometry topics against its ground truth; write the report to ``out_dir``
    (nothing is written when None). Topics absent from the bag are listed, not fatal, unless all are."""
    options = options or EvalOptions()
    with EvalBag(bag_dir) as bag:
        reference = bag.read_odometry(options.ground_truth)
        estimates, absent = [], {}
        for topic in options.topics:
            if (reason := bag.missing_reason(topic.topic)) is not None:
                absent[topic.topic] = reason
                continue
            estimates.append((topic, bag.read_odometry(topic.topic)))
        if not estimates:
            raise TopicMissingError(
                f"none of the topics to evaluate is in bag {bag_dir}: "
                + ", ".join(f"{t} ({r})" for t, r in absent.items())
            )
        phases = bag.read_phases(Topic.SCENARIO_PHASE.value)
        status = bag.read_status(Topic.STATE_STATUS.value)
    for name, reason in absent.items():
        logger.info("%s: %s in %s; not evaluated", name, reason, bag_dir)
    report = evaluate_trajectories(
        bag_dir, "rosbag2", reference, estimates, options, phases=phases, status=status, absent=absent
    )
    return report if out_dir is None else write_outputs(report, out_dir)


def evaluate_tum(reference_file: Path, out_dir: Path | None, options: EvalOptions) -> EvaluationReport:
    """Evaluate TUM files (each ``options.topics`` entry names a file) against a TUM reference file."""
    reference = read_tum(reference_file, name=str(reference_file))
    estimates = [(topic, read_tum(Path(topic.topic), name=topic.topic)) for topic in options.topics]
    report = evaluate_trajectories(reference_file, "tum", reference, estimates, options)
    return report if out_dir is None else write_outputs(report, out_dir)


def default_out_dir(source: Path) -> Path:
    """Where a report goes when no directory is given: ``<source>-eval`` next to the bag or file."""
    return source.with_name(f"{source.name}-eval")
