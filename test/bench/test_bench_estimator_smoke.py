"""The estimator benchmark runs end to end in its quick mode: every section is there for both backends,
with the counts and accuracies the inputs imply. No time is asserted."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from quick_run import run_quick

pytest.importorskip("gtsam", reason="the isam2 backend needs the gtsam wheel")

BENCH = Path(__file__).with_name("bench_estimator.py")
SECTIONS = ("machine", "parameters", "definitions", "synthetic", "batch", "kitti")


@pytest.mark.slow
def test_quick_benchmark_reports_both_backends_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "estimator.json"
    doc, proc = run_quick(BENCH, out, tmp_path, timeout_s=110)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [s for s in SECTIONS if s not in doc] == [], proc.stdout + proc.stderr
    assert doc["parameters"]["mode"] == "quick"

    for backend in ("eskf", "isam2"):
        run = doc["synthetic"][backend]
        latency = run["latency"]
        # 25 s at 200 Hz: every IMU sample after alignment is propagated exactly once.
        propagated = latency["propagate"]["calls"] + latency.get("propagate+keyframe", {"calls": 0})["calls"]
        assert 4_500 <= propagated <= 5_001, latency
        assert latency["update_vio"]["calls"] >= 400  # 20 Hz VIO
        assert latency["update_altitude"]["calls"] >= 100  # 10 Hz baro, fused every 0.2 s at most
        for stats in latency.values():
            assert 0 < stats["p50_us"] <= stats["p99_us"] <= stats["max_us"], stats
        assert run["counters"]["resets"] == 0
        assert run["accuracy"]["aided_rmse_m"] < 2.0, run["accuracy"]
        assert math.isfinite(run["accuracy"]["denied_max_m"])
    # Only iSAM2 has keyframes; every one of its VIO updates made one.
    isam2 = doc["synthetic"]["isam2"]["latency"]
    assert isam2["keyframe_update"]["calls"] >= isam2["update_vio"]["calls"]
    assert "keyframe_update" not in doc["synthetic"]["eskf"]["latency"]

    assert len(doc["batch"]) == 3
    for entry in doc["batch"].values():
        assert entry["samples"], entry
        for sample in entry["samples"]:
            assert sample["batch_cost"] <= sample["incremental_cost"] + 1e-6, sample

    kitti = doc["kitti"]
    if kitti is None:
        pytest.skip("GTSAM's KITTI example data is not installed: the real-data section was skipped")
    five = kitti["lengths"]["5.0"]
    for backend in ("eskf", "isam2"):
        assert five[backend]["withheld_fixes"] == 25  # 5 windows x 5 fixes
        assert five[backend]["max_m"] < 3.0, five[backend]
        assert kitti["latency"][backend]["update_position:gnss"]["calls"] > 50
