"""Fault injection: a full real filesystem (tmpfs), injected EIO, and a writer killed with SIGKILL."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from recorder_helpers import IMU, cdr, config, open_recorder, overrun_sum, records, scan_flight, seq_of

from conftest import mounted_tmpfs
from gps_denied_onboard.fdr.fileops import OS_FILE_OPS
from gps_denied_onboard.fdr.reader import Problem
from gps_denied_onboard.fdr.records import RosMessage


def wait_for(predicate: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return bool(predicate())  # type: ignore[operator]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs: writes to it fail with ENOSPC for real (the injected-EIO test covers the rest)."""
    with mounted_tmpfs(tmp_path / "small_fs", "size=1m") as mount_point:
        yield mount_point


def test_full_disk_degrades_counts_and_recovers(small_fs: Path) -> None:
    alerts: list[str] = []
    filler = small_fs / "filler"
    filler.write_bytes(bytes(700 * 1024))  # leave ~300 KiB for the flight
    pushed = 0
    with open_recorder(config(small_fs, segment_size_bytes=64 * 1024), alert=alerts.append) as recorder:
        producer = recorder.client.producer("/imu/data")
        while not recorder.degraded and pushed < 50_000:
            producer.ros_message(*IMU, cdr(pushed, 1000))
            pushed += 1
            if pushed % 100 == 0:
                time.sleep(0.005)
        assert recorder.degraded, "the disk never filled"
        for _ in range(200):  # still recording while degraded: counted, not written
            producer.ros_message(*IMU, cdr(pushed, 1000))
            pushed += 1
        assert wait_for(lambda: recorder.client.pending() == 0)
        filler.unlink()  # space returns
        assert wait_for(lambda: not recorder.degraded), "the writer did not recover"
        footer = recorder.close_flight()
        assert recorder.flight_dir is not None
        scan = scan_flight(recorder.flight_dir)
    assert len(alerts) == 1
    assert "ENOSPC" in alerts[0]
    assert [i.problem for i in scan.issues] == [], "a failed write must not leave a corrupt frame"
    assert records(scan, "writer_degraded")[0].payload["errno"] == errno.ENOSPC
    written = [seq_of(m) for m in scan.entries() if isinstance(m, RosMessage)]
    assert len(written) + overrun_sum(scan, "/imu/data") == pushed
    assert footer.written
    assert footer.records_dropped_overrun == overrun_sum(scan)


class FlakyOps:
    """Real file operations, except that writes fail with EIO while ``failing`` is set."""

    def __init__(self) -> None:
        self.failing = False
        self.fsyncs = 0

    def create(self, path: Path) -> int:
        if self.failing:
            raise OSError(errno.EIO, "injected EIO", str(path))
        return OS_FILE_OPS.create(path)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        if self.failing:
            # A partial write before the error, as a dying disk does.
            os.write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.EIO, "injected EIO")
        return OS_FILE_OPS.write(fd, data)

    def fsync(self, fd: int) -> None:
        self.fsyncs += 1
        if self.failing:
            raise OSError(errno.EIO, "injected EIO")
        OS_FILE_OPS.fsync(fd)

    def truncate(self, fd: int, length: int) -> None:
        OS_FILE_OPS.truncate(fd, length)

    def close(self, fd: int) -> None:
        OS_FILE_OPS.close(fd)


def test_injected_eio_truncates_the_torn_frame_and_accounts_every_loss(tmp_path: Path) -> None:
    ops = FlakyOps()
    alerts: list[str] = []
    pushed = 0
    with open_recorder(config(tmp_path), file_ops=ops, alert=alerts.append) as recorder:
        producer = recorder.client.producer("/imu/data")

        def push(n: int) -> None:
            nonlocal pushed
            for _ in range(n):
                producer.ros_message(*IMU, cdr(pushed))
                pushed += 1

        push(300)
        assert wait_for(lambda: recorder.client.pending() == 0)
        ops.failing = True
        push(300)
        assert wait_for(lambda: recorder.degraded)
        push(300)
        assert wait_for(lambda: recorder.client.pending() == 0)
        ops.failing = False
        assert wait_for(lambda: not recorder.degraded)
        push(300)
        footer = recorder.close_flight()
        assert recorder.flight_dir is not None
        scan = scan_flight(recorder.flight_dir)
    assert len(alerts) == 1
    assert "EIO" in alerts[0]
    assert scan.issues == []
    written = [seq_of(m) for m in scan.entries() if isinstance(m, RosMessage)]
    lost = overrun_sum(scan, "/imu/data")
    assert len(written) + lost == pushed == 1200
    assert lost >= 300
    assert written[:300] == list(range(300))
    assert written[-300:] == list(range(900, 1200))
    recovered = records(scan, "writer_recovered")[0]
    assert recovered.payload["unwritten_records"] == lost
    assert footer.written


def test_fsync_happens_on_the_interval_rotation_and_close(tmp_path: Path) -> None:
    ops = FlakyOps()
    with open_recorder(config(tmp_path, fsync_interval_s=0.05), file_ops=ops) as recorder:
        recorder.client.producer("p").record("event", {"n": 1})
        before = ops.fsyncs
        assert wait_for(lambda: ops.fsyncs > before), "no fsync within the interval while idle with data"
        recorder.close_flight()
    assert ops.fsyncs >= before + 2  # interval + close


WRITER_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from gps_denied_onboard.fdr.config import FdrConfig
    from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder
    root = Path(sys.argv[1])
    recorder = FlightRecorder(FdrConfig(flight_root=root, segment_size_bytes=64 * 1024,
                                        drain_interval_s=0.002, fsync_interval_s=0.05))
    recorder.open_flight(FlightHeader("crash"))
    producer = recorder.client.producer("/imu/data")
    seq = 0
    while True:
        producer.ros_message("/imu/data", "sensor_msgs/msg/Imu",
                             b"\\x00\\x01\\x00\\x00" + seq.to_bytes(8, "little") + bytes(300))
        seq += 1
        if seq == 2000:
            print("RUNNING", flush=True)
        if seq % 50 == 0:
            time.sleep(0.001)
""")


def test_sigkill_mid_flight_loses_nothing_before_the_cut(tmp_path: Path) -> None:
    root = tmp_path / f"root-{uuid.uuid4().hex[:6]}"
    child = subprocess.Popen([sys.executable, "-c", WRITER_CHILD, str(root)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "RUNNING"
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    scan = scan_flight(root / "crash")
    seqs = [seq_of(m) for m in scan.entries() if isinstance(m, RosMessage)]
    assert len(seqs) > 1000
    assert seqs == list(range(len(seqs))), "every record up to the cut, in order, no hole"
    assert scan.footer is None, "no footer: the flight was not closed cleanly"
    assert all(i.problem is Problem.TORN_TAIL for i in scan.issues), scan.issues


class WritesFail(FlakyOps):
    """Files can be created, but every write fails: a full disk at take-off."""

    def write(self, fd: int, data: bytes | memoryview) -> int:  # noqa: ARG002 - the FileOps signature
        raise OSError(errno.ENOSPC, "injected ENOSPC")


def test_a_flight_whose_header_cannot_be_written_does_not_start(tmp_path: Path) -> None:
    from gps_denied_onboard.fdr.errors import FlightOpenError
    from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder

    recorder = FlightRecorder(config(tmp_path), file_ops=WritesFail())
    with pytest.raises(FlightOpenError, match=r"flight 'f-full'.*ENOSPC"):
        recorder.open_flight(FlightHeader("f-full"))
    # The lock is released: another recorder (on a working disk) can take the root.
    with open_recorder(config(tmp_path), "f-next") as working:
        assert working.flight_dir == tmp_path / "f-next"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: an unwritable directory cannot be made")
def test_an_unwritable_root_is_a_flight_open_error(tmp_path: Path) -> None:
    from gps_denied_onboard.fdr.errors import FlightOpenError
    from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder

    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    with pytest.raises(FlightOpenError, match="cannot lock flight root"):
        FlightRecorder(config(locked / "flights")).open_flight(FlightHeader("f"))


def test_a_read_only_filesystem_is_a_flight_open_error(tmp_path: Path) -> None:
    """Even root cannot write a read-only mount: the real EROFS path, where mounting is allowed."""
    from gps_denied_onboard.fdr.errors import FlightOpenError
    from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder

    with (
        mounted_tmpfs(tmp_path / "ro_fs", "ro,size=64k") as mount_point,
        pytest.raises(FlightOpenError, match="Read-only file system"),
    ):
        FlightRecorder(config(mount_point / "flights")).open_flight(FlightHeader("f"))
