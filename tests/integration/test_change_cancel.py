"""Withdrawing a change request (`clearance change cancel`), on both databases: its waiting deployments
are cancelled with it in one go, deploying again opens a new request for the CAB, and every way to
get it wrong is refused with the reason, audited, with nothing changed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from support.cli import CliRunner
from support.store import execute

from .conftest import Project
from .test_change_outcomes import approve_normal, prod_deployments
from .test_change_requests import audit, change, config, release, team
from .test_scheduled_deployments import wait_for

__all__ = ["team"]  # fixtures used here

NEXT_YEAR = datetime.now(UTC).year + 1


def test_cancelling_an_approved_change_cancels_its_scheduled_deployment_and_the_next_one_goes_to_the_cab(
    team: Project, cli: CliRunner
) -> None:
    approve_normal(cli)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-06-01T22:00Z", "--actor", "ops")
    assert scheduled.exit_code == 0, scheduled
    [(deployment_id, _, _, _)] = prod_deployments(team)

    cancelled = cli("change", "cancel", "1", "--reason", "the sale moved to July", "--actor", "ops", "--json")
    assert cancelled.exit_code == 0, cancelled
    assert cancelled.json()["cancelled_deployments"] == [deployment_id]
    document = cancelled.json()["change_request"]
    assert document["state"] == "cancelled"
    assert document["reason"] == "cancelled by ops: the sale moved to July"
    assert document["approval"]["still_needed"] == []
    [(state, reason)] = execute(
        team.database_url, "SELECT state, reason FROM deployments WHERE id = :id", id=deployment_id
    )
    assert (state, reason) == ("cancelled", "change request #1 cancelled by ops: the sale moved to July")
    [entry] = audit(cli, "change:cancelled")
    assert entry["actor"] == "ops" and entry["subject"] == "change:1"
    assert entry["data"] == {
        "change_request_id": 1,
        "was": "approved",
        "reason": "the sale moved to July",
        "cancelled_deployment_ids": [deployment_id],
    }
    assert [e["data"]["deployment_id"] for e in audit(cli, "deployment:cancelled")] == [deployment_id]
    assert audit(cli, "change:not-implemented") == []  # withdrawn, not left approved
    listed = cli("change", "list", "--state", "cancelled", "--json").json()["change_requests"]
    assert [c["id"] for c in listed] == [1]
    shown = cli("change", "show", "1")
    assert "cancelled" in shown.stdout and "the sale moved to July" in shown.stdout

    # The approval went with the request: deploying again asks the CAB anew.
    again = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert again.exit_code == 3 and "change request #2" in again.stderr
    assert change(cli, 2)["state"] == "pending"


def test_a_release_manager_may_cancel_someone_elses_pending_change(team: Project, cli: CliRunner) -> None:
    release(cli, "1.0.0", "--rollback-plan", "redeploy 0.9")
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3
    result = cli("change", "cancel", "1", "--reason", "superseded by 1.0.1", "--actor", "rita")
    assert result.exit_code == 0, result
    assert "change request #1 – cancelled by rita" in result.stderr
    assert change(cli, 1)["state"] == "cancelled"


def test_bad_cancellations_are_refused_with_the_reason_and_change_nothing(
    team: Project, cli: CliRunner
) -> None:
    release(cli, "1.0.0", "--rollback-plan", "redeploy 0.9")
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3

    assert cli("change", "cancel", "1", "--actor", "ops").exit_code == 2  # --reason is required
    blank = cli("change", "cancel", "1", "--reason", "  ", "--actor", "ops")
    assert blank.exit_code == 2 and "needs a reason" in blank.stderr
    assert cli("change", "cancel", "42", "--reason", "x", "--actor", "ops").exit_code == 4
    # quinn is a QA lead, neither the requester nor a release manager.
    stranger = cli("change", "cancel", "1", "--reason", "not needed", "--actor", "quinn")
    assert stranger.exit_code == 3
    assert "quinn may not cancel change request #1: only its requester (ops) or a release-manager may" in (
        stranger.stderr
    )
    [refused] = audit(cli, "change:refused")
    assert refused["data"]["code"] == "change-cancel-forbidden" and refused["data"]["action"] == "cancel"
    assert change(cli, 1)["state"] == "pending"  # nothing half-written
    assert audit(cli, "change:cancelled") == []

    assert cli("change", "reject", "1", "--comment", "no rollback test", "--actor", "quinn").exit_code == 0
    closed = cli("change", "cancel", "1", "--reason", "too late", "--actor", "ops")
    assert closed.exit_code == 3 and "change request #1 is rejected: closed" in closed.stderr
    assert change(cli, 1)["reason"] == "rejected by quinn: no rollback test"


def test_a_change_being_implemented_cannot_be_cancelled_until_its_deployment_is_stopped(
    team: Project, cli: CliRunner
) -> None:
    team.write_config(config().replace("script: test -f ready", "script: sleep 4"))
    approve_normal(cli)
    deploying = team.start("deploy", "1.0.0", "--to", "prod", "--wait", actor="ops")
    try:
        deadline = time.monotonic() + 30
        while not [d for d in prod_deployments(team) if d[2] == "running"]:
            assert deploying.poll() is None, deploying.communicate()
            assert time.monotonic() < deadline, "the deployment did not start"
            time.sleep(0.1)
        [(deployment_id, _, _, _)] = prod_deployments(team)
        busy = cli("change", "cancel", "1", "--reason", "abort the sale", "--actor", "ops")
        assert busy.exit_code == 3, busy
        assert f"change request #1 is being implemented: deployment {deployment_id} is running" in busy.stderr
        assert f"clearance abort {deployment_id}" in busy.stderr
        assert change(cli, 1)["state"] == "approved"
    finally:
        deploying.communicate(timeout=60)
    assert wait_for(team, deployment_id, {"succeeded"}, 30) == "succeeded"
    assert change(cli, 1)["state"] == "implemented"
    assert cli("change", "cancel", "1", "--reason", "too late", "--actor", "ops").exit_code == 3
