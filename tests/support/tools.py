"""Running the real report-writing tools (pytest, coverage, bandit, pip-audit, cyclonedx-py) in a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
# pip-audit lives in its own venv (`make test` makes it): its platformdirs clashes with UnleashClient's.
PIP_AUDIT = BIN.parent / "tools" / "bin" / "pip-audit"


def run_tool(*command: str | Path, cwd: Path, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    """Runs a tool; its exit code must be one of `ok` (scanners exit 1 when they find something).
    The test run's own PYTEST_*/COVERAGE_* settings are not passed on."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COVERAGE_"))}
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode in ok, f"{command[0]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done
