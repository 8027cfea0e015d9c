"""fdr_node benchmark: how many messages/s and MB/s get from another process into the flight.

    . env.sh && python test/bench/bench_fdr_node.py [--quick] [--duration-s S] [--out PATH] [--dir PATH]

Two message kinds, side by side: small (sensor_msgs/Imu, ~316 B of CDR) and large
(sensor_msgs/Image 640x480 mono8, ~307 KB). For each kind and each offered rate of a ladder
(the last one "as fast as possible"), a publisher process sends N messages, each carrying
"<row>/<sequence number>" in header.frame_id and its publish time (CLOCK_MONOTONIC) in
header.stamp, on a reliable topic whose writer history holds all N. The receivers, each
its own process:

  bare  a plain rclpy node with raw subscriptions that only count messages and bytes:
        the ceiling of the middleware plus rclpy's executor on this machine;
  fdr   the fdr_node executable, recording into a temporary flight.

Mode "both" runs the ladder with the two receivers subscribed to the same topic at once, so
they see the same offered load; modes "bare" and "fdr" (not in --quick) run it with one
receiver alone, the other process not running. Each mode starts fresh receivers with one
topic per kind, so every row meets receivers holding the same subscriptions. After each row
the publisher's topic is drained before the next rate runs. At the end of a mode fdr_node is
stopped with SIGINT (clean footer) and its flight is read back with scan_flight: per row,
the messages recorded, their bytes, the overrun (ring drop) sum, and whether the sequence
numbers are unique and within what was published.

It measures and reports; it never asserts a time. test_bench_fdr_node_smoke.py checks only
the accounting (recorded + dropped <= published, sequence numbers unique).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "fdr-node-bench/1"
MB = 1e6
KINDS = ("imu", "image")
MSG_TYPES = {"imu": "sensor_msgs/msg/Imu", "image": "sensor_msgs/msg/Image"}
IMAGE_WIDTH, IMAGE_HEIGHT = 640, 480
MODES = ("both", "bare", "fdr")
RECEIVERS = {"both": ("bare", "fdr"), "bare": ("bare",), "fdr": ("fdr",)}
# Fast DDS 2.14 with rmw_fastrtps defaults keeps at most 5000 untaken samples per reader,
# whatever the KEEP_LAST depth: a deeper backlog is not dropped but waits for reliable repair
# (heartbeat / NACK), which runs at 1-2 k msgs/s here and would be measured instead of the
# receivers. No row publishes more than this, so no backlog can reach the cap.
READER_SAMPLE_CAP = 5000
DEFINITIONS = {
    "offered_hz": "the rate the publisher is asked for; null (afap): as fast as it can",
    "published": "messages the publisher sent in the row (N)",
    "publish_hz": "achieved publish rate: N / (time after the last publish - time of the first)",
    "msgs_per_s": "messages received / (the receiver's last receive time - the publisher's first publish time), "
    "both CLOCK_MONOTONIC; for fdr the receive time is the enqueue time the recorder stamped on the record",
    "MB_per_s": "the same with CDR bytes (10^6 bytes)",
    "loss_pct": "(published - distinct sequence numbers recorded) / published; for bare: received counts",
    "ring_drops": "sum of dropped_count of the flight's overrun records for the topic, attributed to the row "
    "whose messages follow them in the flight (ring overrun or middleware-reported loss)",
    "lag_ms": "the receiver's last receive time - the publisher's last publish time",
    "latency_ms": "fdr only: enqueue time - publish time (header.stamp), per message: p50 / p99 / max",
    "fdr_over_bare": "fdr msgs_per_s / bare msgs_per_s of the same row (mode both: the same publisher)",
    "kept_pace": "no loss and msgs_per_s >= keep_pace_fraction * publish_hz",
    "max_without_loss": "per kind, mode and receiver: the row with zero loss and the highest msgs_per_s, "
    "and the highest publish_hz the receiver kept pace with",
    "max_count": "messages per row at most: Fast DDS keeps at most 5000 untaken samples per reader whatever the "
    "depth and a deeper backlog waits for reliable repair (1-2 k msgs/s), which would be measured instead of "
    "the receivers; fast rows are therefore shorter than duration_s",
    "disk_s": "fdr only: time from the first publish until /fdr/status showed every message written or "
    "dropped (status period granularity)",
}


# =========================================================================== parameters
@dataclass(frozen=True)
class Params:
    """Everything that sizes a run; written into the JSON as it was used."""

    mode: str
    duration_s: float  # per rate-limited row (capped by max_count)
    imu_rates: tuple[float | None, ...]  # None: as fast as possible
    image_rates: tuple[float | None, ...]
    imu_afap_count: int
    image_afap_count: int
    modes: tuple[str, ...]
    max_count: int = READER_SAMPLE_CAP
    queue_size: int = 65536  # fdr ring capacity per topic: far more than a row
    rescan_period_s: float = 0.2
    status_period_s: float = 0.1
    fsync_interval_s: float = 1.0  # fdr_node's default
    segment_size_bytes: int = 64 * 2**20  # fdr_node's default
    settle_s: float = 0.3  # after the publisher sees its readers match, before the first message
    stall_s: float = 4.0  # a drain gives up after this long without progress
    drain_max_s: float = 30.0
    keep_pace_fraction: float = 0.95

    def rates(self, kind: str) -> tuple[float | None, ...]:
        return self.imu_rates if kind == "imu" else self.image_rates

    def count(self, kind: str, rate: float | None) -> int:
        if rate is None:
            wanted: float = self.imu_afap_count if kind == "imu" else self.image_afap_count
        else:
            wanted = rate * self.duration_s
        return min(self.max_count, max(1, round(wanted)))

    @property
    def depth(self) -> int:
        """History depth of the receivers (fdr_node's subscription_depth): the largest row."""
        return max(self.count(k, r) for k in KINDS for r in self.rates(k))


def make_params(quick: bool, duration_s: float | None) -> Params:
    if quick:
        return Params(
            mode="quick",
            duration_s=duration_s or 0.5,
            imu_rates=(1000.0, None),
            image_rates=(30.0, None),
            imu_afap_count=3000,
            image_afap_count=40,
            modes=("both",),
            stall_s=3.0,
            drain_max_s=10.0,
        )
    return Params(
        mode="full",
        duration_s=duration_s or 2.0,
        imu_rates=(200.0, 1000.0, 2500.0, 3500.0, 5000.0, 10000.0, 20000.0, None),
        image_rates=(20.0, 60.0, 120.0, None),
        imu_afap_count=READER_SAMPLE_CAP,
        image_afap_count=600,
        modes=MODES,
    )


@dataclass
class Row:
    """One offered rate of one kind under one receiver mode."""

    index: int
    kind: str
    mode: str
    offered_hz: float | None
    count: int

    @property
    def label(self) -> str:
        return "afap" if self.offered_hz is None else f"{self.offered_hz:g}hz"

    @property
    def topic(self) -> str:
        return topic_of(self.mode, self.kind)


def topic_of(mode: str, kind: str) -> str:
    return f"/bench/{mode}/{kind}"


def plan(params: Params) -> list[Row]:
    cells = [(mode, kind, rate) for mode in params.modes for kind in KINDS for rate in params.rates(kind)]
    return [Row(i, kind, mode, rate, params.count(kind, rate)) for i, (mode, kind, rate) in enumerate(cells)]


# =========================================================================== child: publisher
def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _new_message(kind: str) -> Any:
    if kind == "imu":
        from sensor_msgs.msg import Imu

        msg = Imu()
        msg.orientation.w = 1.0
        return msg
    from sensor_msgs.msg import Image

    pattern = bytes(range(256)) * (IMAGE_WIDTH * IMAGE_HEIGHT // 256)
    return Image(height=IMAGE_HEIGHT, width=IMAGE_WIDTH, encoding="mono8", step=IMAGE_WIDTH, data=pattern)


def publisher_main() -> int:
    """Commands on stdin (one JSON object per line), events on stdout.

    run:   create a reliable publisher holding all `count` messages, wait for `subscribers`
           matched readers, publish `count` messages at `rate` (null: as fast as possible);
    close: destroy the topic's publisher; quit: exit.
    """
    import rclpy
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    rclpy.init()
    node = rclpy.create_node(f"bench_publisher_{os.getpid()}")
    publishers: dict[str, Any] = {}
    messages = {kind: _new_message(kind) for kind in KINDS}
    _emit({"event": "ready"})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "close":
            with contextlib.suppress(KeyError):
                node.destroy_publisher(publishers.pop(cmd["topic"]))
            _emit({"event": "closed", "topic": cmd["topic"]})
            continue
        topic, kind, count, rate, row = cmd["topic"], cmd["kind"], cmd["count"], cmd["rate"], cmd["row"]
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=max(1, count),
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.VOLATILE,
        )
        publisher = publishers[topic] = node.create_publisher(type(messages[kind]), topic, qos)
        t_match = time.monotonic()
        while publisher.get_subscription_count() < cmd["subscribers"] and time.monotonic() - t_match < cmd["match_s"]:
            time.sleep(0.01)
        matched = publisher.get_subscription_count()
        _emit({"event": "matched", "topic": topic, "matched": matched, "match_s": time.monotonic() - t_match})
        time.sleep(cmd["settle_s"])  # the readers' side of the match, too
        msg = messages[kind]
        stamp, header = msg.header.stamp, msg.header
        period = 1.0 / rate if rate else 0.0
        monotonic_ns, sleep = time.monotonic_ns, time.sleep
        first_ns = now = monotonic_ns()
        start = first_ns / 1e9
        for seq in range(count):
            if period:
                delay = start + seq * period - monotonic_ns() / 1e9
                if delay > 0:
                    sleep(delay)
            now = monotonic_ns()
            stamp.sec, stamp.nanosec = divmod(now, 1_000_000_000)
            header.frame_id = f"{row}/{seq}"
            publisher.publish(msg)
        _emit(
            {
                "event": "done",
                "topic": topic,
                "published": count,
                "first_ns": first_ns,
                "last_ns": now,
                "end_ns": monotonic_ns(),
                "matched": matched,
            }
        )
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# =========================================================================== child: bare receiver
def bare_main(topics: list[list[str]], depth: int) -> int:
    """Count what arrives on `topics` ([[topic, type], ...]) with raw subscriptions and print
    {"stats": {topic: [count, bytes, first_ns, last_ns]}} every 0.1 s while it changes, and at
    exit. A "reset" line on stdin zeroes the counters (done in the executor, between callbacks)."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    from gps_denied_onboard.ros.msg_types import message_class

    rclpy.init()
    node = rclpy.create_node(f"bench_bare_receiver_{os.getpid()}")
    qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )
    stats: dict[str, list[int]] = {}
    monotonic_ns = time.monotonic_ns
    for topic, type_name in topics:
        counts = stats[topic] = [0, 0, 0, 0]

        def on_raw(data: bytes, s: list[int] = counts) -> None:
            now = monotonic_ns()
            if not s[0]:
                s[2] = now
            s[0] += 1
            s[1] += len(data)
            s[3] = now

        node.create_subscription(message_class(type_name), topic, on_raw, qos, raw=True)
    reported: dict[str, int] = {}
    resets: queue.SimpleQueue[str] = queue.SimpleQueue()

    def read_commands() -> None:
        for line in sys.stdin:
            resets.put(line.strip())

    def report(final: bool = False) -> None:
        while not resets.empty():
            resets.get()
            for s in stats.values():
                s[:] = [0, 0, 0, 0]
            reported.clear()
            _emit({"event": "reset"})
        changed = any(s[0] != reported.get(t, 0) for t, s in stats.items())
        reported.update({t: s[0] for t, s in stats.items()})
        if changed or final:
            _emit({"event": "final" if final else "stats", "stats": {t: list(s) for t, s in stats.items()}})

    threading.Thread(target=read_commands, daemon=True).start()
    node.create_timer(0.1, report)
    _emit({"event": "ready"})
    with contextlib.suppress(KeyboardInterrupt, ExternalShutdownException):
        rclpy.spin(node)
    report(final=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# =========================================================================== parent side
class Child:
    """A child process speaking JSON lines on stdout; its events are queued by a reader thread."""

    def __init__(self, name: str, args: list[str], on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.name = name
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        self._on_event = on_event
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                self.stderr.append(line.rstrip())
                continue
            if self._on_event is not None:
                self._on_event(event)
            self.events.put(event)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())
            del self.stderr[:-200]

    def send(self, command: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def wait_event(self, name: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.proc.poll() is not None and self.events.empty()):
                tail = "\n".join(self.stderr[-20:])
                raise RuntimeError(
                    f"{self.name}: no {name!r} event in {timeout_s:.0f} s (rc {self.proc.poll()})\n{tail}"
                )
            try:
                event = self.events.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if event.get("event") == name:
                return event

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGINT, then wait; kill only if it hangs."""
        return stop_process(self.proc, timeout_s)


def stop_process(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> int:
    """SIGINT (fdr_node closes its flight with a footer), then wait; kill only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=5)


class BareCounts:
    """The bare receiver's latest counters per topic."""

    def __init__(self) -> None:
        self.stats: dict[str, list[int]] = {}

    def on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") in ("stats", "final"):
            self.stats.update(event["stats"])
        elif event.get("event") == "reset":
            self.stats = {}

    def count(self, topic: str) -> int:
        return self.stats.get(topic, [0])[0]


class FdrMonitor:
    """Follows /fdr/status from this process: written + dropped per topic of the current flight."""

    def __init__(self) -> None:
        import rclpy
        from onboard.msg import FdrStatus
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        from gps_denied_onboard.graph import Topic
        from gps_denied_onboard.ros.qos import topic_qos

        self.counters: dict[str, tuple[int, int]] = {}
        self.flight_id = ""
        self._context = Context()
        rclpy.init(context=self._context)
        self._node = rclpy.create_node(f"bench_monitor_{os.getpid()}", context=self._context)
        self._node.create_subscription(FdrStatus, Topic.FDR_STATUS.value, self._on_status, topic_qos(Topic.FDR_STATUS))
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        with contextlib.suppress(Exception):
            self._executor.spin()

    def _on_status(self, msg: Any) -> None:
        self.counters = {t.producer_id: (t.records, t.dropped) for t in msg.topics}
        self.flight_id = msg.flight_id

    def wait_flight(self, flight_id: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.flight_id != flight_id and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.flight_id == flight_id

    def total(self, topic: str) -> int:
        written, dropped = self.counters.get(topic, (0, 0))
        return written + dropped

    def close(self) -> None:
        import rclpy

        self._executor.shutdown(timeout_sec=2)
        self._node.destroy_node()
        rclpy.try_shutdown(context=self._context)
        self._thread.join(timeout=2)


def fdr_executable() -> Path:
    for entry in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if entry and (Path(entry) / "share" / "onboard" / "package.xml").exists():
            return Path(entry) / "lib" / "onboard" / "fdr_node"
    return REPO_ROOT / "install" / "onboard" / "lib" / "onboard" / "fdr_node"


def fdr_settings(params: Params, root: Path, mode: str) -> dict[str, Any]:
    return {
        "fdr_root": str(root),
        "flight_id": f"bench-{mode}",
        "queue_size": params.queue_size,
        "subscription_depth": params.depth,
        "rescan_period_s": params.rescan_period_s,
        "status_period_s": params.status_period_s,
        "fsync_interval_s": params.fsync_interval_s,
        "segment_size_bytes": params.segment_size_bytes,
        "include_patterns": f"['^/bench/{mode}/']",
    }


def start_fdr(settings: dict[str, Any], log: IO[str]) -> subprocess.Popen[str]:
    args = [str(fdr_executable()), "--ros-args"]
    for name, value in settings.items():
        args += ["-p", f"{name}:={value}"]
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)


def run_row(
    row: Row, params: Params, *, publisher: Child, bare: Child | None, counts: BareCounts, fdr: FdrMonitor | None
) -> dict[str, Any]:
    """Publish one row and wait until every receiver has it (or stalls); the bare counters are the row's."""
    if bare is not None:
        bare.send({"cmd": "reset"})
        bare.wait_event("reset", timeout_s=10)
    fdr_base = fdr.total(row.topic) if fdr is not None else 0
    publisher.send(
        {
            "cmd": "run",
            "row": row.index,
            "topic": row.topic,
            "kind": row.kind,
            "count": row.count,
            "rate": row.offered_hz,
            "subscribers": len(RECEIVERS[row.mode]),
            "match_s": 20.0,
            "settle_s": params.settle_s,
        }
    )
    matched = publisher.wait_event("matched", timeout_s=30)
    expected_s = row.count / row.offered_hz if row.offered_hz else row.count * 0.01
    done = publisher.wait_event("done", timeout_s=60 + 3 * expected_s)
    start = last_move = time.monotonic()
    last, drained = -1, False
    fdr_done_ns: int | None = None
    while time.monotonic() - start < params.drain_max_s and time.monotonic() - last_move < params.stall_s:
        bare_n = counts.count(row.topic) if bare is not None else row.count
        fdr_n = fdr.total(row.topic) - fdr_base if fdr is not None else row.count
        if fdr is not None and fdr_done_ns is None and fdr_n >= row.count:
            fdr_done_ns = time.monotonic_ns()
        if bare_n >= row.count and fdr_n >= row.count:
            drained = True
            break
        if bare_n + fdr_n != last:
            last, last_move = bare_n + fdr_n, time.monotonic()
        time.sleep(0.02)
    publisher.send({"cmd": "close", "topic": row.topic})
    publisher.wait_event("closed", timeout_s=10)
    span = (done["end_ns"] - done["first_ns"]) / 1e9
    return {
        "published": done["published"],
        "publish_hz": done["published"] / span if span > 0 else None,
        "matched": matched["matched"],
        "first_ns": done["first_ns"],
        "last_ns": done["last_ns"],
        "drained": drained,
        "drain_s": round(time.monotonic() - start, 3),
        "fdr_done_ns": fdr_done_ns,
        "bare_stats": list(counts.stats.get(row.topic, [0, 0, 0, 0])) if bare is not None else None,
    }


# =========================================================================== reading the flight back
_HEADER = struct.Struct("<iII")  # after the 4-byte encapsulation: stamp.sec, stamp.nanosec, frame_id length


def parse_header(cdr: bytes) -> tuple[int, int, int] | None:
    """(stamp_ns, row, sequence number) of a little-endian CDR message starting with a std_msgs/Header."""
    if len(cdr) < 4 + _HEADER.size or cdr[:2] != b"\x00\x01":
        return None
    sec, nanosec, length = _HEADER.unpack_from(cdr, 4)
    row, _, seq = cdr[16 : 16 + length - 1].partition(b"/")
    try:
        return sec * 1_000_000_000 + nanosec, int(row), int(seq)
    except ValueError:
        return None


@dataclass
class RowRecording:
    """What the flight holds for one row."""

    recorded: int = 0
    bytes: int = 0
    last_ns: int = 0
    ring_drops: int = 0
    seqs: list[int] = field(default_factory=list)
    latencies_ns: list[int] = field(default_factory=list)


def read_flight(flight_dir: Path) -> tuple[dict[int, RowRecording], int, dict[str, Any]]:
    """Per row index: the recorded messages of the bench topics. Overrun records count the loss
    of the records drained after them: their drops go to the row of the topic's next message."""
    from gps_denied_onboard.fdr.reader import scan_flight
    from gps_denied_onboard.fdr.records import Record, RosMessage

    t0 = time.monotonic()
    scan = scan_flight(flight_dir)
    rows: dict[int, RowRecording] = {}
    pending: dict[str, int] = {}  # topic -> drops not yet attributed
    last_row: dict[str, int] = {}
    unparsed = 0
    for entry in scan.entries():
        if isinstance(entry, RosMessage):
            if not entry.topic.startswith("/bench/"):
                continue
            parsed = parse_header(entry.cdr)
            if parsed is None:
                unparsed += 1
                continue
            stamp_ns, index, seq = parsed
            rec = rows.setdefault(index, RowRecording())
            rec.recorded += 1
            rec.bytes += len(entry.cdr)
            rec.last_ns = max(rec.last_ns, entry.mono_ns)
            rec.seqs.append(seq)
            rec.latencies_ns.append(entry.mono_ns - stamp_ns)
            rec.ring_drops += pending.pop(entry.topic, 0)
            last_row[entry.topic] = index
        elif isinstance(entry, Record) and entry.kind == "overrun":
            origin = str(entry.payload.get("origin_producer_id", ""))
            if origin.startswith("/bench/"):
                pending[origin] = pending.get(origin, 0) + int(entry.payload.get("dropped_count", 0))
    for topic, drops in pending.items():  # drops after a topic's last message: its last row
        rows.setdefault(last_row.get(topic, -1), RowRecording()).ring_drops += drops
    info = {
        "flight_dir": flight_dir.name,
        "segments": len(scan.segments),
        "bytes_on_disk": sum(s.size_bytes for s in scan.segments),
        "clean_footer": scan.footer is not None,
        "issues": [str(i) for i in scan.issues][:20],
        "read_s": round(time.monotonic() - t0, 3),
    }
    return rows, unparsed, info


# =========================================================================== figures
def _per_s(n: int, first_ns: int, last_ns: int) -> float | None:
    span = (last_ns - first_ns) / 1e9
    return n / span if n and span > 0 else None


def _pct_ms(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


def _receiver(
    params: Params, run: dict[str, Any], *, received: int, distinct: int, nbytes: int, last_ns: int
) -> dict[str, Any]:
    published = run["published"]
    rate = _per_s(received, run["first_ns"], last_ns)
    mbytes = _per_s(nbytes, run["first_ns"], last_ns)
    lost = published - distinct
    publish_hz = run["publish_hz"]
    return {
        "received": received,
        "bytes": nbytes,
        "msgs_per_s": rate,
        "MB_per_s": mbytes / MB if mbytes else None,
        "lost": lost,
        "loss_pct": 100.0 * lost / published if published else 0.0,
        "lag_ms": (last_ns - run["last_ns"]) / 1e6 if received else None,
        "kept_pace": bool(lost == 0 and rate and publish_hz and rate >= params.keep_pace_fraction * publish_hz),
    }


def bare_figures(params: Params, run: dict[str, Any]) -> dict[str, Any]:
    count, nbytes, _, last_ns = run["bare_stats"]
    return _receiver(params, run, received=count, distinct=min(count, run["published"]), nbytes=nbytes, last_ns=last_ns)


def fdr_figures(params: Params, run: dict[str, Any], rec: RowRecording) -> dict[str, Any]:
    distinct = set(rec.seqs)
    in_range = {s for s in distinct if 0 <= s < run["published"]}
    figures = _receiver(
        params, run, received=rec.recorded, distinct=len(in_range), nbytes=rec.bytes, last_ns=rec.last_ns
    )
    lat = rec.latencies_ns
    figures.update(
        {
            "ring_drops": rec.ring_drops,
            "duplicates": len(rec.seqs) - len(distinct),
            "out_of_range": len(distinct) - len(in_range),
            "seqs_unique": len(rec.seqs) == len(distinct),
            "latency_ms": {"p50": _pct_ms(lat, 0.5), "p99": _pct_ms(lat, 0.99), "max": max(lat) / 1e6} if lat else None,
            "disk_s": (run["fdr_done_ns"] - run["first_ns"]) / 1e9 if run["fdr_done_ns"] else None,
        }
    )
    return figures


def max_without_loss(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in rows:
        for name, fig in row["receivers"].items():
            slot = out.setdefault(row["kind"], {}).setdefault(row["mode"], {})
            slot = slot.setdefault(name, {"best": None, "kept_pace_publish_hz": None, "kept_pace_offered": None})
            if fig["lost"] or fig.get("ring_drops") or not fig["msgs_per_s"]:
                continue
            if slot["best"] is None or fig["msgs_per_s"] > slot["best"]["msgs_per_s"]:
                slot["best"] = {"offered": row["label"], "msgs_per_s": fig["msgs_per_s"], "MB_per_s": fig["MB_per_s"]}
            if fig["kept_pace"] and (
                slot["kept_pace_publish_hz"] is None or row["publish_hz"] > slot["kept_pace_publish_hz"]
            ):
                slot["kept_pace_publish_hz"] = row["publish_hz"]
                slot["kept_pace_offered"] = row["label"]
    return out


# =========================================================================== printing
def _f(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


TABLE = (
    ("mode", 5),
    ("offered", 8),
    ("N", 5),
    ("pub/s", 6),
    ("bare/s", 6),
    ("MB/s", 7),
    ("loss%", 5),
    ("fdr/s", 6),
    ("MB/s", 7),
    ("drops", 5),
    ("loss%", 5),
    ("fdr/bare", 8),
    ("p99 ms", 7),
    ("lag ms", 6),
)


def _cells(row: dict[str, Any]) -> list[str]:
    bare, fdr = row["receivers"].get("bare"), row["receivers"].get("fdr")
    return [
        row["mode"],
        row["label"],
        str(row["published"]),
        _f(row["publish_hz"], ".0f"),
        _f(bare and bare["msgs_per_s"], ".0f"),
        _f(bare and bare["MB_per_s"], ".2f"),
        _f(bare and bare["loss_pct"], ".1f"),
        _f(fdr and fdr["msgs_per_s"], ".0f"),
        _f(fdr and fdr["MB_per_s"], ".2f"),
        _f(fdr and fdr["ring_drops"], "d"),
        _f(fdr and fdr["loss_pct"], ".1f"),
        _f(row["fdr_over_bare"], ".2f"),
        _f(fdr and fdr["latency_ms"] and fdr["latency_ms"]["p99"], ".1f"),
        _f((fdr or bare or {}).get("lag_ms"), ".0f"),
    ]


GROUPS = (("publisher", 1, 4), ("bare", 4, 7), ("fdr_node", 7, 14))  # (title, first column, end column)


def _group_header() -> str:
    starts = [0]
    for _, width in TABLE:
        starts.append(starts[-1] + width + 1)
    line = ""
    for title, first, end in GROUPS:
        width = starts[end] - starts[first] - 1
        line = line.ljust(starts[first]) + f" {title} ".center(width, "-")
    return line


def print_tables(doc: dict[str, Any], write: Callable[[str], None] = print) -> None:
    head = " ".join(f"{name:>{width}}" for name, width in TABLE)
    for kind in KINDS:
        rows = [r for r in doc["rows"] if r["kind"] == kind]
        if not rows:
            continue
        write(f"\n{kind}: {MSG_TYPES[kind]}, {rows[0]['cdr_bytes']} B of CDR per message")
        write(_group_header())
        write(head)
        write("-" * len(head))
        for row in rows:
            write(" ".join(f"{c:>{w}}" for c, (_, w) in zip(_cells(row), TABLE, strict=True)))
    write("p99 ms: fdr enqueue - publish time; lag ms: last receive - last publish (fdr's, else bare's)")
    write("\nmax without loss: the best row with zero loss, and the highest publish rate the receiver kept pace with")
    head = f"{'kind':>6} {'mode':>5} {'receiver':>8} {'offered':>8} {'msgs/s':>7} {'MB/s':>7}   kept pace up to"
    write(head)
    write("-" * len(head))
    for kind, modes in doc["max_without_loss"].items():
        for mode, receivers in modes.items():
            for name, slot in receivers.items():
                best = slot["best"] or {}
                pace = slot["kept_pace_publish_hz"]
                write(
                    f"{kind:>6} {mode:>5} {name:>8} {best.get('offered', '-'):>8} "
                    f"{_f(best.get('msgs_per_s'), '.0f'):>7} {_f(best.get('MB_per_s'), '.2f'):>7}   "
                    + ("-" if pace is None else f"{pace:.0f}/s ({slot['kept_pace_offered']})")
                )


# =========================================================================== orchestration
def machine_info() -> dict[str, Any]:
    def proc_field(path: str, key: str) -> str | None:
        with contextlib.suppress(OSError):
            for line in Path(path).read_text().splitlines():
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
        return None

    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": proc_field("/proc/cpuinfo", "model name"),
        "mem_total": proc_field("/proc/meminfo", "MemTotal"),
        "python_version": platform.python_version(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "ros_distro": os.environ.get("ROS_DISTRO"),
        "rmw_implementation": os.environ.get("RMW_IMPLEMENTATION") or "rmw_fastrtps_cpp (default)",
        "ros_domain_id": os.environ.get("ROS_DOMAIN_ID"),
        "ros_automatic_discovery_range": os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE"),
        "fastrtps_publication_mode": os.environ.get("RMW_FASTRTPS_PUBLICATION_MODE"),
        "fdr_node": str(fdr_executable()),
        "packages": {name: _version(name) for name in ("ros-jazzy-rclpy", "ros-fastrtps", "ros-rmw-fastrtps-cpp")},
    }


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


@contextlib.contextmanager
def isolated_dds() -> Iterator[None]:
    """A DDS domain of this run's own, on loopback only, for this process and its children."""
    saved = {k: os.environ.get(k) for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")}
    os.environ["ROS_DOMAIN_ID"] = str(random.randint(150, 230))  # noqa: S311 - not cryptographic
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_mode(
    mode: str,
    rows: list[Row],
    params: Params,
    *,
    work: Path,
    publisher: Child,
    monitor: FdrMonitor,
    log: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fresh receivers for one mode, its rows, then the flight read back (mode with fdr)."""
    me = [sys.executable, str(Path(__file__).resolve())]
    counts = BareCounts()
    bare: Child | None = None
    fdr_proc: subprocess.Popen[str] | None = None
    settings = fdr_settings(params, work / "flights", mode)
    log_path = work / f"fdr_node-{mode}.log"
    started = time.monotonic()
    runs: list[dict[str, Any]] = []
    up_s: float | None = None
    with log_path.open("w") as fdr_log:
        try:
            if "fdr" in RECEIVERS[mode]:
                fdr_proc = start_fdr(settings, fdr_log)
            if "bare" in RECEIVERS[mode]:
                bare = Child("bare receiver", [*me, "--role", "bare", "--depth", str(params.depth)], counts.on_event)
                bare.send({"topics": [[topic_of(mode, k), MSG_TYPES[k]] for k in KINDS]})
                bare.wait_event("ready", timeout_s=60)
            if fdr_proc is not None and not monitor.wait_flight(settings["flight_id"], timeout_s=60):
                raise RuntimeError(f"fdr_node published no /fdr/status: {log_path.read_text()[-3000:]}")
            up_s = round(time.monotonic() - started, 2)
            log(f"mode {mode}: receivers {', '.join(RECEIVERS[mode])} up in {up_s:.1f} s")
            for row in rows:
                fdr = monitor if fdr_proc is not None else None
                run = run_row(row, params, publisher=publisher, bare=bare, counts=counts, fdr=fdr)
                runs.append(run)
                log(
                    f"  {row.kind:5} {row.label:>8}: {run['published']:5} at {_f(run['publish_hz'], '6.0f')}/s,"
                    f" drained={run['drained']} in {run['drain_s']:.2f} s"
                )
        finally:
            bare_rc = bare.stop() if bare is not None else None
            fdr_rc = stop_process(fdr_proc) if fdr_proc is not None else None
    info: dict[str, Any] = {
        "receivers": list(RECEIVERS[mode]),
        "receivers_up_s": up_s,
        "bare_exit_code": bare_rc,
        "fdr_node_exit_code": fdr_rc,
        "flight": None,
    }
    recordings: dict[int, RowRecording] = {}
    if fdr_proc is not None:
        recordings, unparsed, info["flight"] = read_flight(Path(settings["fdr_root"]) / settings["flight_id"])
        info["flight"]["unparsed_messages"] = unparsed
        info["fdr_node_log_tail"] = log_path.read_text()[-2000:].splitlines()
        with contextlib.suppress(OSError):
            shutil.rmtree(Path(settings["fdr_root"]) / settings["flight_id"])  # keep the disk use to one mode
    out = []
    for row, run in zip(rows, runs, strict=True):
        receivers: dict[str, Any] = {}
        if bare is not None:
            receivers["bare"] = bare_figures(params, run)
        if fdr_proc is not None:
            receivers["fdr"] = fdr_figures(params, run, recordings.get(row.index, RowRecording()))
        bare_rate = receivers.get("bare", {}).get("msgs_per_s")
        fdr_rate = receivers.get("fdr", {}).get("msgs_per_s")
        out.append(
            {
                "kind": row.kind,
                "mode": row.mode,
                "label": row.label,
                "row": row.index,
                "topic": row.topic,
                "offered_hz": row.offered_hz,
                "cdr_bytes": len(_serialized(row.kind)),
                **{k: run[k] for k in ("published", "publish_hz", "matched", "drained", "drain_s")},
                "expected_subscribers": len(RECEIVERS[mode]),
                "receivers": receivers,
                "fdr_over_bare": fdr_rate / bare_rate if fdr_rate and bare_rate else None,
            }
        )
    return out, info


def _serialized(kind: str) -> bytes:
    from rclpy.serialization import serialize_message

    msg = _new_message(kind)
    msg.header.frame_id = "0/0"
    return bytes(serialize_message(msg))


def run_benchmark(params: Params, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    rows = plan(params)
    started = time.monotonic()
    publisher = Child("publisher", [sys.executable, str(Path(__file__).resolve()), "--role", "publisher"])
    monitor = FdrMonitor()
    out_rows: list[dict[str, Any]] = []
    modes: dict[str, Any] = {}
    try:
        publisher.wait_event("ready", timeout_s=60)
        for mode in params.modes:
            mode_rows, modes[mode] = run_mode(
                mode,
                [r for r in rows if r.mode == mode],
                params,
                work=work,
                publisher=publisher,
                monitor=monitor,
                log=log,
            )
            out_rows += mode_rows
        publisher.send({"cmd": "quit"})
    finally:
        publisher.stop()
        monitor.close()
    return {"rows": out_rows, "modes": modes, "wall_s": round(time.monotonic() - started, 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench-results" / "fdr_node.json")
    parser.add_argument("--quick", action="store_true", help="both receivers together, two rates per kind (~10 s)")
    parser.add_argument("--duration-s", type=float, default=None, help="seconds per rate-limited row (2.0; quick 0.5)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary flights are written")
    parser.add_argument("--modes", default=None, help=f"comma-separated subset of {','.join(MODES)}")
    parser.add_argument("--kinds", default=None, help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--role", choices=("publisher", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--depth", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "publisher":
        return publisher_main()
    if args.role == "bare":
        return bare_main(json.loads(sys.stdin.readline())["topics"], args.depth)
    if args.duration_s is not None and not 0.05 <= args.duration_s <= 60:
        parser.error("--duration-s must be in [0.05, 60]")
    params = make_params(args.quick, args.duration_s)
    if args.modes:
        modes = tuple(m for m in MODES if m in args.modes.split(","))
        if not modes or set(args.modes.split(",")) - set(MODES):
            parser.error(f"--modes: a comma-separated subset of {','.join(MODES)}")
        params = replace(params, modes=modes)
    if args.kinds:
        kinds = set(args.kinds.split(","))
        if not kinds or kinds - set(KINDS):
            parser.error(f"--kinds: a comma-separated subset of {','.join(KINDS)}")
        params = replace(
            params,
            imu_rates=params.imu_rates if "imu" in kinds else (),
            image_rates=params.image_rates if "image" in kinds else (),
        )

    def log(line: str) -> None:
        print(line, flush=True)

    log(f"fdr_node benchmark ({params.mode}): {len(plan(params))} rows, modes {', '.join(params.modes)}")
    work = Path(tempfile.mkdtemp(prefix="fdr-node-bench-", dir=args.dir))
    try:
        with isolated_dds():
            machine = machine_info()
            log(
                f"ROS_DOMAIN_ID={machine['ros_domain_id']}, {machine['cpu_count']} CPUs, "
                f"Python {machine['python_version']}"
            )
            result = run_benchmark(params, work, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    doc = {
        "schema": SCHEMA,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "parameters": {**asdict(params), "subscription_depth": params.depth},
        "fdr_node_parameters": fdr_settings(params, Path("<tmp>"), "<mode>"),
        "definitions": DEFINITIONS,
        "message_types": MSG_TYPES,
        "rows": result["rows"],
        "max_without_loss": max_without_loss(result["rows"]),
        "modes": result["modes"],
        "wall_s": result["wall_s"],
    }
    print_tables(doc, log)
    for mode, info in doc["modes"].items():
        flight = info["flight"]
        if flight is None:
            continue
        log(
            f"flight of mode {mode}: {flight['bytes_on_disk'] / MB:.0f} MB in {flight['segments']} segment(s), "
            f"clean footer {flight['clean_footer']}, {len(flight['issues'])} issue(s), read in {flight['read_s']} s"
        )
    log(f"wall {doc['wall_s']} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
