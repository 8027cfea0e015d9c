"""evaluate_bag end to end: report.json contents against the flight's known errors, plots, table, bad inputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from eval_factory import NS, T0_NS, MessageFactory, noisy, wavy_flight, write_eval_bag
from scipy.spatial.transform import Rotation

from gps_denied_onboard.evaluation.align import Alignment
from gps_denied_onboard.evaluation.errors import (
    AssociationError,
    BadOptionError,
    ReportWriteError,
    TopicMissingError,
)
from gps_denied_onboard.evaluation.options import EvalOptions, TopicOptions, parse_topic_option
from gps_denied_onboard.evaluation.phases import EstimatorSource, GnssTrust, PhaseKind
from gps_denied_onboard.evaluation.pipeline import default_out_dir, evaluate_bag, evaluate_tum
from gps_denied_onboard.evaluation.report import REPORT_SCHEMA_VERSION, EvaluationReport, format_table
from gps_denied_onboard.evaluation.trajectory import Trajectory, write_tum
from gps_denied_onboard.graph import Topic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GT, STATE, VIO = Topic.GROUND_TRUTH.value, Topic.STATE_ODOMETRY.value, Topic.VIO_ODOMETRY.value
R_ODOM = Rotation.from_euler("z", 35.0, degrees=True).as_matrix()


@dataclass(frozen=True)
class Flight:
    bag: Path
    truth: Trajectory
    state: Trajectory


def write_flight(path: Path, *, with_vio: bool = True, with_status: bool = True, storage: str = "mcap") -> Flight:
    """10 s at 20 Hz: denied 2-4 s, spoof jump 5-7 s (rejected 1.3 s in), spoof drift 8-9 s (never noticed)."""
    factory = MessageFactory()
    truth = wavy_flight(200, rate_hz=20.0)
    state = noisy(truth, seed=2, sigma_m=0.5, sigma_rad=0.03)
    messages = [*factory.odometry(GT, truth), *factory.odometry(STATE, state)]
    if with_vio:
        vio = noisy(truth, seed=3, sigma_m=0.2).transformed(R_ODOM, np.array([3.0, 1.0, 0.0]))
        messages += factory.odometry(VIO, vio, frame_id="odom")
    messages += [
        factory.phase(T0_NS + 2 * NS, T0_NS + 4 * NS, PhaseKind.GNSS_DENIED, "denied"),
        factory.phase(T0_NS + 5 * NS, T0_NS + 7 * NS, PhaseKind.GNSS_SPOOF_JUMP, "jump"),
        factory.phase(T0_NS + 8 * NS, T0_NS + 9 * NS, PhaseKind.GNSS_SPOOF_DRIFT, "drift"),
    ]
    if with_status:
        stamps = [T0_NS + k * NS // 10 for k in range(100)]
        rejected = [5.3 <= k / 10 < 7.5 for k in range(100)]
        sources = [EstimatorSource.VISUAL if r else EstimatorSource.GNSS for r in rejected]
        trusts = [GnssTrust.REJECTED if r else GnssTrust.TRUSTED for r in rejected]
        messages += factory.status(stamps, sources, trusts)
    return Flight(write_eval_bag(path, messages, storage), truth, state)


@pytest.fixture(scope="module")
def flight(tmp_path_factory: pytest.TempPathFactory) -> Flight:
    return write_flight(tmp_path_factory.mktemp("eval-report") / "flight")


@pytest.fixture(scope="module")
def written(flight: Flight, tmp_path_factory: pytest.TempPathFactory) -> tuple[EvaluationReport, dict[str, Any]]:
    out = tmp_path_factory.mktemp("eval-out") / "report"
    report = evaluate_bag(flight.bag, out)
    return report, orjson.loads((out / "report.json").read_bytes())


def test_report_json_header(written: tuple[EvaluationReport, dict[str, Any]], flight: Flight) -> None:
    report, data = written
    assert data["schema"] == "onboard.eval.report"
    assert data["schema_version"] == REPORT_SCHEMA_VERSION
    assert data["source"] == {"kind": "rosbag2", "path": str(flight.bag)}
    assert data["flight_duration_s"] == pytest.approx(9.95)
    assert data["distance_flown_m"] == pytest.approx(flight.truth.path_length_m())
    assert data["ground_truth"]["topic"] == GT
    assert data["ground_truth"]["poses"] == 200
    assert sorted(data["topics"]) == [STATE, VIO]
    assert data["absent_topics"] == {}
    assert data["estimator_status"] == {"messages": 100}
    assert data["out_dir"] == str(report.out_dir)


def test_state_topic_metrics_are_its_known_errors(
    written: tuple[EvaluationReport, dict[str, Any]], flight: Flight
) -> None:
    _, data = written
    state = data["topics"][STATE]
    expected = np.linalg.norm(flight.state.positions_xyz - flight.truth.positions_xyz, axis=1)
    assert state["alignment"]["method"] == "none"
    assert state["alignment"]["reason"] == "auto: already in the reference frame 'map'"
    assert state["association"]["matched"] == 200
    assert state["association"]["max_abs_dt_s"] == 0.0
    assert state["ate_rmse_m"] == pytest.approx(np.sqrt(np.mean(expected**2)), rel=1e-12)
    assert state["ate"]["translation_m"]["max"] == pytest.approx(expected.max(), rel=1e-12)
    assert state["max_error_m"] == pytest.approx(expected.max(), rel=1e-12)
    assert state["drift"]["final_pct_of_distance"] == pytest.approx(
        100 * expected[-1] / flight.truth.path_length_m(), rel=1e-9
    )
    assert state["rpe"]["delta_unit"] == "f"
    assert state["rpe"]["pairs"] == 199
    denied = state["phases"]["by_category"]["denied"]
    assert denied["samples"] == 40  # 2.0 .. 3.95 s at 20 Hz
    assert denied["ate_translation_m"]["rmse"] == pytest.approx(np.sqrt(np.mean(expected[40:80] ** 2)), rel=1e-12)
    assert set(state["phases"]["by_category"]) == {"nominal", "denied", "spoofed"}
    assert [w["name"] for w in state["phases"]["windows"]] == ["denied", "jump", "drift"]
    assert state["phases"]["windows"][1]["error_at_start_m"] == pytest.approx(expected[100])


def test_vio_topic_is_aligned_out_of_its_odom_frame(written: tuple[EvaluationReport, dict[str, Any]]) -> None:
    _, data = written
    vio = data["topics"][VIO]
    assert vio["frame_id"] == "odom"
    assert vio["alignment"]["method"] == "se3"
    assert vio["alignment"]["reason"] == "auto: frame 'odom' differs from the reference's 'map'"
    assert vio["alignment"]["yaw_deg"] == pytest.approx(-35.0, abs=0.5)
    assert vio["ate_rmse_m"] < 0.5  # 0.2 m per axis of noise, once aligned


def test_phases_and_spoof_detection(written: tuple[EvaluationReport, dict[str, Any]]) -> None:
    _, data = written
    assert [(p["name"], p["kind"], p["category"], p["start_s"], p["end_s"]) for p in data["phases"]] == [
        ("denied", "GNSS_DENIED", "denied", 2.0, 4.0),
        ("jump", "GNSS_SPOOF_JUMP", "spoofed", 5.0, 7.0),
        ("drift", "GNSS_SPOOF_DRIFT", "spoofed", 8.0, 9.0),
    ]
    jump, drift = data["spoof_detection"]
    assert jump["phase_index"] == 1
    assert jump["detected"] is True
    assert jump["latency_s"] == pytest.approx(0.3)
    assert jump["detected_at_s"] == pytest.approx(5.3)
    assert jump["trigger"] == "gnss_trust=REJECTED, source=VISUAL"
    assert drift["detected"] is False
    assert drift["latency_s"] is None
    assert drift["trigger"] == "not detected"


def test_plots_are_non_empty_pngs(written: tuple[EvaluationReport, dict[str, Any]]) -> None:
    report, data = written
    assert data["plots"] == {
        "error_vs_time": "error_vs_time.png",
        "estimator_source": "estimator_source.png",
        "trajectory_topdown": "trajectory_topdown.png",
    }
    for name in data["plots"].values():
        content = (report.out_dir / name).read_bytes()  # type: ignore[operator]
        assert content.startswith(PNG_SIGNATURE), name
        assert len(content) > 10_000, name


def test_table_lists_topics_phases_and_detection(written: tuple[EvaluationReport, dict[str, Any]]) -> None:
    report, data = written
    table = format_table(report)
    assert "ATE rmse m" in table
    state_row = next(line for line in table.splitlines() if line.strip().startswith(STATE))
    assert f"{data['topics'][STATE]['ate_rmse_m']:.3f}" in state_row
    assert " none " in state_row
    assert "nominal" in table
    assert "spoofed" in table
    assert (
        "spoof jump (GNSS_SPOOF_JUMP, 5.0-7.0 s): detected after 0.300 s (gnss_trust=REJECTED, source=VISUAL)" in table
    )
    assert "spoof drift (GNSS_SPOOF_DRIFT, 8.0-9.0 s): not detected" in table


def test_absent_topics_are_listed_and_no_status_means_no_status_plot(tmp_path: Path) -> None:
    bag = write_flight(tmp_path / "flight", with_vio=False, with_status=False, storage="sqlite3").bag
    report = evaluate_bag(bag, tmp_path / "out")
    data = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    assert data["absent_topics"] == {VIO: "not in bag"}
    assert list(data["topics"]) == [STATE]
    assert data["estimator_status"] is None
    assert "estimator_source" not in data["plots"]
    assert not (tmp_path / "out" / "estimator_source.png").exists()
    assert all(d["trigger"] == "not detected: no estimator status in the input" for d in data["spoof_detection"])
    assert f"absent: {VIO} (not in bag)" in format_table(report)


def test_no_plots_and_rewriting_a_report(flight: Flight, tmp_path: Path) -> None:
    options = EvalOptions(topics=(TopicOptions(STATE),), plots=False)
    evaluate_bag(flight.bag, tmp_path, options)
    evaluate_bag(flight.bag, tmp_path, options)  # a second run replaces the report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_nothing_is_written_without_an_out_dir(flight: Flight) -> None:
    report = evaluate_bag(flight.bag, None, EvalOptions(topics=(TopicOptions(STATE),)))
    assert report.out_dir is None
    assert report.plots == {}


def test_first_seconds_alignment_uses_only_those_pairs(flight: Flight) -> None:
    options = EvalOptions(topics=(TopicOptions(VIO, Alignment.SE3, 2.0),), plots=False)
    report = evaluate_bag(flight.bag, None, options)
    assert report.topic(VIO).alignment.poses_used == 41  # 0.0 .. 2.0 s at 20 Hz, both ends in


def test_rpe_that_finds_no_pair_is_reported_not_fatal(flight: Flight) -> None:
    from gps_denied_onboard.evaluation.metrics import DeltaUnit, RpeOptions

    options = EvalOptions(topics=(TopicOptions(STATE),), rpe=RpeOptions(1e6, DeltaUnit.METRES), plots=False)
    report = evaluate_bag(flight.bag, None, options)
    assert report.topic(STATE).rpe is None
    assert "yields no pose pair" in report.topic(STATE).rpe_skipped
    assert f"{STATE}: no RPE: RPE delta 1e+06 m yields no pose pair" in format_table(report)


def test_missing_ground_truth_is_a_typed_error(flight: Flight) -> None:
    with pytest.raises(TopicMissingError, match=r"topic /truth is not in bag"):
        evaluate_bag(flight.bag, None, EvalOptions(ground_truth="/truth"))


def test_no_evaluable_topic_is_a_typed_error(flight: Flight) -> None:
    with pytest.raises(TopicMissingError, match=r"none of the topics to evaluate is in bag .*: /odom \(not in bag\)"):
        evaluate_bag(flight.bag, None, EvalOptions(topics=(TopicOptions("/odom"),)))


def test_estimate_on_another_clock_is_a_typed_error(tmp_path: Path) -> None:
    factory = MessageFactory()
    truth = wavy_flight(20)
    late = Trajectory(truth.stamps_ns + 100 * NS, truth.positions_xyz, truth.orientations_quat_wxyz, frame_id="map")
    bag = write_eval_bag(tmp_path / "bag", [*factory.odometry(GT, truth), *factory.odometry(STATE, late)])
    with pytest.raises(AssociationError, match=f"no pose of {STATE} .* lies within 0.01 s"):
        evaluate_bag(bag, None, EvalOptions(topics=(TopicOptions(STATE),)))


def test_report_into_a_file_path_is_a_typed_error(flight: Flight, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportWriteError, match="cannot"):
        evaluate_bag(flight.bag, blocker, EvalOptions(topics=(TopicOptions(STATE),), plots=False))


def test_tum_files_evaluate_the_same_way(flight: Flight, tmp_path: Path) -> None:
    write_tum(flight.truth, tmp_path / "gt.tum")
    write_tum(flight.state, tmp_path / "state.tum")
    options = EvalOptions(topics=(TopicOptions(str(tmp_path / "state.tum"), Alignment.NONE),), plots=False)
    report = evaluate_tum(tmp_path / "gt.tum", tmp_path / "out", options)
    expected = np.linalg.norm(flight.state.positions_xyz - flight.truth.positions_xyz, axis=1)
    evaluation = report.topics[0]
    assert evaluation.ate.translation_stats.rmse == pytest.approx(np.sqrt(np.mean(expected**2)), rel=1e-12)
    data = orjson.loads((tmp_path / "out" / "report.json").read_bytes())
    assert data["source"]["kind"] == "tum"
    assert data["phases"] == []


def test_default_out_dir_is_next_to_the_source() -> None:
    assert default_out_dir(Path("/data/flights/f1")) == Path("/data/flights/f1-eval")


def test_topic_option_parsing() -> None:
    assert parse_topic_option("/vio/odometry") == TopicOptions("/vio/odometry")
    assert parse_topic_option("/vio/odometry:sim3:30") == TopicOptions("/vio/odometry", Alignment.SIM3, 30.0)
    assert parse_topic_option("/state/odometry:origin").spec() == "/state/odometry:origin"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/vio/odometry:affine", "unknown alignment 'affine'"),
        ("/vio/odometry:se3:soon", "alignment span 'soon' is not seconds"),
        ("/vio/odometry:none:5", "a first-seconds alignment span needs se3 or sim3, not none"),
        ("/vio/odometry:se3:-1", "alignment span must be finite seconds > 0"),
        ("/vio/odometry:se3:1:2", "not of the form TOPIC"),
        (":se3", "needs a name"),
    ],
)
def test_bad_topic_option_is_a_typed_error(spec: str, message: str) -> None:
    with pytest.raises(BadOptionError, match=message):
        parse_topic_option(spec)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"topics": ()}, "no topic to evaluate"),
        ({"topics": (TopicOptions(STATE), TopicOptions(STATE, Alignment.SE3))}, "given more than once"),
        ({"topics": (TopicOptions(GT),)}, "is the ground truth"),
        ({"t_max_diff_s": -0.1}, "--t-max-diff"),
        ({"t_offset_s": float("nan")}, "--t-offset"),
    ],
)
def test_bad_evaluation_options_are_typed_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(BadOptionError, match=message):
        EvalOptions(**kwargs)


def test_the_library_never_imports_evo() -> None:
    """evo is GPL-3.0: the tests run its CLI, the package must not import it."""
    import ast

    from conftest import SRC_ROOT

    offenders = []
    for path in sorted(SRC_ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
            offenders += [f"{path.relative_to(SRC_ROOT)}: {n}" for n in names if n.split(".")[0] == "evo"]
    assert len(list(SRC_ROOT.rglob("evaluation/*.py"))) >= 8, "the scan found no evaluation module"
    assert not offenders
