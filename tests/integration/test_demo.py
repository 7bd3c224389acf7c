"""`make run` runs `clearance demo`: a new user sees release 1.0.0 walk from dev to prod."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_process


def test_demo_walks_a_release_to_prod_and_prints_the_matrix(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    result = run_process("demo", "--dir", str(demo_dir), cwd=tmp_path)
    assert result.exit_code == 0, result
    assert "refused (exit 3)" in result.stderr
    assert "missing: staging" in result.stderr
    matrix_lines = [line for line in result.stdout.splitlines() if line.startswith("│ prod")]
    assert matrix_lines and matrix_lines[0].count("1.0.0 ✔ succeeded") == 2
    # The sample project is a real git repository with a real store the user can explore.
    assert (demo_dir / ".git").is_dir()
    status = run_process("status", "--json", cwd=demo_dir)
    assert status.exit_code == 0, status
    cells = json.loads(status.stdout)["matrix"]
    prod = [c["deployment"] for c in cells if c["environment"] == "prod"]
    assert {(d["version"], d["state"]) for d in prod} == {("1.0.0", "succeeded")}
    verify = run_process("audit", "verify", cwd=demo_dir)
    assert verify.exit_code == 0, verify
