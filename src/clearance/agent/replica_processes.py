"""The process and log plumbing of replicas: how they are started (own session, killed with the
agent's thread on Linux), signalled and reaped, and how their logs are noted, read and rotated."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_LOG_CAP = 5 * 1024 * 1024  # a bigger log is moved to <id>.log.1 (the previous .1 is replaced)
_TAIL_LINES = 5
_TAIL_BYTES = 4096
EXCERPT = 200

# -- processes -------------------------------------------------------------------------------------


@functools.cache
def _prctl() -> Callable[..., int] | None:
    # Loaded in the parent, once: loading a library between fork and exec may deadlock.
    return ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def child_setup() -> Callable[[], None]:
    """What the forked child runs before exec: die with the thread that started it (Linux)."""
    parent = os.getpid()
    prctl = _prctl()

    def in_child() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the agent died before prctl took effect
                os.kill(os.getpid(), signal.SIGKILL)

    return in_child


def shell() -> list[str]:
    bash = shutil.which("bash")
    return [bash, "-c"] if bash else ["/bin/sh", "-c"]


def kill_group(pgid: int, sig: signal.Signals) -> None:
    # Replicas run in their own session, so the group id is the leader's pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# -- logs ------------------------------------------------------------------------------------------


def safe_name(version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", version) or "_"


def note(log_path: Path, message: str) -> None:
    """A line of the supervisor's own in the replica's log, so the log tells the whole story."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"[clearance {stamp}] {message}\n")


def log_tail(log_path: Path, offset: int) -> str:
    """The last lines a run wrote, on one line: where the reason for a crash usually is."""
    try:
        with log_path.open("rb") as log:
            size = log.seek(0, os.SEEK_END)
            start = offset if offset <= size else 0  # the log was rotated since
            log.seek(max(start, size - _TAIL_BYTES))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("[clearance ")]
    return " | ".join(lines[-_TAIL_LINES:])[-4 * EXCERPT :]


def rotate_if_large(log_path: Path) -> bool:
    """Move a log over the cap aside. The replica writes with O_APPEND, so truncating in place is safe."""
    try:
        if log_path.stat().st_size <= _LOG_CAP:
            return False
        shutil.copyfile(log_path, log_path.with_name(log_path.name + ".1"))
        os.truncate(log_path, 0)
    except OSError:
        return False
    return True
