"""Flight data recorder benchmark: enqueue latency, writer throughput next to the disk and to
peer writers (mcap, rosbags), and loss accounting under overload.

    . env.sh && PYTHONPATH=$PWD/src:$PYTHONPATH python test/bench/bench_fdr.py [--quick] [--out PATH] [--dir PATH]

It measures and reports; it never asserts a time. The one exact check is the overload loss
accounting (pushed == written + dropped), which test_bench_smoke.py asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import logging
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from gps_denied_onboard.fdr import format as fmt
from gps_denied_onboard.fdr.config import FdrConfig, QueueConfig
from gps_denied_onboard.fdr.reader import scan_flight
from gps_denied_onboard.fdr.records import Record, RosMessage
from gps_denied_onboard.fdr.ring import ProducerRing
from gps_denied_onboard.fdr.writer import FlightHeader, FlightRecorder

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "fdr-bench/1"
TOPIC = "/bench/data"
MSG_TYPE = "std_msgs/msg/UInt8MultiArray"
MSGDEF = b"std_msgs/MultiArrayLayout layout\nuint8[] data\n"
POOL = 16  # distinct payloads per size (a power of two: index with a mask)
BUDGET_P99_US = 5.0  # design budget of one enqueue (ros_message / record)
RAW_BATCH_BYTES = 1 << 20
MB = 1e6
DEFINITIONS = {
    "MB": "10^6 bytes of payload (CDR bytes given to the writer), not file bytes",
    "records_per_s": "records / seconds from opening the output until it is closed and fsynced; median of the repeats",
    "fraction_of_raw_disk": "records_per_s / the raw_disk row's records_per_s (same payload size and count)",
    "raw_disk": "the recorder's exact frame bytes, 1 MiB per os.write, fsync every fsync_interval_s and at the end",
    "raw_per_frame": "the same bytes, one os.write per frame, same fsync policy",
    "fdr": "FlightRecorder, default config; one producer thread enqueues everything into a ring that holds it all",
    "fdr_paced": "the same, but the producer waits while two batches are queued: the writer thread does the work",
    "peers": "mcap / rosbags write the same payloads synchronously in one thread; fsync of their files at the end",
    "spread": "(max - min) / median of records_per_s over the repeats",
}


@dataclass(frozen=True)
class Params:
    """Everything that sizes a run; written into the JSON as it was used."""

    mode: str
    latency_calls: int = 100_000  # timed calls per producer API
    latency_burst: int = 50  # calls back to back, then a pause: the writer keeps up and drains
    latency_pause_s: float = 0.001
    latency_ring: int = 1 << 17
    drain_cases: tuple[tuple[int, int], ...] = ((4096, 2048), (4096, 4096), (65536, 65536))  # (capacity, take)
    drain_repeats: int = 30
    throughput: tuple[tuple[int, int], ...] = ((100, 300_000), (2048, 65_536), (65536, 2048))  # (payload B, records)
    repeats: int = 5
    fsync_interval_s: float = 1.0  # the recorder's default, applied to the raw-disk reference too
    overload_payload_bytes: int = 2048
    overload_factor: float = 2.0
    overload_duration_s: float = 10.0
    overload_threads: int = 2
    overload_ring: int = 4096


FULL = Params(mode="full")
QUICK = Params(
    mode="quick",
    latency_calls=5_000,
    drain_cases=((4096, 2048), (4096, 4096)),
    drain_repeats=5,
    throughput=((100, 20_000), (2048, 8_192), (65536, 128)),
    repeats=1,
    overload_duration_s=3.0,
)


# --------------------------------------------------------------------------- helpers
def cdr_payloads(size: int) -> list[bytes]:
    """CDR-looking payloads (encapsulation header, then incompressible bytes)."""
    return [b"\x00\x01\x00\x00" + os.urandom(max(0, size - 4)) for _ in range(POOL)]


def pow2_at_least(n: int) -> int:
    """The smallest power of two >= n (ring capacities must be powers of two)."""
    return 1 << max(1, (n - 1).bit_length())


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of already sorted values."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def dir_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (or of the file itself)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def fsync_tree(path: Path) -> None:
    """fsync every file under ``path``: peers get the same durability point as the recorder."""
    for item in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
        fd = os.open(item, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class CountingHandler(logging.Handler):
    """Swallows the recorder's log lines (overrun ERRORs) and counts them, keeping stdout clean."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.levelname] += 1


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print an aligned table: text left, numbers right."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_looks_numeric(row[i]) for row in cells[1:] if row[i] not in ("", "-")) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def _looks_numeric(text: str) -> bool:
    return bool(text) and text.replace(",", "").replace(".", "").replace("-", "").replace("%", "").isdigit()


# --------------------------------------------------------------------------- machine
def machine_info(bench_dir: Path) -> dict[str, Any]:
    """CPU, Python, memory, and the filesystem the benchmark writes to."""
    usage = shutil.disk_usage(bench_dir)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _proc_field(Path("/proc/cpuinfo"), "model name"),
        "mem_total": _proc_field(Path("/proc/meminfo"), "MemTotal"),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "bench_dir": str(bench_dir),
        "filesystem": mount_of(bench_dir),
        "free_bytes": usage.free,
        "total_bytes": usage.total,
        "packages": {name: _version(name) for name in ("mcap", "rosbags", "orjson")},
    }


def _proc_field(path: Path, key: str) -> str | None:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    return None


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def mount_of(path: Path) -> dict[str, str] | None:
    """The /proc/mounts entry whose mount point is the longest prefix of ``path``."""
    target = path.resolve()
    best: dict[str, str] | None = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount_point, fstype, options, *_ = line.split()
            mount_point = mount_point.replace("\\040", " ")
            if (target == Path(mount_point) or Path(mount_point) in target.parents) and (
                best is None or len(mount_point) >= len(best["mount_point"])
            ):
                best = {"device": device, "mount_point": mount_point, "fstype": fstype, "options": options}
    return best


# --------------------------------------------------------------------------- a. enqueue latency
def latency_stats(samples_ns: list[int]) -> dict[str, Any]:
    """p50/p99/p999/max in µs, and how many calls stalled (GIL hand-over, GC)."""
    ordered = sorted(samples_ns)
    return {
        "calls": len(ordered),
        "mean_us": statistics.fmean(ordered) / 1e3,
        "p50_us": percentile(ordered, 0.50) / 1e3,
        "p99_us": percentile(ordered, 0.99) / 1e3,
        "p999_us": percentile(ordered, 0.999) / 1e3,
        "max_us": ordered[-1] / 1e3,
        "over_100us": sum(1 for v in ordered if v > 100_000),
        "over_1ms": sum(1 for v in ordered if v > 1_000_000),
    }


def _time_ros_message(send: Callable[..., None], payload: bytes, params: Params) -> list[int]:
    clock, samples, n = time.perf_counter_ns, [0] * params.latency_calls, params.latency_calls
    for start in range(0, n, params.latency_burst):
        for i in range(start, min(n, start + params.latency_burst)):
            t0 = clock()
            send(TOPIC, MSG_TYPE, payload)
            samples[i] = clock() - t0
        time.sleep(params.latency_pause_s)
    return samples


def _time_record(send: Callable[..., None], params: Params) -> list[int]:
    clock, samples, n = time.perf_counter_ns, [0] * params.latency_calls, params.latency_calls
    payloads = [{"name": "tick", "seq": i, "state": "nominal"} for i in range(64)]
    for start in range(0, n, params.latency_burst):
        for i in range(start, min(n, start + params.latency_burst)):
            payload = payloads[i & 63]
            t0 = clock()
            send("event", payload)
            samples[i] = clock() - t0
        time.sleep(params.latency_pause_s)
    return samples


def _timer_overhead(n: int) -> list[int]:
    clock, samples = time.perf_counter_ns, [0] * n
    for i in range(n):
        t0 = clock()
        samples[i] = clock() - t0
    return samples


def measure_enqueue(base: Path, params: Params) -> dict[str, Any]:
    """Time every enqueue call while the writer thread runs and drains."""
    cfg = FdrConfig(flight_root=base / "latency", queues=QueueConfig(queue_size=params.latency_ring))
    recorder = FlightRecorder(cfg)
    recorder.open_flight(FlightHeader("latency"))
    try:
        ros, events = recorder.client.producer("bench_ros"), recorder.client.producer("bench_events")
        payload = cdr_payloads(2048)[0]
        ros.ros_message(TOPIC, MSG_TYPE, payload)  # first call announces the channel: keep it out of the samples
        timer = _timer_overhead(params.latency_calls)
        ros_samples = _time_ros_message(ros.ros_message, payload, params)
        record_samples = _time_record(events.record, params)
        written_while_timing = recorder.status().records_written
    finally:
        footer = recorder.close_flight()
    results: dict[str, Any] = {
        "budget_p99_us": BUDGET_P99_US,
        "timer_overhead": latency_stats(timer),
        "payload_bytes": len(payload),
        "writer_records_written_while_timing": written_while_timing,
        "dropped": footer.records_dropped_overrun,
        "gc_enabled": gc.isenabled(),
    }
    burst = params.latency_burst
    for api, samples in (("ros_message", ros_samples), ("record", record_samples)):
        results[api] = latency_stats(samples) | {
            # A pause precedes the first call of each burst, as a message precedes a callback:
            # that call finds cold caches, so the two populations are reported apart as well.
            "first_of_burst": latency_stats(samples[::burst]),
            "rest_of_burst": latency_stats([v for i, v in enumerate(samples) if i % burst]),
        }
        results[api]["budget_met"] = results[api]["p99_us"] <= BUDGET_P99_US
    return results


def measure_drain(params: Params) -> list[dict[str, Any]]:
    """ns per record of ProducerRing.drain on a full ring."""
    item = RosMessage(0, 0, TOPIC, MSG_TYPE, b"")
    rows = []
    for capacity, take in params.drain_cases:
        ring: ProducerRing[RosMessage] = ProducerRing("drain", capacity)
        per_record = []
        for _ in range(params.drain_repeats):
            while len(ring) < capacity:
                ring.push(item)
            t0 = time.perf_counter_ns()
            drained = ring.drain(take)
            per_record.append((time.perf_counter_ns() - t0) / len(drained.items))
        rows.append(
            {
                "capacity": capacity,
                "max_items": take,
                "repeats": params.drain_repeats,
                "ns_per_record_median": statistics.median(per_record),
                "ns_per_record_min": min(per_record),
            }
        )
    return rows


def _latency_row(label: str, s: dict[str, Any], verdict: str) -> list[object]:
    return [
        label,
        f"{s['calls']:,}",
        f"{s['p50_us']:.2f}",
        f"{s['p99_us']:.2f}",
        f"{s['p999_us']:.2f}",
        f"{s['max_us']:.1f}",
        s["over_100us"],
        f"{BUDGET_P99_US:.1f}" if verdict else "",
        verdict,
    ]


def report_enqueue(latency: dict[str, Any], drain: list[dict[str, Any]]) -> None:
    """Print section a."""
    rows = []
    for api in ("ros_message", "record"):
        s = latency[api]
        rows.append(_latency_row(f"Producer.{api}", s, "met" if s["budget_met"] else "NOT MET"))
        rows.append(_latency_row("  first call after a pause", s["first_of_burst"], ""))
        rows.append(_latency_row("  calls within a burst", s["rest_of_burst"], ""))
    rows.append(_latency_row("(empty timed region)", latency["timer_overhead"], ""))
    print_table(
        f"a. Enqueue latency, µs (writer thread running and draining; {latency['payload_bytes']} B CDR; "
        f"dropped {latency['dropped']}; gc {'on' if latency['gc_enabled'] else 'off'})",
        ["call", "calls", "p50", "p99", "p999", "max", ">100µs", "budget p99", "budget"],
        rows,
    )
    print_table(
        "a. ProducerRing.drain on a full ring",
        ["capacity", "drained per call", "ns/record median", "ns/record min"],
        [
            [
                f"{d['capacity']:,}",
                f"{d['max_items']:,}",
                f"{d['ns_per_record_median']:.0f}",
                f"{d['ns_per_record_min']:.0f}",
            ]
            for d in drain
        ],
    )


# --------------------------------------------------------------------------- b. throughput
@dataclass
class Run:
    """One timed write of ``records`` payloads."""

    seconds: float
    file_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)


Writer = Callable[[Path, list[bytes], int, Params], Run]


def fdr_frames(payloads: list[bytes]) -> list[bytes]:
    """The exact frames the recorder writes for these payloads (channel 0)."""
    now = time.time_ns()
    return [fmt.encode_frame(fmt.encode_ros_body(0, now, now, p)) for p in payloads]


def run_raw_batched(path: Path, payloads: list[bytes], n: int, params: Params) -> Run:
    """The disk's own bandwidth: the recorder's frame bytes, 1 MiB per os.write, fsync every interval."""
    frames, mask, interval_ns = fdr_frames(payloads), POOL - 1, params.fsync_interval_s * 1e9
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        last, chunk, chunk_bytes = time.monotonic_ns(), [], 0
        for i in range(n):
            frame = frames[i & mask]
            chunk.append(frame)
            chunk_bytes += len(frame)
            if chunk_bytes >= RAW_BATCH_BYTES or i == n - 1:
                write_all(fd, b"".join(chunk))
                chunk.clear()
                chunk_bytes = 0
                if time.monotonic_ns() - last >= interval_ns:
                    os.fsync(fd)
                    last = time.monotonic_ns()
        os.fsync(fd)
    finally:
        os.close(fd)
    return Run(time.perf_counter() - t0, dir_bytes(path))


def run_raw_per_frame(path: Path, payloads: list[bytes], n: int, params: Params) -> Run:
    """One os.write per frame: the syscall cost a per-record writer would pay."""
    frames, mask, interval_ns = fdr_frames(payloads), POOL - 1, params.fsync_interval_s * 1e9
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        last = time.monotonic_ns()
        for i in range(n):
            frame = frames[i & mask]
            if os.write(fd, frame) != len(frame):
                raise OSError("short write to a regular file")
            if i & 255 == 255 and time.monotonic_ns() - last >= interval_ns:
                os.fsync(fd)
                last = time.monotonic_ns()
        os.fsync(fd)
    finally:
        os.close(fd)
    return Run(time.perf_counter() - t0, dir_bytes(path))


def _fdr_run(path: Path, payloads: list[bytes], n: int, *, backlog_cap: int | None) -> Run:
    """Open a flight, enqueue ``n`` messages from one producer thread, time until close_flight returns."""
    cfg = FdrConfig(flight_root=path, queues=QueueConfig(queue_size=pow2_at_least(n + 64)))
    recorder = FlightRecorder(cfg)
    mask = POOL - 1
    t0 = time.perf_counter()
    recorder.open_flight(FlightHeader("throughput"))
    producer = recorder.client.producer("bench")
    send, pending = producer.ros_message, recorder.client.pending

    def produce() -> None:
        i = 0
        while i < n:
            if backlog_cap is not None and pending() >= backlog_cap:
                time.sleep(0.0005)
                continue
            end = min(n, i + 256)
            for j in range(i, end):
                send(TOPIC, MSG_TYPE, payloads[j & mask])
            i = end

    thread = threading.Thread(target=produce, name="bench-producer")
    thread.start()
    thread.join()
    enqueued_s = time.perf_counter() - t0
    written_by_thread = recorder.status().records_written
    footer = recorder.close_flight()
    seconds = time.perf_counter() - t0
    assert recorder.flight_dir is not None
    extra = {
        "enqueue_s": enqueued_s,
        "written_by_writer_thread_before_close": written_by_thread,
        "footer_records_written": footer.records_written,
        "footer_records_dropped_overrun": footer.records_dropped_overrun,
        "footer_written": footer.written,
        "ring_dropped_total": producer.dropped_total,
    }
    return Run(seconds, dir_bytes(recorder.flight_dir), extra)


def run_fdr_burst(path: Path, payloads: list[bytes], n: int, params: Params) -> Run:
    """The recorder as the brief asks: the producer enqueues everything, the ring absorbs it."""
    return _fdr_run(path, payloads, n, backlog_cap=None)


def run_fdr_paced(path: Path, payloads: list[bytes], n: int, params: Params) -> Run:
    """The recorder's writer thread in steady state: the producer keeps about two batches waiting."""
    return _fdr_run(path, payloads, n, backlog_cap=2 * FdrConfig(flight_root=path).batch_max_records)


def run_mcap(path: Path, payloads: list[bytes], n: int, params: Params) -> Run:
    """mcap.writer.Writer, one channel, no compression (the payloads are incompressible; the FDR does not compress)."""
    from mcap.writer import CompressionType
    from mcap.writer import Writer as McapWriter

    mask = POOL - 1
    t0 = time.perf_counter()
    with path.open("xb") as stream:
        writer = McapWriter(stream, compression=CompressionType.NONE)
        writer.start(profile="ros2", library="fdr-bench")
        schema_id = writer.register_schema(MSG_TYPE, "ros2msg", MSGDEF)
        channel_id = writer.register_channel(TOPIC, "cdr", schema_id)
        add, clock = writer.add_message, time.time_ns
        for i in range(n):
            now = clock()
            add(channel_id, now, payloads[i & mask], now, i)
        writer.finish()
        stream.flush()
        os.fsync(stream.fileno())
    return Run(time.perf_counter() - t0, dir_bytes(path))


def _rosbags_run(path: Path, payloads: list[bytes], n: int, plugin_name: str) -> Run:
    from rosbags.rosbag2 import StoragePlugin
    from rosbags.rosbag2 import Writer as BagWriter

    typestore = _typestore()
    mask = POOL - 1
    t0 = time.perf_counter()
    with BagWriter(path, version=9, storage_plugin=StoragePlugin[plugin_name]) as writer:
        connection = writer.add_connection(TOPIC, MSG_TYPE, typestore=typestore)
        write, clock = writer.write, time.time_ns
        for i in range(n):
            write(connection, clock(), payloads[i & mask])
    fsync_tree(path)
    return Run(time.perf_counter() - t0, dir_bytes(path))


@functools.cache
def _typestore() -> Any:
    """The Jazzy typestore, built once (outside every timed region)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


def run_rosbags_mcap(path: Path, payloads: list[bytes], n: int, params: Params) -> Run:
    """rosbags rosbag2 writer, MCAP storage, bag version 9."""
    return _rosbags_run(path, payloads, n, "MCAP")


def run_rosbags_sqlite(path: Path, payloads: list[bytes], n: int, params: Params) -> Run:
    """rosbags rosbag2 writer, default SQLITE3 storage, bag version 9."""
    return _rosbags_run(path, payloads, n, "SQLITE3")


# key, label, function. The first is the physical limit every other row is divided by.
WRITERS: tuple[tuple[str, str, Writer], ...] = (
    ("raw_disk", "raw disk: os.write 1 MiB, fsync 1 s", run_raw_batched),
    ("raw_per_frame", "raw os.write per frame, fsync 1 s", run_raw_per_frame),
    ("fdr", "FDR FlightRecorder (burst producer)", run_fdr_burst),
    ("fdr_paced", "FDR FlightRecorder (paced, steady)", run_fdr_paced),
    ("mcap", "mcap.writer.Writer (uncompressed)", run_mcap),
    ("rosbags_mcap", "rosbags rosbag2 v9 MCAP", run_rosbags_mcap),
    ("rosbags_sqlite3", "rosbags rosbag2 v9 SQLITE3", run_rosbags_sqlite),
)


def measure_throughput(base: Path, params: Params) -> list[dict[str, Any]]:
    """Every writer on the same payloads and bytes, repeated in rotating order; medians reported."""
    _typestore()
    sections = []
    for payload_bytes, n in params.throughput:
        payloads = cdr_payloads(payload_bytes)
        runs: dict[str, list[Run]] = {key: [] for key, _, _ in WRITERS}
        for rep in range(params.repeats):
            order = WRITERS[rep % len(WRITERS) :] + WRITERS[: rep % len(WRITERS)]
            for key, _, writer in order:
                target = base / f"{key}-{payload_bytes}-{rep}"
                runs[key].append(writer(target, payloads, n, params))
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink()
        sections.append(_summarise_throughput(payload_bytes, n, runs))
    return sections


def _summarise_throughput(payload_bytes: int, n: int, runs: dict[str, list[Run]]) -> dict[str, Any]:
    writers: dict[str, Any] = {}
    for key, label, _ in WRITERS:
        rates = [n / r.seconds for r in runs[key]]
        median_rate = statistics.median(rates)
        writers[key] = {
            "label": label,
            "records_per_s": median_rate,
            "payload_mb_per_s": median_rate * payload_bytes / MB,
            "seconds": [r.seconds for r in runs[key]],
            "spread": (max(rates) - min(rates)) / median_rate,
            "file_bytes": runs[key][-1].file_bytes,
            "runs_extra": [r.extra for r in runs[key] if r.extra],
        }
    raw = writers["raw_disk"]["records_per_s"]
    for entry in writers.values():
        entry["fraction_of_raw_disk"] = entry["records_per_s"] / raw
    for key in ("fdr", "fdr_paced"):
        extras = writers[key]["runs_extra"]
        writers[key]["footer_dropped_total"] = sum(e["footer_records_dropped_overrun"] for e in extras)
        writers[key]["ring_dropped_total"] = sum(e["ring_dropped_total"] for e in extras)
        writers[key]["drained_by_writer_thread_fraction"] = statistics.median(
            e["written_by_writer_thread_before_close"] / e["footer_records_written"] for e in extras
        )
    return {"payload_bytes": payload_bytes, "records": n, "payload_total_bytes": payload_bytes * n, "writers": writers}


def report_throughput(sections: list[dict[str, Any]], params: Params) -> None:
    """Print section b, one table per payload size."""
    for section in sections:
        rows = []
        for key, label, _ in WRITERS:
            w = section["writers"][key]
            note = ""
            if key in ("fdr", "fdr_paced"):
                note = (
                    f"footer dropped {w['footer_dropped_total']}; writer thread drained "
                    f"{w['drained_by_writer_thread_fraction']:.0%} before close"
                )
            rows.append(
                [
                    label,
                    f"{w['records_per_s']:,.0f}",
                    f"{w['payload_mb_per_s']:.1f}",
                    f"{w['fraction_of_raw_disk']:.2f}",
                    f"{w['file_bytes'] / MB:.1f}",
                    f"{w['spread']:.0%}",
                    note,
                ]
            )
        print_table(
            f"b. Throughput, {section['payload_bytes']:,} B payloads x {section['records']:,} records "
            f"({section['payload_total_bytes'] / MB:.1f} MB payload; median of {params.repeats})",
            ["writer", "records/s", "MB/s", "x raw", "file MB", "spread", "notes"],
            rows,
        )


# --------------------------------------------------------------------------- c. overload
def _overload_producer(
    send: Callable[..., None], *, topic: str, payloads: list[bytes], rate_hz: float, duration_s: float, out: list[int]
) -> None:
    """Push at ``rate_hz`` (in bursts of at most 512) for ``duration_s``; store the count pushed."""
    mask, sent = POOL - 1, 0
    t0 = time.perf_counter()
    while (now := time.perf_counter()) < t0 + duration_s:
        due = min(512, int((now - t0) * rate_hz) - sent)
        if due <= 0:
            time.sleep(0.0002)
            continue
        for j in range(sent, sent + due):
            send(topic, MSG_TYPE, payloads[j & mask])
        sent += due
    out.append(sent)


def measure_overload(base: Path, params: Params, sustainable_rate: float, rate_source: str) -> dict[str, Any]:
    """Producers at ~factor x the sustainable rate into small rings, then read back and reconcile the counts."""
    payloads = cdr_payloads(params.overload_payload_bytes)
    target_rate = params.overload_factor * sustainable_rate
    cfg = FdrConfig(flight_root=base / "overload", queues=QueueConfig(queue_size=params.overload_ring))
    recorder = FlightRecorder(cfg)
    recorder.open_flight(FlightHeader("overload"))
    ids = [f"overload_{k}" for k in range(params.overload_threads)]
    counts: dict[str, list[int]] = {pid: [] for pid in ids}
    threads = [
        threading.Thread(
            target=_overload_producer,
            args=(recorder.client.producer(pid).ros_message,),
            kwargs={
                "topic": f"/bench/{pid}",
                "payloads": payloads,
                "rate_hz": target_rate / len(ids),
                "duration_s": params.overload_duration_s,
                "out": counts[pid],
            },
            name=f"bench-{pid}",
        )
        for pid in ids
    ]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    produce_s = time.perf_counter() - t0
    rings = {ring.producer_id: ring for ring in recorder.client.rings()}
    footer = recorder.close_flight()
    close_s = time.perf_counter() - t0 - produce_s
    assert recorder.flight_dir is not None
    t_scan = time.perf_counter()
    scan = scan_flight(recorder.flight_dir)
    written = Counter(e.topic for e in scan.entries() if isinstance(e, RosMessage))
    dropped: Counter[str] = Counter()
    for entry in scan.entries():
        if isinstance(entry, Record) and entry.kind == "overrun":
            dropped[entry.payload["origin_producer_id"]] += entry.payload["dropped_count"]
    scan_s = time.perf_counter() - t_scan
    flight_bytes = dir_bytes(recorder.flight_dir)
    per_producer = {
        pid: {
            "pushed": counts[pid][0],
            "ring_pushed_total": rings[pid].pushed_total,
            "written": written[f"/bench/{pid}"],
            "dropped": dropped[pid],
            "ring_dropped_total": rings[pid].dropped_total,
        }
        for pid in ids
    }
    for row in per_producer.values():
        row["difference"] = row["pushed"] - row["written"] - row["dropped"]
    pushed = sum(r["pushed"] for r in per_producer.values())
    total_written = sum(r["written"] for r in per_producer.values())
    total_dropped = sum(r["dropped"] for r in per_producer.values())
    shutil.rmtree(recorder.flight_dir)
    return {
        "payload_bytes": params.overload_payload_bytes,
        "ring_capacity": params.overload_ring,
        "threads": params.overload_threads,
        "duration_s": produce_s,
        "sustainable_rate_per_s": sustainable_rate,
        "sustainable_rate_source": rate_source,
        "target_rate_per_s": target_rate,
        "achieved_push_rate_per_s": pushed / produce_s,
        "write_rate_per_s": total_written / (produce_s + close_s),
        "close_s": close_s,
        "scan_s": scan_s,
        "flight_bytes": flight_bytes,
        "pushed": pushed,
        "written": total_written,
        "dropped": total_dropped,
        "difference": pushed - total_written - total_dropped,
        "accounting_exact": pushed == total_written + total_dropped
        and all(r["difference"] == 0 for r in per_producer.values()),
        "loss_fraction": total_dropped / pushed if pushed else 0.0,
        "footer_records_dropped_overrun": footer.records_dropped_overrun,
        "footer_matches_scan": footer.records_dropped_overrun == total_dropped,
        "scan_issues": [str(issue) for issue in scan.issues],
        "per_producer": per_producer,
    }


def report_overload(result: dict[str, Any]) -> None:
    """Print section c, with the accounting verdict in capitals."""
    rows = [
        [
            pid,
            f"{r['pushed']:,}",
            f"{r['written']:,}",
            f"{r['dropped']:,}",
            r["difference"],
            f"{r['ring_dropped_total']:,}",
        ]
        for pid, r in result["per_producer"].items()
    ]
    rows.append(
        ["total", f"{result['pushed']:,}", f"{result['written']:,}", f"{result['dropped']:,}", result["difference"], ""]
    )
    print_table(
        f"c. Loss under overload: {result['threads']} producer threads, {result['payload_bytes']:,} B, "
        f"ring {result['ring_capacity']:,} each, {result['duration_s']:.1f} s",
        ["producer", "pushed", "written (scan)", "dropped (overrun sum)", "difference", "ring dropped_total"],
        rows,
    )
    print(
        f"   sustainable rate {result['sustainable_rate_per_s']:,.0f}/s ({result['sustainable_rate_source']}); "
        f"target {result['target_rate_per_s']:,.0f}/s; pushed at {result['achieved_push_rate_per_s']:,.0f}/s; "
        f"written at {result['write_rate_per_s']:,.0f}/s; loss {result['loss_fraction']:.1%}"
    )
    print(
        f"   footer records_dropped_overrun {result['footer_records_dropped_overrun']:,} "
        f"(matches scan: {result['footer_matches_scan']}); scan issues: {len(result['scan_issues'])}; "
        f"close {result['close_s']:.2f} s, scan {result['scan_s']:.2f} s"
    )
    verdict = "EXACT" if result["accounting_exact"] else "BROKEN"
    print(
        f"\n   >>> ACCOUNTING {verdict}: pushed == written + dropped is {result['accounting_exact']} "
        f"(difference {result['difference']}) <<<"
    )


# --------------------------------------------------------------------------- main
@contextlib.contextmanager
def bench_directory(base: Path | None) -> Iterator[Path]:
    """A fresh directory under ``base`` (default: the repo's ignored bench-results/), removed afterwards."""
    parent = base if base is not None else REPO_ROOT / "bench-results"
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="fdr-bench-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def captured_recorder_logs() -> Iterator[CountingHandler]:
    """Count the recorder's log lines instead of letting them interleave with the tables."""
    logger = logging.getLogger("gps_denied_onboard")
    handler, propagate = CountingHandler(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def run_benchmark(params: Params, base: Path | None) -> dict[str, Any]:
    """Run the three sections and return the JSON document (tables are printed as they finish)."""
    started = time.perf_counter()
    with bench_directory(base) as bench_dir, captured_recorder_logs() as logs:
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(bench_dir),
            "parameters": asdict(params) | {"budget_p99_us": BUDGET_P99_US, "raw_batch_bytes": RAW_BATCH_BYTES},
            "definitions": DEFINITIONS,
        }
        fs = doc["machine"]["filesystem"] or {}
        print(
            f"FDR benchmark ({params.mode}): {doc['machine']['cpu_count']} CPUs, Python {platform.python_version()}, "
            f"bench dir {bench_dir} on {fs.get('fstype', '?')} {fs.get('device', '?')} "
            f"({doc['machine']['free_bytes'] / 2**30:.0f} GiB free)"
        )
        latency = measure_enqueue(bench_dir, params)
        drain = measure_drain(params)
        doc["enqueue_latency"], doc["drain_cost"] = latency, drain
        report_enqueue(latency, drain)
        doc["throughput"] = measure_throughput(bench_dir, params)
        report_throughput(doc["throughput"], params)
        rate, source = steady_rate_from(doc["throughput"], params.overload_payload_bytes)
        doc["overload"] = measure_overload(bench_dir, params, rate, source)
        report_overload(doc["overload"])
        doc["recorder_log_lines"] = dict(logs.counts)
    doc["elapsed_s"] = time.perf_counter() - started
    return doc


def steady_rate_from(sections: list[dict[str, Any]], payload_bytes: int) -> tuple[float, str]:
    """The recorder's steady writer rate for ``payload_bytes`` from section b (measured there if absent)."""
    for section in sections:
        if section["payload_bytes"] == payload_bytes:
            return section["writers"]["fdr_paced"]["records_per_s"], f"b: FDR paced, {payload_bytes} B"
    raise SystemExit(f"--overload payload {payload_bytes} B is not among the throughput sizes")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command line: --out, --quick, --dir."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results" / "fdr.json", help="JSON output")
    parser.add_argument("--quick", action="store_true", help="a tiny CI-sized run (about 10 s)")
    parser.add_argument("--dir", type=Path, default=None, help="directory to write into (default: bench-results/)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print, write the JSON; exit 1 only if the loss accounting is not exact."""
    args = parse_args(argv)
    doc = run_benchmark(QUICK if args.quick else FULL, args.dir)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {args.out} ({doc['elapsed_s']:.1f} s)")
    return 0 if doc["overload"]["accounting_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
