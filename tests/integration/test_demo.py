"""`make run` runs `clearance demo`: a new user sees release 1.0.0 walk from dev to prod, then a
healthy canary promoted and a faulty one rolled back automatically, under steady load."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support.cli import run_process

pytestmark = pytest.mark.slow


def test_demo_walks_releases_to_prod_and_rolls_back_the_faulty_one(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    result = run_process("demo", "--dir", str(demo_dir), cwd=tmp_path, timeout=300)
    assert result.exit_code == 0, result
    assert "refused (exit 3)" in result.stderr
    assert "missing: staging" in result.stderr
    assert "rolled back automatically: analysis errors failed" in result.stderr
    # Not one request failed on prod while 1.1.0 and 1.2.0 rolled out and 1.2.0 rolled back.
    load = re.search(
        r"load on prod during the rollouts: sent (\d+) .*?: (\d+) ok, (\d+) failed", result.stderr
    )
    assert load is not None, result.stderr
    assert int(load.group(3)) == 0 and int(load.group(1)) > 100
    # The sample project is a real git repository with a real store the user can explore.
    assert (demo_dir / ".git").is_dir()
    status = run_process("status", "--json", cwd=demo_dir)
    assert status.exit_code == 0, status
    cells = {c["environment"]: c for c in json.loads(status.stdout)["matrix"]}
    assert (cells["prod"]["deployment"]["version"], cells["prod"]["deployment"]["state"]) == (
        "1.2.0",
        "rolled_back",
    )
    assert cells["prod"]["current"]["version"] == "1.1.0"
    assert cells["staging"]["current"]["version"] == "1.2.0"
    verify = run_process("audit", "verify", cwd=demo_dir)
    assert verify.exit_code == 0, verify
    # The demo stops what it started.
    assert "no agent was running" in run_process("agent", "--stop", cwd=demo_dir).stderr
