"""Approvals end to end, on both databases: users and roles, `clearance approve|reject`, approvals
bound to the release's content, separation of duties, and a release that reaches prod only with
valid approvals — plus every way to get it wrong."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from support.cli import CliRunner
from support.store import execute

from .conftest import Project

JUNIT = (
    Path(__file__).parents[1] / "conformance" / "reports" / "junit-xml" / "junit-report-with-properties.xml"
)
DIGEST = "sha256:" + "c0ffee" * 10 + "abcd"

APPROVED = """\
project: shop
services:
  - name: web
environments:
  - name: dev
  - name: prod
    production: true
    gates:
      approvals:
        require: ["1 qa-lead", "1 release-manager"]
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
"""


def audit(cli: CliRunner, tag: str) -> list[dict[str, object]]:
    result = cli("audit", "list", "--tag", tag, "--json")
    assert result.exit_code == 0, result
    entries: list[dict[str, object]] = result.json()["entries"]
    return entries


def approvals_gate(cli: CliRunner, version: str = "1.0.0") -> dict[str, object]:
    [gate] = [
        g
        for g in cli("gates", version, "--env", "prod", "--json").json()["gates"]
        if g["gate"] == "approvals"
    ]
    assert isinstance(gate, dict)
    return gate


@pytest.fixture
def team(project: Project, cli: CliRunner) -> Project:
    """carol (qa-lead) creates release 1.0.0; dana is another qa-lead, rita the release manager."""
    project.write_config(APPROVED)
    for name, role in (
        ("carol", "qa-lead"),
        ("dana", "qa-lead"),
        ("rita", "release-manager"),
        ("vic", "viewer"),
    ):
        assert cli("user", "add", name, "--role", role, "--actor", "admin").exit_code == 0
    assert cli("release", "create", "1.0.0", "--no-deploy", "--actor", "carol").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev", "--actor", "ops").exit_code == 0
    return project


def test_a_release_reaches_prod_only_with_valid_approvals(team: Project, cli: CliRunner) -> None:
    refused = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3, refused
    assert "approvals: missing — no valid approval: needs 1 qa-lead, 1 release-manager" in refused.stderr

    own = cli("approve", "1.0.0", "--env", "prod", "--actor", "carol")
    assert own.exit_code == 3, own
    assert "carol created release 1.0.0 and may not approve or reject it (separation of duties)" in own.stderr
    [entry] = audit(cli, "approval:refused")
    assert entry["actor"] == "carol" and entry["data"]["code"] == "separation-of-duties"  # type: ignore[index]

    assert (
        cli("approve", "1.0.0", "--env", "prod", "--comment", "QA signed off", "--actor", "dana").exit_code
        == 0
    )
    half = approvals_gate(cli)
    assert half["status"] == "fail"
    assert half["reason"] == "still needs 1 release-manager; approved by dana (qa-lead)"
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3

    assert cli("approve", "1.0.0", "--env", "prod", "--actor", "rita").exit_code == 0
    passed = approvals_gate(cli)
    assert passed["status"] == "pass"
    assert passed["details"]["approved_by"] == [  # type: ignore[index]
        {"approver": "dana", "roles": ["qa-lead"]},
        {"approver": "rita", "roles": ["release-manager"]},
    ]

    # rita may approve or deploy, not both: her own approval does not count for her deployment.
    by_approver = cli("deploy", "1.0.0", "--to", "prod", "--actor", "rita")
    assert by_approver.exit_code == 3, by_approver
    assert "rita: excluded, requests this deployment (separation of duties)" in by_approver.stderr
    assert execute(team.database_url, "SELECT count(*) FROM deployments WHERE environment = 'prod'") == [(0,)]

    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 0
    rows = execute(
        team.database_url, "SELECT state, requested_by FROM deployments WHERE environment = 'prod'"
    )
    assert rows == [("succeeded", "ops")]
    given = audit(cli, "approval:approved")
    assert [(e["actor"], e["data"]["environment"]) for e in given] == [
        ("rita", "prod"),
        ("dana", "prod"),
    ]  # newest first  # type: ignore[index]

    shown = cli("release", "show", "1.0.0", "--json").json()["release"]["approvals"]
    assert [(a["approver"], a["roles"], a["comment"], a["state"]) for a in shown] == [
        ("dana", ["qa-lead"], "QA signed off", "valid"),
        ("rita", ["release-manager"], "", "valid"),
    ]
    assert "approved for prod by dana (qa-lead)" in cli("release", "show", "1.0.0").stdout


def test_new_evidence_or_artifacts_make_earlier_approvals_stale(team: Project, cli: CliRunner) -> None:
    cli("approve", "1.0.0", "--env", "prod", "--actor", "dana")
    cli("approve", "1.0.0", "--env", "prod", "--actor", "rita")
    assert approvals_gate(cli)["status"] == "pass"

    assert cli("evidence", "add", "1.0.0", "--kind", "junit", JUNIT).exit_code == 0
    stale = approvals_gate(cli)
    assert stale["status"] == "missing"
    assert "dana: stale, the release's artifacts or evidence changed since" in str(stale["reason"])
    refused = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3 and "rita: stale" in refused.stderr
    shown = cli("release", "show", "1.0.0")
    assert "(stale: the artifacts or evidence changed since)" in shown.stdout

    # Artifacts too (on a release not deployed yet: a deployed release's artifacts are immutable).
    cli("release", "create", "1.1.0", "--no-deploy", "--actor", "carol")
    cli("approve", "1.1.0", "--env", "prod", "--actor", "dana")
    cli("approve", "1.1.0", "--env", "prod", "--actor", "rita")
    assert approvals_gate(cli, "1.1.0")["status"] == "pass"
    added = cli("artifact", "add", "1.1.0", "--digest", DIGEST, "--name", "shop.whl")
    assert added.exit_code == 0, added
    assert approvals_gate(cli, "1.1.0")["status"] == "missing"
    states = [a["state"] for a in cli("release", "show", "1.1.0", "--json").json()["release"]["approvals"]]
    assert states == ["stale", "stale"]


def test_a_rejection_blocks_until_a_newer_approval_by_the_same_role(team: Project, cli: CliRunner) -> None:
    assert cli("approve", "1.0.0", "--env", "prod", "--actor", "rita").exit_code == 0
    no_reason = cli("reject", "1.0.0", "--env", "prod", "--actor", "dana")
    assert no_reason.exit_code == 2 and "Missing option '--comment'" in no_reason.stderr
    blank = cli("reject", "1.0.0", "--env", "prod", "--comment", " ", "--actor", "dana")
    assert blank.exit_code == 2 and "a rejection needs a reason" in blank.stderr

    assert (
        cli("reject", "1.0.0", "--env", "prod", "--comment", "login is broken", "--actor", "dana").exit_code
        == 0
    )
    rejected = approvals_gate(cli)
    assert rejected["status"] == "fail"
    assert str(rejected["reason"]).startswith("rejected by dana (qa-lead): login is broken")
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3

    cli("user", "add", "quinn", "--role", "qa-lead", "--actor", "admin")
    assert cli("approve", "1.0.0", "--env", "prod", "--comment", "fixed", "--actor", "quinn").exit_code == 0
    assert approvals_gate(cli)["status"] == "pass"
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 0
    [entry] = audit(cli, "approval:rejected")
    assert entry["actor"] == "dana" and entry["data"]["comment"] == "login is broken"  # type: ignore[index]


@pytest.mark.parametrize(
    ("actor", "code", "message"),
    [
        ("mallory", "approver-unknown", "mallory is not a known user and may not approve or reject"),
        (
            "vic",
            "approver-role-missing",
            "vic holds none of the roles this rule needs (qa-lead, release-manager)",
        ),
    ],
)
def test_only_known_users_with_a_needed_role_may_approve(
    team: Project, cli: CliRunner, actor: str, code: str, message: str
) -> None:
    result = cli("approve", "1.0.0", "--env", "prod", "--actor", actor, "--json")
    assert result.exit_code == 3, result
    assert message in result.stderr
    assert execute(team.database_url, "SELECT count(*) FROM approvals") == [(0,)]
    [entry] = audit(cli, "approval:refused")
    assert entry["data"]["code"] == code  # type: ignore[index]


def test_an_environment_without_a_rule_takes_no_approvals(team: Project, cli: CliRunner) -> None:
    result = cli("approve", "1.0.0", "--env", "dev", "--actor", "dana")
    assert result.exit_code == 2 and "dev needs no approvals" in result.stderr
    assert cli("approve", "1.0.0", "--env", "qa", "--actor", "dana").exit_code == 4


def test_only_a_release_manager_may_waive_a_gate(team: Project, cli: CliRunner) -> None:
    team.write_config(APPROVED.replace("      approvals:", "      tests: {max_failed: 0}\n      approvals:"))
    args = (
        "gate",
        "waive",
        "1.0.0",
        "--env",
        "prod",
        "--gate",
        "tests",
        "--reason",
        "r",
        "--until",
        (date.today() + timedelta(days=90)).isoformat(),  # within the one-year cap
    )
    refused = cli(*args, "--actor", "dana")
    assert refused.exit_code == 3, refused
    assert "dana may not waive a gate: it needs the release-manager role" in refused.stderr
    assert execute(team.database_url, "SELECT count(*) FROM gate_waivers") == [(0,)]
    assert cli(*args, "--actor", "rita").exit_code == 0
    never = cli(*args[:6], "approvals", *args[7:], "--actor", "rita")
    assert never.exit_code == 2 and "the approvals gate cannot be waived" in never.stderr


def test_users_and_roles_are_managed_and_audited(project: Project, cli: CliRunner) -> None:
    added = cli("user", "add", "dana", "--email", "dana@example.com", "--role", "qa-lead", "--actor", "admin")
    assert added.exit_code == 0, added
    assert cli("user", "grant", "dana", "security", "--actor", "admin").exit_code == 0
    assert cli("user", "revoke", "dana", "qa-lead", "--actor", "admin").exit_code == 0
    listed = cli("user", "list", "--json").json()
    assert listed["schema_version"] == 1
    assert [(u["name"], u["email"], u["roles"]) for u in listed["users"]] == [
        ("dana", "dana@example.com", ["security"])
    ]
    tags = [(e["tag"], e["actor"]) for e in audit(cli, "user:")]
    assert tags == [("user:role-revoked", "admin"), ("user:role-granted", "admin"), ("user:added", "admin")]

    typo = cli("user", "grant", "dana", "releasemanager")
    assert (
        typo.exit_code == 2
        and "unknown role 'releasemanager' (did you mean 'release-manager'?)" in typo.stderr
    )
    assert cli("user", "add", "erin", "--role", "qa_lead").exit_code == 2
    assert cli("user", "add", "dana").exit_code == 3  # exists
    unknown = cli("user", "grant", "dnaa", "devops")
    assert unknown.exit_code == 4 and "unknown user 'dnaa' (did you mean 'dana'?)" in unknown.stderr


def test_a_wrong_rule_is_a_config_error_with_its_line(project: Project, cli: CliRunner) -> None:
    project.write_config(APPROVED.replace('"1 qa-lead"', '"1 qa_lead"'))
    result = cli("gates", "1.0.0", "--env", "prod")
    assert result.exit_code == 2, result
    assert "clearance.yaml:10" in result.stderr
    assert "unknown role 'qa_lead' (did you mean 'qa-lead'?)" in result.stderr
