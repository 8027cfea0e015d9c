"""PNG plots of an evaluation: top-down tracks against ground truth with the scenario's phases
shaded, position/rotation error over time, and the estimator's source label and GNSS trust.

matplotlib is imported inside the functions and drawn through the Agg canvas on a bare Figure,
so importing this module costs nothing and never touches a global backend or pyplot state.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gps_denied_onboard.evaluation.errors import EvaluationError, ReportWriteError
from gps_denied_onboard.evaluation.phases import EstimatorSource, GnssTrust, PhaseCategory, PhaseWindow
from gps_denied_onboard.evaluation.report import EvaluationReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

TRAJECTORY_PLOT = "trajectory_topdown"
ERROR_PLOT = "error_vs_time"
STATUS_PLOT = "estimator_source"
DPI = 120
PHASE_COLOURS: dict[PhaseCategory, str] = {
    PhaseCategory.DENIED: "tab:red",
    PhaseCategory.JAMMED: "tab:orange",
    PhaseCategory.SPOOFED: "tab:purple",
    PhaseCategory.FEATURELESS: "tab:olive",
    PhaseCategory.SEASONAL: "tab:cyan",
}
TOPIC_COLOURS = ("tab:blue", "tab:green", "tab:brown", "tab:pink", "tab:gray")


def _figure(rows: int = 1, height_in: float = 6.0) -> tuple[Figure, list[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - heavy, only when plotting
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(10.0, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, 1, sharex=rows > 1, squeeze=False)
    return figure, [ax for (ax,) in axes]


def _save(figure: Figure, path: Path) -> Path:
    try:
        figure.savefig(path, dpi=DPI, format="png")
    except OSError as exc:
        raise ReportWriteError(f"cannot write plot {path}: {exc}") from exc
    return path


def _shade_phases(ax: Axes, report: EvaluationReport, windows: Sequence[PhaseWindow]) -> None:
    labelled: set[PhaseCategory] = set()
    for window in windows:
        category = window.category
        ax.axvspan(
            report.relative_s(window.start_ns),
            report.relative_s(window.end_ns),
            color=PHASE_COLOURS[category],
            alpha=0.15,
            label=None if category in labelled else category.value,
            linewidth=0,
        )
        labelled.add(category)


def plot_trajectories(report: EvaluationReport, path: Path) -> Path:
    """Top-down (east/north) view: ground truth, each aligned estimate, and phase spans along the truth."""
    figure, (ax,) = _figure(height_in=8.0)
    gt = report.ground_truth
    ax.plot(gt.positions_xyz[:, 0], gt.positions_xyz[:, 1], color="black", linewidth=1.2, label="ground truth")
    labelled: set[PhaseCategory] = set()
    for window in report.phases:
        inside = window.contains(gt.stamps_ns)
        if not inside.any():
            continue
        positions = np.where(inside[:, None], gt.positions_xyz, np.nan)  # NaN breaks the line outside
        ax.plot(
            positions[:, 0],
            positions[:, 1],
            color=PHASE_COLOURS[window.category],
            linewidth=7.0,
            alpha=0.4,
            solid_capstyle="butt",
            label=None if window.category in labelled else f"phase: {window.category.value}",
        )
        labelled.add(window.category)
    for colour, evaluation in zip(itertools.cycle(TOPIC_COLOURS), report.topics):
        xyz = evaluation.estimate.positions_xyz
        ax.plot(
            xyz[:, 0],
            xyz[:, 1],
            color=colour,
            linewidth=1.0,
            label=f"{evaluation.topic} ({evaluation.alignment.method})",
        )
    ax.plot(*gt.positions_xyz[0, :2], marker="o", color="black", linestyle="none", label="start")
    ax.set_xlabel(f"east [m] ({gt.frame_id or 'reference frame'})")
    ax.set_ylabel("north [m]")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(visible=True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(f"{report.source.name}: tracks against ground truth")
    return _save(figure, path)


def plot_errors(report: EvaluationReport, path: Path) -> Path:
    """Position and orientation error of each estimate over time, phase windows shaded."""
    figure, (ax_t, ax_r) = _figure(rows=2, height_in=7.0)
    for colour, evaluation in zip(itertools.cycle(TOPIC_COLOURS), report.topics):
        t_s = (evaluation.reference.stamps_ns - report.start_ns) / 1e9
        ax_t.plot(t_s, evaluation.ate.translation_m, color=colour, linewidth=1.0, label=evaluation.topic)
        ax_r.plot(t_s, evaluation.ate.rotation_deg, color=colour, linewidth=1.0, label=evaluation.topic)
    for ax in (ax_t, ax_r):
        _shade_phases(ax, report, report.phases)
        ax.grid(visible=True, alpha=0.3)
        ax.legend(loc="upper left", fontsize="small")
    ax_t.set_ylabel("position error [m]")
    ax_r.set_ylabel("orientation error [deg]")
    ax_r.set_xlabel("time since the first ground truth pose [s]")
    ax_t.set_title(f"{report.source.name}: absolute error over time")
    return _save(figure, path)


def plot_status(report: EvaluationReport, path: Path) -> Path:
    """The estimator's position source and GNSS trust over time (step plots), phase windows shaded."""
    status = report.status
    if status is None:
        raise EvaluationError(f"{report.source} has no estimator status to plot")
    figure, (ax_s, ax_g) = _figure(rows=2, height_in=5.0)
    t_s = (status.stamps_ns - report.start_ns) / 1e9
    for ax, values, labels, name in (
        (ax_s, status.source, EstimatorSource, "source"),
        (ax_g, status.gnss_trust, GnssTrust, "GNSS trust"),
    ):
        _shade_phases(ax, report, report.phases)
        ax.step(t_s, values, where="post", color="black", linewidth=1.2, label=name)
        ax.set_yticks([member.value for member in labels], [member.name for member in labels])
        ax.set_ylim(-0.5, len(labels) - 0.5)
        ax.grid(visible=True, alpha=0.3)
        ax.set_ylabel(name)
    detected = [report.relative_s(d.detected_ns) for d in report.spoof if d.detected_ns is not None]
    for k, t_detected_s in enumerate(detected):
        for ax in (ax_s, ax_g):
            ax.axvline(t_detected_s, color="tab:purple", linestyle="--", linewidth=1.0,
                       label="spoof detected" if k == 0 and ax is ax_s else None)  # fmt: skip
    ax_s.legend(loc="upper right", fontsize="small")
    ax_g.set_xlabel("time since the first ground truth pose [s]")
    ax_s.set_title(f"{report.source.name}: estimator source label")
    return _save(figure, path)


def write_plots(report: EvaluationReport, out_dir: Path) -> dict[str, Path]:
    """Write every plot the report has data for into ``out_dir``; returns plot name -> file."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportWriteError(f"cannot create the report directory {out_dir}: {exc}") from exc
    written = {
        TRAJECTORY_PLOT: plot_trajectories(report, out_dir / f"{TRAJECTORY_PLOT}.png"),
        ERROR_PLOT: plot_errors(report, out_dir / f"{ERROR_PLOT}.png"),
    }
    if report.status is not None:
        written[STATUS_PLOT] = plot_status(report, out_dir / f"{STATUS_PLOT}.png")
    else:
        logger.info("no estimator status in %s: no %s plot", report.source, STATUS_PLOT)
    return written
