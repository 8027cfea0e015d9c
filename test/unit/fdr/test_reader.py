"""The recovering reader: write-then-read round trips, damaged segments, forward compatibility."""

from __future__ import annotations

import struct
from pathlib import Path

import orjson
import pytest
from factories import GEOFIX, IMU, ODOM, FlightBuilder, build_segment_bytes, cdr_bytes, standard_flight

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.reader import Problem, scan_flight, scan_segment, segment_paths
from gps_denied_onboard.fdr.records import Record, RosMessage


def _header(index: int = 0, channels: tuple[fmt.Channel, ...] = (IMU,)) -> fmt.SegmentHeader:
    return fmt.SegmentHeader("f1", index, 1_000, 2_000, "0.1.0-test", channels)


def _event(i: int) -> Record:
    return Record(100 + i, 200 + i, "test_node", "event", {"name": f"e{i}", "data": {"i": i}})


def test_round_trip_of_every_entry_through_scan_flight(tmp_path: Path) -> None:
    built = standard_flight(tmp_path)
    scan = scan_flight(built.flight_dir)

    assert scan.issues == []
    assert list(scan.entries()) == built.entries
    assert len(built.entries) == 18
    assert [s.path.name for s in scan.segments] == ["segment-0000.fdr", "segment-0001.fdr"]
    first = built.entries[0]
    assert isinstance(first, Record)
    assert first.kind == "flight_header"
    assert first.payload["flight_id"] == "test-flight"
    late = [e for e in scan.entries() if isinstance(e, RosMessage) and e.topic == "/geoloc/fix"]
    assert [(m.msg_type, m.cdr) for m in late] == [
        ("onboard/msg/GeoFix", cdr_bytes(99, size=40)),
        ("onboard/msg/GeoFix", cdr_bytes(100, size=40)),
    ]
    for seg, expected in zip(scan.segments, built.segments, strict=True):
        assert seg.header is not None
        assert seg.header.segment_index == expected.index
        assert seg.header.flight_id == "test-flight"
        assert seg.size_bytes == seg.good_bytes == len(expected.data)
    assert scan.footer is not None
    assert scan.footer.payload["records_written"] == 17
    assert scan.channels == {1: IMU, 2: ODOM, 7: GEOFIX}


def test_channel_ids_carry_across_segments(tmp_path: Path) -> None:
    flight = FlightBuilder("shared")
    seg0 = flight.segment()
    seg0.topic(GEOFIX)
    seg0.ros(GEOFIX)
    # The second header omits GEOFIX: the id announced in segment 0 must still resolve.
    seg1 = flight.segment(channels=(IMU,))
    frame = seg1.ros(GEOFIX)
    seg1.ros(IMU)
    built = flight.write(tmp_path)

    scan = scan_flight(built.flight_dir)

    assert scan.issues == []
    recovered = list(scan.entries())
    assert recovered == built.entries
    assert RosMessage(frame.mono_ns, frame.wall_ns, "/geoloc/fix", "onboard/msg/GeoFix", frame.cdr) in recovered
    assert [m.topic for m in recovered if isinstance(m, RosMessage)] == ["/geoloc/fix", "/geoloc/fix", "/imu/data"]


def test_a_segment_read_alone_knows_only_its_own_channels(tmp_path: Path) -> None:
    flight = FlightBuilder("alone")
    flight.segment().topic(GEOFIX)
    seg1 = flight.segment(channels=(IMU,))
    seg1.ros(GEOFIX)
    built = flight.write(tmp_path)

    scan = scan_segment(built.segments[1].path)

    assert scan.entries == []
    assert [(i.problem, i.offset) for i in scan.issues] == [
        (Problem.UNKNOWN_CHANNEL, built.segments[1].frames[1].offset)
    ]


def test_unknown_channel_is_reported_at_its_offset_and_reading_goes_on(tmp_path: Path) -> None:
    flight = FlightBuilder("unknown-channel")
    seg = flight.segment()
    seg.ros(99)
    after = seg.event("after")
    built = flight.write(tmp_path)
    stray = built.segments[0].frames[1]

    scan = scan_flight(built.flight_dir)

    assert [(i.problem, i.offset) for i in scan.issues] == [(Problem.UNKNOWN_CHANNEL, stray.offset)]
    assert "channel 99 never announced" in scan.issues[0].detail
    assert list(scan.entries()) == [after]
    assert str(scan.issues[0]).startswith(f"segment-0000.fdr@{stray.offset}: unknown_channel (")


def test_missing_header_is_reported_and_the_records_still_recovered(tmp_path: Path) -> None:
    path = tmp_path / "segment-0000.fdr"
    data, spans = build_segment_bytes([fmt.encode_json_body(_event(0)), fmt.encode_json_body(_event(1))])
    path.write_bytes(data)

    scan = scan_segment(path)

    assert scan.header is None
    assert [(i.problem, i.offset) for i in scan.issues] == [(Problem.MISSING_HEADER, fmt.PREAMBLE_SIZE)]
    assert scan.entries == [_event(0), _event(1)]
    assert scan.good_bytes == spans[-1][1] == len(data)


def test_a_second_header_frame_is_a_bad_body(tmp_path: Path) -> None:
    path = tmp_path / "segment-0000.fdr"
    data, spans = build_segment_bytes([_header().to_body(), _header().to_body(), fmt.encode_json_body(_event(0))])
    path.write_bytes(data)

    scan = scan_segment(path)

    assert [(i.problem, i.offset) for i in scan.issues] == [(Problem.BAD_BODY, spans[1][0])]
    assert scan.entries == [_event(0)]


def test_a_segment_cut_inside_its_preamble_is_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "segment-0000.fdr"
    path.write_bytes(fmt.preamble()[:9])  # crash right after the file was created

    scan = scan_segment(path)

    assert scan.entries == []
    assert [(i.problem, i.offset) for i in scan.issues] == [(Problem.TORN_TAIL, 0)]


def test_a_zero_filled_tail_is_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "segment-0000.fdr"
    data, _ = build_segment_bytes([_header().to_body(), fmt.encode_json_body(_event(0))])
    path.write_bytes(data + bytes(4096))  # blocks allocated before the crash, never written

    scan = scan_segment(path)

    assert len(scan.entries) == 1
    assert [(i.problem, i.offset) for i in scan.issues] == [(Problem.TORN_TAIL, len(data))]


@pytest.mark.parametrize(
    ("head", "detail"),
    [
        (struct.pack("<8sHHI", b"PK\x03\x04zip!", 1, 0, 0), "not an FDR segment"),
        (struct.pack("<8sHHI", fmt.MAGIC, 2, 0, 0), "unsupported FDR format version 2"),
        (b"ZZ", "shorter than its 16-byte preamble (2 bytes)"),
    ],
    ids=["wrong-magic", "wrong-version", "short-garbage"],
)
def test_bad_preamble_is_reported_and_nothing_is_read(tmp_path: Path, head: bytes, detail: str) -> None:
    path = tmp_path / "segment-0000.fdr"
    data, _ = build_segment_bytes([_header().to_body(), fmt.encode_json_body(_event(0))], head=head)
    path.write_bytes(data[: len(head)] if len(head) < fmt.PREAMBLE_SIZE else data)

    scan = scan_segment(path)

    assert scan.entries == []
    assert scan.header is None
    assert len(scan.issues) == 1
    assert scan.issues[0].problem is Problem.BAD_PREAMBLE
    assert scan.issues[0].offset == 0
    assert detail in scan.issues[0].detail


def test_a_garbage_file_named_like_a_segment_is_a_bad_preamble(tmp_path: Path) -> None:
    path = tmp_path / "segment-0000.fdr"
    path.write_bytes(bytes(range(256)) * 8)

    scan = scan_segment(path)

    assert [(i.problem, i.offset) for i in scan.issues] == [(Problem.BAD_PREAMBLE, 0)]
    assert scan.entries == []


def test_garbage_after_a_good_preamble_is_skipped_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "segment-0000.fdr"
    garbage = bytes((i * 73 + 41) % 256 for i in range(2048))
    path.write_bytes(fmt.preamble() + garbage)

    scan = scan_segment(path)

    assert scan.entries == []
    assert scan.issues != []
    assert scan.issues[0].offset == fmt.PREAMBLE_SIZE
    assert all(fmt.PREAMBLE_SIZE <= i.offset < len(garbage) + fmt.PREAMBLE_SIZE for i in scan.issues)
    assert scan.good_bytes == fmt.PREAMBLE_SIZE


def test_a_corrupted_byte_mid_file_is_a_crc_issue_at_its_frame_and_reading_resyncs(tmp_path: Path) -> None:
    flight = FlightBuilder("crc")
    seg = flight.segment()
    events = [seg.event(f"e{i}", {"i": i}) for i in range(5)]
    built = flight.write(tmp_path)
    segment = built.segments[0]
    victim = segment.frames[3]  # the third event
    data = bytearray(segment.data)
    data[victim.offset + 10] ^= 0x40  # inside the JSON body
    segment.path.write_bytes(data)

    scan = scan_segment(segment.path)

    assert len(scan.issues) == 1
    issue = scan.issues[0]
    assert (issue.problem, issue.offset, issue.skipped_bytes) == (Problem.CRC_MISMATCH, victim.offset, victim.size)
    assert issue.detail == f"skipped {victim.size} bytes"
    assert scan.entries == [events[0], events[1], events[3], events[4]]
    assert scan.good_bytes == len(data)


def test_a_corrupted_crc_field_in_the_last_frame_skips_to_the_end(tmp_path: Path) -> None:
    flight = FlightBuilder("crc-last")
    seg = flight.segment()
    first = seg.event("first")
    seg.event("last")
    built = flight.write(tmp_path)
    segment = built.segments[0]
    data = bytearray(segment.data)
    data[-1] ^= 0xFF
    segment.path.write_bytes(data)

    scan = scan_segment(segment.path)

    last = segment.frames[-1]
    assert [(i.problem, i.offset, i.skipped_bytes) for i in scan.issues] == [
        (Problem.CRC_MISMATCH, last.offset, last.size)
    ]
    assert scan.entries == [first]
    assert scan.good_bytes == last.offset


def test_an_oversized_length_field_is_bad_length_and_reading_resyncs(tmp_path: Path) -> None:
    flight = FlightBuilder("bad-length")
    seg = flight.segment()
    events = [seg.event(f"e{i}") for i in range(3)]
    built = flight.write(tmp_path)
    segment = built.segments[0]
    victim = segment.frames[2]
    data = bytearray(segment.data)
    data[victim.offset : victim.offset + 4] = struct.pack("<I", fmt.MAX_BODY_BYTES + 1)
    segment.path.write_bytes(data)

    scan = scan_segment(segment.path)

    assert [(i.problem, i.offset, i.skipped_bytes) for i in scan.issues] == [
        (Problem.BAD_LENGTH, victim.offset, victim.size)
    ]
    assert scan.entries == [events[0], events[2]]


def test_a_corrupted_length_pointing_past_the_end_mid_file_still_resyncs(tmp_path: Path) -> None:
    flight = FlightBuilder("length-past-eof")
    seg = flight.segment()
    events = [seg.event(f"e{i}") for i in range(5)]
    built = flight.write(tmp_path)
    segment = built.segments[0]
    victim = segment.frames[2]
    data = bytearray(segment.data)
    data[victim.offset + 3] = 0x01  # length now ~16 MiB: under MAX_BODY_BYTES, past the end of the file
    segment.path.write_bytes(data)

    scan = scan_segment(segment.path)

    # Whole frames follow, so this is damage, not a cut write: the reader must not stop here.
    assert [(i.problem, i.offset, i.skipped_bytes) for i in scan.issues] == [
        (Problem.BAD_LENGTH, victim.offset, victim.size)
    ]
    assert scan.entries == [events[0], events[2], events[3], events[4]]


def test_resync_finds_a_smallest_frame_in_the_last_possible_place(tmp_path: Path) -> None:
    path = tmp_path / "segment-0000.fdr"
    data, spans = build_segment_bytes([_header().to_body(), fmt.encode_json_body(_event(0)), fmt.TAG_JSON])
    damaged = bytearray(data)
    damaged[spans[1][0] + 6] ^= 0x01
    path.write_bytes(damaged)

    scan = scan_segment(path)

    # The 9-byte frame (a bare JSON tag) ends the file: resync must still try its offset.
    assert spans[2] == (len(data) - 9, len(data))
    assert [(i.problem, i.offset, i.skipped_bytes) for i in scan.issues] == [
        (Problem.CRC_MISMATCH, spans[1][0], spans[1][1] - spans[1][0]),
        (Problem.BAD_BODY, spans[2][0], 0),
    ]
    assert scan.good_bytes == len(data)


def test_an_unknown_frame_tag_is_a_bad_body_and_later_frames_are_read(tmp_path: Path) -> None:
    path = tmp_path / "segment-0000.fdr"
    data, spans = build_segment_bytes([_header().to_body(), b"Znew frame type", fmt.encode_json_body(_event(0))])
    path.write_bytes(data)

    scan = scan_segment(path)

    assert [(i.problem, i.offset) for i in scan.issues] == [(Problem.BAD_BODY, spans[1][0])]
    assert "unknown frame tag b'Z'" in scan.issues[0].detail
    assert scan.entries == [_event(0)]


def test_unknown_kinds_and_fields_are_preserved(tmp_path: Path) -> None:
    newer_record = {
        "schema_version": 2,
        "mono_ns": 11,
        "wall_ns": 22,
        "producer_id": "future_node",
        "kind": "quantum_fix",
        "payload": {"qubits": 7, "nested": {"a": [1, 2.5, None]}},
        "trace_id": "abc123",
    }
    known_record = {**newer_record, "schema_version": 1, "kind": "event", "payload": {"name": "x", "data": {}, "z": 1}}
    header_doc = orjson.loads(_header().to_body()[1:]) | {"compression": "none"}
    path = tmp_path / "segment-0000.fdr"
    bodies = [fmt.TAG_HEADER + orjson.dumps(header_doc)]
    bodies += [fmt.TAG_JSON + orjson.dumps(newer_record), fmt.TAG_JSON + orjson.dumps(known_record)]
    data, _ = build_segment_bytes(bodies)
    path.write_bytes(data)

    scan = scan_segment(path)

    assert scan.issues == []
    assert scan.header is not None
    assert scan.header.extra == {"compression": "none"}
    future, known = scan.entries
    assert isinstance(future, Record)
    assert isinstance(known, Record)
    assert (future.kind, future.schema_version, future.producer_id) == ("quantum_fix", 2, "future_node")
    assert future.payload == {"qubits": 7, "nested": {"a": [1, 2.5, None]}}
    assert future.extra == {"trace_id": "abc123"}
    assert known.payload["z"] == 1
    # Writing a record back keeps what this version does not understand.
    assert orjson.loads(future.to_json()) == newer_record
    assert orjson.loads(known.to_json()) == known_record


def test_segments_are_read_in_index_order_and_other_files_ignored(tmp_path: Path) -> None:
    for index in (10, 2, 0):
        data, _ = build_segment_bytes([_header(index).to_body(), fmt.encode_json_body(_event(index))])
        (tmp_path / fmt.segment_name(index)).write_bytes(data)
    (tmp_path / "segment-0001.fdr.tmp").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a segment")
    (tmp_path / "segment-0003.fdr").mkdir()

    assert [p.name for p in segment_paths(tmp_path)] == ["segment-0000.fdr", "segment-0002.fdr", "segment-0010.fdr"]
    scan = scan_flight(tmp_path)
    assert list(scan.entries()) == [_event(0), _event(2), _event(10)]


def test_scan_flight_of_a_missing_directory_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_flight(tmp_path / "nope")
