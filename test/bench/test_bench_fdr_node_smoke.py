"""The fdr_node benchmark runs end to end in its quick mode; of its results only the accounting is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="needs rclpy (ros-jazzy-rclpy wheel or a ROS 2 install)")

from quick_run import run_quick

BENCH = Path(__file__).with_name("bench_fdr_node.py")


@pytest.mark.slow
def test_quick_benchmark_reports_both_kinds_both_receivers_and_exact_accounting(
    onboard_prefix: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fdr_node.json"
    doc, proc = run_quick(BENCH, out, tmp_path, timeout_s=100)
    rows = doc["rows"]
    assert {r["kind"] for r in rows} == {"imu", "image"}, proc.stdout
    side_by_side = [r for r in rows if r["mode"] == "both"]
    assert {r["kind"] for r in side_by_side} == {"imu", "image"}
    assert all(set(r["receivers"]) == {"bare", "fdr"} for r in side_by_side), side_by_side

    for row in rows:
        fdr = row["receivers"].get("fdr")
        if fdr is None:
            continue
        where = f"{row['kind']} {row['mode']} {row['label']}: {fdr}"
        assert fdr["received"] + fdr["ring_drops"] <= row["published"], where
        assert fdr["seqs_unique"], where
        assert fdr["duplicates"] == 0, where
        assert fdr["out_of_range"] == 0, where
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("fdr-node-bench-")] == []  # temp dir removed
