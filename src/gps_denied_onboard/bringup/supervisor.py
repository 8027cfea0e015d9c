"""Runs the graph's processes: ordered start, SIGINT/SIGTERM forwarded in order, failures named.

Each node runs in its own session, so a Ctrl-C at the terminal reaches only the
supervisor, which then stops the nodes in order (the recorder last, so it records every
other node's final WARN/ERROR). If a node dies on its own, the supervisor names it and
its exit code, stops the rest and exits non-zero. Children get SIGTERM if the
supervisor itself dies (Linux parent-death signal).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import TextIO

from gps_denied_onboard.bringup.plan import ProcessSpec

logger = logging.getLogger(__name__)

EXIT_NODE_FAILED = 1
_PR_SET_PDEATHSIG = 1
_RESIGNAL_S = 1.0


def _prepare_child() -> None:  # runs in the child between fork and exec
    """Die with the supervisor, and start with SIGINT ignored.

    A SIGINT that reaches Python while it is still starting (importing its site packages)
    is a crash with a traceback that no code of ours can catch. Python keeps an inherited
    SIG_IGN, and rclpy installs its own SIGINT handler at init, so a stop request during
    start-up is simply lost, and the supervisor repeats it until the node has exited.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def describe_exit(code: int) -> str:
    """'exit code 3' or 'killed by SIGKILL'."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class _Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes]
    exit_code: int | None = None


@dataclass
class Outcome:
    """How the graph ended: who failed first (if anyone) and every node's exit code."""

    requested_stop: bool
    first_failure: tuple[str, int] | None
    exit_codes: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when stopped on request and every node exited 0; non-zero otherwise."""
        if self.first_failure is None and all(code == 0 for code in self.exit_codes.values()):
            return 0
        return EXIT_NODE_FAILED


class Supervisor:
    """Starts ``processes`` (already in start order) and watches them until the graph stops."""

    def __init__(
        self,
        processes: list[ProcessSpec],
        *,
        stop_timeout_s: float = 10.0,
        out: TextIO = sys.stderr,
        popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
    ) -> None:
        self.processes = processes
        self.stop_timeout_s = stop_timeout_s
        self.out = out
        self._popen = popen
        self._children: list[_Child] = []
        self._stop_requested = False

    def _say(self, message: str) -> None:
        print(f"[onboard launch] {message}", file=self.out, flush=True)

    def request_stop(self, signum: int = signal.SIGINT, _frame: FrameType | None = None) -> None:
        """Signal handler: stop the graph in order (a second signal is ignored; stopping is under way)."""
        if not self._stop_requested:
            self._say(f"{signal.Signals(signum).name} received: stopping the graph (recorder last)")
        self._stop_requested = True

    def run(self) -> Outcome:
        """Start every process, wait for a stop request or a failure, stop in order."""
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            first_failure = self._start_all() or self._watch()
            self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        outcome = Outcome(
            self._stop_requested and first_failure is None,
            first_failure,
            {c.spec.node: c.exit_code if c.exit_code is not None else -1 for c in self._children},
        )
        bad = {name: code for name, code in outcome.exit_codes.items() if code != 0}
        if first_failure is not None:
            self._say(f"FAILED: {first_failure[0]} stopped on its own ({describe_exit(first_failure[1])})")
        elif bad:
            self._say("stopped, but not cleanly: " + ", ".join(f"{n} {describe_exit(c)}" for n, c in bad.items()))
        else:
            self._say("every node stopped cleanly")
        return outcome

    def _start_all(self) -> tuple[str, int] | None:
        for spec in self.processes:
            proc = self._popen(list(spec.argv), start_new_session=True, preexec_fn=_prepare_child)
            self._children.append(_Child(spec, proc))
            self._say(f"started {spec.node} (pid {proc.pid})")
            if spec.stop_last:
                time.sleep(0.5)  # let the recorder subscribe before the others start talking
            failure = self._poll_failure()
            if failure is not None or self._stop_requested:
                return failure
        return None

    def _poll_failure(self) -> tuple[str, int] | None:
        for child in self._children:
            if child.exit_code is None and (code := child.proc.poll()) is not None:
                child.exit_code = code
                return child.spec.node, code
        return None

    def _watch(self) -> tuple[str, int] | None:
        while not self._stop_requested:
            failure = self._poll_failure()
            if failure is not None:
                return failure
            time.sleep(0.1)
        return None

    def _stop_all(self) -> None:
        others = [c for c in self._children if not c.spec.stop_last]
        last = [c for c in self._children if c.spec.stop_last]
        for group in (list(reversed(others)), last):
            self._stop_group(group)

    def _stop_group(self, group: list[_Child]) -> None:
        """SIGINT the group, repeated each second (one sent during start-up is lost), SIGKILL at the timeout."""
        deadline = time.monotonic() + self.stop_timeout_s
        next_signal = 0.0
        while (running := [c for c in group if c.proc.poll() is None]) and time.monotonic() < deadline:
            if time.monotonic() >= next_signal:
                for child in running:
                    child.proc.send_signal(signal.SIGINT)
                next_signal = time.monotonic() + _RESIGNAL_S
            time.sleep(0.02)
        for child in group:
            if child.proc.poll() is None:
                self._say(f"{child.spec.node} did not stop within {self.stop_timeout_s:.0f} s: SIGKILL")
                child.proc.kill()
            if child.exit_code is None:
                child.exit_code = child.proc.wait()
