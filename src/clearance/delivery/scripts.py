"""Running one `script` step: a shell command with the deployment's variables, a timeout, output
captured for the record (secrets masked, size capped) and streamed live to whoever watches."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clearance.errors import Interrupted

MASK = "********"
_KILL_GRACE_SECONDS = 5.0
# Output is kept in memory up to this much before the oldest part is dropped; the stored
# record keeps a smaller tail (settings.step_output_limit).
_MEMORY_CAP = 8 * 1024 * 1024


@dataclass(frozen=True)
class ScriptResult:
    exit_code: int | None
    output: str
    truncated: bool
    timed_out: bool
    duration: float
    # Set when the script could not be started at all (missing working directory, no shell, ...).
    start_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.start_error is None


def mask_secrets(text: str, secrets: Sequence[str]) -> str:
    # Longest first, so a secret that contains another is masked whole.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def cap_output(text: str, limit: int) -> tuple[str, bool]:
    """Keep the tail: the end of a failing script's output is where the reason usually is."""
    if len(text) <= limit:
        return text, False
    dropped = len(text) - limit
    return f"[… {dropped} characters truncated …]\n" + text[-limit:], True


def _die_with_parent() -> None:
    # Linux: if the clearance process is killed outright, its script is killed too instead of
    # running on unsupervised. Elsewhere this is a no-op and the lease expiry covers the case.
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _shell() -> list[str]:
    bash = shutil.which("bash")
    return [bash, "-c"] if bash else ["/bin/sh", "-c"]


def run_script(
    command: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    secrets: Sequence[str],
    output_limit: int,
    on_line: Callable[[str], None] | None = None,
) -> ScriptResult:
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            [*_shell(), command],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    except OSError as exc:
        where = f" in {cwd}" if not cwd.is_dir() else ""
        return ScriptResult(
            exit_code=None,
            output="",
            truncated=False,
            timed_out=False,
            duration=time.monotonic() - started,
            start_error=f"{exc.strerror or exc}{where}",
        )
    chunks: list[str] = []
    size = 0

    def pump() -> None:
        nonlocal size
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            chunks.append(line)
            size += len(line)
            while size > _MEMORY_CAP and len(chunks) > 1:
                size -= len(chunks.pop(0))
            if on_line is not None:
                on_line(mask_secrets(line.rstrip("\n"), secrets))

    reader = threading.Thread(target=pump, name="script-output", daemon=True)
    timed_out = False
    try:
        # Ctrl-C can come as soon as the script runs: from here on it stops the script too.
        reader.start()
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _terminate(process)
    except KeyboardInterrupt as exc:
        _terminate(process)
        raise Interrupted("interrupted while a script step ran") from exc
    finally:
        # A background child of the script may still hold the pipe open; don't wait for it forever.
        if reader.ident is not None:
            reader.join(timeout=2)
        if not reader.is_alive() and process.stdout is not None:
            process.stdout.close()
    text, truncated = cap_output(mask_secrets("".join(chunks), secrets), output_limit)
    return ScriptResult(
        exit_code=process.returncode,
        output=text,
        truncated=truncated,
        timed_out=timed_out,
        duration=time.monotonic() - started,
    )


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the script's whole process group, SIGKILL if it does not stop in time."""
    for sig, wait in ((signal.SIGTERM, _KILL_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
