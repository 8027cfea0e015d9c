"""The README's main job, CI-sized: `onboard demo --scenario short` end to end on a fresh work dir.

Simulates the short flight, launches the whole graph, replays into it, exports the recorded
flight and evaluates it. Checks what a user relies on: the last line is the report directory,
report.json holds finite metrics for the fused state, the plots exist, and the recorder kept
the graph's outputs; and the fused state's quality on this flight, with headroom for a loaded
CI machine (the estimator's issue states its own thresholds for the default flight).
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import orjson
import pytest

pytest.importorskip("rclpy", reason="needs rclpy (the ROS 2 Jazzy wheels)")

# Measured 2026-12-03 on the short flight (41 s, 144 m; isam2, real time, 2 cores), quiet machine, 4 runs:
# /state/odometry ATE rmse 1.28-1.67 m, max 2.36-3.43 m, denied-phase rmse 0.74-1.66 m over VIO's; in a
# clean-clone CI run: denied 3.74 m against VIO's 0.86 m (+2.89; overall rmse within 3 m). With one
# competing process at nice 10 (`--repeat 3 --load`): 1.42-4.78 m, max 2.7-20.7 m (the worst run's graph
# missed the take-off and aligned in the climb; the height re-anchor brought it back). The denied phase
# starts with the GNSS error the estimate inherited, which VIO's SE(3) alignment removes from its own
# figure. Limits: about 2x the quiet runs (3.5 m for the denied margin: the CI run's +2.89 m); CI runs
# this test alone. A state that collapses (48.9 m before the re-anchor, 110-160 m before this issue) fails.
STATE_RMSE_LIMIT_M = 3.0
STATE_MAX_LIMIT_M = 8.0
DENIED_MARGIN_M = 3.5  # denied-phase state rmse may exceed VIO's (SE(3)-aligned) by this much


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
    # Pairs are one-to-one within 10 ms of the 50 Hz ground truth; 0.85-0.91 of the poses matched on 2026-12-02.
    assert state["association"]["matched"] > 0.8 * state["association"]["estimate_poses"] > 500
    for key in ("ate_rmse_m", "max_error_m"):
        assert math.isfinite(state[key]), (key, state[key])
    assert state["ate_rmse_m"] <= STATE_RMSE_LIMIT_M, state["ate_rmse_m"]
    assert state["max_error_m"] <= STATE_MAX_LIMIT_M, state["max_error_m"]
    denied_state = state["phases"]["by_category"]["denied"]["ate_translation_m"]["rmse"]
    denied_vio = report["topics"]["/vio/odometry"]["phases"]["by_category"]["denied"]["ate_translation_m"]["rmse"]
    assert denied_state <= denied_vio + DENIED_MARGIN_M, (denied_state, denied_vio)
    assert report["distance_flown_m"] > 100.0
    assert {w["kind"] for w in report["phases"]} >= {"GNSS_DENIED", "GNSS_SPOOF_DRIFT"}
    assert all((report_dir / name).stat().st_size > 10_000 for name in report["plots"].values())
    assert "ATE rmse" in proc.stdout  # the metrics table is printed
    assert "/vio/odometry" in proc.stdout  # VIO is evaluated beside the fused state
