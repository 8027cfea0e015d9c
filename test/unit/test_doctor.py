"""`onboard doctor`: each check reports the truth, and a missing required piece fails the run."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import mounted_tmpfs
from gps_denied_onboard import doctor
from gps_denied_onboard.doctor import checks


def test_fdr_root_check_walks_up_to_an_existing_parent(tmp_path: Path) -> None:
    result = checks.check_fdr_root(tmp_path / "not" / "yet" / "created", min_free_bytes=1)
    assert result.ok
    assert result.level is doctor.Level.REQUIRED
    assert "GiB free" in result.detail


def test_fdr_root_check_fails_below_the_free_space_minimum(tmp_path: Path) -> None:
    result = checks.check_fdr_root(tmp_path, min_free_bytes=2**62)
    assert not result.ok
    assert "minimum" in result.detail


@pytest.fixture
def unwritable_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot write: mode 0500, or for root a read-only tmpfs."""
    target = tmp_path / "locked"
    target.mkdir(mode=0o500)
    if os.geteuid() != 0:
        yield target
        return
    with mounted_tmpfs(target, "ro,size=64k") as mount_point:
        yield mount_point


def test_fdr_root_check_fails_when_unwritable(unwritable_dir: Path) -> None:
    result = checks.check_fdr_root(unwritable_dir / "flights", min_free_bytes=1)
    assert not result.ok
    assert "not writable" in result.detail


def test_unknown_rmw_fails_the_rmw_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_does_not_exist")
    result = checks.check_rmw()
    assert not result.ok
    assert "rmw_does_not_exist" in result.detail


def test_failed_required_ignores_optional_failures() -> None:
    results = [
        doctor.CheckResult("a", doctor.Level.REQUIRED, True, ""),
        doctor.CheckResult("b", doctor.Level.OPTIONAL, False, ""),
        doctor.CheckResult("c", doctor.Level.REQUIRED, False, ""),
    ]
    assert [r.name for r in doctor.failed_required(results)] == ["c"]
    table = doctor.format_table(results)
    assert "FAIL" in table
    assert "missing" in table


def test_every_check_is_reported(tmp_path: Path) -> None:
    names = [r.name for r in doctor.run_checks(fdr_root=tmp_path, min_free_bytes=1)]
    for expected in (
        "python",
        "ros_distro",
        "rclpy",
        "rmw",
        "interfaces",
        "fdr_root",
        "launch",
        "tf2_ros",
        "message_filters",
        "rosbag2_py",
        "postgresql",
        "gpu",
        "tensorrt",
        "onnxruntime",
    ):
        assert expected in names


def run_onboard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["onboard", *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def test_installed_doctor_passes_in_the_bootstrapped_environment(tmp_path: Path) -> None:
    proc = run_onboard("doctor", "--json", "--fdr-root", str(tmp_path), "--min-free-gib", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = {r["name"]: r for r in json.loads(proc.stdout)}
    for name in ("rclpy", "rmw", "interfaces", "ros_distro"):
        assert report[name]["ok"], report[name]


def test_installed_doctor_exits_non_zero_when_a_required_piece_is_missing(tmp_path: Path) -> None:
    env = dict(os.environ, RMW_IMPLEMENTATION="rmw_does_not_exist")
    proc = run_onboard("doctor", "--fdr-root", str(tmp_path), "--min-free-gib", "0", env=env)
    assert proc.returncode == 1
    assert "required check(s) failed: rmw" in proc.stdout


def test_onboard_without_a_subcommand_is_a_usage_error() -> None:
    proc = run_onboard()
    assert proc.returncode == 2
    assert "COMMAND" in proc.stderr
