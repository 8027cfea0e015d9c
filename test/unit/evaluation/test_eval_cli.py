"""`onboard eval`: the table then the report directory; each bad input is one `error:` line and exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import pytest
from eval_factory import MessageFactory, noisy, wavy_flight, write_eval_bag

from gps_denied_onboard.cli import eval as eval_cli
from gps_denied_onboard.evaluation.trajectory import write_tum
from gps_denied_onboard.graph import Topic

GT, STATE, VIO = Topic.GROUND_TRUTH.value, Topic.STATE_ODOMETRY.value, Topic.VIO_ODOMETRY.value


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="onboard")
    subparsers = parser.add_subparsers(dest="command", required=True)
    eval_cli.add_parser(subparsers)
    return parser.parse_args(["eval", *argv])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = parse(list(argv))
    code: int = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    factory = MessageFactory()
    truth = wavy_flight(60)
    messages = [*factory.odometry(GT, truth), *factory.odometry(STATE, noisy(truth, seed=4))]
    return write_eval_bag(tmp_path_factory.mktemp("eval-cli") / "flight", messages)


def test_prints_the_table_then_the_report_directory(
    capsys: pytest.CaptureFixture[str], bag: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, str(bag), "--out", str(tmp_path / "r"), "--no-plots")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == str(tmp_path / "r")
    assert lines[0].startswith(f"evaluated {bag} against {GT}")
    assert any(line.strip().startswith(STATE) for line in lines)
    assert f"absent: {VIO} (not in bag)" in out
    assert (tmp_path / "r" / "report.json").is_file()


def test_default_report_directory_is_next_to_the_bag(capsys: pytest.CaptureFixture[str], bag: Path) -> None:
    code, out, _ = run(capsys, str(bag), "--topic", f"{STATE}:origin", "--no-plots")
    assert code == 0
    assert out.splitlines()[-1] == str(bag.with_name("flight-eval"))


def test_json_output(capsys: pytest.CaptureFixture[str], bag: Path, tmp_path: Path) -> None:
    code, out, _ = run(
        capsys, str(bag), "--topic", STATE, "--out", str(tmp_path), "--json", "--no-plots",
        "--rpe-delta", "2", "--rpe-delta-unit", "m", "--rpe-pairs-from-reference", "--t-max-diff", "0.002",
    )  # fmt: skip
    assert code == 0
    data = orjson.loads(out)
    assert data["options"]["rpe"] == {"delta": 2.0, "delta_unit": "m", "pairs_from_reference": True}
    assert data["options"]["t_max_diff_s"] == 0.002
    assert data["topics"][STATE]["rpe"]["pairs_from_reference"] is True
    assert data == orjson.loads((tmp_path / "report.json").read_bytes())


def test_tum_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    truth = wavy_flight(40)
    write_tum(truth, tmp_path / "gt.tum")
    write_tum(noisy(truth), tmp_path / "est.tum")
    code, out, err = run(
        capsys, "--tum-reference", str(tmp_path / "gt.tum"), "--tum-estimate", f"{tmp_path / 'est.tum'}:sim3",
        "--no-plots",
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[-1] == str(tmp_path / "gt.tum-eval")
    assert "sim3" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{missing}"], "error: bag {missing} does not exist"),
        (["{empty}"], "error: {empty} is not a rosbag2 bag: it has no metadata.yaml"),
        (["{bag}", "--topic", "/state/odometry:affine"], "error: unknown alignment 'affine'"),
        (["{bag}", "--ground-truth", "/truth"], "error: topic /truth is not in bag {bag}"),
        (["{bag}", "--topic", "/odom"], "error: none of the topics to evaluate is in bag {bag}: /odom (not in bag)"),
        (["{bag}", "--rpe-delta-unit", "deg"], "error: unknown RPE delta unit 'deg'"),
        (["{bag}", "--rpe-delta", "0"], "error: the RPE delta must be finite and > 0"),
        (["{bag}", "--t-max-diff", "-1"], "error: the association tolerance (--t-max-diff) must be finite and >= 0"),
        (["{bag}", "--t-offset", "100"], "error: no pose of /state/odometry"),
        ([], "error: no input: give a BAG directory or --tum-reference FILE"),
        (["{bag}", "--tum-reference", "{bag}"], "error: give either a BAG or --tum-reference, not both"),
        (["--tum-reference", "{badtum}", "--tum-estimate", "{badtum}"], "error: {badtum}:1: a TUM line is 8 numbers"),
        (["--tum-reference", "{badtum}"], "error: --tum-reference takes --tum-estimate FILE"),
        (["{bag}", "--tum-estimate", "{badtum}"], "error: --tum-estimate needs --tum-reference"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], bag: Path, tmp_path: Path, argv: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.tum").write_text("0 1 2\n")
    names = {"bag": str(bag), "missing": str(tmp_path / "missing"), "empty": str(tmp_path / "empty"),
             "badtum": str(tmp_path / "bad.tum")}  # fmt: skip
    code, out, err = run(capsys, *(arg.format(**names) for arg in argv), "--out", str(tmp_path / "out"))
    assert code == 2
    assert out == ""
    assert err.startswith(message.format(**names)), err
    assert len(err.splitlines()) == 1
