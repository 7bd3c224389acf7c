"""Steady HTTP traffic on 127.0.0.1 for demos and zero-downtime benchmarks: a fixed request rate over a
few keep-alive connections, bounded in time, counting answers by status and by version.

    python -m clearance.demo.loadgen http://127.0.0.1:8080/ --rate 50 --duration 10
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

import httpx

_MAX_ERRORS = 10
_MAX_LAG = 1.0  # behind schedule by more than this, the schedule restarts instead of bursting


@dataclass
class LoadReport:
    sent: int = 0
    ok: int = 0  # 2xx answers
    failed: int = 0  # no answer at all: connection errors and timeouts
    by_status: dict[int, int] = field(default_factory=dict)
    by_version: dict[str, int] = field(default_factory=dict)  # from X-Version or the JSON `version`
    errors: list[str] = field(default_factory=list)  # the first few failures, as "Type: message"
    duration: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.by_status.values())

    def render(self) -> str:
        rate = self.sent / self.duration if self.duration else 0.0
        lines = [
            f"sent {self.sent} in {self.duration:.1f} s ({rate:.1f}/s): {self.ok} ok, {self.failed} failed",
            "status:  " + ", ".join(f"{code}×{n}" for code, n in sorted(self.by_status.items())),
            "version: " + ", ".join(f"{v}×{n}" for v, n in sorted(self.by_version.items())),
        ]
        lines += [f"error:   {error}" for error in self.errors]
        return "\n".join(lines)


def _require_loopback(url: str) -> httpx.URL:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"load generator URL must be http(s), not {url!r}")
    host = parsed.host
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        # Demo traffic must never be aimed at someone else's machine.
        raise ValueError(f"load generator only sends to loopback addresses, not {host!r}")
    return parsed


class LoadGenerator:
    """`rate` requests per second in total, spread over `connections` threads, each with one keep-alive
    connection; it stops by itself after `max_duration` seconds."""

    def __init__(
        self,
        url: str,
        *,
        rate: float = 50.0,
        connections: int = 4,
        timeout: float = 2.0,
        max_duration: float = 600.0,
    ) -> None:
        self._url = _require_loopback(url)
        if rate <= 0 or connections < 1 or timeout <= 0 or max_duration <= 0:
            raise ValueError("rate, timeout and max_duration must be positive; connections at least 1")
        self._rate = rate
        self._connections = connections
        self._timeout = timeout
        self._max_duration = max_duration
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._report = LoadReport()
        self._started = 0.0
        self._stopped: float | None = None
        self._schedule_start = 0.0
        self._ticket = 0

    def __enter__(self) -> LoadGenerator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("this load generator was already started")
        self._started = self._schedule_start = time.monotonic()
        for i in range(self._connections):
            thread = threading.Thread(target=self._work, name=f"loadgen-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> LoadReport:
        """Stop sending, wait for the requests in flight (at most `timeout`) and report."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._timeout + 1.0)
        with self._lock:
            if self._stopped is None:
                self._stopped = min(time.monotonic(), self._started + self._max_duration)
        return self.snapshot()

    def snapshot(self) -> LoadReport:
        """The counts so far."""
        with self._lock:
            end = self._stopped if self._stopped is not None else time.monotonic()
            report = LoadReport(**asdict(self._report))
            report.duration = max(0.0, min(end, self._started + self._max_duration) - self._started)
        return report

    def _next_due(self) -> float | None:
        """When this thread sends its next request; None once the time is up."""
        with self._lock:
            now = time.monotonic()
            due = self._schedule_start + self._ticket / self._rate
            if due < now - _MAX_LAG:
                # A stall (server down, slow answers) must not end in a burst of catch-up requests.
                self._schedule_start, due = now - self._ticket / self._rate, now
            self._ticket += 1
        return None if due >= self._started + self._max_duration else due

    def _work(self) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        # trust_env=False: no proxy settings may send loopback traffic anywhere else.
        with httpx.Client(timeout=self._timeout, limits=limits, trust_env=False) as client:
            while not self._stop.is_set():
                due = self._next_due()
                if due is None or self._stop.wait(max(0.0, due - time.monotonic())):
                    return
                try:
                    response = client.get(self._url, headers={"User-Agent": "clearance-loadgen"})
                except httpx.HTTPError as exc:
                    self._record_failure(exc)
                else:
                    self._record_answer(response)

    def _record_answer(self, response: httpx.Response) -> None:
        version = response.headers.get("x-version") or _json_version(response)
        with self._lock:
            report = self._report
            report.sent += 1
            report.ok += 1 if response.is_success else 0
            report.by_status[response.status_code] = report.by_status.get(response.status_code, 0) + 1
            if version:
                report.by_version[version] = report.by_version.get(version, 0) + 1

    def _record_failure(self, exc: httpx.HTTPError) -> None:
        with self._lock:
            self._report.sent += 1
            self._report.failed += 1
            if len(self._report.errors) < _MAX_ERRORS:
                self._report.errors.append(f"{type(exc).__name__}: {exc}")


def _json_version(response: httpx.Response) -> str | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    version = body.get("version") if isinstance(body, dict) else None
    return str(version) if version is not None else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clearance.demo.loadgen", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second (default 50)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        generator = LoadGenerator(
            args.url,
            rate=args.rate,
            connections=args.connections,
            timeout=args.timeout,
            max_duration=args.duration,
        )
    except ValueError as exc:
        parser.error(str(exc))
    generator.start()
    try:
        deadline = time.monotonic() + args.duration
        while time.monotonic() < deadline:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass  # Ctrl-C ends the run early; the report still counts
    report = generator.stop()
    print(json.dumps({"schema_version": 1, **asdict(report)}) if args.json else report.render())
    return 1 if report.failed else 0  # so a zero-downtime check can be scripted


if __name__ == "__main__":
    sys.exit(main())
