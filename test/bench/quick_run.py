"""Runs a benchmark script in --quick mode for the smoke tests and returns its JSON document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gps_denied_onboard


def run_quick(
    script: Path, out: Path, workdir: Path, timeout_s: float
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run ``script --quick --out out --dir workdir``; return its JSON document and the finished process."""
    # The child imports the same gps_denied_onboard as the test (colcon install or src/).
    library_root = str(Path(gps_denied_onboard.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [library_root, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, str(script), "--quick", "--out", str(out), "--dir", str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )
    assert out.exists(), proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc
