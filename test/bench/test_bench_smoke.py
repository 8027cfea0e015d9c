"""The FDR benchmark runs end to end in its quick mode; of its results only the loss accounting is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gps_denied_onboard

BENCH = Path(__file__).with_name("bench_fdr.py")
SECTIONS = ("machine", "parameters", "definitions", "enqueue_latency", "drain_cost", "throughput", "overload")


@pytest.mark.slow
def test_quick_benchmark_writes_every_section_and_exact_loss_accounting(tmp_path: Path) -> None:
    out = tmp_path / "fdr.json"
    # The child imports the same gps_denied_onboard as this test (colcon install or src/).
    library_root = str(Path(gps_denied_onboard.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [library_root, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--out", str(out), "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=110,
        check=False,
    )
    assert out.exists(), proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
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
