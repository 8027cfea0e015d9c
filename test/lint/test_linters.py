"""Style and typing are checked on every run, as the ROS core packages run ament_lint as tests."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO_ROOT


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_check() -> None:
    proc = run_tool("ruff", "check", "--no-cache", "src", "test", "launch")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict() -> None:
    proc = run_tool("mypy")
    assert proc.returncode == 0, proc.stdout + proc.stderr
