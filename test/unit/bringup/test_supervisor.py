"""The supervisor with real child processes: ordered stop, failures named, stubborn nodes killed."""

from __future__ import annotations

import io
import sys
import textwrap
import threading
from pathlib import Path

from gps_denied_onboard.bringup.plan import ProcessSpec
from gps_denied_onboard.bringup.supervisor import EXIT_NODE_FAILED, Supervisor, describe_exit

NODE = textwrap.dedent("""
    import signal, sys, time
    name, log, behaviour = sys.argv[1], sys.argv[2], sys.argv[3]
    def stop(signum, frame):
        with open(log, "a") as f:
            f.write(name + "\\n")
        if behaviour != "stubborn":
            sys.exit(0)
    signal.signal(signal.SIGINT, stop)
    with open(log, "a") as f:
        f.write("up " + name + "\\n")
    if behaviour.startswith("exit"):
        time.sleep(0.3)
        sys.exit(int(behaviour[4:]))
    while True:
        time.sleep(0.05)
""")


def node(name: str, log: Path, behaviour: str = "normal", *, stop_last: bool = False) -> ProcessSpec:
    return ProcessSpec(name, (sys.executable, "-c", NODE, name, str(log), behaviour), stop_last)


def wait_up(log: Path, count: int) -> None:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count("up ") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"nodes did not start: {log.read_text() if log.exists() else ''}")


def stop_when_up(supervisor: Supervisor, log: Path, count: int) -> threading.Thread:
    thread = threading.Thread(target=lambda: (wait_up(log, count), supervisor.request_stop()))
    thread.start()
    return thread


def test_stop_is_ordered_with_the_recorder_last(tmp_path: Path) -> None:
    log = tmp_path / "log"
    processes = [node("recorder", log, stop_last=True), node("a", log), node("b", log)]
    out = io.StringIO()
    supervisor = Supervisor(processes, out=out)
    waiter = stop_when_up(supervisor, log, 3)
    outcome = supervisor.run()
    waiter.join()
    stops = [line for line in log.read_text().splitlines() if not line.startswith("up ")]
    assert sorted(stops[:2]) == ["a", "b"], "the others stop together"
    assert stops[2] == "recorder", "the recorder only after every other node has exited"
    assert outcome.exit_code == 0
    assert outcome.exit_codes == {"recorder": 0, "a": 0, "b": 0}
    assert "every node stopped cleanly" in out.getvalue()


def test_a_node_dying_is_named_and_stops_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "log"
    out = io.StringIO()
    outcome = Supervisor(
        [node("recorder", log, stop_last=True), node("vio", log, "exit3"), node("est", log)], out=out
    ).run()
    assert outcome.first_failure == ("vio", 3)
    assert outcome.exit_code == EXIT_NODE_FAILED
    assert "FAILED: vio stopped on its own (exit code 3)" in out.getvalue()
    stops = [line for line in log.read_text().splitlines() if not line.startswith("up ")]
    assert stops == ["est", "recorder"], "the survivors are stopped in order"


def test_a_node_ignoring_sigint_is_killed_after_the_timeout(tmp_path: Path) -> None:
    log = tmp_path / "log"
    out = io.StringIO()
    supervisor = Supervisor(
        [node("recorder", log, stop_last=True), node("stuck", log, "stubborn")], stop_timeout_s=0.5, out=out
    )
    waiter = stop_when_up(supervisor, log, 2)
    outcome = supervisor.run()
    waiter.join()
    assert "stuck did not stop within" in out.getvalue()
    assert outcome.exit_codes["stuck"] == -9
    assert outcome.exit_code == EXIT_NODE_FAILED
    assert "stuck killed by SIGKILL" in out.getvalue()


def test_exit_descriptions() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-200) == "killed by signal 200"
