"""Flight summary, verify and the `onboard fdr` command on factory-built flights."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from factories import IMU, STEP_NS, WALL0_NS, BuiltFlight, FlightBuilder, standard_flight

import gps_denied_onboard.fdr
from gps_denied_onboard.cli.main import main
from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.errors import ExportOutputExistsError
from gps_denied_onboard.fdr.reader import Problem, scan_flight
from gps_denied_onboard.fdr.summary import (
    Check,
    Gap,
    KindCounts,
    TopicCounts,
    format_summary_table,
    summarize,
    summary_to_json,
    verify_flight,
)


def _rollover_flight(root: Path, *, omit: set[int]) -> BuiltFlight:
    """Five segments; segments 2, 3, 4 each record the deletion of the segment two before them."""
    flight = FlightBuilder("rolled")
    flight.segment().flight_header()
    flight.segment().event("one")
    for index in (2, 3, 4):
        seg = flight.segment()
        seg.rollover(index - 2)
        seg.ros(IMU)
    flight.segments[-1].footer()
    return flight.write(root, omit=omit)


def _corrupt(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x20
    path.write_bytes(data)


def test_summary_of_a_clean_flight(tmp_path: Path) -> None:
    built = standard_flight(tmp_path)

    summary = summarize(scan_flight(built.flight_dir))

    assert summary.flight_id == "test-flight"
    assert [(s.index, s.name, s.records, s.issues, s.has_header) for s in summary.segments] == [
        (0, "segment-0000.fdr", 9, 0, True),
        (1, "segment-0001.fdr", 9, 0, True),
    ]
    assert [(s.size_bytes, s.good_bytes) for s in summary.segments] == [
        (len(s.data), len(s.data)) for s in built.segments
    ]
    assert summary.records == 18
    assert {k: c.count for k, c in summary.kinds.items()} == {
        "event": 2,
        "flight_footer": 1,
        "flight_header": 1,
        "overrun": 2,
        "ros_message": 11,
        "topic": 1,
    }
    assert summary.topics == {
        "/geoloc/fix": TopicCounts("onboard/msg/GeoFix", 2, 2 * 44),
        "/imu/data": TopicCounts("sensor_msgs/msg/Imu", 6, 6 * 28),
        "/vio/odometry": TopicCounts("nav_msgs/msg/Odometry", 3, 3 * 28),
    }
    # Entry frames + header frames + preambles account for every byte of the files.
    headers = sum(s.frames[0].size + fmt.PREAMBLE_SIZE for s in built.segments)
    assert sum(c.frame_bytes for c in summary.kinds.values()) + headers == sum(len(s.data) for s in built.segments)
    assert summary.kinds["ros_message"] == KindCounts(
        11, 11 * (fmt.ROS_PREFIX.size + fmt.FRAME_OVERHEAD) + 168 + 84 + 88
    )
    span = summary.time_span
    assert span is not None
    assert (span.first_wall_ns, span.last_wall_ns) == (WALL0_NS, WALL0_NS + 17 * STEP_NS)
    assert span.last_mono_ns - span.first_mono_ns == 17 * STEP_NS
    assert span.duration_s == pytest.approx(0.17)
    assert summary.drops == 5
    assert summary.drops_by_origin == {"imu_driver": 2, "vio_node": 3}
    assert (summary.rollovers, summary.deleted_segments, summary.gaps) == (0, (), ())
    assert summary.problems == ()
    assert summary.has_flight_header
    assert summary.clean_shutdown
    assert summary.footer is not None
    assert (summary.footer.segment, summary.footer.records_written, summary.footer.records_dropped_overrun) == (
        "segment-0001.fdr",
        17,
        5,
    )
    assert verify_flight(scan_flight(built.flight_dir)) == []


def test_rollover_gaps_are_explained_and_footer_counts_allow_for_deleted_records(tmp_path: Path) -> None:
    built = _rollover_flight(tmp_path, omit={0, 1, 2})
    scan = scan_flight(built.flight_dir)

    summary = summarize(scan)

    # Segment 2's record (deleting 0) went with segment 2; deleting 1 and 2 is on record, and 0 is older.
    assert summary.rollovers == 2
    assert summary.deleted_segments == ("segment-0001.fdr", "segment-0002.fdr")
    assert summary.gaps == (
        Gap(0, "segment-0000.fdr", explained_by_rollover=True),
        Gap(1, "segment-0001.fdr", explained_by_rollover=True),
        Gap(2, "segment-0002.fdr", explained_by_rollover=True),
    )
    assert summary.footer is not None
    assert (summary.footer.records_written, summary.records - 1) == (8, 4)
    assert not summary.has_flight_header
    assert verify_flight(scan) == []


def test_a_gap_no_rollover_record_names_is_unexplained(tmp_path: Path) -> None:
    # Segment 3 is gone, but the newest deletion on record is segment 2: nothing explains 3.
    built = _rollover_flight(tmp_path, omit={0, 1, 3})

    scan = scan_flight(built.flight_dir)
    summary = summarize(scan)

    assert summary.deleted_segments == ("segment-0000.fdr", "segment-0002.fdr")
    assert [(g.index, g.explained_by_rollover) for g in summary.gaps] == [(0, True), (1, True), (3, False)]
    assert [str(f) for f in verify_flight(scan)] == [
        "segment-0003.fdr: missing_segment (missing and no segment_rollover record explains it)"
    ]


def test_a_missing_segment_without_rollover_fails_verify(tmp_path: Path) -> None:
    flight = FlightBuilder("holes")
    for _ in range(3):
        flight.segment().event("tick")
    flight.segments[0].flight_header()
    built = flight.write(tmp_path, omit={1})

    findings = verify_flight(scan_flight(built.flight_dir))

    assert [(f.segment, f.offset, f.problem) for f in findings] == [("segment-0001.fdr", None, Check.MISSING_SEGMENT)]
    assert summarize(scan_flight(built.flight_dir)).gaps == (Gap(1, "segment-0001.fdr", explained_by_rollover=False),)


@pytest.mark.parametrize(("footer", "clean"), [(None, False), (True, True), (False, False)])
def test_clean_shutdown_needs_a_footer_that_says_so(tmp_path: Path, footer: bool | None, clean: bool) -> None:
    flight = FlightBuilder("shutdown")
    seg = flight.segment()
    seg.flight_header()
    seg.ros(IMU)
    if footer is not None:
        seg.footer(clean_shutdown=footer)
    built = flight.write(tmp_path)

    summary = summarize(scan_flight(built.flight_dir))

    assert summary.clean_shutdown is clean
    assert (summary.footer is None) is (footer is None)
    if summary.footer is not None:
        assert summary.footer.clean_shutdown is footer
    assert verify_flight(scan_flight(built.flight_dir)) == []


@pytest.mark.parametrize(
    ("claim", "message"),
    [
        ({"records_written": 20}, "footer records_written=20 but 17 records recovered (expected exactly 20)"),
        ({"records_dropped_overrun": 4}, "footer records_dropped_overrun=4 but 5 dropped in overrun records"),
        ({"rollover_count": 0, "records_written": 16}, "footer records_written=16 but 17 records recovered"),
    ],
)
def test_footer_mismatch_fails_verify_naming_the_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], claim: dict[str, int], message: str
) -> None:
    flight = FlightBuilder("mismatch")
    seg = flight.segment()
    seg.flight_header()
    for _ in range(13):
        seg.ros(IMU)
    seg.overrun("vio_node", 5)
    seg.event("a")
    seg.event("b")
    seg.footer(**claim)  # type: ignore[arg-type]
    built = flight.write(tmp_path)

    findings = verify_flight(scan_flight(built.flight_dir))

    assert [f.problem for f in findings] == [Check.FOOTER_MISMATCH]
    assert message in findings[0].detail
    assert main(["fdr", "verify", str(built.flight_dir)]) == 1
    out = capsys.readouterr().out
    assert f"segment-0000.fdr: footer_mismatch ({message}" in out


def test_footer_with_fewer_rollovers_than_recorded_or_without_counts_fails_verify(tmp_path: Path) -> None:
    flight = FlightBuilder("odd-footer")
    seg = flight.segment()
    seg.flight_header()
    seg.rollover(7)
    seg.rollover(8)
    seg.record("flight_footer", {"records_written": "3", "records_dropped_overrun": 0, "rollover_count": 1})
    built = flight.write(tmp_path)

    findings = verify_flight(scan_flight(built.flight_dir))

    assert [(f.problem, f.detail) for f in findings] == [
        (Check.FOOTER_MISMATCH, "footer lacks an integer records_written"),
        (Check.FOOTER_MISMATCH, "footer rollover_count=1 but 2 segment_rollover records"),
    ]
    summary = summarize(scan_flight(built.flight_dir))
    assert summary.footer is not None
    assert (summary.footer.records_written, summary.footer.clean_shutdown) == (None, None)
    assert not summary.clean_shutdown


def test_a_segment_header_naming_another_index_fails_verify(tmp_path: Path) -> None:
    built = standard_flight(tmp_path)
    built.segments[1].path.rename(built.flight_dir / "segment-0002.fdr")

    findings = verify_flight(scan_flight(built.flight_dir))

    assert [(f.segment, f.offset, f.problem) for f in findings] == [
        ("segment-0002.fdr", fmt.PREAMBLE_SIZE, Check.HEADER_MISMATCH),
        ("segment-0001.fdr", None, Check.MISSING_SEGMENT),
    ]
    assert "segment 1, file is segment 2" in findings[0].detail


def test_segment_zero_without_its_flight_header_fails_verify(tmp_path: Path) -> None:
    flight = FlightBuilder("headless")
    flight.segment().event("no flight header")
    built = flight.write(tmp_path)

    assert [str(f) for f in verify_flight(scan_flight(built.flight_dir))] == [
        "segment-0000.fdr: missing_flight_header (segment 0 has no flight_header record)"
    ]


def test_table_shows_the_key_figures(tmp_path: Path) -> None:
    built = standard_flight(tmp_path)
    victim = built.segments[1].frames[2]  # an IMU message
    _corrupt(built.segments[1].path, victim.offset + 12)

    table = format_summary_table(summarize(scan_flight(built.flight_dir)))

    lines = table.splitlines()
    assert lines[0].startswith("flight test-flight")
    assert any(line.split() == ["/imu/data", "sensor_msgs/msg/Imu", "5", "140"] for line in lines)
    assert any(
        line.split()
        == ["segment-0001.fdr", str(len(built.segments[1].data)), str(len(built.segments[1].data)), "8", "1"]
        for line in lines
    )
    assert "drops: 5  (imu_driver: 2, vio_node: 3)" in lines
    assert "rollovers: 0" in lines
    assert "problems: 1  (crc failures: 1, torn tails: 0, other: 0)" in lines
    assert f"  segment-0001.fdr@{victim.offset}: crc_mismatch (skipped 57 bytes)" in lines
    assert victim.size == 57
    assert "clean shutdown: yes" in lines
    assert "time span: 2024-05-01T10:00:00.000+00:00 .. 2024-05-01T10:00:00.170+00:00  (0.170 s)" in lines


def test_summary_json_is_plain_and_complete(tmp_path: Path) -> None:
    built = _rollover_flight(tmp_path, omit={0, 1, 3})

    doc = summary_to_json(summarize(scan_flight(built.flight_dir)))

    assert json.loads(orjson.dumps(doc)) == doc
    assert doc["flight_id"] == "rolled"
    assert [s["name"] for s in doc["segments"]] == ["segment-0002.fdr", "segment-0004.fdr"]
    assert doc["rollovers"] == {"count": 2, "deleted_segments": ["segment-0000.fdr", "segment-0002.fdr"]}
    assert doc["gaps"][2] == {"index": 3, "segment": "segment-0003.fdr", "explained_by_rollover": False}
    assert doc["topics"]["/imu/data"]["count"] == 2
    assert doc["clean_shutdown"] is True
    assert doc["footer"]["rollover_count"] == 3
    assert doc["problems"] == {"crc_failures": [], "torn_tails": [], "other": []}


def test_cli_inspect_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = standard_flight(tmp_path)

    assert main(["fdr", "inspect", str(built.flight_dir)]) == 0

    out = capsys.readouterr().out
    assert "flight test-flight" in out
    assert "records: 18" in out
    assert "drops: 5" in out
    assert "clean shutdown: yes" in out


def test_cli_inspect_json_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = standard_flight(tmp_path, footer=False)

    assert main(["fdr", "inspect", "--json", str(built.flight_dir)]) == 0

    doc = json.loads(capsys.readouterr().out)
    assert doc["records"] == 17
    assert doc["drops"] == {"total": 5, "by_origin": {"imu_driver": 2, "vio_node": 3}}
    assert doc["topics"]["/vio/odometry"] == {"msg_type": "nav_msgs/msg/Odometry", "count": 3, "cdr_bytes": 84}
    assert doc["clean_shutdown"] is False
    assert doc["footer"] is None


def test_cli_verify_passes_an_intact_flight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = standard_flight(tmp_path)

    assert main(["fdr", "verify", str(built.flight_dir)]) == 0

    assert capsys.readouterr().out == f"{built.flight_dir}: OK, 2 segment(s), 18 records, closed cleanly\n"


def test_cli_verify_names_segment_and_offset_of_corruption(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = standard_flight(tmp_path)
    victim = built.segments[1].frames[4]
    _corrupt(built.segments[1].path, victim.offset + 30)

    assert main(["fdr", "verify", str(built.flight_dir)]) == 1

    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"segment-0001.fdr@{victim.offset}: crc_mismatch (skipped {victim.size} bytes)",
        "segment-0001.fdr: footer_mismatch (footer records_written=17 but 16 records recovered (expected exactly 17))",
        f"{built.flight_dir}: 2 problem(s) in 2 segment(s)",
    ]


def test_cli_verify_counts_a_torn_tail_as_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = standard_flight(tmp_path, footer=False)
    last = built.segments[1].frames[-1]
    built.segments[1].path.write_bytes(built.segments[1].data[: last.offset + 7])

    assert main(["fdr", "verify", str(built.flight_dir)]) == 1
    out = capsys.readouterr().out
    assert (
        f"segment-0001.fdr@{last.offset}: torn_tail (7 bytes of a cut frame; "
        "a torn tail counts as a problem for verify: the last write was cut)"
    ) in out.splitlines()

    assert main(["fdr", "inspect", str(built.flight_dir)]) == 0
    assert "torn tails: 1" in capsys.readouterr().out


def test_cli_verify_reports_an_unclosed_but_intact_flight_as_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = standard_flight(tmp_path, footer=False)

    assert main(["fdr", "verify", str(built.flight_dir)]) == 0

    assert "not closed cleanly" in capsys.readouterr().out


@pytest.mark.parametrize("action", ["inspect", "verify", "export"])
def test_cli_missing_flight_dir_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    extra = ["--mcap", str(tmp_path / "out.mcap")] if action == "export" else []

    assert main(["fdr", action, str(tmp_path / "no-such-flight"), *extra]) == 2

    captured = capsys.readouterr()
    assert captured.err == f"error: flight directory {tmp_path / 'no-such-flight'} does not exist\n"
    assert "Traceback" not in captured.out + captured.err
    assert not (tmp_path / "out.mcap").exists()


def test_cli_segment_file_instead_of_flight_dir_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = standard_flight(tmp_path)

    assert main(["fdr", "verify", str(built.segments[0].path)]) == 2

    assert "is not a directory" in capsys.readouterr().err


def test_cli_flight_root_instead_of_flight_dir_points_at_a_flight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = standard_flight(tmp_path)

    assert main(["fdr", "inspect", str(tmp_path)]) == 2

    err = capsys.readouterr().err
    assert f"no segment files (segment-NNNN.fdr) in {tmp_path}" in err
    assert f"e.g. {built.flight_dir}" in err


@pytest.mark.parametrize(
    "argv",
    [["fdr"], ["fdr", "verify"], ["fdr", "frobnicate", "x"], ["fdr", "export", "x"]],
    ids=["no-action", "no-dir", "bad-action", "no-target"],
)
def test_cli_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert "usage: onboard fdr" in capsys.readouterr().err


def test_cli_export_targets_are_exclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fdr", "export", str(tmp_path), "--mcap", "a.mcap", "--rosbag2", "b"])

    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@dataclass(frozen=True)
class _Result:
    messages_written: int
    topics: dict[str, int]
    skipped: dict[str, int]


@pytest.fixture
def fake_export(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path, Path]]:
    """Replace gps_denied_onboard.fdr.export with a recorder of its calls."""
    calls: list[tuple[str, Path, Path]] = []
    module = types.ModuleType("gps_denied_onboard.fdr.export")

    def export_mcap(flight_dir: Path, out: Path) -> _Result:
        calls.append(("mcap", flight_dir, out))
        if out.name == "exists.mcap":
            raise ExportOutputExistsError(f"{out} exists; exports never overwrite")
        return _Result(9, {"/imu/data": 6, "/vio/odometry": 3}, {"unknown_type": 2})

    def export_rosbag2(flight_dir: Path, out_dir: Path) -> _Result:
        calls.append(("rosbag2", flight_dir, out_dir))
        return _Result(6, {"/imu/data": 6}, {})

    module.export_mcap = export_mcap  # type: ignore[attr-defined]
    module.export_rosbag2 = export_rosbag2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gps_denied_onboard.fdr.export", module)
    monkeypatch.setattr(gps_denied_onboard.fdr, "export", module, raising=False)
    return calls


def test_cli_export_mcap_prints_what_was_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_export: list[tuple[str, Path, Path]]
) -> None:
    built = standard_flight(tmp_path)
    out = tmp_path / "flight.mcap"

    assert main(["fdr", "export", str(built.flight_dir), "--mcap", str(out)]) == 0

    assert fake_export == [("mcap", built.flight_dir, out)]
    assert capsys.readouterr().out.splitlines() == [
        f"wrote 9 messages to {out}",
        "  /imu/data  6",
        "  /vio/odometry  3",
        "skipped 2:",
        "  unknown_type  2",
    ]


def test_cli_export_rosbag2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_export: list[tuple[str, Path, Path]]
) -> None:
    built = standard_flight(tmp_path)
    out = tmp_path / "bag"

    assert main(["fdr", "export", str(built.flight_dir), "--rosbag2", str(out)]) == 0

    assert fake_export == [("rosbag2", built.flight_dir, out)]
    assert capsys.readouterr().out.splitlines() == [f"wrote 6 messages to {out}", "  /imu/data  6"]


def test_cli_export_error_is_a_message_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_export: list[tuple[str, Path, Path]]
) -> None:
    built = standard_flight(tmp_path)
    out = tmp_path / "exists.mcap"

    assert main(["fdr", "export", str(built.flight_dir), "--mcap", str(out)]) == 1

    captured = capsys.readouterr()
    assert captured.err == f"error: {out} exists; exports never overwrite\n"
    assert captured.out == ""


def test_cli_export_mcap_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mcap")
    built = standard_flight(tmp_path)
    out = tmp_path / "flight.mcap"

    assert main(["fdr", "export", str(built.flight_dir), "--mcap", str(out)]) == 0

    assert out.is_file()
    assert capsys.readouterr().out.startswith("wrote ")
    assert problem_free(built)


def problem_free(built: BuiltFlight) -> bool:
    """The export read the flight without changing it."""
    return all(s.path.read_bytes() == s.data for s in built.present) and scan_flight(built.flight_dir).issues == []


def test_problem_enum_values_are_what_verify_prints() -> None:
    assert str(Problem.CRC_MISMATCH) == "crc_mismatch"
    assert str(Check.FOOTER_MISMATCH) == "footer_mismatch"
