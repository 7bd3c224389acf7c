"""Two deployments to one environment and service never overlap, across processes, and a deployment
whose process is killed is recorded as failed (interrupted), never left running."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support.cli import CliRunner, run_process
from support.store import execute, snapshot

from .conftest import Project

SLOW_CONFIG = """\
project: shop
services:
  - name: web
environments:
  - name: dev
  - name: prod
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
process:
  - name: slow
    script: |
      echo "$CLEARANCE_DEPLOYMENT_ID $(date +%s.%N) start" >> "$LOG"
      echo $$ > "$MARKS/pid-$CLEARANCE_DEPLOYMENT_ID"
      touch "$MARKS/started-$CLEARANCE_DEPLOYMENT_ID"
      for i in $(seq 1 300); do
        [ -e "$MARKS/go" ] && break
        sleep 0.05
      done
      echo "$CLEARANCE_DEPLOYMENT_ID $(date +%s.%N) end" >> "$LOG"
    timeout: 60s
"""


def _env(project: Project) -> dict[str, str]:
    marks = project.root / "marks"
    marks.mkdir(exist_ok=True)
    return {"MARKS": str(marks), "LOG": str(project.root / "steps.log")}


def _start(project: Project, *args: str) -> subprocess.Popen[str]:
    return project.start(*args, **_env(project))


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def _deployments(project: Project) -> list[tuple[int, str, str]]:
    rows = execute(project.database_url, "SELECT id, state, reason FROM deployments ORDER BY id")
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def test_second_deploy_is_refused_with_the_running_ones_id(project: Project, cli: CliRunner) -> None:
    project.write_config(SLOW_CONFIG)
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("release", "create", "1.1.0").exit_code == 0
    # A long lease: its renewal (every third of it) must not land between the two snapshots.
    first = project.start("deploy", "1.0.0", "--to", "dev", CLEARANCE_LEASE_SECONDS="600", **_env(project))
    try:
        _wait_for(project.root / "marks" / "started-1")
        before = snapshot(project.database_url)
        second = run_process(
            "deploy",
            "1.1.0",
            "--to",
            "dev",
            "--json",
            cwd=project.root,
            env=project.process_env(**_env(project)),
        )
        assert second.exit_code == 3, second
        assert "being deployed by deployment 1" in second.stderr
        assert second.json()["error"]["data"]["running_deployment_id"] == 1
        assert snapshot(project.database_url) == before  # refused before anything was written
    finally:
        (project.root / "marks" / "go").touch()
        first.communicate(timeout=60)
    assert first.returncode == 0


def test_second_deploy_with_wait_runs_after_the_first(project: Project, cli: CliRunner) -> None:
    project.write_config(SLOW_CONFIG)
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("release", "create", "1.1.0").exit_code == 0
    first = _start(project, "deploy", "1.0.0", "--to", "dev", "--wait")
    _wait_for(project.root / "marks" / "started-1")
    second = _start(project, "deploy", "1.1.0", "--to", "dev", "--wait")
    try:
        deadline = time.monotonic() + 30
        while len(_deployments(project)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        assert not (project.root / "marks" / "started-2").exists(), "the second ran beside the first"
        assert _deployments(project)[1][1] == "queued"
    finally:
        (project.root / "marks" / "go").touch()
        _, first_err = first.communicate(timeout=60)
        _, second_err = second.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    assert "waits for deployment 1" in second_err
    assert [state for _, state, _ in _deployments(project)] == ["succeeded", "succeeded"]
    log = [line.split() for line in (project.root / "steps.log").read_text().splitlines()]
    assert [(d, what) for d, _, what in log] == [("1", "start"), ("1", "end"), ("2", "start"), ("2", "end")]
    assert float(log[1][1]) <= float(log[2][1])


def test_killed_deploy_is_reported_as_interrupted(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write_config(SLOW_CONFIG)
    assert cli("release", "create", "1.0.0").exit_code == 0
    process = _start(project, "deploy", "1.0.0", "--to", "dev", "--wait")
    _wait_for(project.root / "marks" / "started-1")
    script_pid = int((project.root / "marks" / "pid-1").read_text())
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)

    history = cli("history", "--json")
    assert history.exit_code == 0
    deployment = history.json()["deployments"][0]
    assert (deployment["state"], deployment["reason"]) == ("failed", "interrupted")
    assert "failed (interrupted)" in cli("status").stdout
    shown = cli("deployment", "show", "1", "--json").json()["deployment"]
    assert shown["steps"][0]["state"] == "failed"
    tags = [e["tag"] for e in cli("audit", "list", "--json").json()["entries"]]
    assert "deployment:interrupted" in tags
    # The script died with its parent instead of running on unsupervised.
    deadline = time.monotonic() + 10
    while _alive(script_pid):
        assert time.monotonic() < deadline, "the step's script outlived the killed deploy"
        time.sleep(0.05)
    # The environment is free again.
    (project.root / "marks" / "go").touch()
    for name, value in _env(project).items():
        monkeypatch.setenv(name, value)
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; it only waits for its parent to collect it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_interrupt_cancels_the_deployment(project: Project, cli: CliRunner) -> None:
    project.write_config(SLOW_CONFIG)
    assert cli("release", "create", "1.0.0").exit_code == 0
    process = _start(project, "deploy", "1.0.0", "--to", "dev")
    _wait_for(project.root / "marks" / "started-1")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert _deployments(project) == [(1, "cancelled", "interrupted by the user")]
    assert not _alive(int((project.root / "marks" / "pid-1").read_text()))


def test_a_lease_that_ran_out_elsewhere_is_reaped(project: Project, cli: CliRunner) -> None:
    """A worker on another host cannot be asked whether it lives: its lease decides."""
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0
    execute(
        project.database_url,
        "UPDATE deployments SET state='running', reason='', "
        "lease_owner='elsewhere:4242:1', lease_expires_at=:t WHERE id=1",
        t="2099-01-01 00:00:00",
    )
    execute(
        project.database_url,
        "INSERT INTO deployment_locks (project_id, environment, service, "
        "deployment_id, owner, expires_at) VALUES (1, 'dev', 'web', 1, 'elsewhere:4242:1', :t)",
        t="2099-01-01 00:00:00",
    )
    refused = cli("deploy", "1.0.0", "--to", "dev", "--service", "web")
    assert refused.exit_code == 3
    assert "deployment 1" in refused.stderr
    assert _deployments(project)[0][1] == "running"  # a live lease is respected
    execute(
        project.database_url, "UPDATE deployments SET lease_expires_at=:t WHERE id=1", t="2000-01-01 00:00:00"
    )
    execute(project.database_url, "UPDATE deployment_locks SET expires_at=:t", t="2000-01-01 00:00:00")
    assert cli("status").exit_code == 0
    assert _deployments(project)[0][1:] == ("failed", "interrupted")
    assert cli("deploy", "1.0.0", "--to", "dev", "--service", "web").exit_code == 0
