"""A small HTTP service to deploy in demos and tests: it says which version it is, exposes Prometheus
metrics, fails on purpose when told to and drains gracefully on SIGTERM. Standard library only.

    PORT=8080 VERSION=1.0.0 FAULT_ERROR_RATE=0.2 python -m clearance.demo.sample_service

Endpoints: `/` (JSON: version, port, count), `/version`, `/health`, `/metrics`. Faults (environment):
FAULT_ERROR_RATE (0..1, exact: 0.2 answers every 5th request with 500), FAULT_LATENCY_MS,
FAULT_CRASH_AFTER (exit after N requests), FAULT_FAIL_HEALTH=1; SAMPLE_STARTUP_DELAY (seconds of 503
on /health after start). Faults apply to `/` only, so /version, /health and /metrics stay trustworthy.

A fault behind a feature flag (opt-in, for flag rollouts): SAMPLE_FAIL_WHEN_FLAG=NAME answers 500 to
every request of `/` for which flag NAME is on, evaluated with clearance's own engine (request n is
user "n") against the snapshot of SAMPLE_FLAG_URL (the flag API, e.g. http://127.0.0.1:4242/api) read
with client token SAMPLE_FLAG_TOKEN, refreshed every SAMPLE_FLAG_REFRESH seconds (default 0.2).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_CRASH_STATUS = 3
_DRAIN_LIMIT = 300.0  # the supervisor kills us long before; this only bounds a forgotten process


@dataclass(frozen=True)
class Faults:
    error_rate: Fraction = Fraction(0)
    latency: float = 0.0  # seconds added to every answer of `/`
    crash_after: int | None = None
    fail_health: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Faults:
        # Fraction("0.2") is exactly 1/5, so the error pattern has no floating-point drift.
        rate = Fraction(env.get("FAULT_ERROR_RATE") or "0")
        if not 0 <= rate <= 1:
            raise ValueError(f"FAULT_ERROR_RATE must be between 0 and 1, not {rate}")
        crash = env.get("FAULT_CRASH_AFTER")
        return cls(
            error_rate=rate,
            latency=float(env.get("FAULT_LATENCY_MS") or 0) / 1000,
            crash_after=int(crash) if crash else None,
            fail_health=env.get("FAULT_FAIL_HEALTH", "") not in ("", "0", "false"),
        )


def is_injected_error(n: int, rate: Fraction) -> bool:
    """Whether the n-th request (from 1) fails: exactly floor(n × rate) of the first n requests do,
    spread evenly (0.2 → every 5th, 0.5 → every 2nd, 0.3 → the 4th, 7th, 10th …)."""
    return math.floor(n * rate) > math.floor((n - 1) * rate)


class FlagFault:
    """Fails the requests a flag is on for. The snapshot is refreshed in the background; until the
    first one arrives (or while the server is unreachable) the last known state counts."""

    def __init__(self, flag: str, url: str, token: str, refresh: float) -> None:
        # Imported here: without the opt-in the sample service stays standard library only.
        from clearance.flags import Evaluator
        from clearance.flags.snapshot_client import HttpSnapshotSource, SnapshotUnavailable

        self.flag, self._refresh = flag, refresh
        self._source = HttpSnapshotSource(url, token, timeout=2.0, app_name="sample-service")
        self._unavailable = SnapshotUnavailable
        self._make = Evaluator
        self._evaluator: Any = None
        self._stop = threading.Event()
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                snapshot = self._source.fetch()
            except self._unavailable as exc:
                _log(f"flag snapshot: {exc.message}")
            else:
                if snapshot is not None:
                    self._evaluator = self._make(snapshot)
            self._stop.wait(self._refresh)

    def fails(self, n: int) -> bool:
        evaluator = self._evaluator
        return evaluator is not None and bool(evaluator.is_enabled(self.flag, {"userId": str(n)}))

    def close(self) -> None:
        self._stop.set()


def flag_fault(env: Mapping[str, str]) -> FlagFault | None:
    flag = env.get("SAMPLE_FAIL_WHEN_FLAG")
    if not flag:
        return None
    url, token = env.get("SAMPLE_FLAG_URL"), env.get("SAMPLE_FLAG_TOKEN")
    if not url or not token:
        raise ValueError("SAMPLE_FAIL_WHEN_FLAG needs SAMPLE_FLAG_URL and SAMPLE_FLAG_TOKEN")
    return FlagFault(flag, url, token, float(env.get("SAMPLE_FLAG_REFRESH") or 0.2))


@dataclass
class Metrics:
    """Prometheus counters of the application requests, rendered in the text exposition format."""

    version: str
    codes: dict[int, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * len(_BUCKETS))
    total_seconds: float = 0.0
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, code: int, seconds: float) -> None:
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1
            self.total_seconds += seconds
            self.count += 1

    def render(self) -> str:
        v = _label(self.version)
        with self.lock:
            lines = [
                "# HELP sample_requests_total Application requests answered, by version and status code.",
                "# TYPE sample_requests_total counter",
                *(
                    f'sample_requests_total{{version="{v}",code="{c}"}} {n}'
                    for c, n in sorted(self.codes.items())
                ),
                "# HELP sample_request_duration_seconds Time taken to answer an application request.",
                "# TYPE sample_request_duration_seconds histogram",
                *(
                    f'sample_request_duration_seconds_bucket{{version="{v}",le="{bound}"}} {n}'
                    for bound, n in zip(_BUCKETS, self.buckets, strict=True)
                ),
                f'sample_request_duration_seconds_bucket{{version="{v}",le="+Inf"}} {self.count}',
                f'sample_request_duration_seconds_sum{{version="{v}"}} {self.total_seconds:.6f}',
                f'sample_request_duration_seconds_count{{version="{v}"}} {self.count}',
            ]
        return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class ServiceState:
    version: str
    port: int
    faults: Faults
    startup_delay: float = 0.0
    flag_fault: FlagFault | None = None
    started: float = field(default_factory=time.monotonic)
    requests: int = 0  # requests to `/`, the counter the faults follow
    in_flight: int = 0
    draining: bool = False
    idle: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.version)

    def next_request(self) -> int:
        with self.idle:
            self.requests += 1
            return self.requests

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        with self.idle:
            self.in_flight += 1
        try:
            yield
        finally:
            with self.idle:
                self.in_flight -= 1
                self.idle.notify_all()

    def health(self) -> tuple[int, str]:
        if self.draining:
            return 503, "draining"
        if self.faults.fail_health:
            return 503, "unhealthy (FAULT_FAIL_HEALTH)"
        if time.monotonic() - self.started < self.startup_delay:
            return 503, "starting"
        return 200, "ok"


class _Server(ThreadingHTTPServer):
    # Daemon threads: an idle keep-alive connection must not keep the process alive after the drain.
    daemon_threads = True

    def __init__(self, port: int, state: ServiceState) -> None:
        self.state = state
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can take seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.state.port

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up is not news; anything else is worth one line.
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            _log(f"error while answering {client_address}: {error!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        with state.tracking():
            if path == "/":
                self._answer_app(state)
            elif path == "/version":
                started = time.monotonic()
                self._send(200, state.version + "\n", "text/plain; charset=utf-8")
                state.metrics.observe(200, time.monotonic() - started)
            elif path == "/health":
                code, text = state.health()
                self._send(code, text + "\n", "text/plain; charset=utf-8")
            elif path == "/metrics":
                self._send(200, state.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._send(404, "not found\n", "text/plain; charset=utf-8")

    def _answer_app(self, state: ServiceState) -> None:
        started = time.monotonic()
        n = state.next_request()
        if state.faults.latency:
            time.sleep(state.faults.latency)
        flagged = state.flag_fault is not None and state.flag_fault.fails(n)
        code = 500 if flagged or is_injected_error(n, state.faults.error_rate) else 200
        answer: dict[str, object] = {"version": state.version, "port": state.port, "count": n}
        if code == 500:
            answer["error"] = (
                "injected fault (" + ("SAMPLE_FAIL_WHEN_FLAG" if flagged else "FAULT_ERROR_RATE") + ")"
            )
        self._send(code, json.dumps(answer) + "\n", "application/json")
        state.metrics.observe(code, time.monotonic() - started)
        if state.faults.crash_after is not None and n >= state.faults.crash_after:
            _log(f"crashing on purpose after {n} requests (FAULT_CRASH_AFTER)")
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)  # the answer is out before we die
            os._exit(_CRASH_STATUS)

    def _send(self, code: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Version", self.server.state.version)
        if self.server.state.draining:
            # Tell keep-alive clients to go elsewhere for their next request.
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per start and stop, never one per request


def _log(message: str) -> None:
    print(f"sample service: {message}", file=sys.stderr, flush=True)


def serve(state: ServiceState) -> int:
    """Serve until SIGTERM or SIGINT, then stop accepting, finish the requests in flight and return 0."""
    try:
        server = _Server(state.port, state)
    except OSError as exc:
        _log(f"cannot listen on 127.0.0.1:{state.port}: {exc.strerror or exc}")
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    worker.start()
    _log(f"version {state.version} listening on 127.0.0.1:{state.port} (pid {os.getpid()})")
    stop.wait()
    state.draining = True
    server.shutdown()
    server.server_close()  # new connections are refused from here on
    with state.idle:
        drained = state.idle.wait_for(lambda: state.in_flight == 0, timeout=_DRAIN_LIMIT)
    _log(
        f"version {state.version} stopped after {state.requests} requests ({'drained' if drained else 'cut'})"
    )
    return 0


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        port = int(env["PORT"])
        state = ServiceState(
            version=env.get("CLEARANCE_RELEASE_VERSION") or env.get("VERSION") or "0.0.0-dev",
            port=port,
            faults=Faults.from_env(env),
            startup_delay=float(env.get("SAMPLE_STARTUP_DELAY") or 0),
            flag_fault=flag_fault(env),
        )
    except (KeyError, ValueError) as exc:
        _log(f"bad configuration: {exc!r} (PORT is required; see the module docstring)")
        return 2
    return serve(state)


if __name__ == "__main__":
    sys.exit(main())
