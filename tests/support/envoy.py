"""Tiny real HTTP/1.1 upstreams on 127.0.0.1 for the Envoy tests and the proxy benchmark.

Each one answers every request with its version as the body (and in `x-version`), keeps
connections alive, and obeys two query parameters: `status=500` to answer that status, and
`sleep=0.3` to answer late (an in-flight request during a change).
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            request_line = self.rfile.readline(65537)
            if not request_line:
                return
            length = 0
            while (line := self.rfile.readline(65537)) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                self.rfile.read(length)
            target = request_line.split(b" ")[1].decode("latin-1") if b" " in request_line else "/"
            self.wfile.write(self.server.upstream.answer(target))
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    upstream: Upstream


@dataclass
class Upstream:
    """An HTTP server answering with `version`; `status` is its default answer code."""

    version: str
    status: int = 200
    port: int = 0
    requests: int = 0
    _server: _Server | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answer(self, target: str) -> bytes:
        with self._lock:
            self.requests += 1
        query = parse_qs(urlsplit(target).query)
        status = int(query.get("status", [self.status])[0])
        if "sleep" in query:
            time.sleep(float(query["sleep"][0]))
        body = self.version.encode()
        head = (
            f"HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\nx-version: {self.version}\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        return head.encode("latin-1") + body

    def start(self) -> Upstream:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.upstream = self
        self.port = int(self._server.server_address[1])
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class RawClient:
    """One keep-alive HTTP/1.1 connection with almost no client overhead, for latency figures."""

    def __init__(self, port: int, path: str = "/") -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._request = f"GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n".encode()
        self._buffer = b""

    def get(self) -> bytes:
        """Send one request and return the body of its answer."""
        self._sock.sendall(self._request)
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            rest += self._recv()
        self._buffer = rest[length:]
        return rest[:length]

    def _recv(self) -> bytes:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        self._sock.close()


def main() -> None:
    """`python tests/support/envoy.py VERSION...`: serve each version, print one port a line, run
    until stdin closes (a benchmark keeps its upstreams out of its own process and GIL)."""
    import sys

    servers = [Upstream(version).start() for version in sys.argv[1:]]
    for server in servers:
        print(server.port, flush=True)
    sys.stdin.read()
    for server in servers:
        server.stop()


if __name__ == "__main__":
    main()
