"""The bootstrap is idempotent: run again with nothing changed, it installs and builds nothing."""

from __future__ import annotations

import os
import subprocess

from conftest import REPO_ROOT


def test_second_bootstrap_does_nothing() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV"}}
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "bootstrap.sh")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    steps = [line for line in proc.stderr.splitlines() if line.startswith("[bootstrap]")]
    assert len(steps) == 1, f"expected only the 'ready' line, got: {steps}"
    assert steps[0].startswith("[bootstrap] ready ("), steps
    assert (REPO_ROOT / "env.sh").read_text().count(". ") >= 2
