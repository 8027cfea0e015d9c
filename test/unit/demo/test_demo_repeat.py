"""`onboard demo --repeat/--load` without the graph: the runs' numbers, spread, verdicts, table, JSON, the load
process and the bad-option errors."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from eval_factory import NS, T0_NS, MessageFactory, noisy, wavy_flight, write_eval_bag

from gps_denied_onboard.cli import demo as demo_cli
from gps_denied_onboard.demo.errors import DemoOptionError
from gps_denied_onboard.demo.load import LOAD_NICE, competing_cpu_load
from gps_denied_onboard.demo.repeat import (
    RunMetrics,
    format_repeat_table,
    last_vio_counts,
    repeat_to_json,
    run_metrics,
    run_repeat,
    spread_pct,
    summarize,
)
from gps_denied_onboard.demo.run import DemoOptions
from gps_denied_onboard.evaluation.phases import PhaseKind
from gps_denied_onboard.evaluation.pipeline import evaluate_bag
from gps_denied_onboard.graph import Topic

GT, STATE, VIO, STATUS = (
    t.value for t in (Topic.GROUND_TRUTH, Topic.STATE_ODOMETRY, Topic.VIO_ODOMETRY, Topic.STATE_STATUS)
)


def metrics(run: int, state_rmse_m: float | None, *, state_max_m: float = 3.0, denied_m: float = 1.0) -> RunMetrics:
    return RunMetrics(
        run=run,
        report_dir=Path(f"/runs/run-{run}/report"),
        loaded=False,
        wall_s=50.0,
        state_rmse_m=state_rmse_m,
        state_max_m=state_max_m,
        vio_rmse_m=1.0,
        vio_max_m=2.0,
        state_phase_rmse_m={"nominal": 0.5, "denied": denied_m},
        vio_phase_rmse_m={"nominal": 0.9, "denied": 0.8},
    )


def test_spread_is_max_minus_min_over_the_mean() -> None:
    assert spread_pct([1.0, 1.1, 0.9]) == pytest.approx(20.0)
    assert spread_pct([2.0, 2.0]) == 0.0
    assert spread_pct([1.0]) is None  # one run has no spread
    assert spread_pct([0.0, 0.0]) is None


def test_verdicts_hold_on_good_runs() -> None:
    summary = summarize([metrics(1, 1.0), metrics(2, 1.1), metrics(3, 1.05)])
    assert summary.mean_state_rmse_m == pytest.approx(1.05)
    assert summary.spread_pct == pytest.approx(100 * 0.1 / 1.05)
    assert [v.holds for v in summary.verdicts] == [True, True, True, True]


def test_each_verdict_is_judged_on_the_worst_run() -> None:
    runs = [metrics(1, 1.0), metrics(2, 1.6, state_max_m=4.5, denied_m=1.4)]  # denied 1.4 > VIO 0.8 + 0.5
    rmse, peak, denied, spread = summarize(runs).verdicts
    assert (rmse.holds, peak.holds, denied.holds, spread.holds) == (False, False, False, False)  # 46 % spread
    assert rmse.worst == "worst 1.600 m"
    assert denied.worst == "worst 0.600 m over VIO"


def test_a_run_without_state_fails_and_one_run_has_no_spread() -> None:
    summary = summarize([metrics(1, None)])
    assert summary.spread_pct is None
    assert summary.verdicts[0].holds is False
    assert summary.verdicts[3].holds is None


def test_no_denied_phase_is_not_judged() -> None:
    run = replace(metrics(1, 1.0), state_phase_rmse_m={"nominal": 1.0}, vio_phase_rmse_m={"nominal": 1.0})
    assert summarize([run]).verdicts[2].holds is None


def test_table_and_json_side_by_side() -> None:
    runs = [replace(metrics(1, 1.0), vio_fused=180, vio_received=198), metrics(2, 1.2)]
    summary = summarize(runs)
    table = format_repeat_table(summary)
    lines = table.splitlines()
    assert lines[1].split() == [
        "run", "load", "state", "rmse", "/", "max", "m", "nominal", "denied", "VIO", "rmse", "/", "max", "m",
        "VIO", "fused/recv", "wall", "s",
    ]  # fmt: skip
    assert lines[2].split() == [
        "1", "no", "1.000", "/", "3.000", "0.500", "/", "0.900", "1.000", "/", "0.800", "1.000", "/", "2.000",
        "180/198", "50",
    ]  # fmt: skip
    assert lines[3].split()[-2:] == ["-", "50"]
    assert "spread of state rmse (max-min)/mean 18.2 %" in table
    assert "state ATE RMSE <= 1.5 m: holds (worst 1.200 m)" in table
    data = orjson.loads(orjson.dumps(repeat_to_json(summary, DemoOptions(scenario="short"))))
    assert data["schema"] == "onboard.demo.repeat"
    assert data["runs"][0][STATE]["phase_rmse_m"] == {"nominal": 0.5, "denied": 1.0}
    assert data["runs"][1]["vio_fused"] is None
    assert data["spread_pct"] == pytest.approx(18.18, abs=0.01)
    assert [v["holds"] for v in data["verdicts"]] == [True, True, True, True]
    assert data["load"] is None


def test_numbers_of_an_evaluated_flight(tmp_path: Path) -> None:
    factory = MessageFactory()
    truth = wavy_flight(200, rate_hz=20.0)
    status = factory.build("onboard/msg/EstimatorStatus")
    messages = [
        *factory.odometry(GT, truth),
        *factory.odometry(STATE, noisy(truth, seed=2, sigma_m=0.5)),
        *factory.odometry(VIO, noisy(truth, seed=3, sigma_m=0.2), frame_id="odom"),
        factory.phase(T0_NS + 2 * NS, T0_NS + 4 * NS, PhaseKind.GNSS_DENIED, "denied"),
        *factory.status([T0_NS, T0_NS + 9 * NS], [0, 0], [1, 1]),
    ]
    status.vio_updates, status.vio_received = 150, 160  # the last status: its counters are the run's
    messages.append(replace(messages[-1], stamp_ns=T0_NS + 10 * NS, cdr=bytes(factory.store.serialize_cdr(
        status, "onboard/msg/EstimatorStatus"))))  # fmt: skip
    bag = write_eval_bag(tmp_path / "flight", messages)
    report = evaluate_bag(bag, None)
    counts = last_vio_counts(bag)
    assert counts == (150, 160)
    run = run_metrics(1, report, tmp_path / "report", loaded=True, wall_s=12.0, vio_counts=counts)
    assert run.state_rmse_m == pytest.approx(report.topic(STATE).ate.translation_stats.rmse)
    assert run.vio_max_m == pytest.approx(report.topic(VIO).ate.translation_stats.max)
    assert set(run.state_phase_rmse_m) == set(run.vio_phase_rmse_m) == {"nominal", "denied"}
    assert (run.vio_fused, run.vio_received, run.loaded) == (150, 160, True)
    assert last_vio_counts(tmp_path / "absent") is None


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _load_then_fail(seen: list[int]) -> None:
    with competing_cpu_load() as pid:
        assert pid is not None
        seen.append(pid)
        assert os.getpriority(os.PRIO_PROCESS, pid) == LOAD_NICE
        deadline = time.monotonic() + 10.0
        while _cpu_ticks(pid) < 5 and time.monotonic() < deadline:  # 50 ms of CPU, even on a busy machine
            time.sleep(0.05)
        assert _cpu_ticks(pid) >= 5
        raise RuntimeError("the graph failed")


def test_the_load_is_one_niced_cpu_hog_reaped_even_on_failure() -> None:
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="the graph failed"):
        _load_then_fail(seen)
    assert len(seen) == 1
    assert not Path(f"/proc/{seen[0]}").exists()  # killed and reaped: not even a zombie
    with competing_cpu_load(enabled=False) as none:
        assert none is None


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="onboard")
    demo_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["demo", *argv])
    code: int = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("runs", ["0", "-2"])
def test_too_few_runs_is_a_usage_error_before_anything_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, runs: str
) -> None:
    code, out, err = run_cli(capsys, "--scenario", "short", "--repeat", runs, "--work-dir", str(tmp_path / "w"))
    assert code == demo_cli.EXIT_USAGE
    assert out == ""
    assert err == f"error: repeat needs at least 1 run, got {runs}\n"
    assert not (tmp_path / "w").exists()


def test_a_non_integer_repeat_is_refused_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(capsys, "--repeat", "three")
    assert exc.value.code == 2
    assert "--repeat: invalid int value" in capsys.readouterr().err


def test_run_repeat_refuses_zero_runs(tmp_path: Path) -> None:
    with pytest.raises(DemoOptionError, match="at least 1 run"):
        run_repeat(DemoOptions(work_dir=tmp_path), tmp_path / "flight.yaml", 0, lambda _line: None)
