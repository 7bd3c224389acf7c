"""A user's `script` steps run for real: with the deployment's variables and secrets, a timeout, a
working directory and a scope, and every step's state, timing, exit code and output is kept."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from support.cli import CliRunner, Result
from support.store import execute, snapshot

from .conftest import Project

HEAD = """\
project: shop
services:
  - name: web
  - name: api
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
lifecycle:
  phases:
    - environments: [dev, staging, prod]
"""

SECRET = "hunter2-Xq9-unique"


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result
    return result


def _said(result: Result) -> str:
    """stderr as one line: the console wraps long messages at its width."""
    return " ".join(result.stderr.split())


def _configure(project: Project, body: str) -> None:
    project.write_config(HEAD + body)


def _deploy(cli: CliRunner, *args: str) -> Result:
    return cli("deploy", "1.0.0", "--json", *args)


def _show(cli: CliRunner, deployment_id: int) -> dict[str, Any]:
    document = _ok(cli("deployment", "show", str(deployment_id), "--json")).json()
    assert document["schema_version"] == 1
    return dict(document["deployment"])


def _steps(cli: CliRunner, deployment_id: int) -> list[tuple[str, str, int | None]]:
    return [(s["name"], s["state"], s["exit_code"]) for s in _show(cli, deployment_id)["steps"]]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    # A zombie is dead; it only waits for a parent to collect it.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_step_sees_the_deployment_and_its_scoped_variables(project: Project, cli: CliRunner) -> None:
    _configure(
        project,
        """\
process:
  - name: show-env
    script: |
      echo "version=$CLEARANCE_RELEASE_VERSION environment=$CLEARANCE_ENVIRONMENT"
      echo "service=$CLEARANCE_SERVICE id=$CLEARANCE_DEPLOYMENT_ID project=$CLEARANCE_PROJECT"
      echo "log=$LOG_LEVEL replicas=$REPLICAS"
variables:
  - name: LOG_LEVEL
    value: debug
  - name: REPLICAS
    value: 3
  - name: LOG_LEVEL
    value: warning
    environments: [prod]
""",
    )
    _ok(cli("release", "create", "1.0.0"))

    dev = _ok(_deploy(cli, "--to", "dev", "--service", "web")).json()["deployments"][0]
    prod = _ok(_deploy(cli, "--to", "prod", "--service", "api")).json()["deployments"][0]

    assert _show(cli, dev["id"])["steps"][0]["output"] == (
        f"version=1.0.0 environment=dev\nservice=web id={dev['id']} project=shop\nlog=debug replicas=3\n"
    )
    # The value scoped to prod wins over the one for every environment.
    assert _show(cli, prod["id"])["steps"][0]["output"] == (
        f"version=1.0.0 environment=prod\nservice=api id={prod['id']} project=shop\nlog=warning replicas=3\n"
    )


SECRET_STEPS = """\
process:
  - name: connect
    script: |
      echo "connecting as $DB_USER with $DB_PASSWORD"
      printf %s "$DB_PASSWORD" > seen-$CLEARANCE_SERVICE
variables:
  - name: DB_USER
    value: shop
  - name: DB_PASSWORD
    secret_env: SHOP_DB_PASSWORD
"""


def test_a_secret_reaches_the_script_but_is_masked_everywhere_it_is_kept(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_DB_PASSWORD", SECRET)
    _configure(project, SECRET_STEPS)
    _ok(cli("release", "create", "1.0.0"))

    result = _ok(_deploy(cli, "--to", "dev"))

    assert (project.root / "seen-web").read_text() == SECRET
    assert (project.root / "seen-api").read_text() == SECRET
    deployment = _show(cli, result.json()["deployments"][0]["id"])
    assert deployment["steps"][0]["output"] == "connecting as shop with ********\n"
    stored = execute(project.database_url, "SELECT output FROM deployment_steps")
    assert [row[0] for row in stored] == ["connecting as shop with ********\n"] * 2
    # Not in the live output, not in the JSON, nowhere in the store (audit trail included).
    assert "connecting as shop with ********" in result.stderr
    assert SECRET not in result.stderr + result.stdout
    assert SECRET not in repr(snapshot(project.database_url))
    assert SECRET not in _ok(cli("audit", "export")).stdout


def test_a_missing_secret_is_a_config_error_that_queues_nothing(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_DB_PASSWORD", raising=False)
    _configure(project, SECRET_STEPS)
    _ok(cli("release", "create", "1.0.0"))
    before = snapshot(project.database_url)

    result = _deploy(cli, "--to", "dev")

    assert result.exit_code == 2, result
    assert "secret variable DB_PASSWORD (from $SHOP_DB_PASSWORD) is not set for environment 'dev'" in _said(
        result
    )
    assert result.json()["error"]["code"] == "config-invalid"
    assert "export" in result.json()["error"]["hint"]
    assert snapshot(project.database_url) == before
    assert not (project.root / "seen-web").exists()


def test_a_missing_secret_stops_a_rollback_before_it_is_queued(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_DB_PASSWORD", SECRET)
    _configure(project, SECRET_STEPS)
    for version in ("1.0.0", "1.1.0"):
        _ok(cli("release", "create", version))
        _ok(cli("deploy", version, "--to", "dev"))
    monkeypatch.delenv("SHOP_DB_PASSWORD")
    before = snapshot(project.database_url)

    result = cli("rollback", "dev")

    assert result.exit_code == 2, result
    assert "DB_PASSWORD (from $SHOP_DB_PASSWORD) is not set" in _said(result)
    assert snapshot(project.database_url) == before


def test_a_secret_scoped_to_prod_is_only_needed_there(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOP_DB_PASSWORD", raising=False)
    _configure(
        project,
        SECRET_STEPS.replace(
            "secret_env: SHOP_DB_PASSWORD", "secret_env: SHOP_DB_PASSWORD\n    environments: [prod]"
        ),
    )
    _ok(cli("release", "create", "1.0.0"))

    assert _deploy(cli, "--to", "dev").exit_code == 0
    refused = _deploy(cli, "--to", "prod")
    assert refused.exit_code == 2, refused
    assert "is not set for environment 'prod'" in _said(refused)


FAILING_STEPS = """\
process:
  - name: prepare
    script: echo "preparing $CLEARANCE_SERVICE"
  - name: migrate
    script: |
      echo "migrating"
      echo "column already exists" >&2
      exit 3
  - name: switch
    script: echo "switching" > switched
"""


def test_a_failing_step_fails_the_deployment_and_skips_the_rest(project: Project, cli: CliRunner) -> None:
    _configure(project, FAILING_STEPS)
    _ok(cli("release", "create", "1.0.0"))

    result = _deploy(cli, "--to", "dev")

    assert result.exit_code == 1, result
    document = result.json()
    assert document["ok"] is False
    web, api = document["deployments"]
    assert (web["service"], web["state"]) == ("web", "failed")
    assert web["reason"] == "step 'migrate' exited with code 3"
    # The second service does not start after the first one failed.
    assert (api["service"], api["state"]) == ("api", "cancelled")
    assert api["reason"] == f"deployment {web['id']} failed"
    assert _steps(cli, web["id"]) == [
        ("prepare", "succeeded", 0),
        ("migrate", "failed", 3),
        ("switch", "skipped", None),
    ]
    steps = _show(cli, web["id"])["steps"]
    assert steps[1]["output"] == "migrating\ncolumn already exists\n"
    assert steps[1]["reason"] == "exited with code 3"
    assert steps[2]["reason"] == "an earlier step failed"
    assert steps[2]["started_at"] is None
    assert {s["state"] for s in _show(cli, api["id"])["steps"]} == {"cancelled"}
    assert not (project.root / "switched").exists()
    assert "step 'migrate' exited with code 3" in _said(result)


def test_a_step_that_runs_too_long_is_killed_with_its_children(project: Project, cli: CliRunner) -> None:
    _configure(
        project,
        """\
process:
  - name: drain
    timeout: 1s
    script: |
      echo "waiting for connections to drain"
      echo $$ > shell.pid
      sleep 30 &
      echo $! > child.pid
      wait
  - name: switch
    script: echo switching
""",
    )
    _ok(cli("release", "create", "1.0.0"))
    started = time.monotonic()

    result = _deploy(cli, "--to", "dev", "--service", "web")

    assert time.monotonic() - started < 10
    assert result.exit_code == 1, result
    [deployment] = result.json()["deployments"]
    assert deployment["state"] == "failed"
    assert deployment["reason"] == "step 'drain' timed out after 1s"
    drain, switch = _show(cli, deployment["id"])["steps"]
    assert (drain["state"], drain["reason"]) == ("failed", "timed out after 1s")
    assert drain["output"] == "waiting for connections to drain\n"
    assert switch["state"] == "skipped"
    took = datetime.fromisoformat(drain["finished_at"]) - datetime.fromisoformat(drain["started_at"])
    assert 1 <= took.total_seconds() < 8
    for name in ("shell.pid", "child.pid"):
        pid = int((project.root / name).read_text())
        assert _gone(pid), f"{name}: process {pid} still runs after the step timed out"


def test_stored_output_keeps_the_tail_within_the_limit(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLEARANCE_STEP_OUTPUT_LIMIT", "300")
    _configure(
        project,
        """\
process:
  - name: chatty
    script: for i in $(seq 1 200); do echo "line $i"; done
  - name: quiet
    script: echo done
""",
    )
    _ok(cli("release", "create", "1.0.0"))
    everything = "".join(f"line {i}\n" for i in range(1, 201))

    result = _ok(_deploy(cli, "--to", "dev", "--service", "web"))

    chatty, quiet = _show(cli, result.json()["deployments"][0]["id"])["steps"]
    assert chatty["output_truncated"] is True
    marker, kept = chatty["output"].split("\n", 1)
    assert kept == everything[-300:]
    assert kept.endswith("line 199\nline 200\n")
    assert marker == f"[… {len(everything) - 300} characters truncated …]"
    assert (quiet["output"], quiet["output_truncated"]) == ("done\n", False)


def test_a_step_runs_in_its_working_dir(project: Project, cli: CliRunner) -> None:
    (project.root / "deploy" / "web").mkdir(parents=True)
    (project.root / "deploy" / "web" / "marker.txt").write_text("from deploy/web\n", encoding="utf-8")
    _configure(
        project,
        """\
process:
  - name: from-root
    script: pwd
  - name: from-folder
    working_dir: deploy/web
    script: pwd && cat marker.txt && touch touched
""",
    )
    _ok(cli("release", "create", "1.0.0"))

    result = _ok(_deploy(cli, "--to", "dev", "--service", "web"))

    root_step, folder_step = _show(cli, result.json()["deployments"][0]["id"])["steps"]
    assert Path(root_step["output"].strip()).resolve() == project.root.resolve()
    where, marker = folder_step["output"].splitlines()
    assert Path(where).resolve() == (project.root / "deploy" / "web").resolve()
    assert marker == "from deploy/web"
    assert (project.root / "deploy" / "web" / "touched").exists()


def test_a_missing_working_dir_fails_the_step_with_a_clear_reason(project: Project, cli: CliRunner) -> None:
    _configure(
        project,
        """\
process:
  - name: build
    working_dir: does/not/exist
    script: echo building
""",
    )
    _ok(cli("release", "create", "1.0.0"))

    result = _deploy(cli, "--to", "dev", "--service", "web")

    assert result.exit_code == 1, result
    [deployment] = result.json()["deployments"]
    assert deployment["state"] == "failed"
    assert "does/not/exist" in deployment["reason"]
    [step] = _show(cli, deployment["id"])["steps"]
    assert step["state"] == "failed"


def test_steps_run_only_in_their_environments_and_services(project: Project, cli: CliRunner) -> None:
    _configure(
        project,
        """\
process:
  - name: build
    script: echo "build $CLEARANCE_SERVICE"
  - name: migrate
    services: [api]
    script: echo "migrate $CLEARANCE_ENVIRONMENT"
  - name: smoke
    environments: [staging, prod]
    script: echo "smoke $CLEARANCE_SERVICE"
  - name: announce
    environments: [prod]
    services: [web]
    script: echo "announce $CLEARANCE_RELEASE_VERSION"
""",
    )
    _ok(cli("release", "create", "1.0.0"))

    for env in ("dev", "staging", "prod"):
        _ok(_deploy(cli, "--to", env))

    ran: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for env, service, name, output in execute(
        project.database_url,
        "SELECT d.environment, d.service, s.name, s.output FROM deployment_steps s "
        "JOIN deployments d ON d.id = s.deployment_id ORDER BY d.id, s.position",
    ):
        ran.setdefault((env, service), []).append((name, output))
    assert ran == {
        ("dev", "web"): [("build", "build web\n")],
        ("dev", "api"): [("build", "build api\n"), ("migrate", "migrate dev\n")],
        ("staging", "web"): [("build", "build web\n"), ("smoke", "smoke web\n")],
        ("staging", "api"): [
            ("build", "build api\n"),
            ("migrate", "migrate staging\n"),
            ("smoke", "smoke api\n"),
        ],
        ("prod", "web"): [
            ("build", "build web\n"),
            ("smoke", "smoke web\n"),
            ("announce", "announce 1.0.0\n"),
        ],
        ("prod", "api"): [("build", "build api\n"), ("migrate", "migrate prod\n"), ("smoke", "smoke api\n")],
    }


def test_every_step_is_recorded_with_state_timing_exit_code_and_output(
    project: Project, cli: CliRunner
) -> None:
    _configure(
        project,
        """\
process:
  - name: first
    script: echo one && sleep 0.3
  - name: second
    script: echo two
""",
    )
    _ok(cli("release", "create", "1.0.0"))

    deployment_id = _ok(_deploy(cli, "--to", "dev", "--service", "web")).json()["deployments"][0]["id"]

    rows = execute(
        project.database_url,
        "SELECT position, name, kind, state, exit_code, output, output_truncated, "
        "started_at IS NOT NULL, finished_at IS NOT NULL, reason "
        "FROM deployment_steps WHERE deployment_id = :id ORDER BY position",
        id=deployment_id,
    )
    assert [tuple(row) for row in rows] == [
        (0, "first", "script", "succeeded", 0, "one\n", False, True, True, ""),
        (1, "second", "script", "succeeded", 0, "two\n", False, True, True, ""),
    ]
    deployment = _show(cli, deployment_id)
    first, second = deployment["steps"]
    times = [
        datetime.fromisoformat(t)
        for t in (
            deployment["started_at"],
            first["started_at"],
            first["finished_at"],
            second["started_at"],
            second["finished_at"],
            deployment["finished_at"],
        )
    ]
    assert times == sorted(times)
    assert (times[2] - times[1]).total_seconds() >= 0.3
    assert deployment["state"] == "succeeded"
    assert deployment["reason"] == ""
