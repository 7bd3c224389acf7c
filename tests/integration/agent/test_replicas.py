"""The replica supervisor runs the real sample service: scaling, draining, crashes, backoff, health."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from clearance.agent.replicas import ReplicaSupervisor
from clearance.delivery.targets.base import HealthSpec, ReplicaStatus, ServiceSpec

SAMPLE = f"{sys.executable} -m clearance.demo.sample_service"
FAST_HEALTH = HealthSpec(interval=0.2, timeout=0.5, healthy_threshold=1, unhealthy_threshold=2)


def spec(command: str = SAMPLE, *, drain_timeout: float = 5.0) -> ServiceSpec:
    return ServiceSpec(command=command, port=1, health=FAST_HEALTH, drain_timeout=drain_timeout)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[ReplicaSupervisor]:
    with ReplicaSupervisor(tmp_path / "replicas", port_range=(21000, 21999)) as sup:
        yield sup


def poll_until(
    sup: ReplicaSupervisor, check: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sup.poll()
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout} s: {sup.status()}")


def ready(sup: ReplicaSupervisor, version: str) -> list[ReplicaStatus]:
    return [r for r in sup.status(version) if r.ready]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_scale_up_then_down_drains_the_newest_replicas(supervisor: ReplicaSupervisor, tmp_path: Path) -> None:
    env = {"CLEARANCE_RELEASE_VERSION": "1.0.0", "FAULT_LATENCY_MS": "800"}
    supervisor.ensure("1.0.0", 3, spec(), env)
    supervisor.ensure("1.0.0", 3, spec(), env)  # idempotent: still three
    poll_until(supervisor, lambda: len(ready(supervisor, "1.0.0")) == 3, what="3 ready")
    replicas = supervisor.status("1.0.0")
    assert len({r.port for r in replicas}) == 3
    for replica in replicas:
        assert httpx.get(f"http://127.0.0.1:{replica.port}/version").text.strip() == "1.0.0"

    # A slow request is in flight on the newest replica when it is told to stop.
    newest = replicas[-1]
    answers: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: answers.append(httpx.get(f"http://127.0.0.1:{newest.port}/")))
    slow.start()
    time.sleep(0.3)
    supervisor.ensure("1.0.0", 1, spec(), env)
    assert [r.pid for r in supervisor.status("1.0.0")] == [replicas[0].pid]
    poll_until(supervisor, lambda: not any(alive(r.pid) for r in replicas[1:] if r.pid), what="drained")
    slow.join(timeout=5)
    assert answers and answers[0].status_code == 200 and answers[0].json()["version"] == "1.0.0"
    log = (tmp_path / "replicas" / "1.0.0" / "r3.log").read_text()
    assert "SIGTERM" in log and "r3 stopped (exit status 0)" in log and "drained" in log
    assert alive(replicas[0].pid or 0) and supervisor.versions() == ["1.0.0"]


def test_a_crashed_replica_is_restarted(supervisor: ReplicaSupervisor) -> None:
    supervisor.ensure("2.0.0", 1, spec(), {"VERSION": "2.0.0", "FAULT_CRASH_AFTER": "1"})
    poll_until(supervisor, lambda: len(ready(supervisor, "2.0.0")) == 1, what="ready")
    first = supervisor.status("2.0.0")[0]
    assert httpx.get(f"http://127.0.0.1:{first.port}/").status_code == 200  # then it crashes
    poll_until(supervisor, lambda: supervisor.status("2.0.0")[0].restarts == 1, what="restart")
    poll_until(supervisor, lambda: len(ready(supervisor, "2.0.0")) == 1, what="ready again")
    again = supervisor.status("2.0.0")[0]
    assert again.pid != first.pid
    assert "exited with status 3" in again.last_error and "FAULT_CRASH_AFTER" in again.last_error


@pytest.mark.parametrize(
    ("command", "reason"),
    [("false", "exited with status 1"), ("no-such-binary-for-clearance", "command not found")],
)
def test_a_command_that_exits_at_once_backs_off(
    supervisor: ReplicaSupervisor, command: str, reason: str
) -> None:
    supervisor.ensure("3.0.0", 1, spec(command), {})
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        supervisor.poll()
        assert not supervisor.status("3.0.0")[0].ready
        time.sleep(0.05)
    status = supervisor.status("3.0.0")[0]
    # Starts at 0, 0.5, 1.5 s (then 3.5 s): no hot loop.
    assert 1 <= status.restarts <= 3, status
    assert reason in status.last_error


def test_failing_health_keeps_a_replica_out_and_says_why(supervisor: ReplicaSupervisor) -> None:
    supervisor.ensure("4.0.0", 1, spec(), {"VERSION": "4.0.0", "FAULT_FAIL_HEALTH": "1"})
    poll_until(supervisor, lambda: "503" in supervisor.status("4.0.0")[0].last_error, what="503 seen")
    status = supervisor.status("4.0.0")[0]
    assert not status.ready and status.pid is not None and status.restarts == 0
    assert "GET /health answered 503" in status.last_error and "FAULT_FAIL_HEALTH" in status.last_error


def test_ready_only_after_the_startup_delay(supervisor: ReplicaSupervisor) -> None:
    started = time.monotonic()
    supervisor.ensure("5.0.0", 1, spec(), {"VERSION": "5.0.0", "SAMPLE_STARTUP_DELAY": "1.5"})
    poll_until(supervisor, lambda: "starting" in supervisor.status("5.0.0")[0].last_error, what="starting")
    assert not supervisor.status("5.0.0")[0].ready
    poll_until(supervisor, lambda: len(ready(supervisor, "5.0.0")) == 1, what="ready")
    assert time.monotonic() - started >= 1.5
    assert supervisor.status("5.0.0")[0].last_error == ""


def listening_socket(first: int) -> socket.socket:
    """A socket listening on the first free port from `first` on (outside the ephemeral range)."""
    for port in range(first, first + 100):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sock.listen()
        return sock
    raise AssertionError("no free port to occupy")


def test_ports_in_use_are_skipped_or_reported(tmp_path: Path) -> None:
    with listening_socket(22000) as taken:
        busy = taken.getsockname()[1]
        with ReplicaSupervisor(tmp_path, port_range=(busy, busy + 20)) as sup:
            sup.ensure("6.0.0", 1, spec(), {"VERSION": "6.0.0"})
            poll_until(sup, lambda: len(ready(sup, "6.0.0")) == 1, what="ready")
            assert busy < sup.status("6.0.0")[0].port <= busy + 20
            # A command that ignores $PORT and binds a taken one fails at once and says so.
            sup.ensure("6.0.1", 1, spec(f"PORT={busy} {SAMPLE}"), {})
            poll_until(sup, lambda: "in use" in sup.status("6.0.1")[0].last_error, what="reported")
            assert not sup.status("6.0.1")[0].ready


def test_stop_all_leaves_no_process(tmp_path: Path) -> None:
    sup = ReplicaSupervisor(tmp_path)
    # A replica that ignores SIGTERM is killed after its drain timeout.
    stubborn = spec(f"trap '' TERM; {SAMPLE}; sleep 60", drain_timeout=0.5)
    sup.ensure("7.0.0", 2, spec(), {"VERSION": "7.0.0"})
    sup.ensure("7.1.0", 1, stubborn, {"VERSION": "7.1.0"})
    poll_until(sup, lambda: len(ready(sup, "7.0.0")) == 2 and len(ready(sup, "7.1.0")) == 1, what="ready")
    pids = [r.pid for r in sup.status() if r.pid]
    assert len(pids) == 3
    sup.stop_all()
    assert sup.status() == [] and sup.versions() == []
    assert not any(alive(pid) for pid in pids)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # nor any child of theirs


AGENT = """
import sys, time
from pathlib import Path
from clearance.agent.replicas import ReplicaSupervisor
from clearance.delivery.targets.base import ServiceSpec
sup = ReplicaSupervisor(Path(sys.argv[1]))
sup.ensure("8.0.0", 2, ServiceSpec(command=sys.argv[2], port=1), {})
print(" ".join(str(r.pid) for r in sup.status()), flush=True)
time.sleep(60)
"""


def test_replicas_die_with_the_agent(tmp_path: Path) -> None:
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(tmp_path), SAMPLE], stdout=subprocess.PIPE, text=True
    )
    assert agent.stdout is not None
    pids = [int(pid) for pid in agent.stdout.readline().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    agent.kill()  # no chance to clean up
    agent.communicate(timeout=5)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids)
