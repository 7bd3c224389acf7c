"""The replica supervisor of the local agent: N processes per version of a service, each on its own
loopback port, health-checked, restarted with backoff when they exit, drained when they are stopped.

Every method is meant to be called from one thread, the agent's loop, which calls `poll()` every
0.2–0.5 s. Replicas are started from that thread and die with it (PR_SET_PDEATHSIG on Linux).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from clearance.agent.ports import PortAllocator, port_is_free
from clearance.agent.replica_processes import (
    EXCERPT,
    child_setup,
    group_alive,
    kill_group,
    log_tail,
    note,
    rotate_if_large,
    safe_name,
    shell,
    signal_name,
)
from clearance.delivery.targets.base import HealthSpec, ReplicaStatus, ServiceSpec
from clearance.errors import OperationFailed, UsageError

_BACKOFF_BASE = 0.5  # the first restart after a crash waits this long, then 1, 2, 4 … seconds
_BACKOFF_CAP = 10.0
_STABLE_RUN = 10.0  # a run at least this long (or one that became ready) resets the backoff
_STARTUP_CHECK_INTERVAL = 0.25  # probe a starting replica often, so it is ready soon after it listens
_PROBE_WAIT = 0.25  # poll() waits this long for the answers of the probes it sent, no longer
_PROBE_WORKERS = 8
_KILL_GRACE = 5.0  # after SIGKILL, how long to wait for the process group to disappear
_LOG_CHECK_EVERY = 5.0


@dataclass
class _Replica:
    version: str
    seq: int
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    log_offset: int = 0  # where this run's output starts in the log
    starts: int = 0
    failures: int = 0  # consecutive short runs; drives the backoff
    restart_at: float | None = None
    ready: bool = False
    was_ready: bool = False  # during the current run
    ok_streak: int = 0
    fail_streak: int = 0
    next_probe: float = 0.0
    probe: Future[tuple[bool, str]] | None = None
    exit_error: str = ""
    health_error: str = ""
    stop_deadline: float = 0.0
    killed: bool = False

    @property
    def id(self) -> str:
        return f"r{self.seq}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def status(self) -> ReplicaStatus:
        return ReplicaStatus(
            version=self.version,
            port=self.port,
            pid=self.pid,
            ready=self.ready,
            restarts=max(self.starts - 1, 0),
            # A current health problem says more than an old crash; a crash stays visible afterwards.
            last_error=self.health_error or self.exit_error,
        )


class ReplicaSupervisor:
    """Runs the replicas of every version of one service and reports what is true about them."""

    def __init__(self, workdir: Path, *, port_range: tuple[int, int] = (20000, 29999)) -> None:
        self._workdir = workdir
        self._ports = PortAllocator(port_range)
        self._specs: dict[str, ServiceSpec] = {}
        self._envs: dict[str, dict[str, str]] = {}
        self._replicas: dict[str, list[_Replica]] = {}
        self._draining: list[_Replica] = []
        self._last_seq: dict[str, int] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._next_log_check = 0.0

    def __enter__(self) -> ReplicaSupervisor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()

    # -- desired state -------------------------------------------------------------------------

    def ensure(self, version: str, count: int, spec: ServiceSpec, env: Mapping[str, str]) -> None:
        """Make `count` replicas of `version` exist. New and restarted replicas use this spec and env;
        extra replicas (newest first) get SIGTERM now and are reaped by `poll()` after they drain."""
        if count < 0:
            raise UsageError(f"replica count must be 0 or more, not {count}")
        self._specs[version] = spec
        self._envs[version] = dict(env)
        replicas = self._replicas.setdefault(version, [])
        while len(replicas) < count:
            seq = self._last_seq.get(version, 0) + 1
            self._last_seq[version] = seq
            replica = _Replica(version, seq, self._workdir / safe_name(version) / f"r{seq}.log")
            replicas.append(replica)
            self._start(replica, time.monotonic())
        while len(replicas) > count:
            self._begin_stop(replicas.pop(), spec.drain_timeout)
        if not replicas:
            self._forget(version)

    def stop_version(self, version: str, *, wait: bool = True) -> None:
        """SIGTERM to every replica's process group, SIGKILL after `drain_timeout`. With `wait=False`
        this returns at once and `poll()` finishes the job."""
        spec = self._specs.get(version)
        replicas = self._replicas.get(version, [])
        for replica in reversed(replicas):
            self._begin_stop(replica, spec.drain_timeout if spec else 0.0)
        self._forget(version)
        if wait:
            self._wait_stopped(lambda r: r.version == version)

    def stop_all(self) -> None:
        """Stop every replica and wait until none is left (at most the longest drain_timeout + 5 s)."""
        for version in list(self._replicas):
            self.stop_version(version, wait=False)
        self._wait_stopped(lambda r: True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # -- observed state ------------------------------------------------------------------------

    def versions(self) -> list[str]:
        """Versions that have replicas (draining ones do not count), in the order they were ensured."""
        return list(self._replicas)

    def status(self, version: str | None = None) -> list[ReplicaStatus]:
        """The replicas that are meant to run (not those draining after a stop), oldest first."""
        chosen = self._replicas.items() if version is None else [(version, self._replicas.get(version, []))]
        return [replica.status() for _, replicas in chosen for replica in replicas]

    def poll(self) -> None:
        """One supervision round: reap and restart, probe health, finish drains. Takes at most ~0.3 s."""
        now = time.monotonic()
        for replica in self._active():
            if replica.process is not None:
                code = replica.process.poll()
                if code is not None:
                    self._on_exit(replica, code, now)
            elif replica.restart_at is not None and now >= replica.restart_at:
                self._start(replica, now)
        self._probe_round(now)
        self._reap_draining(time.monotonic())
        if now >= self._next_log_check:
            self._next_log_check = now + _LOG_CHECK_EVERY
            for replica in self._active():
                if replica.process is not None and rotate_if_large(replica.log_path):
                    replica.log_offset = 0

    # -- starting and exiting ------------------------------------------------------------------

    def _active(self) -> Iterator[_Replica]:
        for replicas in list(self._replicas.values()):
            yield from replicas

    def _forget(self, version: str) -> None:
        self._replicas.pop(version, None)
        self._specs.pop(version, None)
        self._envs.pop(version, None)

    def _start(self, replica: _Replica, now: float) -> None:
        spec = self._specs[replica.version]
        replica.restart_at = None
        replica.starts += 1
        replica.started_at = now
        try:
            replica.port = self._port_for(replica, spec)
        except OperationFailed as exc:
            self._schedule_restart(replica, exc.message, now)
            return
        replica.log_path.parent.mkdir(parents=True, exist_ok=True)
        rotate_if_large(replica.log_path)
        note(replica.log_path, f"starting {replica.id} of {replica.version} on port {replica.port}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
        env.update(spec.env)
        env.update(self._envs[replica.version])
        env["PORT"] = str(replica.port)
        with replica.log_path.open("ab") as log:
            replica.log_offset = log.tell()
            try:
                replica.process = subprocess.Popen(
                    [*shell(), spec.command],
                    cwd=spec.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=child_setup(),
                )
            except OSError as exc:
                reason = f"cannot start `{spec.command}` in {spec.cwd}: {exc.strerror or exc}"
                self._schedule_restart(replica, reason, now)
                return
        replica.next_probe = now

    def _port_for(self, replica: _Replica, spec: ServiceSpec) -> int:
        taken = {r.port for r in [*self._active(), *self._draining] if r is not replica}
        taken.update(s.port for s in self._specs.values())
        taken.update(s.preview_port for s in self._specs.values() if s.preview_port is not None)
        # Keep the port across restarts when possible, so the proxy's view stays valid.
        if replica.port and replica.port not in taken and port_is_free(replica.port):
            return replica.port
        return self._ports.allocate(taken)

    def _on_exit(self, replica: _Replica, code: int, now: float) -> None:
        assert replica.process is not None
        kill_group(replica.process.pid, signal.SIGKILL)  # whatever the replica left behind
        how = f"exited with status {code}" if code >= 0 else f"killed by {signal_name(-code)}"
        tail = log_tail(replica.log_path, replica.log_offset)
        reason = f"{how} after {now - replica.started_at:.1f} s" + (f": {tail}" if tail else "")
        if replica.was_ready or now - replica.started_at >= _STABLE_RUN:
            replica.failures = 0
        replica.process = None
        self._schedule_restart(replica, reason, now)

    def _schedule_restart(self, replica: _Replica, reason: str, now: float) -> None:
        replica.failures += 1
        delay = min(_BACKOFF_BASE * 2 ** (replica.failures - 1), _BACKOFF_CAP)
        replica.restart_at = now + delay
        replica.exit_error = reason
        replica.health_error = ""
        replica.ready = replica.was_ready = False
        replica.ok_streak = replica.fail_streak = 0
        replica.probe = None
        note(replica.log_path, f"{replica.id} {reason.splitlines()[0][:EXCERPT]}; restart in {delay:.1f} s")

    # -- health --------------------------------------------------------------------------------

    def _probe_round(self, now: float) -> None:
        sent: list[Future[tuple[bool, str]]] = []
        for replica in self._active():
            if replica.process is None or replica.probe is not None or now < replica.next_probe:
                continue
            health = self._specs[replica.version].health
            interval = health.interval if replica.was_ready else min(health.interval, _STARTUP_CHECK_INTERVAL)
            replica.next_probe = now + interval
            replica.probe = self._executor().submit(_probe, replica.port, health)
            sent.append(replica.probe)
        if sent:
            wait(sent, timeout=_PROBE_WAIT)
        for replica in self._active():
            if replica.probe is not None and replica.probe.done():
                ok, detail = replica.probe.result()
                replica.probe = None
                self._record_probe(replica, ok, detail)

    def _record_probe(self, replica: _Replica, ok: bool, detail: str) -> None:
        health = self._specs[replica.version].health
        if ok:
            replica.ok_streak += 1
            replica.fail_streak = 0
            replica.health_error = ""
            if not replica.ready and replica.ok_streak >= health.healthy_threshold:
                replica.ready = replica.was_ready = True
        else:
            replica.fail_streak += 1
            replica.ok_streak = 0
            replica.health_error = detail
            if replica.ready and replica.fail_streak >= health.unhealthy_threshold:
                replica.ready = False

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_PROBE_WORKERS, thread_name_prefix="replica-health")
        return self._pool

    # -- stopping ------------------------------------------------------------------------------

    def _begin_stop(self, replica: _Replica, drain_timeout: float) -> None:
        replica.ready = False
        replica.probe = None
        if replica.process is None:
            return
        note(replica.log_path, f"stopping {replica.id}: SIGTERM, drain timeout {drain_timeout:g} s")
        kill_group(replica.process.pid, signal.SIGTERM)
        replica.stop_deadline = time.monotonic() + drain_timeout
        self._draining.append(replica)

    def _reap_draining(self, now: float) -> None:
        for replica in list(self._draining):
            if self._stopped(replica, now):
                self._draining.remove(replica)

    def _stopped(self, replica: _Replica, now: float) -> bool:
        assert replica.process is not None
        code = replica.process.poll()
        if code is not None and not group_alive(replica.process.pid):
            how = f"exit status {code}" if code >= 0 else signal_name(-code)
            note(replica.log_path, f"{replica.id} stopped ({how})")
            return True
        if now < replica.stop_deadline:
            return False
        if replica.killed:
            # SIGKILL could not clear the group (a member stuck in the kernel): nothing more to do.
            note(replica.log_path, f"{replica.id} still has processes after SIGKILL")
            return True
        note(replica.log_path, f"{replica.id} did not stop within its drain timeout: SIGKILL")
        kill_group(replica.process.pid, signal.SIGKILL)
        replica.killed = True
        replica.stop_deadline = now + _KILL_GRACE
        return False

    def _wait_stopped(self, which: Callable[[_Replica], bool]) -> None:
        try:
            while any(which(r) for r in self._draining):
                self._reap_draining(time.monotonic())
                time.sleep(0.02)
        except BaseException:
            # Interrupted while waiting: never leave a replica behind.
            for replica in self._draining:
                if replica.process is not None:
                    kill_group(replica.process.pid, signal.SIGKILL)
                    replica.process.wait(timeout=_KILL_GRACE)
            self._draining.clear()
            raise


def _probe(port: int, health: HealthSpec) -> tuple[bool, str]:
    """One health check: (healthy, what was wrong)."""
    what = f"health check GET {health.path}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=health.timeout)
    try:
        # Connection: close, so the replica keeps no idle connection of ours while it drains.
        conn.request("GET", health.path, headers={"Connection": "close", "User-Agent": "clearance-agent"})
        response = conn.getresponse()
        body = response.read(EXCERPT)
    except TimeoutError:
        return False, f"{what}: no answer within {health.timeout:g} s"
    except ConnectionRefusedError:
        return False, f"{what}: connection refused on port {port}"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{what}: {type(exc).__name__}: {exc}"
    finally:
        conn.close()
    if 200 <= response.status < 300:
        return True, ""
    excerpt = " ".join(body.decode("utf-8", errors="replace").split())
    return False, f"{what} answered {response.status} {response.reason}: {excerpt}".rstrip(": ")
