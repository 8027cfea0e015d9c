"""Run the whole graph on a bag: `onboard launch flight` on sim time, `onboard replay` into it, stop, find the flight.

Both tools run as child processes exactly as a user would start them, so the demo exercises
the real launcher (one process per node, ordered stop, recorder last) and the real replayer
(raw CDR, /clock, declared QoS, waiting for the graph's subscribers).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from gps_denied_onboard.demo.errors import DemoGraphError

logger = logging.getLogger(__name__)

ONBOARD = (sys.executable, "-m", "gps_denied_onboard.cli.main")
SETTLE_AFTER_REPLAY_S = 2.0  # the estimator's reorder window and the recorder's drain, with margin
LAUNCH_STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class GraphRun:
    """What one replay through the graph produced."""

    flight_dir: Path
    replay_report: dict[str, Any]
    launcher_exit_code: int
    launcher_log: Path
    wall_s: float


def _flights(fdr_root: Path) -> set[Path]:
    return {p for p in fdr_root.iterdir() if p.is_dir()} if fdr_root.is_dir() else set()


def _stop(proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


def run_graph_on_bag(
    bag: Path,
    *,
    run_dir: Path,
    params_file: Path,
    rate: float,
    say: Callable[[str], None],
) -> GraphRun:
    """Start the flight graph on sim time, replay ``bag`` into it at ``rate``, stop it; return the recorded flight."""
    fdr_root = run_dir / "flights"
    fdr_root.mkdir(parents=True, exist_ok=True)
    launcher_log = run_dir / "launch.log"
    before = _flights(fdr_root)
    launch_cmd = [
        *ONBOARD,
        "launch",
        "flight",
        "--use-sim-time",
        "--config",
        str(params_file),
        "--fdr-root",
        str(fdr_root),
        "--log-level",
        "warn",
    ]
    started = time.monotonic()
    with launcher_log.open("wb") as log:
        launcher = subprocess.Popen(launch_cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        try:
            say(f"graph started: onboard launch flight --use-sim-time (pid {launcher.pid}, log {launcher_log})")
            report = _replay(bag, rate, launcher, say)
            time.sleep(SETTLE_AFTER_REPLAY_S)
            if launcher.poll() is not None:
                raise DemoGraphError(
                    f"the graph stopped during the replay (launcher exit {launcher.returncode}); see {launcher_log}"
                )
        finally:
            code = _stop(launcher, LAUNCH_STOP_TIMEOUT_S)
    if code != 0:
        raise DemoGraphError(f"the graph did not stop cleanly (launcher exit {code}); see {launcher_log}")
    new = sorted(_flights(fdr_root) - before)
    if len(new) != 1:
        raise DemoGraphError(f"expected one recorded flight under {fdr_root}, found {len(new)}")
    return GraphRun(new[0], report, code, launcher_log, time.monotonic() - started)


def _replay(bag: Path, rate: float, launcher: subprocess.Popen[bytes], say: Callable[[str], None]) -> dict[str, Any]:
    # The nodes import numpy/scipy/GTSAM and the recorder finds new topics on its rescan period: on a
    # 2-core computer the graph needs several seconds before every subscriber is there.
    cmd = [*ONBOARD, "replay", str(bag), "--rate", repr(rate), "--wait-for-subscribers", "60", "--json"]
    say(f"replaying {bag.name} into the graph at {rate:g}x real time (onboard replay waits for the nodes to subscribe)")
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as replay:
        out, err = _communicate(replay, launcher)
    if replay.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise DemoGraphError(f"onboard replay failed (exit {replay.returncode}): {' | '.join(tail)}")
    try:
        report: dict[str, Any] = orjson.loads(out)
    except orjson.JSONDecodeError as exc:
        raise DemoGraphError(f"onboard replay printed no JSON report: {exc}") from None
    return report


def _communicate(replay: subprocess.Popen[bytes], launcher: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Wait for the replay; give up at once if the graph dies under it."""
    while True:
        try:
            out, err = replay.communicate(timeout=1.0)
            return out, err
        except subprocess.TimeoutExpired:
            if launcher.poll() is not None:
                replay.kill()
                code = launcher.returncode
                raise DemoGraphError(f"the graph stopped during the replay (launcher exit {code})") from None
