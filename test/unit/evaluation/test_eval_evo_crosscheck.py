"""The evaluation's numbers against evo's CLI (evo_ape / evo_rpe) on the same TUM files and the same bag.

evo is GPL-3.0: it is run here as a tool in a subprocess, never imported. Each case writes evo's
results zip and compares its stats.json (and per-pose error array) to ours to 1e-6 relative.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from eval_factory import MessageFactory, noisy, wavy_flight, write_eval_bag
from scipy.spatial.transform import Rotation

from gps_denied_onboard.evaluation.align import Alignment, align
from gps_denied_onboard.evaluation.associate import associate, associated
from gps_denied_onboard.evaluation.metrics import (
    DeltaUnit,
    ErrorStats,
    RpeOptions,
    absolute_errors,
    relative_errors,
)
from gps_denied_onboard.evaluation.options import EvalOptions, TopicOptions
from gps_denied_onboard.evaluation.pipeline import evaluate_bag
from gps_denied_onboard.evaluation.trajectory import Trajectory, read_tum, write_tum
from gps_denied_onboard.graph import Topic

BIN = Path(sys.executable).parent
EVO_APE = shutil.which("evo_ape", path=str(BIN)) or shutil.which("evo_ape")
EVO_RPE = shutil.which("evo_rpe", path=str(BIN)) or shutil.which("evo_rpe")
pytestmark = pytest.mark.skipif(
    EVO_APE is None or EVO_RPE is None, reason="evo's CLI (evo_ape, evo_rpe) is not installed"
)
REL = 1e-6
MAX_DIFF_NS = 10_000_000  # evo's default --t_max_diff 0.01


@dataclass(frozen=True)
class Case:
    """One evo invocation and how to compute the same number here."""

    name: str
    tool: str  # "ape" | "rpe"
    evo_args: tuple[str, ...]
    ours: Callable[[Trajectory, Trajectory], tuple[ErrorStats, np.ndarray]]


def _ape(
    method: Alignment, *, rotation: bool = False, poses: int | None = None, offset_ns: int = 0
) -> Callable[..., tuple[ErrorStats, np.ndarray]]:
    def compute(reference: Trajectory, estimate: Trajectory) -> tuple[ErrorStats, np.ndarray]:
        found = associate(reference, estimate, max_diff_ns=MAX_DIFF_NS, offset_ns=offset_ns)
        ref, est = associated(reference, estimate, found)
        errors = absolute_errors(ref, align(ref, est, method, poses=poses).apply(est))
        values = errors.rotation_deg if rotation else errors.translation_m
        return ErrorStats.of(values), values

    return compute


def _rpe(
    method: Alignment, options: RpeOptions, *, rotation: bool = False
) -> Callable[..., tuple[ErrorStats, np.ndarray]]:
    def compute(reference: Trajectory, estimate: Trajectory) -> tuple[ErrorStats, np.ndarray]:
        ref, est = associated(reference, estimate, associate(reference, estimate, max_diff_ns=MAX_DIFF_NS))
        errors = relative_errors(ref, align(ref, est, method).apply(est), options)
        values = errors.rotation_deg if rotation else errors.translation_m
        return ErrorStats.of(values), values

    return compute


CASES = [
    Case("ape-none", "ape", (), _ape(Alignment.NONE)),
    Case("ape-se3", "ape", ("-a",), _ape(Alignment.SE3)),
    Case("ape-sim3", "ape", ("-a", "-s"), _ape(Alignment.SIM3)),
    Case("ape-se3-first-120", "ape", ("-a", "--n_to_align", "120"), _ape(Alignment.SE3, poses=120)),
    Case("ape-origin", "ape", ("--align_origin",), _ape(Alignment.ORIGIN)),
    Case("ape-se3-rotation", "ape", ("-a", "-r", "angle_deg"), _ape(Alignment.SE3, rotation=True)),
    Case("ape-none-rotation", "ape", ("-r", "angle_deg"), _ape(Alignment.NONE, rotation=True)),
    Case("ape-offset", "ape", ("-a", "--t_offset", "0.004"), _ape(Alignment.SE3, offset_ns=4_000_000)),
    Case("rpe-1f", "rpe", ("-a", "-d", "1", "-u", "f"), _rpe(Alignment.SE3, RpeOptions(1, DeltaUnit.FRAMES))),
    Case("rpe-7f", "rpe", ("-a", "-s", "-d", "7", "-u", "f"), _rpe(Alignment.SIM3, RpeOptions(7, DeltaUnit.FRAMES))),
    Case(
        "rpe-7f-rotation",
        "rpe",
        ("-a", "-d", "7", "-u", "f", "-r", "angle_deg"),
        _rpe(Alignment.SE3, RpeOptions(7, DeltaUnit.FRAMES), rotation=True),
    ),
    Case("rpe-10m", "rpe", ("-d", "10", "-u", "m"), _rpe(Alignment.NONE, RpeOptions(10.0, DeltaUnit.METRES))),
    Case(
        "rpe-10m-from-reference",
        "rpe",
        ("-d", "10", "-u", "m", "--pairs_from_reference"),
        _rpe(Alignment.NONE, RpeOptions(10.0, DeltaUnit.METRES, pairs_from_reference=True)),
    ),
    Case(
        "rpe-10m-rotation",
        "rpe",
        ("-a", "-d", "10", "-u", "m", "-r", "angle_deg"),
        _rpe(Alignment.SE3, RpeOptions(10.0, DeltaUnit.METRES), rotation=True),
    ),
]  # fmt: skip


def odometry_frame_estimate(truth: Trajectory, *, seed: int) -> Trajectory:
    """A sparser, jittered, noisy estimate in a rotated, shifted and scaled frame (what a VIO might give)."""
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(truth.num_poses, size=truth.num_poses * 2 // 3, replace=False))
    sample = noisy(truth, seed=seed, sigma_m=0.4, sigma_rad=0.04).subset(picked)
    jitter = rng.integers(-3_000_000, 3_000_000, size=picked.size)  # within evo's 10 ms tolerance
    jittered = Trajectory(sample.stamps_ns + jitter, sample.positions_xyz, sample.orientations_quat_wxyz)
    rotation = Rotation.from_euler("zyx", [70.0, 2.0, -1.0], degrees=True).as_matrix()
    return jittered.transformed(rotation, np.array([-4.0, 9.0, 1.5]), 0.8)


def run_evo(tool: str, args: list[str], zip_path: Path) -> subprocess.Popen[bytes]:
    exe = EVO_APE if tool == "ape" else EVO_RPE
    assert exe is not None
    return subprocess.Popen(
        [exe, *args, "--save_results", str(zip_path), "--no_warnings", "--silent"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def evo_results(process: subprocess.Popen[bytes], zip_path: Path) -> tuple[dict[str, float], np.ndarray]:
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output.decode(errors="replace")
    with zipfile.ZipFile(zip_path) as archive:
        stats = json.loads(archive.read("stats.json"))
        errors = np.load(io.BytesIO(archive.read("error_array.npy")))
    return stats, errors


def assert_same(ours: ErrorStats, errors: np.ndarray, evo: tuple[dict[str, float], np.ndarray], case: str) -> None:
    stats, evo_errors = evo
    for key in ("rmse", "mean", "median", "std", "min", "max", "sse"):
        assert getattr(ours, key) == pytest.approx(stats[key], rel=REL, abs=1e-9), f"{case}: {key}"
    assert errors.shape == evo_errors.shape, case
    np.testing.assert_allclose(errors, evo_errors, rtol=REL, atol=1e-9, err_msg=case)


@pytest.fixture(scope="module")
def tum_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("evo-tum")
    truth = wavy_flight(300, rate_hz=20.0)
    write_tum(truth, root / "gt.tum")
    write_tum(odometry_frame_estimate(truth, seed=5), root / "est.tum")
    return root / "gt.tum", root / "est.tum"


def test_every_metric_matches_evo_on_tum_files(tum_files: tuple[Path, Path], tmp_path: Path) -> None:
    gt_file, est_file = tum_files
    processes = {
        case.name: run_evo(
            case.tool, ["tum", str(gt_file), str(est_file), *case.evo_args], tmp_path / f"{case.name}.zip"
        )
        for case in CASES
    }  # evo's start-up dominates: run them side by side
    reference, estimate = read_tum(gt_file), read_tum(est_file)
    for case in CASES:
        ours, errors = case.ours(reference, estimate)
        assert_same(ours, errors, evo_results(processes[case.name], tmp_path / f"{case.name}.zip"), case.name)


def test_the_bag_report_matches_evo_on_the_same_bag(tmp_path: Path) -> None:
    truth = wavy_flight(240, rate_hz=20.0)
    state = noisy(truth, seed=11, sigma_m=0.8, sigma_rad=0.02)
    vio = odometry_frame_estimate(truth, seed=12)
    factory = MessageFactory()
    messages = [
        *factory.odometry(Topic.GROUND_TRUTH.value, truth),
        *factory.odometry(Topic.STATE_ODOMETRY.value, state),
        *factory.odometry(Topic.VIO_ODOMETRY.value, vio, frame_id="odom"),
    ]
    bag = write_eval_bag(tmp_path / "flight", messages, "sqlite3")
    gt_topic = Topic.GROUND_TRUTH.value
    evo_cases = {
        "state-ape": ("ape", [Topic.STATE_ODOMETRY.value]),
        "vio-ape": ("ape", [Topic.VIO_ODOMETRY.value, "-a", "-s"]),
        "vio-rpe": ("rpe", [Topic.VIO_ODOMETRY.value, "-a", "-s", "-d", "5", "-u", "m"]),
    }
    processes = {
        name: run_evo(tool, ["bag2", str(bag), gt_topic, *args], tmp_path / f"{name}.zip")
        for name, (tool, args) in evo_cases.items()
    }
    options = EvalOptions(
        topics=(TopicOptions(Topic.STATE_ODOMETRY.value), TopicOptions(Topic.VIO_ODOMETRY.value, Alignment.SIM3)),
        rpe=RpeOptions(5.0, DeltaUnit.METRES),
    )
    report = evaluate_bag(bag, None, options)
    state_eval, vio_eval = report.topic(Topic.STATE_ODOMETRY.value), report.topic(Topic.VIO_ODOMETRY.value)
    assert state_eval.alignment.method is Alignment.NONE  # map, like the ground truth
    assert vio_eval.rpe is not None
    assert_same(state_eval.ate.translation_stats, state_eval.ate.translation_m,
                evo_results(processes["state-ape"], tmp_path / "state-ape.zip"), "state-ape")  # fmt: skip
    assert_same(vio_eval.ate.translation_stats, vio_eval.ate.translation_m,
                evo_results(processes["vio-ape"], tmp_path / "vio-ape.zip"), "vio-ape")  # fmt: skip
    assert_same(vio_eval.rpe.translation_stats, vio_eval.rpe.translation_m,
                evo_results(processes["vio-rpe"], tmp_path / "vio-rpe.zip"), "vio-rpe")  # fmt: skip
    assert vio_eval.alignment.scale == pytest.approx(1 / 0.8, rel=0.05)  # the frame's scale, found back
