"""Change requests (ITIL mode) end to end, on both databases: a deployment to a change-controlled
environment opens a change request with its risk and why; a standard change goes through at once, a
normal one waits for the CAB, a rejected one is closed, and an emergency hotfix may be deployed in a
freeze with an emergency approval — plus separation of duties and every way to get it wrong."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.cli import CliRunner
from support.store import execute

from .conftest import Project

CONFIG = """\
project: shop
services:
  - name: web
environments:
  - name: dev
  - name: prod
    production: true
{gates}
    change_control:
{change_control}
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
process:
  - name: smoke
    script: test -f ready
    environments: [prod]
"""

CAB = """\
      cab: "1 release-manager and 1 qa-lead"
      standard: {types: [patch], max_risk: low}
      emergency: {types: [hotfix], approvers: "1 release-manager"}"""

# Opens every day at midnight for a whole day: always in force, whenever the test runs.
FREEZE = """\
    gates:
      windows:
        timezone: UTC
        freeze:
          - {name: year-end, rrule: 'FREQ=DAILY;BYHOUR=0', duration: 1d, timezone: UTC}"""


def config(change_control: str = CAB, gates: str = "") -> str:
    return CONFIG.format(change_control=change_control, gates=gates)


def audit(cli: CliRunner, tag: str) -> list[dict[str, Any]]:
    result = cli("audit", "list", "--tag", tag, "--json")
    assert result.exit_code == 0, result
    entries: list[dict[str, Any]] = result.json()["entries"]
    return entries


def change(cli: CliRunner, number: int) -> dict[str, Any]:
    shown = cli("change", "show", str(number), "--json")
    assert shown.exit_code == 0, shown
    document: dict[str, Any] = shown.json()["change_request"]
    return document


@pytest.fixture
def team(project: Project, cli: CliRunner) -> Project:
    """carol creates releases; rita is the release manager, quinn and dana QA leads, ops deploys."""
    project.write_config(config())
    (project.root / "ready").write_text("yes")
    for name, role in (
        ("carol", "qa-lead"),
        ("rita", "release-manager"),
        ("quinn", "qa-lead"),
        ("ops", "devops"),
    ):
        assert cli("user", "add", name, "--role", role, "--actor", "admin").exit_code == 0
    return project


def release(cli: CliRunner, version: str, *extra: str) -> None:
    created = cli("release", "create", version, "--no-deploy", "--actor", "carol", *extra)
    assert created.exit_code == 0, created
    assert cli("deploy", version, "--to", "dev", "--actor", "ops").exit_code == 0


def test_a_standard_change_is_approved_and_implemented_at_once(team: Project, cli: CliRunner) -> None:
    release(cli, "1.0.0", "--type", "patch", "--scope", "SHOP-1:Fix the cart", "--rollback-plan", "redeploy")
    deployed = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert deployed.exit_code == 0, deployed

    document = change(cli, 1)
    assert (document["kind"], document["state"], document["risk"]["level"]) == (
        "standard",
        "implemented",
        "low",
    )
    assert [(f["factor"], f["points"]) for f in document["risk"]["factors"]] == [
        ("type", 0),
        ("size", 0),
        ("change_failure_rate", 1),  # the first deployment to prod
    ]
    assert document["rollback_plan"] == "redeploy"
    [approved] = audit(cli, "change:approved")
    assert approved["data"]["automatic"] is True and approved["actor"] == "ops"
    rows = execute(
        team.database_url, "SELECT state, change_request_id FROM deployments WHERE environment = 'prod'"
    )
    assert rows == [("succeeded", 1)]
    assert [d["state"] for d in document["deployments"]] == ["succeeded"]


def test_a_normal_change_waits_for_the_cab_then_deploys(team: Project, cli: CliRunner) -> None:
    release(cli, "1.0.0")  # a major release without a rollback plan: a normal change
    refused = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3, refused
    assert (
        "change request #1 (normal change, risk high) is not approved: needs 1 release-manager, 1 qa-lead"
        in refused.stderr
    )
    document = change(cli, 1)
    factors = {f["factor"]: f for f in document["risk"]["factors"]}
    assert factors["rollback_plan"] == {"factor": "rollback_plan", "points": 2, "detail": "no rollback plan"}
    assert factors["type"]["detail"] == "major release"
    [created] = audit(cli, "change:created")
    assert created["data"]["kind"] == "normal" and created["data"]["risk_score"] == document["risk"]["score"]
    [refusal] = audit(cli, "promotion:refused")
    assert refusal["data"]["code"] == "change-not-approved" and refusal["data"]["change_request_id"] == 1
    gates = cli("gates", "1.0.0", "--env", "prod", "--json")
    assert gates.exit_code == 0 and gates.json()["change_request"]["state"] == "pending"
    assert "change request #1: normal, risk high, pending" in cli("gates", "1.0.0", "--env", "prod").stdout
    shown = cli("release", "show", "1.0.0", "--json").json()["release"]["change_requests"]
    assert [(c["id"], c["environment"], c["kind"], c["state"]) for c in shown] == [
        (1, "prod", "normal", "pending")
    ]

    # Separation of duties: neither the requester nor the release's creator may decide.
    own = cli("change", "approve", "1", "--actor", "carol")
    assert own.exit_code == 3 and "carol created the release and may not approve" in own.stderr
    requester = cli("change", "approve", "1", "--actor", "ops")
    assert requester.exit_code == 3, requester  # ops holds no CAB role, and requested it
    assert cli("user", "grant", "ops", "release-manager", "--actor", "admin").exit_code == 0
    requester = cli("change", "approve", "1", "--actor", "ops")
    assert requester.exit_code == 3 and "ops requested this change and may not approve" in requester.stderr
    assert [e["data"]["code"] for e in audit(cli, "change:refused")] == [
        "separation-of-duties",
        "approver-role-missing",
        "separation-of-duties",
    ]

    assert cli("change", "approve", "1", "--comment", "CAB 12/02", "--actor", "rita").exit_code == 0
    half = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert half.exit_code == 3 and "needs 1 qa-lead; approved by rita (release-manager)" in half.stderr
    assert cli("change", "approve", "1", "--actor", "quinn").exit_code == 0
    assert change(cli, 1)["state"] == "approved"

    # An approver does not implement the change they approved.
    by_approver = cli("deploy", "1.0.0", "--to", "prod", "--actor", "rita")
    assert (
        by_approver.exit_code == 3
        and "rita: excluded, deploys it (separation of duties)" in by_approver.stderr
    )

    deployed = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert deployed.exit_code == 0, deployed
    rows = execute(team.database_url, "SELECT change_request_id FROM deployments WHERE environment = 'prod'")
    assert rows == [(1,)]
    assert change(cli, 1)["state"] == "implemented"
    assert [e["tag"] for e in audit(cli, "change:")][:3] == [
        "change:implemented",
        "change:implementing",
        "change:approved",
    ]
    closed = cli("change", "approve", "1", "--actor", "quinn")
    assert closed.exit_code == 3 and "change request #1 is implemented: closed" in closed.stderr


def test_a_rejected_change_is_closed_and_a_new_request_goes_to_the_cab(team: Project, cli: CliRunner) -> None:
    release(cli, "1.0.0", "--rollback-plan", "redeploy 0.9")
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3
    assert cli("change", "approve", "1", "--actor", "rita").exit_code == 0
    assert cli("change", "reject", "1", "--actor", "quinn").exit_code == 2  # a rejection needs a reason
    rejected = cli("change", "reject", "1", "--comment", "not during the sale", "--actor", "quinn")
    assert rejected.exit_code == 0, rejected
    document = change(cli, 1)
    assert document["state"] == "rejected" and document["reason"] == "rejected by quinn: not during the sale"

    refused = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3, refused
    assert "change request #2 (normal change" in refused.stderr
    assert "(resubmitted after change request #1 was rejected)" in refused.stderr
    assert cli("change", "approve", "1", "--actor", "rita").exit_code == 3  # closed
    assert execute(team.database_url, "SELECT count(*) FROM deployments WHERE environment = 'prod'") == [(0,)]
    listed = cli("change", "list", "--env", "prod", "--state", "rejected", "--json").json()
    assert [c["id"] for c in listed["change_requests"]] == [1]


def test_a_failed_deployment_fails_its_change_and_raises_the_next_ones_risk(
    team: Project, cli: CliRunner
) -> None:
    release(cli, "1.0.0", "--type", "patch", "--scope", "SHOP-1:Fix", "--rollback-plan", "redeploy")
    (team.root / "ready").unlink()  # the smoke step fails in prod
    failed = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert failed.exit_code == 1, failed
    first = change(cli, 1)
    assert first["state"] == "failed" and first["reason"].startswith("deployment ")

    (team.root / "ready").write_text("yes")
    again = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert again.exit_code == 3, again  # no longer low risk: not standard
    second = change(cli, 2)
    rate = [f for f in second["risk"]["factors"] if f["factor"] == "change_failure_rate"]
    assert rate == [
        {
            "factor": "change_failure_rate",
            "points": 3,
            "detail": "100% (1 of the last 1 deployments failed or were rolled back)",
        }
    ]
    assert (second["kind"], second["state"]) == ("normal", "pending")


def test_an_emergency_hotfix_may_be_deployed_in_a_freeze_with_an_emergency_approval(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(config(gates=FREEZE))
    (project.root / "ready").write_text("yes")
    for name, role in (("carol", "qa-lead"), ("rita", "release-manager"), ("quinn", "qa-lead")):
        assert cli("user", "add", name, "--role", role, "--actor", "admin").exit_code == 0
    release(cli, "1.0.1", "--type", "hotfix", "--rollback-plan", "redeploy 1.0.0")

    frozen = cli("deploy", "1.0.1", "--to", "prod", "--actor", "ops")
    assert frozen.exit_code == 3, frozen
    assert "windows: fail — freeze 'year-end' is in force" in frozen.stderr
    assert "change request #1 is an emergency change" in frozen.stderr
    assert change(cli, 1)["kind"] == "emergency"

    plain = cli("change", "approve", "1", "--actor", "rita")
    assert plain.exit_code == 2 and "approve it with --emergency" in plain.stderr
    no_role = cli("change", "approve", "1", "--emergency", "--actor", "quinn")
    assert no_role.exit_code == 3 and "needs (release-manager)" in no_role.stderr
    approved = cli("change", "approve", "1", "--emergency", "--comment", "site down", "--actor", "rita")
    assert approved.exit_code == 0, approved

    deployed = cli("deploy", "1.0.1", "--to", "prod", "--actor", "ops")
    assert deployed.exit_code == 0, deployed
    [bypass] = audit(cli, "change:freeze-bypassed")
    assert bypass["data"]["emergency_approvers"] == ["rita"]
    assert [g["gate"] for g in bypass["data"]["gates"]] == ["windows"]
    assert change(cli, 1)["state"] == "implemented"

    # A normal change approved by the CAB stays frozen: only an emergency lifts a freeze.
    release(cli, "1.1.0", "--rollback-plan", "redeploy 1.0.1")
    assert cli("deploy", "1.1.0", "--to", "prod", "--actor", "ops").exit_code == 3
    assert cli("change", "approve", "2", "--actor", "rita").exit_code == 0
    assert cli("change", "approve", "2", "--actor", "quinn").exit_code == 0
    still = cli("deploy", "1.1.0", "--to", "prod", "--actor", "ops")
    assert still.exit_code == 3 and "freeze 'year-end' is in force" in still.stderr


def test_an_emergency_approval_lifts_the_windows_gate_only(project: Project, cli: CliRunner) -> None:
    gates = FREEZE + "\n      tests: {max_failed: 0}"
    project.write_config(config(gates=gates))
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    release(cli, "1.0.1", "--type", "hotfix", "--rollback-plan", "redeploy 1.0.0")
    assert cli("deploy", "1.0.1", "--to", "prod", "--actor", "ops").exit_code == 3
    assert cli("change", "approve", "1", "--emergency", "--actor", "rita").exit_code == 0
    refused = cli("deploy", "1.0.1", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3, refused
    assert "1 gate(s) not passed: tests: missing" in refused.stderr and "windows" not in refused.stderr
    assert audit(cli, "change:freeze-bypassed") == []


def test_bad_change_commands_are_refused_with_a_clear_error(team: Project, cli: CliRunner) -> None:
    release(cli, "1.0.0", "--rollback-plan", "redeploy 0.9")
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3

    unknown = cli("change", "show", "42")
    assert unknown.exit_code == 4 and "no change request #42 in this project" in unknown.stderr
    assert cli("change", "approve", "42", "--actor", "rita").exit_code == 4
    assert cli("change", "show", "one").exit_code == 2
    bad_state = cli("change", "list", "--state", "open")
    assert bad_state.exit_code == 2 and "unknown state 'open'" in bad_state.stderr
    assert cli("change", "list", "--env", "prood").exit_code == 4
    not_emergency = cli("change", "approve", "1", "--emergency", "--actor", "rita")
    assert not_emergency.exit_code == 2
    assert "is a normal change: --emergency is for emergency changes" in not_emergency.stderr
    stranger = cli("change", "approve", "1", "--actor", "mallory")
    assert stranger.exit_code == 3 and "mallory is not a known user" in stranger.stderr
    document = change(cli, 1)
    assert document["state"] == "pending" and document["decisions"] == []  # nothing half-written


@pytest.mark.parametrize(
    ("change_control", "expected"),
    [
        (
            '      cab: "1 qa_lead"',
            "clearance.yaml:10: environments[1].change_control.cab: unknown role 'qa_lead' "
            "(did you mean 'qa-lead'?)",
        ),
        (
            '      cab: "1 qa-lead und 1 devops"',
            "clearance.yaml:10: environments[1].change_control.cab: '1 qa-lead und 1 devops' is not a "
            "requirement: write 'N ROLE' or 'N of [ROLE, ROLE]'",
        ),
        (
            "      standard: {types: [patchh]}",
            "clearance.yaml:10: environments[1].change_control.standard.types[0]: Input should be 'major', "
            "'minor', 'patch', 'hotfix', 'prerelease' or 'continuous'",
        ),
        (
            "      standard: {max_risk: extreme}",
            "clearance.yaml:10: environments[1].change_control.standard.max_risk: Input should be 'low', "
            "'medium' or 'high'",
        ),
        (
            "      emergency: {types: [patch]}",
            "clearance.yaml:9: environments[1].change_control: release type 'patch' is both standard and "
            "emergency",
        ),
        (
            "      risk: {medium: 5, high: 4}",
            "clearance.yaml:10: environments[1].change_control.risk: high (4) must be above medium (5)",
        ),
    ],
)
def test_a_wrong_change_control_is_a_config_error_with_its_line(
    project: Project, cli: CliRunner, change_control: str, expected: str
) -> None:
    project.write_config(config(change_control=change_control))
    result = cli("change", "list")
    assert result.exit_code == 2, result
    assert result.stderr == f"error: {expected}\n"


def test_change_control_true_takes_the_defaults(project: Project, cli: CliRunner) -> None:
    project.write_config(
        CONFIG.format(change_control="", gates="").replace("change_control:\n", "change_control: true\n")
    )
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    release(cli, "1.0.0", "--rollback-plan", "redeploy 0.9")
    (project.root / "ready").write_text("yes")
    refused = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3 and "is not approved: needs 1 release-manager" in refused.stderr
    assert cli("change", "approve", "1", "--actor", "rita").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 0


def test_a_change_nobody_has_decided_on_follows_the_release(project: Project, cli: CliRunner) -> None:
    standard = '      standard: {types: [patch, minor], max_risk: low}\n      cab: "1 release-manager"'
    project.write_config(config(change_control=standard, gates="    gates:\n      tests: {max_failed: 0}"))
    (project.root / "ready").write_text("yes")
    release(cli, "1.0.0", "--type", "minor", "--scope", "SHOP-7:Wishlist", "--rollback-plan", "redeploy")
    refused = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3 and "tests: missing" in refused.stderr
    first = change(cli, 1)
    assert (first["kind"], first["risk"]["score"], first["state"]) == ("normal", 3, "pending")
    assert {"factor": "gates", "points": 1, "detail": "gates not passed: tests: missing"} in first["risk"][
        "factors"
    ]

    report = project.root / "junit.xml"
    report.write_text(
        '<testsuite name="shop" tests="1" failures="0"><testcase name="cart" classname="t"/></testsuite>'
    )
    assert cli("evidence", "add", "1.0.0", "--kind", "junit", str(report)).exit_code == 0
    deployed = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert deployed.exit_code == 0, deployed  # reassessed: low risk, a pre-approved minor change
    [reassessed] = audit(cli, "change:reassessed")
    assert reassessed["data"]["was"] == {"kind": "normal", "risk_level": "medium", "risk_score": 3}
    assert (reassessed["data"]["kind"], reassessed["data"]["risk_score"]) == ("standard", 2)
    assert change(cli, 1)["state"] == "implemented"


def _gates_factor(number: int, cli: CliRunner) -> str | None:
    factors = {f["factor"]: f["detail"] for f in change(cli, number)["risk"]["factors"]}
    return factors.get("gates")


def test_what_the_gates_judge_reassesses_an_undecided_change_at_once(team: Project, cli: CliRunner) -> None:
    team.write_config(config(gates="    gates:\n      tests: {max_failed: 0}"))
    release(cli, "1.0.0", "--rollback-plan", "redeploy 0.9")
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 3
    assert _gates_factor(1, cli) == "gates not passed: tests: missing"
    score = change(cli, 1)["risk"]["score"]

    until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    waive = ("gate", "waive", "1.0.0", "--env", "prod", "--gate", "tests", "--reason", "r", "--until", until)
    assert cli(*waive, "--actor", "rita").exit_code == 0
    assert _gates_factor(1, cli) == "gates not passed: tests: waived"  # a waived gate still counts
    unwaive = ("gate", "unwaive", "1.0.0", "--env", "prod", "--gate", "tests", "--reason", "no")
    assert cli(*unwaive, "--actor", "rita").exit_code == 0
    assert _gates_factor(1, cli) == "gates not passed: tests: missing"

    report = team.root / "junit.xml"
    report.write_text('<testsuite name="shop" tests="1"><testcase name="cart" classname="t"/></testsuite>')
    assert cli("evidence", "add", "1.0.0", "--kind", "junit", str(report), "--actor", "ci").exit_code == 0
    document = change(cli, 1)
    assert _gates_factor(1, cli) is None and document["risk"]["score"] == score - 1
    assert document["state"] == "pending"
    entries = audit(cli, "change:reassessed")
    assert [e["actor"] for e in entries] == ["ci", "rita", "rita"]
    assert entries[0]["data"]["was"]["risk_score"] == score
    assert "tests: missing" not in cli("change", "show", "1").stdout

    # Once someone has decided, the request stays as they decided on it.
    assert cli("change", "approve", "1", "--comment", "ok", "--actor", "rita").exit_code == 0
    report.write_text(
        '<testsuite name="shop" tests="1" failures="1"><testcase name="cart" classname="t">'
        '<failure message="boom"/></testcase></testsuite>'
    )
    assert cli("evidence", "add", "1.0.0", "--kind", "junit", str(report), "--actor", "ci").exit_code == 0
    assert cli(*waive, "--actor", "rita").exit_code == 0
    assert len(audit(cli, "change:reassessed")) == 3
    assert _gates_factor(1, cli) is None and change(cli, 1)["risk"]["score"] == score - 1


def test_signing_the_artifacts_reassesses_an_undecided_change(team: Project, cli: CliRunner) -> None:
    keys = cli("keys", "generate", "--out", str(team.root.parent / "keys"), "--json")
    assert keys.exit_code == 0, keys
    public_key = textwrap.indent(Path(keys.json()["public_key"]).read_text(), " " * 10)
    trusted = f"    trusted_keys:\n      - name: ci\n        public_key: |\n{public_key.rstrip()}"
    team.write_config(config(gates=f"    gates:\n      signature: required\n{trusted}"))
    # A patch of unknown contents (no scope, no notes), unsigned: medium risk, for the CAB.
    assert (
        cli("release", "create", "1.0.0", "--no-deploy", "--type", "patch", "--rollback-plan", "r").exit_code
        == 0
    )
    wheel = team.root / "shop-1.0.0-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")
    assert cli("artifact", "add", "1.0.0", str(wheel), "--kind", "wheel", "--actor", "ci").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev", "--actor", "ops").exit_code == 0
    refused = cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops")
    assert refused.exit_code == 3 and "signature: missing" in refused.stderr
    assert (change(cli, 1)["kind"], change(cli, 1)["state"]) == ("normal", "pending")
    assert _gates_factor(1, cli) == "gates not passed: signature: missing"

    signed = cli("artifact", "sign", "1.0.0", "--key", keys.json()["private_key"], "--actor", "ci")
    assert signed.exit_code == 0, signed
    # Signed, the patch is low risk: a pre-approved standard change, approved there and then.
    document = change(cli, 1)
    assert (document["kind"], document["state"], _gates_factor(1, cli)) == ("standard", "approved", None)
    [reassessed, *_] = audit(cli, "change:reassessed")
    assert reassessed["actor"] == "ci" and reassessed["data"]["was"]["kind"] == "normal"
    assert cli("deploy", "1.0.0", "--to", "prod", "--actor", "ops").exit_code == 0
    assert change(cli, 1)["state"] == "implemented"
