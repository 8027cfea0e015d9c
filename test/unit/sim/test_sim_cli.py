"""`onboard sim`: parse, call the library, print a summary; typed errors are one line and exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from gps_denied_onboard.cli import sim
from gps_denied_onboard.graph import Topic
from gps_denied_onboard.rosbag_types import onboard_typestore
from gps_denied_onboard.sim.orthophoto import procedural_orthophoto
from gps_denied_onboard.sim.scenario import resolve_scenario


def run_sim(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="onboard")
    sim.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sim", *argv])
    code: int = args.func(args)
    return code


def test_writes_a_bag_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "flight"
    assert run_sim("--scenario", "short", "--duration", "3", "--seed", "5", "--out", str(out)) == sim.EXIT_OK
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert "flight: 3.0 s" in printed
    assert f"{Topic.IMU.value}" in printed
    assert "601" in printed  # 3 s at 200 Hz
    assert "IMU clipped: 0 accelerometer, 0 gyro samples" in printed
    with Reader(out) as reader:
        assert reader.topics[Topic.CAMERA_IMAGE.value].msgcount == 16  # 3 s at 5 Hz
    metadata = (out / "metadata.yaml").read_text(encoding="utf-8")
    assert "sim.seed: '5'" in metadata
    assert "sim.imu_accel_clipped_samples: '0'" in metadata


def test_default_output_directory_is_named_after_the_scenario_and_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_sim("--scenario", "short", "--duration", "1") == sim.EXIT_OK
    assert (tmp_path / "sim_short_seed11" / "metadata.yaml").is_file()


def test_flies_over_a_given_geotiff(tmp_path: Path) -> None:
    scenario = resolve_scenario("short")
    geotiff = tmp_path / "ground.tif"
    procedural_orthophoto(scenario.origin.ltp(), size_m=300.0, gsd_m=0.5, seed=99).save_geotiff(geotiff)
    out = tmp_path / "over_tiff"
    assert run_sim("--scenario", "short", "--duration", "1", "--orthophoto", str(geotiff), "--out", str(out)) == 0
    store = onboard_typestore()
    with Reader(out) as reader:
        connections = [c for c in reader.connections if c.topic == Topic.CAMERA_IMAGE.value]
        image = next(store.deserialize_cdr(d, c.msgtype) for c, _, d in reader.messages(connections))
    assert np.std(image.data) > 5.0  # the ground is seen


def test_unknown_scenario_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_sim("--scenario", "nosuch", "--out", str(tmp_path / "x")) == sim.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: no scenario file or named scenario 'nosuch'")
    assert err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_existing_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_sim("--scenario", "short", "--out", str(tmp_path)) == sim.EXIT_USAGE
    assert "exists already, not overwriting" in capsys.readouterr().err


def test_bad_duration_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_sim("--scenario", "short", "--duration", "-4", "--out", str(tmp_path / "x")) == sim.EXIT_USAGE
    assert "duration must be a finite number of seconds > 0" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_negative_seed_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_sim("--scenario", "short", "--seed", "-1", "--out", str(tmp_path / "x")) == sim.EXIT_USAGE
    assert "--seed must be >= 0" in capsys.readouterr().err


def test_missing_orthophoto_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_sim("--scenario", "short", "--orthophoto", str(tmp_path / "none.tif"), "--out", str(tmp_path / "x"))
    assert code == sim.EXIT_USAGE
    assert "none.tif does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_malformed_scenario_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [", encoding="utf-8")
    assert run_sim("--scenario", str(bad), "--out", str(tmp_path / "x")) == sim.EXIT_USAGE
    assert "is not valid YAML" in capsys.readouterr().err
