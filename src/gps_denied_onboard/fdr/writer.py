"""The segment writer: one thread drains every producer ring into crash-safe segment files.

Guarantees, in order of importance:
- A frame is either complete with a valid CRC or detectably torn; a crash never corrupts
  what was already written (append-only, O_EXCL segments, truncate-back after a failed write).
- Loss is always counted: ring overruns, rate-capped kinds and records that could not be
  written while the disk failed all end up in ``overrun`` records.
- Data older than ``fsync_interval_s`` (plus one drain period) survives a power loss.
- A full disk or an I/O error degrades the writer (it keeps draining and counting) instead of
  stopping it; it recovers in a new segment when writes work again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.client import Entry, FdrClient, PendingRecord
from gps_denied_onboard.fdr.config import FdrConfig
from gps_denied_onboard.fdr.errors import FlightLockedError, FlightOpenError, FlightStateError, RecordSchemaError
from gps_denied_onboard.fdr.fileops import OS_FILE_OPS, FileOps, fsync_dir
from gps_denied_onboard.fdr.kinds import KINDS, Kind
from gps_denied_onboard.fdr.records import Record, RosMessage

logger = logging.getLogger(__name__)

WRITER_PRODUCER_ID = "fdr"  # producer id of the writer's own bookkeeping records
LOCK_FILE = ".fdr.lock"
ERROR_LOG_PERIOD_NS = 1_000_000_000
_CHUNK_BYTES = 1 << 20  # small frames are joined into writes of about this size
_DIRECT_WRITE_BYTES = 256 << 10  # frames at least this large are written without joining


@dataclass(frozen=True)
class FlightHeader:
    """What ``open_flight`` records about the flight before anything else."""

    flight_id: str
    config: Mapping[str, Any] = field(default_factory=dict)
    software_version: str = "0+unknown"


@dataclass(frozen=True)
class FlightFooter:
    """What ``close_flight`` recorded (``written`` is False if the disk refused the footer)."""

    flight_id: str
    records_written: int
    records_dropped_overrun: int
    bytes_written: int
    rollover_count: int
    clean_shutdown: bool
    written: bool


@dataclass(frozen=True)
class ProducerCounters:
    """Per-producer figures for status displays."""

    records: int
    dropped: int
    bytes: int


@dataclass(frozen=True)
class RecorderStatus:
    """A snapshot of the writer for /fdr/status and diagnostics."""

    flight_id: str
    flight_dir: str
    records_written: int
    records_dropped: int
    bytes_written: int
    segment_index: int
    segment_path: str
    rollover_count: int
    degraded: bool
    degraded_reason: str
    pending: int
    producers: Mapping[str, ProducerCounters]


@dataclass(frozen=True)
class _Pending:
    """A frame waiting in the write buffer, with what it accounts for."""

    frame: bytes
    producer_id: str
    counts_as_record: bool
    overrun_origin: str | None = None  # set on overrun records: whose loss they count
    overrun_count: int = 0


RATE_CAPS_HZ: dict[str, float] = {
    spec.kind.value: spec.max_rate_hz for spec in KINDS.values() if spec.max_rate_hz is not None
}


class FlightRecorder:
    """Owns the flight root lock, the open segment and the writer thread."""

    def __init__(
        self,
        config: FdrConfig,
        client: FdrClient | None = None,
        *,
        alert: Callable[[str], None] | None = None,
        file_ops: FileOps = OS_FILE_OPS,
    ) -> None:
        self.config = config
        self.client = client or FdrClient(config.queues)
        self._alert = alert
        self._ops = file_ops
        self._own = self.client.producer(WRITER_PRODUCER_ID)  # registers the id; bookkeeping is written directly
        self._stats_lock = threading.Lock()
        self._lock_fd: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._flight_id: str | None = None
        self._flight_dir: Path | None = None
        self._footer: FlightFooter | None = None
        self._reset_flight_state()

    # ----------------------------------------------------------------- lifecycle
    def _reset_flight_state(self) -> None:
        self._seg_index = -1
        self._seg_fd: int | None = None
        self._seg_path: Path | None = None
        self._seg_bytes = 0
        self._header_bytes = 0
        self._seg_sizes: dict[int, int] = {}  # closed and open segments of this flight that exist on disk
        self._buffer: list[_Pending] = []
        self._buffer_bytes = 0
        self._channels: dict[tuple[str, str], fmt.Channel] = {}
        self._records_written = 0
        self._bytes_written = 0
        self._dropped_written = 0  # sum of dropped_count in overrun records written
        self._rollovers = 0
        self._per_producer: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # records, dropped, bytes
        self._last_fsync_ns = time.monotonic_ns()
        self._rate_last_ns: dict[str, int] = {}
        self._rate_dropped: dict[str, int] = defaultdict(int)
        self._degraded_since_ns: int | None = None
        self._degraded_error: OSError | None = None
        self._degraded_segment = ""
        self._unwritten: dict[str, int] = defaultdict(int)  # origin producer -> records lost to failed writes
        self._last_retry_ns = 0
        self._last_error_log_ns = -ERROR_LOG_PERIOD_NS

    @property
    def degraded(self) -> bool:
        """Writes are failing; records are being counted, not written."""
        return self._degraded_since_ns is not None

    @property
    def flight_dir(self) -> Path | None:
        """Directory of the open (or last) flight."""
        return self._flight_dir

    def open_flight(self, header: FlightHeader) -> Path:
        """Lock the flight root, create the flight directory and its first segment, start writing."""
        if self._flight_id is not None and self._footer is None:
            raise FlightStateError(f"flight {self._flight_id!r} is still open; close it before opening another")
        flight_id = fmt.check_flight_id(header.flight_id)
        try:
            self._acquire_root_lock()
        except OSError as exc:  # unwritable or missing root: FlightLockedError is not an OSError
            raise FlightOpenError(f"cannot lock flight root {self.config.flight_root}: {exc}") from exc
        try:
            flight_dir = self.config.flight_root / flight_id
            flight_dir.mkdir(parents=True, exist_ok=True)
            self._reset_flight_state()
            self._flight_id, self._flight_dir, self._footer = flight_id, flight_dir, None
            existing = [i for i in (fmt.segment_index(p.name) for p in flight_dir.iterdir()) if i is not None]
            # A recorder restarted mid-flight continues after the segments already there, never over them.
            self._seg_index = max(existing, default=-1)
            for index in existing:
                self._seg_sizes[index] = (flight_dir / fmt.segment_name(index)).stat().st_size
            self._open_next_segment()
            payload = {
                "flight_id": flight_id,
                "start_wall_ns": time.time_ns(),
                "start_mono_ns": time.monotonic_ns(),
                "config": dict(header.config),
                "software_version": header.software_version,
                "resumed_after_segment": max(existing) if existing else None,
            }
            self._queue_own(Kind.FLIGHT_HEADER, payload)
            self._flush()
            self._fsync()
            if self.degraded:  # a recorder that cannot write its header must not let the flight start
                assert self._degraded_error is not None
                raise FlightOpenError(f"cannot write the header of flight {flight_id!r}: {self._degraded_error}")
        except BaseException as exc:
            self._close_segment_quietly()
            self._release_root_lock()
            self._flight_id = None
            if isinstance(exc, OSError):
                raise FlightOpenError(f"cannot open flight {flight_id!r} in {self.config.flight_root}: {exc}") from exc
            raise
        if self.config.cap_below_segment:
            self._raise_alert(
                f"fdr.flight_cap_bytes ({self.config.flight_cap_bytes}) < fdr.segment_size_bytes "
                f"({self.config.segment_size_bytes}): only the open segment can be kept"
            )
            logger.error(
                "FDR misconfiguration: flight cap %d B is smaller than one segment (%d B)",
                self.config.flight_cap_bytes,
                self.config.segment_size_bytes,
            )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"fdr-writer-{flight_id}", daemon=True)
        self._thread.start()
        return flight_dir

    def close_flight(self, flight_id: str | None = None) -> FlightFooter:
        """Drain every producer, write the footer, fsync and unlock. Idempotent for the same flight."""
        if self._flight_id is None:
            raise FlightStateError("close_flight() without open_flight()")
        if flight_id is not None and flight_id != self._flight_id:
            raise FlightStateError(f"close_flight({flight_id!r}) but the open flight is {self._flight_id!r}")
        if self._footer is not None:
            return self._footer
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        footer = self._finish()
        self._footer = footer
        return footer

    def __enter__(self) -> FlightRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._flight_id is not None and self._footer is None:
            self.close_flight()

    # ----------------------------------------------------------------- root lock
    def _acquire_root_lock(self) -> None:
        root = self.config.flight_root
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FlightLockedError(
                f"flight root {root} is locked by another recorder (pid {holder}); one recorder per root"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _release_root_lock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ----------------------------------------------------------------- writer thread
    def _run(self) -> None:
        backlog = False
        # Sleep only when the rings were emptied: with a backlog, drain again at once.
        while not self._stop.wait(0 if backlog else self.config.drain_interval_s):
            try:
                backlog = self._cycle()
            except Exception:  # noqa: BLE001 - a bug must not silence the recorder: log it, keep draining
                backlog = False
                self._log_error("FDR writer cycle failed", exc_info=True)

    def _cycle(self) -> bool:
        """One drain of every ring, then a write (or, degraded, a count and maybe a retry).

        Returns whether records are still waiting (a ring gave a full batch)."""
        self._drain_all()
        backlog = self.client.pending() > 0
        if self._degraded_since_ns is not None:
            self._discard_buffer()
            self._maybe_recover()
            return backlog
        self._flush()
        if time.monotonic_ns() - self._last_fsync_ns >= self.config.fsync_interval_s * 1e9:
            self._fsync()
        return backlog

    def _drain_all(self) -> int:
        drained = 0
        for ring in self.client.rings():
            batch = ring.drain(self.config.batch_max_records)
            if batch.dropped:
                self._count_drop(ring.producer_id, batch.dropped)
                self._queue_overrun(ring.producer_id, batch.dropped, "ring_full")
            for item in batch.items:
                self._queue_entry(ring.producer_id, item)
            drained += len(batch.items)
        for origin, count in list(self._rate_dropped.items()):
            self._queue_overrun(origin, count, "rate_cap")
        self._rate_dropped.clear()
        return drained

    # ----------------------------------------------------------------- encoding
    def _queue_entry(self, producer_id: str, item: Entry) -> None:
        if isinstance(item, RosMessage):
            channel = self._channel_for(producer_id, item)
            try:
                frame = fmt.encode_ros_frame(channel.channel_id, item.mono_ns, item.wall_ns, bytes(item.cdr))
            except RecordSchemaError:  # larger than any frame may be: counted as lost, never written torn
                self._count_drop(producer_id, 1)
                self._queue_overrun(producer_id, 1, "too_large")
                return
            self._queue_frame(frame, producer_id, counts_as_record=True)
            return
        max_rate_hz = RATE_CAPS_HZ.get(item.kind)
        if max_rate_hz is not None:
            last = self._rate_last_ns.get(item.kind)
            if last is not None and item.mono_ns - last < 1e9 / max_rate_hz:
                self._rate_dropped[producer_id] += 1
                self._count_drop(producer_id, 1)
                return
            self._rate_last_ns[item.kind] = item.mono_ns
        self._queue_record(producer_id, item)

    def _queue_record(self, producer_id: str, item: PendingRecord) -> None:
        record = Record(item.mono_ns, item.wall_ns, producer_id, item.kind, item.payload)
        try:
            body = fmt.encode_json_body(record)
        except RecordSchemaError as exc:
            # Keep the fact that something was recorded, and why its content could not be.
            payload = {"unserialisable": repr(item.payload)[:2000], "error": str(exc)}
            body = fmt.encode_json_body(Record(item.mono_ns, item.wall_ns, producer_id, item.kind, payload))
        self._queue_body(body, producer_id, counts_as_record=True)

    def _queue_own(
        self, kind: Kind, payload: Mapping[str, Any], *, overrun_origin: str | None = None, overrun_count: int = 0
    ) -> None:
        record = Record(time.monotonic_ns(), time.time_ns(), WRITER_PRODUCER_ID, kind.value, payload)
        self._queue_body(
            fmt.encode_json_body(record),
            WRITER_PRODUCER_ID,
            counts_as_record=True,
            overrun_origin=overrun_origin,
            overrun_count=overrun_count,
        )

    def _queue_overrun(self, origin: str, count: int, reason: str) -> None:
        self._queue_own(
            Kind.OVERRUN,
            {"origin_producer_id": origin, "dropped_count": count, "reason": reason},
            overrun_origin=origin,
            overrun_count=count,
        )

    def _channel_for(self, producer_id: str, msg: RosMessage) -> fmt.Channel:
        key = (msg.topic, msg.msg_type)
        channel = self._channels.get(key)
        if channel is None:
            channel = fmt.Channel(len(self._channels), msg.topic, msg.msg_type, producer_id)
            self._channels[key] = channel
            self._queue_own(Kind.TOPIC, channel.to_dict())  # announced before its first message
        return channel

    def _queue_body(
        self,
        body: bytes,
        producer_id: str,
        *,
        counts_as_record: bool,
        overrun_origin: str | None = None,
        overrun_count: int = 0,
    ) -> None:
        self._queue_frame(
            fmt.encode_frame(body),
            producer_id,
            counts_as_record=counts_as_record,
            overrun_origin=overrun_origin,
            overrun_count=overrun_count,
        )

    def _queue_frame(
        self,
        frame: bytes,
        producer_id: str,
        *,
        counts_as_record: bool,
        overrun_origin: str | None = None,
        overrun_count: int = 0,
    ) -> None:
        used = self._seg_bytes + self._buffer_bytes
        if used + len(frame) > self.config.segment_size_bytes and used > self._header_bytes:
            self._flush()
            if self._degraded_since_ns is None:
                self._rotate()
        self._buffer.append(_Pending(frame, producer_id, counts_as_record, overrun_origin, overrun_count))
        self._buffer_bytes += len(frame)

    # ----------------------------------------------------------------- segments
    def _open_next_segment(self) -> None:
        assert self._flight_dir is not None
        assert self._flight_id is not None
        index = self._seg_index + 1
        path = self._flight_dir / fmt.segment_name(index)
        header = fmt.SegmentHeader(
            flight_id=self._flight_id,
            segment_index=index,
            created_wall_ns=time.time_ns(),
            created_mono_ns=time.monotonic_ns(),
            software_version=self.config.software_version,
            channels=tuple(self._channels.values()),
        )
        head = fmt.preamble() + fmt.encode_frame(header.to_body())
        fd = self._ops.create(path)
        try:
            self._write_all(fd, head)
        except OSError:
            self._ops.close(fd)
            path.unlink(missing_ok=True)  # a half-made segment would only confuse readers; retry makes it anew
            raise
        self._seg_index, self._seg_fd, self._seg_path = index, fd, path
        self._seg_bytes = self._header_bytes = len(head)
        self._seg_sizes[index] = len(head)
        self._bytes_written += len(head)

    def _rotate(self) -> None:
        """Close the full segment (fsync), open the next, then enforce the flight cap."""
        self._fsync()
        if self._degraded_since_ns is not None:
            return
        self._close_segment_quietly()
        try:
            self._open_next_segment()
        except OSError as exc:
            self._enter_degraded(exc)
            return
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        total = sum(self._seg_sizes.values())
        for index in sorted(self._seg_sizes):
            if total <= self.config.flight_cap_bytes or index == self._seg_index:
                break
            assert self._flight_dir is not None
            path = self._flight_dir / fmt.segment_name(index)
            size = self._seg_sizes.pop(index)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size
            self._rollovers += 1
            # Cumulative figures: the newest surviving rollover record explains every earlier gap,
            # including those whose own rollover records were deleted with their segment.
            self._queue_own(
                Kind.SEGMENT_ROLLOVER,
                {
                    "deleted_segment": path.name,
                    "deleted_bytes": size,
                    "flight_bytes": total,
                    "cap_bytes": self.config.flight_cap_bytes,
                    "rollover_count": self._rollovers,
                    "oldest_kept_segment": min(self._seg_sizes),
                },
            )
        if self._rollovers and self._flight_dir is not None:
            try:
                fsync_dir(self._flight_dir)  # make the deletions durable with the new segment
            except OSError as exc:
                self._log_error("FDR could not fsync %s: %s", self._flight_dir, exc)

    def _close_segment_quietly(self) -> None:
        if self._seg_fd is not None:
            with contextlib.suppress(OSError):
                self._ops.close(self._seg_fd)
            self._seg_fd = None

    # ----------------------------------------------------------------- writing
    def _write_frames(self, fd: int) -> int:
        """Write the buffer: small frames joined into ~1 MiB writes, large ones as they are
        (no second copy of an image). On failure the caller truncates back to the last good
        offset, so a partly written buffer is wholly undone and counted."""
        chunk: list[bytes] = []
        chunk_bytes = total = 0
        for pending in self._buffer:
            if len(pending.frame) >= _DIRECT_WRITE_BYTES:
                if chunk:
                    self._write_all(fd, b"".join(chunk))
                    chunk, chunk_bytes = [], 0
                self._write_all(fd, pending.frame)
            else:
                chunk.append(pending.frame)
                chunk_bytes += len(pending.frame)
                if chunk_bytes >= _CHUNK_BYTES:
                    self._write_all(fd, b"".join(chunk))
                    chunk, chunk_bytes = [], 0
            total += len(pending.frame)
        if chunk:
            self._write_all(fd, b"".join(chunk))
        return total

    def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._ops.write(fd, view)
            if written <= 0:
                raise OSError(errno.EIO, "write returned 0 bytes")
            view = view[written:]

    def _flush(self) -> None:
        if not self._buffer or self._seg_fd is None:
            if self._seg_fd is None and self._buffer:
                self._discard_buffer()
            return
        try:
            written = self._write_frames(self._seg_fd)
        except OSError as exc:
            self._enter_degraded(exc)
            self._discard_buffer()
            return
        with self._stats_lock:
            for pending in self._buffer:
                counters = self._per_producer[pending.producer_id]
                counters[0] += 1
                counters[2] += len(pending.frame)
                self._records_written += pending.counts_as_record
                self._dropped_written += pending.overrun_count
            self._seg_bytes += written
            self._seg_sizes[self._seg_index] = self._seg_bytes
            self._bytes_written += written
        self._buffer.clear()
        self._buffer_bytes = 0

    def _fsync(self) -> None:
        if self._seg_fd is None or self._degraded_since_ns is not None:
            return
        try:
            self._ops.fsync(self._seg_fd)
        except OSError as exc:
            self._enter_degraded(exc)
            return
        self._last_fsync_ns = time.monotonic_ns()

    # ----------------------------------------------------------------- degraded mode
    def _enter_degraded(self, exc: OSError) -> None:
        """Writes fail: cut the segment back to its last good frame and start counting losses."""
        if self._seg_fd is not None:
            with contextlib.suppress(OSError):  # if even this fails, the reader reports a torn tail
                self._ops.truncate(self._seg_fd, self._seg_bytes)
        if self._degraded_since_ns is None:
            self._degraded_since_ns = time.monotonic_ns()
            self._degraded_error = exc
            self._degraded_segment = self._seg_path.name if self._seg_path is not None else ""
            self._last_retry_ns = time.monotonic_ns()
            self._raise_alert(f"FDR writes failing ({errno.errorcode.get(exc.errno or 0, exc.errno)}): {exc}")
        self._log_error("FDR writer degraded: %s", exc)

    def _discard_buffer(self) -> None:
        """Drop the buffered frames, counting every producer record they held as lost."""
        for pending in self._buffer:
            if pending.overrun_origin is not None:
                # The overrun record is lost but its count must not be: carry it into the next one.
                self._unwritten[pending.overrun_origin] += pending.overrun_count
            elif pending.producer_id != WRITER_PRODUCER_ID:
                # Own bookkeeping (topic, rollover, header) is regenerated or re-recorded, not counted.
                self._unwritten[pending.producer_id] += 1
                self._count_drop(pending.producer_id, 1)
        self._buffer.clear()
        self._buffer_bytes = 0

    def _maybe_recover(self) -> None:
        now = time.monotonic_ns()
        if now - self._last_retry_ns < self.config.degraded_retry_s * 1e9:
            return
        self._last_retry_ns = now
        self._recover()

    def _recover(self) -> bool:
        """Try a fresh segment; on success record what happened and what was lost."""
        self._close_segment_quietly()
        try:
            self._open_next_segment()
        except OSError as exc:
            self._log_error("FDR writer still degraded: %s", exc)
            return False
        assert self._degraded_since_ns is not None
        assert self._degraded_error is not None
        error = self._degraded_error
        degraded_s = (time.monotonic_ns() - self._degraded_since_ns) / 1e9
        self._degraded_since_ns = None
        lost = dict(self._unwritten)
        self._unwritten.clear()
        self._queue_own(
            Kind.WRITER_DEGRADED,
            {"errno": error.errno, "error": str(error), "segment": self._degraded_segment},
        )
        self._queue_own(Kind.WRITER_RECOVERED, {"unwritten_records": sum(lost.values()), "degraded_s": degraded_s})
        for origin, count in lost.items():
            self._queue_overrun(origin, count, "write_failed")
        self._flush()
        if self.degraded:
            return False
        logger.warning(
            "FDR writer recovered after %.1f s; %d records could not be written", degraded_s, sum(lost.values())
        )
        self._enforce_cap()
        return True

    # ----------------------------------------------------------------- close
    def _finish(self) -> FlightFooter:
        """Final drain, footer, fsync, unlock. Runs after the writer thread has stopped."""
        assert self._flight_id is not None
        while True:
            drained = self._drain_all()
            if self._degraded_since_ns is not None:
                self._discard_buffer()
                if not self._recover():
                    if drained == 0 and self.client.pending() == 0:
                        break
                    continue
            self._flush()
            if drained == 0 and self.client.pending() == 0:
                break
        written = False
        if self._degraded_since_ns is None:
            footer = self._footer_record()
            self._queue_body(
                fmt.encode_json_body(self._footer_as_record(footer)), WRITER_PRODUCER_ID, counts_as_record=False
            )
            self._flush()
            self._fsync()
            written = not self.degraded
        self._close_segment_quietly()
        self._release_root_lock()
        if not written:
            logger.error("FDR flight %s closed without a footer: the disk refused it", self._flight_id)
            return replace(self._footer_record(), clean_shutdown=False)
        return replace(footer, written=True)

    def _footer_record(self) -> FlightFooter:
        """The footer with bytes_written counting the footer frame itself."""
        assert self._flight_id is not None
        total = self._bytes_written
        for _ in range(4):  # the frame length depends on the digits of its own total: iterate to the fixed point
            footer = FlightFooter(
                self._flight_id,
                self._records_written,
                self._dropped_written,
                total,
                self._rollovers,
                clean_shutdown=True,
                written=False,
            )
            frame_len = len(fmt.encode_frame(fmt.encode_json_body(self._footer_as_record(footer))))
            if self._bytes_written + frame_len == total:
                return footer
            total = self._bytes_written + frame_len
        return footer

    @staticmethod
    def _footer_as_record(footer: FlightFooter) -> Record:
        payload = {
            "records_written": footer.records_written,
            "records_dropped_overrun": footer.records_dropped_overrun,
            "bytes_written": footer.bytes_written,
            "rollover_count": footer.rollover_count,
            "clean_shutdown": footer.clean_shutdown,
        }
        return Record(time.monotonic_ns(), time.time_ns(), WRITER_PRODUCER_ID, Kind.FLIGHT_FOOTER.value, payload)

    # ----------------------------------------------------------------- status and helpers
    def status(self) -> RecorderStatus:
        """A consistent snapshot for /fdr/status (safe from any thread)."""
        with self._stats_lock:
            rings = {ring.producer_id: ring for ring in self.client.rings()}
            producers = {pid: ProducerCounters(c[0], c[1], c[2]) for pid, c in self._per_producer.items()}
            for pid in rings:
                producers.setdefault(pid, ProducerCounters(0, 0, 0))
            return RecorderStatus(
                flight_id=self._flight_id or "",
                flight_dir=str(self._flight_dir or ""),
                records_written=self._records_written,
                records_dropped=sum(c.dropped for c in producers.values()),
                bytes_written=self._bytes_written,
                segment_index=max(self._seg_index, 0),
                segment_path=str(self._seg_path or ""),
                rollover_count=self._rollovers,
                degraded=self._degraded_since_ns is not None,
                degraded_reason=str(self._degraded_error) if self._degraded_since_ns is not None else "",
                pending=sum(len(r) for r in rings.values()),
                producers=producers,
            )

    def _count_drop(self, producer_id: str, count: int) -> None:
        with self._stats_lock:
            self._per_producer[producer_id][1] += count

    def _raise_alert(self, message: str) -> None:
        if self._alert is None:
            return
        try:
            self._alert(message)
        except Exception:  # an alert sink failing must not take the recorder down
            logger.exception("FDR alert callback failed")

    def _log_error(self, message: str, *args: object, exc_info: bool = False) -> None:
        now = time.monotonic_ns()
        if now - self._last_error_log_ns >= ERROR_LOG_PERIOD_NS:
            self._last_error_log_ns = now
            logger.error(message, *args, exc_info=exc_info)
