"""Helpers for tests that run ROS nodes in child processes and watch them from this one."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def spinning(context: Any, *nodes: Any) -> Iterator[Any]:
    """A SingleThreadedExecutor on ``context`` holding ``nodes``, shut down on exit."""
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=context)
    for node in nodes:
        executor.add_node(node)
    try:
        yield executor
    finally:
        executor.shutdown()


def spin_until(executor: Any, predicate: Callable[[], bool], timeout_s: float) -> bool:
    """Spin ``executor`` until ``predicate()`` holds or ``timeout_s`` passes; return whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=0.05)
    return predicate()


def stop(proc: subprocess.Popen[str], timeout_s: float = 5.0) -> tuple[int, str]:
    """Kill a child that is still running and return its exit code and combined output."""
    if proc.poll() is None:
        proc.kill()
    out, _ = proc.communicate(timeout=timeout_s)
    return proc.returncode, out or ""
