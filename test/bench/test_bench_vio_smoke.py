"""The VIO benchmark runs end to end in its quick mode: every table's figures are there and consistent
with the input it flew. No time is asserted."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from quick_run import run_quick

pytest.importorskip("gtsam", reason="the VIO back end needs the gtsam wheel")

BENCH = Path(__file__).with_name("bench_vio.py")


@pytest.mark.slow
def test_quick_vio_benchmark_reports_rtf_stages_and_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "vio.json"
    doc, proc = run_quick(BENCH, out, tmp_path, timeout_s=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert doc["schema"] == "vio-bench/1"
    assert doc["parameters"]["mode"] == "quick"
    assert "frontend" in doc["vio_config"]
    assert "backend" in doc["vio_config"]
    (run,) = doc["runs"]
    # 30 s of a 10 Hz camera: every frame went through the VIO once and was counted in one state.
    assert run["frames"] == sum(run["states"].values())
    assert 295 <= run["frames"] <= 301
    assert run["vio_s"] > 0
    assert math.isfinite(run["rtf"])
    assert run["camera_period_ms"] == pytest.approx(100.0)
    for stage in ("track", "ransac", "detect", "total"):
        stats = run["stage_ms"][stage]
        assert stats["count"] == run["frames"], stage
        assert 0 <= stats["p50"] <= stats["p99"] <= stats["max"], stage
    assert run["stage_ms"]["smoother"]["count"] == run["keyframes"] > 0
    assert run["opencv_klt_ms"]["count"] >= run["frames"] - 2
    accuracy = run["accuracy"]
    assert accuracy["odometry_frames"] > 100  # tracking from about 12 s after the take-off
    assert accuracy["distance_m"] > 40.0
    assert math.isfinite(accuracy["ate_rmse_m"])
    assert accuracy["ate_rmse_m"] < 5.0
    assert 0.8 < accuracy["sim3_scale"] < 1.25
    for title in ("a. Real-time factor", "b. Per-stage latency", "c. Accuracy"):
        assert title in proc.stdout
