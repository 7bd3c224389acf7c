"""The flag server under load: `GET /api/client/features` of a real `clearance serve` with 1,000
flags, against a plain Python `http.server` serving the same body and ETag, same load, same run.

Set-up: a temporary project with 1,000 flags (default, gradual rollouts with userId/sessionId
stickiness, constraints of several operators, variants, some off) and a client token; then
`clearance serve --no-agent` on 127.0.0.1. The load is open-loop at a fixed rate (default 1,000
requests/s for 10 s), from a separate process (asyncio, a minimal HTTP/1.1 keep-alive client on up
to 64 connections): every other request sends `If-None-Match` with the current ETag (answered 304),
the others fetch the body. Latency is counted from the moment a request was due, so a server that
falls behind shows it (no coordinated omission). Targets (issue 5, point 5): p99 < 10 ms at
1,000 requests/s, and 304 for unchanged snapshots.

On a 2-core machine the load generator takes a share of the CPU the server would otherwise have;
its own CPU use is printed, so the figures can be read with that in mind.

    .venv/bin/python benchmarks/flags_server.py [--flags 1000] [--rate 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

CONFIG = """\
project: bench
services:
  - name: web
environments:
  - name: dev
  - name: prod
    production: true
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
process:
  - name: hello
    script: "true"
"""
ROOT = Path(__file__).resolve().parent.parent
CLEARANCE = [sys.executable, "-c", "from clearance.cli.main import run; run()"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_project(folder: Path, count: int) -> str:
    """A project with `count` varied flags in its store (SQLite); returns a client token for prod."""
    from clearance.flags import service
    from clearance.flags.client_service import create_token
    from clearance.flags.definitions import ConstraintInput
    from clearance.workspace import open_workspace

    (folder / "clearance.yaml").write_text(CONFIG)
    os.chdir(folder)
    ws = open_workspace(folder / "clearance.yaml", actor="bench")
    constraints = [
        ConstraintInput("country", "IN", ("NO", "SE", "DK", "DE")),
        ConstraintInput("appVersion", "SEMVER_GTE", ("2.1.0",)),
        ConstraintInput("plan", "STR_STARTS_WITH", ("pro", "ent")),
        ConstraintInput("age", "NUM_GT", ("17",)),
    ]
    for i in range(count):
        name = f"team{i % 17}.feature-{i:04d}"
        service.create_flag(ws, name, ("release", "experiment", "ops")[i % 3], f"flag number {i}")
        if i % 10 == 9:
            continue  # off everywhere
        service.set_enabled(ws, name, "prod", True)
        if i % 3 == 0:
            service.set_rollout(ws, name, "prod", i % 101, stickiness=("userId", "sessionId")[i % 2])
        if i % 4 == 1:
            service.add_constraint(ws, name, "prod", constraints[i % len(constraints)])
        if i % 5 == 2:
            service.set_variants(ws, name, "prod", ["control=50", "treatment=50"], stickiness="userId")
    token, _ = create_token(ws, "prod", admin=False)
    ws.store.dispose()
    return token


# The load generator (run as `--drive`, in its own process) -----------------------------------------


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status


async def _drive(url: str, token: str, etag: str, rate: float, seconds: float) -> dict[str, Any]:
    host, _, rest = url.removeprefix("http://").partition(":")
    port, _, path = rest.partition("/")
    base = f"GET /{path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {token}\r\n"
    full, conditional = (base + "\r\n").encode(), (base + f"If-None-Match: {etag}\r\n\r\n").encode()
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    opened = 0
    latencies: list[float] = []
    service_times: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0

    async def one(due: float, raw: bytes) -> None:
        nonlocal opened, errors
        if idle.empty() and opened < 64:
            opened += 1
            idle.put_nowait(_Connection(*await asyncio.open_connection(host, int(port))))
        connection = await idle.get()
        sent = time.perf_counter()
        try:
            status = await connection.request(raw)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            opened -= 1
            return
        done = time.perf_counter()
        idle.put_nowait(connection)
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(done - due)
        service_times.append(done - sent)

    total = int(rate * seconds)
    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, conditional if i % 2 else full)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "latencies": latencies,
        "service_times": service_times,
        "statuses": statuses,
        "errors": errors,
        "elapsed": elapsed,
        "cpu": usage.ru_utime + usage.ru_stime,
        "connections": opened,
    }


# The peer: the same body and ETag from Python's http.server -----------------------------------------


def _static_server(body: bytes, etag: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn does

        def do_GET(self) -> None:
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def _serve_static(body_file: str, etag: str) -> None:
    server = _static_server(Path(body_file).read_bytes(), etag)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# The run --------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process `pid` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(url: str, token: str, etag: str, rate: float, seconds: float, server: int) -> dict[str, Any]:
    """Drive `url` from a separate process; returns its measurements and the server's CPU use."""
    before = _cpu_seconds(server)
    result = subprocess.run(
        [sys.executable, __file__, "--drive", url, token, etag, str(rate), str(seconds)],
        check=True,
        capture_output=True,
        text=True,
    )
    document: dict[str, Any] = json.loads(result.stdout)
    document["server_cpu"] = _cpu_seconds(server) - before
    return document


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _report(label: str, run: dict[str, Any], rate: float) -> dict[str, float]:
    lat = run["latencies"]
    done = len(lat)
    figures = {
        "p50": _percentile(lat, 0.50) * 1e3,
        "p90": _percentile(lat, 0.90) * 1e3,
        "p99": _percentile(lat, 0.99) * 1e3,
        "max": max(lat) * 1e3 if lat else float("nan"),
        "rate": done / run["elapsed"],
        "not_modified": run["statuses"].get("304", 0) / max(done, 1),
    }
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(run["statuses"].items()))
    print(
        f"{label:<28} p50 {figures['p50']:6.2f} ms  p90 {figures['p90']:6.2f}  p99 {figures['p99']:6.2f}"
        f"  max {figures['max']:7.2f}  | {figures['rate']:7.1f} req/s of {rate:.0f} asked"
        f"  | 304s {figures['not_modified']:.0%}  [{statuses}; errors {run['errors']};"
        f" {run['connections']} connections]\n{'':<28} CPU, share of one core: server"
        f" {run['server_cpu'] / run['elapsed']:.0%}, load generator {run['cpu'] / run['elapsed']:.0%}"
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="clearance-flags-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        token = make_project(folder, args.flags)
        print(f"{args.flags} flags and a client token made in {time.perf_counter() - started:.1f} s")
        port = _free_port()
        env = {**os.environ, "CLEARANCE_ACTOR": "bench"}
        server = subprocess.Popen(
            [*CLEARANCE, "serve", "--no-agent", "--workers", "1", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peer: subprocess.Popen[str] | None = None
        try:
            url = f"http://127.0.0.1:{port}/api/client/features"
            deadline = time.monotonic() + 30
            while True:
                try:
                    first = httpx.get(url, headers={"Authorization": token})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.1)
            first.raise_for_status()
            body, etag = first.content, first.headers["ETag"]
            print(f"snapshot: {len(first.json()['features'])} features, {len(body):,} bytes, ETag {etag}")
            ours = _report(
                "clearance serve", _load(url, token, etag, args.rate, args.seconds, server.pid), args.rate
            )

            body_file = folder / "body.json"
            body_file.write_bytes(body)
            peer = subprocess.Popen(
                [sys.executable, __file__, "--static", str(body_file), etag],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert peer.stdout is not None
            peer_url = f"http://127.0.0.1:{int(peer.stdout.readline())}/api/client/features"
            peer_run = _load(peer_url, token, etag, args.rate, args.seconds, peer.pid)
            theirs = _report("python http.server (peer)", peer_run, args.rate)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            if peer is not None:
                peer.terminate()
                peer.wait(timeout=10)
    print(
        f"ratio clearance / http.server: p50 {ours['p50'] / theirs['p50']:.2f}×,"
        f" p99 {ours['p99'] / theirs['p99']:.2f}×"
    )
    met = ours["p99"] < 10 and ours["rate"] >= 0.98 * args.rate and ours["not_modified"] >= 0.49
    print(
        f"target p99 < 10 ms at {args.rate:.0f} req/s with 304s for unchanged snapshots: {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--drive":
        url, token, etag, rate, seconds = sys.argv[2:7]
        result = asyncio.run(_drive(url, token, etag, float(rate), float(seconds)))
        json.dump(result, sys.stdout)
    elif len(sys.argv) > 1 and sys.argv[1] == "--static":
        _serve_static(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
