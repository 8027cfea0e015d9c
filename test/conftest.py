"""Shared fixtures: an isolated DDS domain per test session, the colcon install, rclpy contexts."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC_ROOT = REPO_ROOT / "src" / "gps_denied_onboard"

# Keep this session's DDS traffic on loopback and away from other sessions on the machine.
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
# rosidl's Python field checks are off by default in Jazzy (a wrong-sized array serialises
# silently); tests turn them on so a wrongly built message fails where it is built.
os.environ.setdefault("ROS_PYTHON_CHECK_FIELDS", "1")
# Nodes started by tests (fdr_node especially) write under a throw-away data root by default.
os.environ.setdefault("ONBOARD_DATA_DIR", tempfile.mkdtemp(prefix="onboard-test-data-"))


@pytest.fixture(scope="session")
def onboard_prefix() -> Path:
    """The colcon install prefix of the `onboard` package (install/onboard)."""
    for entry in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if entry and (Path(entry) / "share" / "onboard" / "package.xml").exists():
            return Path(entry)
    pytest.fail("the onboard package is not on AMENT_PREFIX_PATH: run the tests with `make test`")


@pytest.fixture
def rclpy_context() -> Iterator[object]:
    """A fresh, initialised rclpy Context, shut down after the test."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)


@pytest.fixture(scope="session")
def python_executable() -> str:
    """The interpreter running the tests (the venv's), for child processes."""
    return sys.executable


@contextmanager
def mounted_tmpfs(mount_point: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted with ``options`` (``size=1m``, ``ro,size=64k``): real ENOSPC and EROFS.

    Skips, saying why, where mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    mount_point.mkdir(exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {proc.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
