"""How change requests (ITIL mode) end, on both databases: a rollback backs out an implemented change
(failed, and counted in the next change's failure rate); a cancelled deployment leaves its change
approved and usable; a change covering several services is settled only once all of them have
finished (with a real `clearance serve` running them); a scheduled deployment runs under the change
request it was scheduled under, never a new one; and `status` / `deployment show` say which change
request a deployment implements."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from support.cli import CliRunner
from support.store import execute

from .conftest import Project
from .test_change_requests import FREEZE, audit, change, config, release, team
from .test_scheduled_deployments import serve, wait_for

__all__ = ["serve", "team"]  # fixtures used here

NEXT_YEAR = datetime.now(UTC).year + 1

# Two services under one change request: api fails at once, web takes a few seconds and succeeds.
TWO_SERVICES = """\
project: shop
services:
  - name: api
  - name: web
environments:
  - name: dev
  - name: prod
    production: true
    change_control:
      cab: "1 release-manager"
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
process:
  - name: install
    script: |
      if [ "$CLEARANCE_ENVIRONMENT" = prod ] && [ "$CLEARANCE_SERVICE" = api ]; then exit 3; fi
      if [ "$CLEARANCE_ENVIRONMENT" = prod ]; then sleep 3; fi
      echo ok
"""


def prod_deployments(project: Project) -> list[tuple[int, str, str, int | None]]:
    rows = execute(
        project.database_url,
        "SELECT id, service, state, change_request_id FROM deployments WHERE environment = 'prod' ORDER BY id",
    )
    return [(i, s, st, c) for i, s, st, c in rows]


def approve_normal(cli: CliRunner, version: str = "1.0.0") -> None:
    """A major release with a rollback plan: a normal change, refused, then approved by the CAB."""
    release(cli, version, "--rollback-plan", "redeploy 0.9")
    assert cli("deploy", version, "--to", "prod", "--actor", "ops").exit_code == 3
    assert cli("change", "approve", "1", "--actor", "rita").exit_code == 0
    assert cli("change", "approve", "1", "--actor", "quinn").exit_code == 0
    assert change(cli, 1)["state"] == "approved"


def test_a_rollback_backs_out_an_implemented_change_which_then_counts_as_failed(
    team: Project, cli: CliRunner
) -> None:
    patch = ("--type", "patch", "--scope", "SHOP-1:Fix", "--rollback-plan", "redeploy")
    release(cli, "1.0.0", *patch)
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 0
    release(cli, "1.0.1", *patch)
    assert cli("deploy", "1.0.1", "--to", "prod", "--actor", "ops").exit_code == 0
    assert (change(cli, 1)["state"], change(cli, 2)["state"]) == ("implemented", "implemented")
    [(first, *_), (second, *_)] = prod_deployments(team)

    # `status` and `deployment show` name the change request a deployment implements.
    matrix = cli("status", "--json").json()["matrix"]
    [cell] = [c for c in matrix if c["environment"] == "prod"]
    assert cell["deployment"]["change_request_id"] == 2
    assert cell["deployment"]["change_request"] == {
        "id": 2,
        "kind": "standard",
        "state": "implemented",
        "reason": "",
    }
    assert "change #2 implemented" in cli("status").stdout

    rolled = cli("rollback", "prod", "--actor", "ops")
    assert rolled.exit_code == 0, rolled
    backed_out = change(cli, 2)
    restore = max(d for d, *_ in prod_deployments(team))
    assert backed_out["state"] == "failed"
    assert backed_out["reason"] == (
        f"backed out: deployment {second} (web) rolled back by deployment {restore} to 1.0.0"
    )
    assert change(cli, 1)["state"] == "implemented"  # the release restored is not touched
    [failed] = audit(cli, "change:failed")
    assert failed["actor"] == "ops" and failed["subject"] == "change:2"
    assert (failed["data"]["backed_out"], failed["data"]["was"]) == (True, "implemented")
    assert failed["data"]["rollback_deployment_id"] == restore
    listed = cli("change", "list", "--state", "failed", "--json").json()["change_requests"]
    assert [c["id"] for c in listed] == [2]
    shown = cli("deployment", "show", str(second), "--json").json()["deployment"]
    assert shown["change_request"]["state"] == "failed"
    assert (
        "change request #2 (standard change): failed: backed out"
        in cli("deployment", "show", str(second)).stdout
    )
    assert cli("deployment", "show", str(first), "--json").json()["deployment"]["change_request"]["id"] == 1

    # The backed-out change counts in the next change's failure rate: no longer pre-approved.
    release(cli, "1.0.2", *patch)
    refused = cli("deploy", "1.0.2", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3, refused
    third = change(cli, 3)
    [rate] = [f for f in third["risk"]["factors"] if f["factor"] == "change_failure_rate"]
    assert rate["detail"] == "50% (1 of the last 2 deployments failed or were rolled back)"
    assert (third["kind"], third["state"]) == ("normal", "pending")


def test_a_cancelled_deployment_leaves_its_change_approved_and_deploying_again_uses_it(
    team: Project, cli: CliRunner
) -> None:
    approve_normal(cli)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-06-01T22:00Z", "--actor", "ops")
    assert scheduled.exit_code == 0, scheduled
    [(deployment_id, _, _, request)] = prod_deployments(team)
    assert request == 1
    waiting = change(cli, 1)
    assert waiting["implementation"] == f"being implemented: deployment(s) {deployment_id} to finish"
    assert waiting["deployments"][0]["scheduled_at"].startswith(f"{NEXT_YEAR}-06-01T22:00")

    assert cli("deployment", "cancel", str(deployment_id), "--reason", "sale moved").exit_code == 0
    cancelled = change(cli, 1)
    assert cancelled["state"] == "approved"
    assert cancelled["implementation"] == (
        f"not implemented: deployment {deployment_id} (web) cancelled before it ran: sale moved; "
        "the approval stands: deploying the release again uses this request"
    )
    assert "not implemented: deployment" in cli("change", "show", "1").stdout
    [entry] = audit(cli, "change:not-implemented")
    assert entry["data"]["deployment_ids"] == [deployment_id] and entry["subject"] == "change:1"
    assert audit(cli, "change:failed") == []

    deployed = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert deployed.exit_code == 0, deployed  # no second trip to the CAB
    done = change(cli, 1)
    assert (done["state"], done["implementation"]) == ("implemented", "")
    assert [d["state"] for d in done["deployments"]] == ["cancelled", "succeeded"]
    assert [c["id"] for c in cli("change", "list", "--json").json()["change_requests"]] == [1]


def test_a_change_of_several_services_is_settled_only_when_all_have_finished(
    project: Project, cli: CliRunner, serve: Callable[[], subprocess.Popen[str]]
) -> None:
    project.write_config(TWO_SERVICES)
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    assert cli("release", "create", "1.0.0", "--no-deploy", "--rollback-plan", "redeploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3
    assert cli("change", "approve", "1", "--actor", "rita").exit_code == 0
    serve()
    queued = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops", "--json")
    assert queued.exit_code == 0 and queued.json()["queued"] is True, queued
    rows = prod_deployments(project)
    assert [(service, request) for _, service, _, request in rows] == [("api", 1), ("web", 1)]
    [api, web] = [deployment_id for deployment_id, *_ in rows]

    assert wait_for(project, api, {"failed"}, 30) == "failed"
    assert wait_for(project, web, {"running"}, 30) == "running"
    # api failed, web still runs: the change is not settled yet.
    assert change(cli, 1)["state"] == "approved"
    assert change(cli, 1)["implementation"] == f"being implemented: deployment(s) {web} to finish"
    assert audit(cli, "change:failed") == []

    assert wait_for(project, web, {"succeeded", "failed"}, 30) == "succeeded"
    deadline = time.monotonic() + 10
    while change(cli, 1)["state"] == "approved" and time.monotonic() < deadline:
        time.sleep(0.2)
    settled = change(cli, 1)
    assert settled["state"] == "failed"
    assert settled["reason"].startswith(f"deployment {api} (api) failed: ")
    [failed] = audit(cli, "change:failed")
    assert failed["data"]["deployment_ids"] == [api, web]


def test_a_scheduled_deployment_runs_under_its_change_request_and_a_new_one_is_never_opened(
    team: Project, cli: CliRunner, serve: Callable[[], subprocess.Popen[str]]
) -> None:
    approve_normal(cli)
    serve()
    when = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", when.isoformat(), "--actor", "ops", "--json")
    assert scheduled.exit_code == 0, scheduled
    deployment_id = scheduled.json()["deployments"][0]["id"]
    assert scheduled.json()["deployments"][0]["change_request_id"] == 1
    assert wait_for(team, deployment_id, {"succeeded", "failed"}, 40) == "succeeded"
    deadline = time.monotonic() + 10
    while change(cli, 1)["state"] == "approved" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert change(cli, 1)["state"] == "implemented"
    assert [c["id"] for c in cli("change", "list", "--json").json()["change_requests"]] == [1]
    [implementing] = audit(cli, "change:implementing")  # at request time only
    assert implementing["data"]["deployment_ids"] == [deployment_id]


def test_a_scheduled_deployment_whose_change_was_rejected_since_is_refused_under_that_request(
    team: Project, cli: CliRunner, serve: Callable[[], subprocess.Popen[str]]
) -> None:
    approve_normal(cli)
    when = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", when.isoformat(), "--actor", "ops", "--json")
    assert scheduled.exit_code == 0, scheduled
    deployment_id = scheduled.json()["deployments"][0]["id"]
    # The CAB changes its mind before the time comes.
    rejected = cli("change", "reject", "1", "--comment", "risky during the sale", "--actor", "quinn")
    assert rejected.exit_code == 0, rejected
    serve()
    assert wait_for(team, deployment_id, {"succeeded", "failed"}, 40) == "failed"
    [(_, _, _, request)] = prod_deployments(team)
    assert request == 1
    [(reason,)] = execute(
        team.database_url, "SELECT reason FROM deployments WHERE id = :id", id=deployment_id
    )
    assert reason == (
        "refused at its scheduled time: release 1.0.0 may not be deployed to prod: change request #1, "
        "under which it was scheduled, is rejected: rejected by quinn: risky during the sale"
    )
    [refused] = audit(cli, "deployment:refused")
    assert (refused["data"]["code"], refused["data"]["change_request_id"]) == ("change-not-approved", 1)
    assert [c["id"] for c in cli("change", "list", "--json").json()["change_requests"]] == [1]
    assert audit(cli, "change:created")[0]["data"]["change_request_id"] == 1
    assert len(audit(cli, "change:created")) == 1
    # Refused before it started, it changed nothing: the next request counts no failure for it.
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3
    [rate] = [f for f in change(cli, 2)["risk"]["factors"] if f["factor"] == "change_failure_rate"]
    assert rate["detail"] == "no finished deployment here yet: a first change"


def test_a_deployment_scheduled_before_change_control_was_switched_on_opens_its_request_when_it_runs(
    team: Project, cli: CliRunner, serve: Callable[[], subprocess.Popen[str]]
) -> None:
    team.write_config(config(change_control=""))  # `change_control:` empty: off
    release(cli, "1.0.0", "--type", "patch", "--scope", "SHOP-1:Fix", "--rollback-plan", "redeploy")
    when = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", when.isoformat(), "--actor", "ops", "--json")
    assert scheduled.exit_code == 0, scheduled
    deployment_id = scheduled.json()["deployments"][0]["id"]
    assert scheduled.json()["deployments"][0]["change_request_id"] is None
    team.write_config(config())  # switched on before its time: a pre-approved patch
    serve()
    assert wait_for(team, deployment_id, {"succeeded", "failed"}, 40) == "succeeded"
    assert prod_deployments(team) == [(deployment_id, "web", "succeeded", 1)]
    deadline = time.monotonic() + 10
    while change(cli, 1)["state"] == "approved" and time.monotonic() < deadline:
        time.sleep(0.2)
    opened = change(cli, 1)
    # Opened by the server, for the person who scheduled the deployment (separation of duties sees them).
    assert (opened["kind"], opened["state"], opened["requested_by"]) == ("standard", "implemented", "ops")
    [created] = audit(cli, "change:created")
    assert (created["actor"], created["data"]["requested_by"]) == ("server", "ops")
    [implementing] = audit(cli, "change:implementing")
    assert implementing["data"]["deployment_ids"] == [deployment_id]


def test_an_emergency_change_scheduled_into_a_freeze_runs_through_it_and_both_bypasses_are_audited(
    team: Project, cli: CliRunner, serve: Callable[[], subprocess.Popen[str]]
) -> None:
    team.write_config(config(gates=FREEZE))
    release(cli, "1.0.1", "--type", "hotfix", "--rollback-plan", "redeploy 1.0.0")
    assert cli("deploy", "1.0.1", "--to", "prod", "--actor", "ops").exit_code == 3  # frozen, not approved
    assert (
        cli("change", "approve", "1", "--emergency", "--comment", "site down", "--actor", "rita").exit_code
        == 0
    )
    when = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    scheduled = cli("deploy", "1.0.1", "--to", "prod", "--at", when.isoformat(), "--actor", "ops", "--json")
    assert scheduled.exit_code == 0, scheduled
    deployment_id = scheduled.json()["deployments"][0]["id"]
    serve()
    assert wait_for(team, deployment_id, {"succeeded", "failed"}, 40) == "succeeded"
    # When asked (as of its time) and again when it ran, under the same request.
    bypasses = [e["data"] for e in reversed(audit(cli, "change:freeze-bypassed"))]
    assert [(b["change_request_id"], b["deployment_ids"], b.get("scheduled")) for b in bypasses] == [
        (1, [deployment_id], None),
        (1, [deployment_id], True),
    ]
    assert bypasses[1]["emergency_approvers"] == ["rita"]
    assert [c["id"] for c in cli("change", "list", "--json").json()["change_requests"]] == [1]


def test_without_a_server_the_rest_is_cancelled_after_a_failure_and_the_change_fails(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(TWO_SERVICES)
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    assert cli("release", "create", "1.0.0", "--no-deploy", "--rollback-plan", "redeploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3
    assert cli("change", "approve", "1", "--actor", "rita").exit_code == 0
    failed = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert failed.exit_code == 1, failed
    rows = prod_deployments(project)
    assert [(state, request) for _, _, state, request in rows] == [("failed", 1), ("cancelled", 1)]
    [api, web] = [deployment_id for deployment_id, *_ in rows]
    settled = change(cli, 1)
    assert settled["state"] == "failed" and settled["reason"].startswith(f"deployment {api} (api) failed")
    [entry] = audit(cli, "change:failed")
    assert entry["data"]["deployment_ids"] == [api, web]
