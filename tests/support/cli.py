"""Running `clearance` the way a user does: in-process for speed, or as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clearance.cli.main import main


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:  # shown when an assertion on a result fails
        return f"Result(exit={self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr})"


class CliRunner:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *args: str) -> Result:
        self._capsys.readouterr()
        code = main([str(a) for a in args])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)


def clearance_command() -> list[str]:
    return [sys.executable, "-c", "from clearance.cli.main import run; run()"]


def run_process(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    completed = subprocess.run(
        [*clearance_command(), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
