"""A real `clearance serve --no-agent` for tests of the HTTP API, and waiting on what it serves."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.cli import clearance_command
from support.envoy import free_port


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> float:
    """Poll `condition` until it holds; returns how long that took (seconds)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"timed out waiting for {what}"
        time.sleep(0.02)
    return time.monotonic() - start


@contextmanager
def running_api(root: Path, env: dict[str, str]) -> Iterator[str]:
    """`clearance serve` in the project folder `root` on a free port; yields the API's base URL."""
    port = free_port()
    log_path = root.parent / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*clearance_command(), "serve", "--no-agent", "--workers", "1", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}/api"

        def answers() -> bool:
            assert process.poll() is None, log_path.read_text()
            try:
                return httpx.get(f"{base}/client/features").status_code == 401
            except httpx.TransportError:
                return False

        try:
            wait_for(answers, "the API of clearance serve")
            yield base
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
