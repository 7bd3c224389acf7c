"""Fixtures for the metric providers: a real Prometheus scraping a test exporter, and local JSON servers."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support.prometheus import MetricsExporter, PrometheusServer, start_prometheus


@pytest.fixture(scope="session")
def exporter() -> Iterator[MetricsExporter]:
    served = MetricsExporter()
    # Two versions of one service, as a canary deployment leaves them: the canary answers 5xx.
    for version, ok, failed in (("1.0.0", 1000, 2), ("1.1.0", 100, 20)):
        labels = {"service": "web", "version": version}
        served.set("http_requests_total", {**labels, "code": "200"}, ok, kind="counter")
        served.set("http_requests_total", {**labels, "code": "500"}, failed, kind="counter")
        served.set("error_ratio", labels, failed / (ok + failed))
    yield served
    served.stop()


@pytest.fixture(scope="session")
def prometheus(exporter: MetricsExporter) -> Iterator[PrometheusServer]:
    base = Path(tempfile.mkdtemp(prefix="clearance-prom-"))
    try:
        server = start_prometheus(base, [exporter.address])
        try:
            server.wait_for_points("error_ratio[1m]", count=1)
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Route:
    status: int
    body: str
    content_type: str = "application/json"


@dataclass
class Request:
    method: str
    path: str
    body: str
    headers: dict[str, str]


@dataclass
class JsonServer:
    """Answers each path with the Route the test set; remembers every request."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    url: str = ""

    def answer(self, path: str, document: Any, status: int = 200) -> None:
        self.routes[path] = Route(status, json.dumps(document))

    def answer_text(self, path: str, text: str, status: int = 200) -> None:
        self.routes[path] = Route(status, text, "text/plain")


@pytest.fixture
def json_server() -> Iterator[JsonServer]:
    state = JsonServer()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            state.requests.append(Request(self.command, self.path, body, dict(self.headers)))
            route = state.routes.get(self.path.split("?")[0])
            if route is None:
                route = Route(404, json.dumps({"error": "no such path"}))
            data = route.body.encode()
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    state.url = f"http://{host!s}:{port}"
    yield state
    server.shutdown()
    server.server_close()
