"""A user rolls an environment back: the release that ran there before comes back, step by step."""

from __future__ import annotations

from typing import Any

from support.cli import CliRunner, Result
from support.store import execute, snapshot

from .conftest import Project

ROLLBACK_CONFIG = """\
project: shop
services:
  - name: web
  - name: api
environments:
  - name: dev
  - name: prod
lifecycle:
  phases:
    - environments: [dev, prod]
process:
  - name: switch
    script: |
      if [ -e "broken-$CLEARANCE_SERVICE" ]; then echo "$CLEARANCE_SERVICE is broken"; exit 7; fi
      echo "$CLEARANCE_SERVICE now runs $CLEARANCE_RELEASE_VERSION in $CLEARANCE_ENVIRONMENT"
"""


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result
    return result


def _said(result: Result) -> str:
    """stderr as one line: the console wraps long messages at its width."""
    return " ".join(result.stderr.split())


def _ship(cli: CliRunner, *versions: str, to: str = "dev") -> None:
    for version in versions:
        _ok(cli("release", "create", version))
        _ok(cli("deploy", version, "--to", to))


def _running(cli: CliRunner, environment: str) -> dict[str, str]:
    """What `clearance status` says runs in the environment, per service."""
    matrix = _ok(cli("status", "--json")).json()["matrix"]
    return {
        c["service"]: c["deployment"]["version"]
        for c in matrix
        if c["environment"] == environment and c["deployment"] is not None
    }


def _rows(project: Project, environment: str) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in execute(
            project.database_url,
            "SELECT d.id, r.version, d.service, d.kind, d.state, d.rollback_of_id FROM deployments d "
            "JOIN releases r ON r.id = d.release_id WHERE d.environment = :env ORDER BY d.id",
            env=environment,
        )
    ]


def test_rollback_redeploys_the_previous_release_and_marks_the_replaced_one(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(ROLLBACK_CONFIG)
    _ship(cli, "1.0.0", "1.1.0")
    replaced = {service: id_ for id_, version, service, *_ in _rows(project, "dev") if version == "1.1.0"}

    result = _ok(cli("rollback", "dev", "--json"))

    document = result.json()
    assert document["schema_version"] == 1
    assert document["ok"] is True
    rollbacks = document["deployments"]
    assert [(d["service"], d["version"], d["kind"], d["state"]) for d in rollbacks] == [
        ("web", "1.0.0", "rollback", "succeeded"),
        ("api", "1.0.0", "rollback", "succeeded"),
    ]
    assert {d["service"]: d["rollback_of"] for d in rollbacks} == replaced
    # The steps ran again, with the restored release.
    show = _ok(cli("deployment", "show", str(rollbacks[0]["id"]), "--json")).json()["deployment"]
    assert show["steps"][0]["output"] == "web now runs 1.0.0 in dev\n"

    stored = [
        (service, kind, state)
        for _, version, service, kind, state, _ in _rows(project, "dev")
        if version == "1.1.0"
    ]
    assert stored == [("web", "deploy", "rolled_back"), ("api", "deploy", "rolled_back")]
    [(reason,)] = execute(
        project.database_url, "SELECT reason FROM deployments WHERE id = :id", id=replaced["web"]
    )
    assert reason == f"rolled back by deployment {rollbacks[0]['id']} to 1.0.0"
    assert _running(cli, "dev") == {"web": "1.0.0", "api": "1.0.0"}

    entries = _ok(cli("audit", "list", "--json", "--tag", "deployment:rolled-back")).json()["entries"]
    assert sorted(
        (e["data"]["service"], e["data"]["version"], e["data"]["restored_version"], e["subject"])
        for e in entries
    ) == [
        ("api", "1.1.0", "1.0.0", f"deployment:{replaced['api']}"),
        ("web", "1.1.0", "1.0.0", f"deployment:{replaced['web']}"),
    ]
    assert {e["actor"] for e in entries} == {"alice"}


def test_each_rollback_goes_further_back_until_nothing_is_left(project: Project, cli: CliRunner) -> None:
    project.write_config(ROLLBACK_CONFIG)
    _ship(cli, "1.0.0", "1.1.0", "1.2.0")

    first = _ok(cli("rollback", "dev", "--json")).json()["deployments"]
    assert {d["version"] for d in first} == {"1.1.0"}
    second = _ok(cli("rollback", "dev", "--json")).json()["deployments"]
    # Further back, not forward to 1.2.0 that was just rolled back.
    assert {d["version"] for d in second} == {"1.0.0"}
    assert _running(cli, "dev") == {"web": "1.0.0", "api": "1.0.0"}
    before = snapshot(project.database_url)

    # 1.0.0 is the oldest release: 1.1.0 and 1.2.0 were rolled back from, so they are not "before" it.
    third = cli("rollback", "dev", "--json")

    assert third.exit_code == 3, third
    assert third.json()["error"]["code"] == "nothing-to-roll-back"
    assert "no earlier release succeeded there before 1.0.0" in _said(third)
    assert snapshot(project.database_url) == before


def test_rolling_back_after_a_redeploy_goes_to_the_release_before_it(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(ROLLBACK_CONFIG)
    _ship(cli, "1.0.0", "1.1.0")
    _ok(cli("rollback", "dev"))
    # 1.1.0 is fixed (in the environment) and deployed again, then 1.2.0 follows.
    _ok(cli("deploy", "1.1.0", "--to", "dev"))
    _ship(cli, "1.2.0")

    back = _ok(cli("rollback", "dev", "--json")).json()["deployments"]

    assert {d["version"] for d in back} == {"1.1.0"}
    again = _ok(cli("rollback", "dev", "--json")).json()["deployments"]
    assert {d["version"] for d in again} == {"1.0.0"}


def test_nothing_earlier_to_roll_back_to_is_refused_and_changes_nothing(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(ROLLBACK_CONFIG)
    _ship(cli, "1.0.0")
    # The same release twice is still nothing earlier.
    _ok(cli("deploy", "1.0.0", "--to", "dev"))
    before = snapshot(project.database_url)

    result = cli("rollback", "dev", "--json")

    assert result.exit_code == 3, result
    assert "cannot roll back web in dev: no earlier release succeeded there before 1.0.0" in _said(result)
    assert result.json()["error"]["code"] == "nothing-to-roll-back"
    assert snapshot(project.database_url) == before

    untouched = cli("rollback", "prod")
    assert untouched.exit_code == 4, untouched
    assert "nothing has been deployed to prod" in _said(untouched)
    unknown = cli("rollback", "dve")
    assert unknown.exit_code == 4, unknown
    assert "did you mean 'dev'?" in _said(unknown)
    assert snapshot(project.database_url) == before


def test_rollback_of_one_service(project: Project, cli: CliRunner) -> None:
    project.write_config(ROLLBACK_CONFIG)
    _ship(cli, "1.0.0", "1.1.0")

    result = _ok(cli("rollback", "dev", "--service", "api", "--json"))

    assert [(d["service"], d["version"]) for d in result.json()["deployments"]] == [("api", "1.0.0")]
    assert _running(cli, "dev") == {"web": "1.1.0", "api": "1.0.0"}
    states = {
        (version, service): state
        for _, version, service, kind, state, _ in _rows(project, "dev")
        if kind == "deploy"
    }
    assert states[("1.1.0", "web")] == "succeeded"
    assert states[("1.1.0", "api")] == "rolled_back"

    # The other service can still go back on its own; api has nothing earlier left.
    assert cli("rollback", "dev", "-s", "web").exit_code == 0
    refused = cli("rollback", "dev", "--service", "api")
    assert refused.exit_code == 3, refused
    nothing = cli("rollback", "prod", "--service", "web")
    assert nothing.exit_code == 4, nothing
    assert "nothing has been deployed to prod for web" in _said(nothing)


def test_rollback_after_a_failed_deployment_restores_the_last_good_release(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(ROLLBACK_CONFIG)
    _ship(cli, "1.0.0")
    _ok(cli("release", "create", "1.1.0"))
    (project.root / "broken-web").write_text("", encoding="utf-8")
    failed = cli("deploy", "1.1.0", "--to", "dev", "--service", "web", "--json")
    assert failed.exit_code == 1, failed
    failed_id = failed.json()["deployments"][0]["id"]
    (project.root / "broken-web").unlink()

    result = _ok(cli("rollback", "dev", "--service", "web", "--json"))

    [restore] = result.json()["deployments"]
    assert (restore["version"], restore["rollback_of"], restore["state"]) == ("1.0.0", failed_id, "succeeded")
    [(state, reason)] = execute(
        project.database_url, "SELECT state, reason FROM deployments WHERE id = :id", id=failed_id
    )
    assert state == "rolled_back"
    # Why it failed stays on the record, in front of how it was undone.
    assert reason == f"step 'switch' exited with code 7; rolled back by deployment {restore['id']} to 1.0.0"


def test_a_failed_rollback_cancels_the_rollbacks_queued_behind_it(project: Project, cli: CliRunner) -> None:
    project.write_config(ROLLBACK_CONFIG)
    _ship(cli, "1.0.0", "1.1.0")
    (project.root / "broken-web").write_text("", encoding="utf-8")

    result = cli("rollback", "dev", "--json")

    assert result.exit_code == 1, result
    document = result.json()
    assert document["ok"] is False
    assert [(d["service"], d["state"]) for d in document["deployments"]] == [
        ("web", "failed"),
        ("api", "cancelled"),
    ]
    assert "failed" in document["deployments"][1]["reason"]
    # Nothing is left queued: api in dev is free for the next command.
    assert execute(project.database_url, "SELECT count(*) FROM deployment_locks")[0][0] == 0
    assert {state for *_, state, _ in _rows(project, "dev")} <= {"succeeded", "failed", "cancelled"}
    # Nothing was restored, so nothing was rolled back from.
    assert [(v, svc, state) for _, v, svc, kind, state, _ in _rows(project, "dev") if v == "1.1.0"] == [
        ("1.1.0", "web", "succeeded"),
        ("1.1.0", "api", "succeeded"),
    ]
    (project.root / "broken-web").unlink()
    _ok(cli("deploy", "1.1.0", "--to", "dev", "--service", "api"))
