"""The README's main job, CI-sized: `onboard demo --scenario short` end to end on a fresh work dir.

Simulates the short flight, launches the whole graph, replays into it, exports the recorded
flight and evaluates it. Checks what a user relies on: the last line is the report directory,
report.json holds finite metrics for the fused state, the plots exist, and the recorder kept
the graph's outputs. Accuracy thresholds belong to the estimator's own tests; here the flight
must merely have been estimated throughout, not diverged to nonsense.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import orjson
import pytest

pytest.importorskip("rclpy", reason="needs rclpy (the ROS 2 Jazzy wheels)")


@pytest.mark.timeout(600)
def test_demo_runs_the_short_flight_end_to_end(tmp_path: Path, python_executable: str) -> None:
    cmd = [python_executable, "-m", "gps_denied_onboard.cli.main", "demo", "--scenario", "short"]
    # Real time: the whole graph, VIO included, on 2 cores.
    proc = subprocess.run(
        [*cmd, "--rate", "1", "--work-dir", str(tmp_path)], capture_output=True, text=True, timeout=580, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    report_dir = Path(lines[-1])
    assert report_dir.is_dir(), lines[-5:]
    report = orjson.loads((report_dir / "report.json").read_bytes())
    state = report["topics"]["/state/odometry"]
    assert state["association"]["matched"] > 0.9 * state["association"]["estimate_poses"] > 500
    for key in ("ate_rmse_m", "max_error_m"):
        assert math.isfinite(state[key]), (key, state[key])
    assert report["distance_flown_m"] > 100.0
    assert {w["kind"] for w in report["phases"]} >= {"GNSS_DENIED", "GNSS_SPOOF_DRIFT"}
    assert all((report_dir / name).stat().st_size > 10_000 for name in report["plots"].values())
    assert "ATE rmse" in proc.stdout  # the metrics table is printed
    assert "/vio/odometry" in proc.stdout  # and what could not be evaluated is named
