"""`onboard replay`: usage errors are one `error:` line and exit 2, never a traceback; --help needs no ROS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bag_factory import WrittenBag, write_flight

from gps_denied_onboard.cli.main import main

pytestmark = pytest.mark.ros  # the bag holds CDR serialized by rclpy; a replay imports it


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> WrittenBag:
    return write_flight(tmp_path_factory.mktemp("replay-cli") / "bag", "mcap", duration_s=0.5)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{missing}"], "error: bag {missing} does not exist"),
        (["{garbage}"], "error: {garbage} is not a rosbag2 bag: it has no metadata.yaml"),
        (["{bag}", "--remap", "/gps/fix=/x"], "error: remap '/gps/fix=/x' is not of the form FROM:=TO"),
        (["{bag}", "--remap", "/nope:=/x"], "error: remapped topic(s) ['/nope'] not in bag {bag}"),
        (["{bag}", "--remap", "/gps/fix:=/clock"], "error: cannot remap /gps/fix onto /clock"),
        (["{bag}", "--rate", "-1"], "error: --rate must be a finite number >= 0"),
        (["{bag}", "--start", "9"], "error: --start 9.0 s is past the end of bag {bag}"),
        (["{bag}", "--duration", "0"], "error: --duration must be a finite number of seconds > 0"),
        (["{bag}", "--wait-for-subscribers", "-1"], "error: --wait-for-subscribers must be"),
        (["{bag}", "--deterministic", "--quiet-period", "0"], "error: --quiet-period must be"),
        (["{bag}", "--deterministic", "--rate", "2"], "error: --rate does not apply to --deterministic"),
        (["{bag}", "--fdr-root", "/tmp/x"], "error: --fdr-root and --config configure the in-process graph"),
        (["{bag}", "--deterministic", "--config", "{missing}"], "error: parameter file {missing} does not exist"),
    ],
    ids=[
        "missing",
        "garbage-dir",
        "remap-syntax",
        "remap-unknown",
        "remap-clock",
        "rate",
        "start",
        "duration",
        "wait",
        "quiet-period",
        "rate-deterministic",
        "fdr-root-live",
        "config-missing",
    ],
)
def test_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flight: WrittenBag, argv: list[str], message: str
) -> None:
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "x.db3").write_bytes(b"garbage")
    names = {"missing": str(tmp_path / "missing"), "garbage": str(tmp_path / "garbage"), "bag": str(flight.path)}
    code, out, err = run_cli(capsys, *(a.format(**names) for a in argv))
    assert code == 2, (out, err)
    assert err.startswith(message.format(**names)), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in out + err
    assert out == ""


def test_help_works_without_ros(tmp_path: Path) -> None:
    """rclpy is imported only when a replay runs: with rclpy unimportable, --help still works."""
    code = (
        "import sys; sys.modules['rclpy'] = None\n"
        "from gps_denied_onboard.cli.main import main\n"
        "sys.exit(main(['replay', '--help']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "usage: onboard replay" in proc.stdout
    assert "--wait-for-subscribers" in proc.stdout
