"""`clearance retry DEPLOYMENT`: deploy again what a failed deployment was for, through the same rules."""

from __future__ import annotations

from support.cli import CliRunner

from .conftest import Project

CONFIG = """\
project: shop
services:
  - name: web
  - name: api
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
process:
  - name: needs-the-flag-file
    script: test -f ready.flag
"""


def test_a_failed_deployment_is_retried_for_its_own_service_and_only_when_it_did_not_succeed(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(CONFIG)
    assert cli("release", "create", "1.0.0", "--no-deploy").exit_code == 0
    failed = cli("deploy", "1.0.0", "--to", "dev", "--service", "web", "--json")
    assert failed.exit_code == 1
    [first] = failed.json()["deployments"]
    assert first["state"] == "failed"

    (project.root / "ready.flag").write_text("")
    retried = cli("retry", str(first["id"]), "--json")
    assert retried.exit_code == 0, retried
    [again] = retried.json()["deployments"]
    assert (again["service"], again["environment"], again["state"]) == ("web", "dev", "succeeded")
    assert again["id"] != first["id"]
    requested = cli("audit", "list", "--json", "--tag", "deployment:retry-requested").json()["entries"]
    assert [(e["actor"], e["data"]["deployment_id"], e["data"]["was"]) for e in requested] == [
        ("alice", first["id"], "failed")
    ]

    refused = cli("retry", str(again["id"]))
    assert refused.exit_code == 3
    assert f"cannot retry deployment {again['id']}: it succeeded" in refused.stderr
    missing = cli("retry", "999")
    assert missing.exit_code == 4
