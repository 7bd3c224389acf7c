"""A throwaway Prometheus (the machine's /usr/bin/prometheus) scraping a tiny exporter served by the tests.

The exporter is a stdlib HTTP server exposing `/metrics` in the text format from values the test sets;
Prometheus scrapes it every second on 127.0.0.1, with its storage in a temporary folder.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

PROMETHEUS_BINARY = "/usr/bin/prometheus"


def find_prometheus() -> str | None:
    return PROMETHEUS_BINARY if Path(PROMETHEUS_BINARY).exists() else shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MetricsExporter:
    """Serves `/metrics` with the samples set through `set`; each sample is (name, labels) -> value."""

    def __init__(self) -> None:
        self._samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._types: dict[str, str] = {}
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def set(self, name: str, labels: Mapping[str, str], value: float, kind: str = "gauge") -> None:
        with self._lock:
            self._types[name] = kind
            self._samples[(name, tuple(sorted(labels.items())))] = value

    def render(self) -> str:
        with self._lock:
            lines = []
            for name, kind in sorted(self._types.items()):
                lines.append(f"# TYPE {name} {kind}")
                for (sample, labels), value in sorted(self._samples.items()):
                    if sample == name:
                        text = ",".join(f'{k}="{v}"' for k, v in labels)
                        lines.append(f"{name}{{{text}}} {float(value)!r}")
            return "\n".join(lines) + "\n"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def wait_for_points(self, selector: str, count: int = 1, timeout: float = 20.0) -> None:
        """Until every series of the range selector `selector` (e.g. `up[1m]`) has `count` points."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(selector)
            if result and all(len(series["values"]) >= count for series in result):
                return
            time.sleep(0.2)
        raise TimeoutError(
            f"Prometheus has not {count} points for {selector}: {self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_prometheus(base: Path, targets: list[str], *, metrics_path: str = "/metrics") -> PrometheusServer:
    binary = find_prometheus()
    if binary is None:
        raise RuntimeError(
            "prometheus not found: run scripts/install-system-deps.sh (Debian package `prometheus`)"
        )
    config = base / "prometheus.yml"
    listed = ", ".join(f"'{t}'" for t in targets)
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: app\n    metrics_path: {metrics_path}\n"
        f"    static_configs:\n      - targets: [{listed}]\n",
        encoding="utf-8",
    )
    port = free_port()
    log = base / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={base / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=base,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"prometheus did not become ready: {log.read_text()[-2000:]}")
        time.sleep(0.1)
