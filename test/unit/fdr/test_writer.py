"""The segment writer: lifecycle, footer truth, rotation, flight cap, lock, rate cap, resume."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from recorder_helpers import (
    IMU,
    cdr,
    config,
    flight_bytes,
    kinds,
    open_recorder,
    overrun_sum,
    records,
    scan_flight,
    seq_of,
)

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.config import QueueConfig
from gps_denied_onboard.fdr.errors import FdrConfigError, FlightLockedError, FlightStateError
from gps_denied_onboard.fdr.reader import scan_segment
from gps_denied_onboard.fdr.records import RosMessage
from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder


def test_footer_tells_the_truth_about_the_flight(tmp_path: Path) -> None:
    with open_recorder(config(tmp_path)) as recorder:
        imu, events = recorder.client.producer("/imu/data"), recorder.client.producer("estimator")
        for seq in range(500):
            imu.ros_message(*IMU, cdr(seq))
            if seq % 50 == 0:
                events.record("event", {"name": "source_change", "seq": seq})
        footer = recorder.close_flight()
        flight_dir = recorder.flight_dir
    assert flight_dir is not None
    scan = scan_flight(flight_dir)
    assert scan.issues == []
    assert footer.written
    assert footer.clean_shutdown
    entries = list(scan.entries())
    assert footer.records_written == len(entries) - 1  # everything but the footer itself
    assert footer.bytes_written == flight_bytes(flight_dir)  # self-inclusive, to the byte
    assert footer.records_dropped_overrun == 0
    assert scan.footer is not None
    assert scan.footer.payload["records_written"] == footer.records_written
    header = records(scan, "flight_header")[0]
    assert header.payload["config"] == {"test": True}
    assert header.payload["software_version"] == "1.2.3"
    assert [seq_of(m) for m in entries if isinstance(m, RosMessage)] == list(range(500))
    assert kinds(scan)["event"] == 10


def test_cdr_bytes_are_stored_byte_identical(tmp_path: Path) -> None:
    payloads = [bytes([i % 256]) * (i * 37 % 5000 + 1) for i in range(200)]
    with open_recorder(config(tmp_path)) as recorder:
        producer = recorder.client.producer("/camera/image_raw")
        for data in payloads:
            producer.ros_message("/camera/image_raw", "sensor_msgs/msg/Image", data)
        recorder.close_flight()
        assert recorder.flight_dir is not None
        scan = scan_flight(recorder.flight_dir)
    assert [m.cdr for m in scan.entries() if isinstance(m, RosMessage)] == payloads


def test_lifecycle_errors_are_typed(tmp_path: Path) -> None:
    recorder = FlightRecorder(config(tmp_path))
    with pytest.raises(FlightStateError, match="without open_flight"):
        recorder.close_flight()
    recorder.open_flight(FlightHeader("f-1"))
    with pytest.raises(FlightStateError, match="still open"):
        recorder.open_flight(FlightHeader("f-2"))
    with pytest.raises(FlightStateError, match="open flight is 'f-1'"):
        recorder.close_flight("f-2")
    first = recorder.close_flight("f-1")
    assert recorder.close_flight("f-1") is first  # idempotent


@pytest.mark.parametrize("bad", ["", "../escape", ".hidden", "a/b", "x" * 65])
def test_unsafe_flight_ids_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(FdrConfigError, match="flight id"):
        FlightRecorder(config(tmp_path)).open_flight(FlightHeader(bad))


def test_segments_rotate_and_each_reads_alone(tmp_path: Path) -> None:
    cfg = config(tmp_path, segment_size_bytes=64 * 1024)
    with open_recorder(cfg) as recorder:
        producer = recorder.client.producer("/imu/data")
        for seq in range(3000):
            producer.ros_message(*IMU, cdr(seq, 200))
        recorder.close_flight()
        assert recorder.flight_dir is not None
        flight_dir = recorder.flight_dir
    paths = sorted(flight_dir.glob("segment-*.fdr"))
    assert len(paths) >= 8
    seqs: list[int] = []
    for path in paths:
        assert path.stat().st_size <= cfg.segment_size_bytes
        alone = scan_segment(path)  # no channel table from earlier segments
        assert alone.issues == []
        assert alone.header is not None
        assert alone.header.segment_index == fmt.segment_index(path.name)
        seqs += [seq_of(m) for m in alone.entries if isinstance(m, RosMessage)]
    assert seqs == list(range(3000))


def test_flight_cap_deletes_oldest_closed_segments_and_says_so(tmp_path: Path) -> None:
    cfg = config(tmp_path, segment_size_bytes=64 * 1024, flight_cap_bytes=4 * 64 * 1024)
    with open_recorder(cfg) as recorder:
        producer = recorder.client.producer("/imu/data")
        for seq in range(6000):
            producer.ros_message(*IMU, cdr(seq, 200))
        footer = recorder.close_flight()
        assert recorder.flight_dir is not None
        flight_dir = recorder.flight_dir
    scan = scan_flight(flight_dir)
    rollovers = records(scan, "segment_rollover")
    remaining = sorted(p.name for p in flight_dir.glob("segment-*.fdr"))
    first_kept = fmt.segment_index(remaining[0])
    assert first_kept == footer.rollover_count > 0, "oldest first, never the open one"
    latest = rollovers[-1].payload
    assert (latest["rollover_count"], latest["oldest_kept_segment"]) == (footer.rollover_count, first_kept)
    assert {r.payload["deleted_segment"] for r in rollovers}.isdisjoint(remaining)
    assert flight_bytes(flight_dir) <= cfg.flight_cap_bytes + cfg.segment_size_bytes
    seqs = [seq_of(m) for m in scan.entries() if isinstance(m, RosMessage)]
    assert seqs == list(range(seqs[0], 6000)), "what is kept is the newest, contiguous"


def test_cap_smaller_than_a_segment_alerts_and_keeps_recording(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alerts: list[str] = []
    cfg = config(tmp_path, segment_size_bytes=64 * 1024, flight_cap_bytes=1000)
    with caplog.at_level(logging.ERROR), open_recorder(cfg, alert=alerts.append) as recorder:
        producer = recorder.client.producer("/imu/data")
        for seq in range(2000):
            producer.ros_message(*IMU, cdr(seq, 200))
        footer = recorder.close_flight()
    assert len(alerts) == 1
    assert "flight_cap_bytes" in alerts[0]
    assert "misconfiguration" in caplog.text
    assert footer.written
    assert footer.rollover_count > 0


def test_a_second_writer_on_the_same_root_gets_a_typed_error(tmp_path: Path) -> None:
    with (
        open_recorder(config(tmp_path), "flight-a"),
        pytest.raises(FlightLockedError, match=r"locked by another recorder \(pid \d+\)"),
    ):
        FlightRecorder(config(tmp_path)).open_flight(FlightHeader("flight-b"))
    with open_recorder(config(tmp_path), "flight-b") as recorder:  # released at close
        assert recorder.flight_dir == tmp_path / "flight-b"


def test_restarted_recorder_appends_after_existing_segments(tmp_path: Path) -> None:
    with open_recorder(config(tmp_path), "f") as recorder:
        recorder.client.producer("p").record("event", {"n": 1})
        recorder.close_flight()
    first = (tmp_path / "f" / "segment-0000.fdr").read_bytes()
    with open_recorder(config(tmp_path), "f") as recorder:
        recorder.client.producer("p").record("event", {"n": 2})
        recorder.close_flight()
    assert (tmp_path / "f" / "segment-0000.fdr").read_bytes() == first
    scan = scan_flight(tmp_path / "f")
    headers = records(scan, "flight_header")
    assert [h.payload["resumed_after_segment"] for h in headers] == [None, 0]
    assert [r.payload["n"] for r in records(scan, "event")] == [1, 2]


def test_thumbnails_are_rate_capped_and_the_excess_is_counted(tmp_path: Path) -> None:
    with open_recorder(config(tmp_path)) as recorder:
        producer = recorder.client.producer("inference")
        for i in range(5):
            producer.record("failed_tile_thumbnail", {"tile_id": f"t{i}", "reason": "low score"})
        recorder.close_flight()
        assert recorder.flight_dir is not None
        scan = scan_flight(recorder.flight_dir)
    assert [r.payload["tile_id"] for r in records(scan, "failed_tile_thumbnail")] == ["t0"]
    capped = [r for r in records(scan, "overrun") if r.payload["reason"] == "rate_cap"]
    assert sum(r.payload["dropped_count"] for r in capped) == 4
    assert capped[0].payload["origin_producer_id"] == "inference"


def test_unserialisable_payload_is_kept_as_text_not_lost(tmp_path: Path) -> None:
    with open_recorder(config(tmp_path)) as recorder:
        recorder.client.producer("p").record("event", {"when": object()})
        recorder.close_flight()
        assert recorder.flight_dir is not None
        scan = scan_flight(recorder.flight_dir)
    (event,) = records(scan, "event")
    assert "unserialisable" in event.payload
    assert "object object" in event.payload["unserialisable"]


def test_overload_loss_equals_overrun_accounting(tmp_path: Path) -> None:
    cfg = config(tmp_path, queues=QueueConfig(queue_size=64), drain_interval_s=0.05)
    pushed = 20_000
    with open_recorder(cfg) as recorder:
        producer = recorder.client.producer("/imu/data")
        for seq in range(pushed):
            producer.ros_message(*IMU, cdr(seq))
        footer = recorder.close_flight()
        assert recorder.flight_dir is not None
        scan = scan_flight(recorder.flight_dir)
    written = sum(1 for e in scan.entries() if isinstance(e, RosMessage))
    assert written + overrun_sum(scan, "/imu/data") == pushed
    assert footer.records_dropped_overrun == overrun_sum(scan) == pushed - written > 0
    seqs = [seq_of(m) for m in scan.entries() if isinstance(m, RosMessage)]
    assert seqs == sorted(seqs), "drop-oldest keeps order"


def test_status_snapshot_counts_per_producer(tmp_path: Path) -> None:
    with open_recorder(config(tmp_path)) as recorder:
        producer = recorder.client.producer("/imu/data")
        for seq in range(100):
            producer.ros_message(*IMU, cdr(seq))
        recorder.close_flight()
        status = recorder.status()
    assert status.flight_id == "flight-1"
    assert status.producers["/imu/data"].records == 100
    assert status.producers["/imu/data"].bytes > 100 * 64
    assert not status.degraded


def test_one_copy_ros_frame_encoding_equals_the_generic_one() -> None:
    cdr_bytes = cdr(7, 5000)
    assert fmt.encode_ros_frame(3, 11, 22, cdr_bytes) == fmt.encode_frame(fmt.encode_ros_body(3, 11, 22, cdr_bytes))


def test_a_message_larger_than_any_frame_is_counted_not_written(tmp_path: Path) -> None:
    with open_recorder(config(tmp_path)) as recorder:
        producer = recorder.client.producer("/camera/image_raw")
        producer.ros_message("/camera/image_raw", "sensor_msgs/msg/Image", bytes(fmt.MAX_BODY_BYTES))
        producer.ros_message("/camera/image_raw", "sensor_msgs/msg/Image", cdr(1))
        footer = recorder.close_flight()
        assert recorder.flight_dir is not None
        scan = scan_flight(recorder.flight_dir)
    assert scan.issues == []
    too_large = [r for r in records(scan, "overrun") if r.payload["reason"] == "too_large"]
    assert [r.payload["dropped_count"] for r in too_large] == [1]
    assert [seq_of(m) for m in scan.entries() if isinstance(m, RosMessage)] == [1]
    assert footer.records_dropped_overrun == 1
