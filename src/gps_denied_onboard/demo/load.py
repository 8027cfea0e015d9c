"""One competing CPU-bound process at nice 10, for running the graph under load.

The estimator's issue asks the graph to keep its accuracy while another process spins on a
core at a lower priority, as a logger or a compressor would on the companion computer.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gps_denied_onboard.demo.errors import DemoLoadError

logger = logging.getLogger(__name__)

LOAD_NICE = 10
# Spins one core; checks its parent between bursts so a killed demo does not leave it spinning.
_SPIN_SOURCE = """\
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(1_000_000):
        pass
"""


@contextmanager
def competing_cpu_load(*, enabled: bool = True, nice: int = LOAD_NICE) -> Iterator[int | None]:
    """One process spins a core at ``nice`` inside the block (yields its pid, or None if not ``enabled``).

    On leaving, even by an exception, it is killed and reaped.
    """
    if not enabled:
        yield None
        return
    cmd = [sys.executable, "-c", _SPIN_SOURCE, str(os.getpid())]
    try:
        # Its own session: a Ctrl-C at the terminal stops the demo, whose cleanup below kills the spinner.
        hog = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
    except OSError as exc:
        raise DemoLoadError(f"cannot start the competing CPU load ({sys.executable}): {exc}") from exc
    try:
        os.setpriority(os.PRIO_PROCESS, hog.pid, nice)  # from here, not in the child: set before the block starts
        yield hog.pid
    finally:
        hog.kill()
        hog.wait()
        logger.debug("competing CPU load (pid %d) stopped", hog.pid)
