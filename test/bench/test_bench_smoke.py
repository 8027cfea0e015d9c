"""The FDR benchmark runs end to end in its quick mode; of its results only the loss accounting is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest
from quick_run import run_quick

BENCH = Path(__file__).with_name("bench_fdr.py")
SECTIONS = ("machine", "parameters", "definitions", "enqueue_latency", "drain_cost", "throughput", "overload")


@pytest.mark.slow
def test_quick_benchmark_writes_every_section_and_exact_loss_accounting(tmp_path: Path) -> None:
    out = tmp_path / "fdr.json"
    doc, proc = run_quick(BENCH, out, tmp_path, timeout_s=110)
    assert [s for s in SECTIONS if s not in doc] == [], proc.stdout + proc.stderr
    assert doc["parameters"]["mode"] == "quick"
    assert {"ros_message", "record"} <= doc["enqueue_latency"].keys()
    assert [t["payload_bytes"] for t in doc["throughput"]] == [100, 2048, 65536]
    assert all(
        {"raw_disk", "fdr", "mcap", "rosbags_mcap", "rosbags_sqlite3"} <= t["writers"].keys() for t in doc["throughput"]
    )

    overload = doc["overload"]
    assert overload["pushed"] == overload["written"] + overload["dropped"], overload
    assert overload["accounting_exact"] is True, overload
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("fdr-bench-")] == []  # the bench dir is removed
