"""Gates end to end: evidence from real reports, `clearance gates`, waivers, and deployments that a
failing gate refuses (exit 3) until better evidence or a waiver lets them through — on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.cli import CliRunner, Result
from support.store import execute

from .conftest import Project

REPORTS = Path(__file__).parents[1] / "conformance" / "reports"
COMMIT = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"
TODAY = datetime.now(UTC).date()
SOON = (TODAY + timedelta(days=180)).isoformat()  # a waiver may hold at most 365 days

GATED = """\
project: shop
services:
  - name: web
environments:
  - name: dev
  - name: prod
    production: true
    gates:
      tests: {max_failed: 0}
      coverage: {min_line: 50}
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
"""


@dataclass(frozen=True)
class RealReports:
    failing_junit: Path
    passing_junit: Path
    coverage: Path


def _run(*command: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVERAGE_"))}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in ok, f"{command}: {done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> RealReports:
    """Reports written by the real tools: pytest --junitxml (failing, then fixed) and coverage xml."""
    root = tmp_path_factory.mktemp("tools")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "cart.py").write_text(
        "def total(items):\n    return sum(items)\n\n\ndef unused():\n    return 0\n"
    )
    test = root / "test_cart.py"
    test.write_text("from cart import total\n\n\ndef test_total():\n    assert total([1, 2]) == 4\n")
    _run(sys.executable, "-m", "pytest", "-q", "--junitxml=failing.xml", cwd=root, ok=(1,))
    test.write_text("from cart import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n")
    _run(sys.executable, "-m", "pytest", "-q", "--junitxml=passing.xml", cwd=root)
    _run(
        sys.executable,
        "-m",
        "coverage",
        "run",
        "--data-file=.cov",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        cwd=root,
    )
    _run(
        sys.executable,
        "-m",
        "coverage",
        "xml",
        "--data-file=.cov",
        "--include=cart.py",
        "-o",
        "coverage.xml",
        cwd=root,
    )
    return RealReports(root / "failing.xml", root / "passing.xml", root / "coverage.xml")


def audit_tags(cli: CliRunner, prefix: str) -> list[dict[str, object]]:
    result = cli("audit", "list", "--tag", prefix, "--json")
    assert result.exit_code == 0, result
    entries: list[dict[str, object]] = result.json()["entries"]
    return entries


def test_a_failing_gate_refuses_the_deployment_until_better_evidence(
    project: Project, cli: CliRunner, reports: RealReports
) -> None:
    project.write_config(GATED)
    assert cli("release", "create", "1.0.0", "--commit", COMMIT, "--no-deploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0  # dev has no gates
    assert cli("evidence", "add", "1.0.0", "--kind", "junit", reports.failing_junit).exit_code == 0

    refused = cli("deploy", "1.0.0", "--to", "prod")
    assert refused.exit_code == 3, refused
    assert "2 gate(s) not passed" in refused.stderr
    assert "tests: fail — 1 failed of 1 (max 0): test_cart::test_total (failed)" in refused.stderr
    assert "coverage: missing — no coverage evidence" in refused.stderr
    [entry] = audit_tags(cli, "promotion:refused")
    data = entry["data"]
    assert isinstance(data, dict) and data["code"] == "gate-failed"
    assert [g["gate"] for g in data["gates"]] == ["tests", "coverage"]

    gates = cli("gates", "1.0.0", "--env", "prod", "--json")
    assert gates.exit_code == 3
    document = gates.json()
    assert document["schema_version"] == 1 and document["passed"] is False
    assert {g["gate"]: g["status"] for g in document["gates"]} == {"tests": "fail", "coverage": "missing"}
    assert document["gates"][0]["evidence"][0]["source"] == "failing.xml"

    assert (
        cli(
            "evidence", "add", "1.0.0", "--kind", "junit", reports.passing_junit, "--commit", COMMIT[:7]
        ).exit_code
        == 0
    )
    assert cli("evidence", "add", "1.0.0", "--kind", "cobertura", reports.coverage).exit_code == 0
    passed = cli("gates", "1.0.0", "--env", "prod")
    assert passed.exit_code == 0, passed
    assert "passing.xml" in passed.stdout and "line 75.0%" in passed.stdout
    deployed = cli("deploy", "1.0.0", "--to", "prod")
    assert deployed.exit_code == 0, deployed
    rows = execute(project.database_url, "SELECT state FROM deployments WHERE environment = 'prod'")
    assert [r[0] for r in rows] == ["succeeded"]


def test_a_waiver_lets_one_failing_gate_through_and_is_shown_and_audited(
    project: Project, cli: CliRunner, reports: RealReports
) -> None:
    project.write_config(GATED)
    cli("release", "create", "1.0.0", "--no-deploy")
    cli("deploy", "1.0.0", "--to", "dev")
    cli("evidence", "add", "1.0.0", "--kind", "junit", reports.failing_junit)
    cli("evidence", "add", "1.0.0", "--kind", "cobertura", reports.coverage)
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 3

    # Only a release manager may waive (tests/integration/test_approvals.py shows the refusal).
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    waived = cli(
        "gate",
        "waive",
        "1.0.0",
        "--env",
        "prod",
        "--gate",
        "tests",
        "--reason",
        "known flaky test, fixed in 1.0.1",
        "--until",
        SOON,
        "--actor",
        "rita",
    )
    assert waived.exit_code == 0, waived
    gates = cli("gates", "1.0.0", "--env", "prod", "--json").json()
    tests = gates["gates"][0]
    assert (tests["status"], tests["result"]) == ("waived", "fail")
    assert tests["waiver"]["waived_by"] == "rita" and tests["waiver"]["until"] == SOON
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0

    shown = cli("release", "show", "1.0.0", "--json").json()["release"]
    assert [(w["gate"], w["environment"], w["reason"]) for w in shown["waivers"]] == [
        ("tests", "prod", "known flaky test, fixed in 1.0.1")
    ]
    assert [e["source"] for e in shown["evidence"]] == ["failing.xml", "coverage.xml"]
    assert f"waiver: gate tests in prod until {SOON} by rita" in cli("release", "show", "1.0.0").stdout
    [entry] = audit_tags(cli, "gate:waived")
    assert entry["actor"] == "rita"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gate", "tests", "--until", "2099-01-01"], "Missing option '--reason'"),
        (["--gate", "tests", "--reason", "because"], "Missing option '--until'"),
        (["--gate", "tests", "--reason", "  ", "--until", "2099-01-01"], "a waiver needs a reason"),
        (["--gate", "tests", "--reason", "x", "--until", "2020-01-01"], "--until 2020-01-01 is in the past"),
        (["--gate", "tests", "--reason", "x", "--until", "soon"], "--until 'soon' is not a date"),
        (["--gate", "windoes", "--reason", "x", "--until", "2099-01-01"], "unknown gate 'windoes'"),
        (
            ["--gate", "sast", "--reason", "x", "--until", "2099-01-01"],
            "gate 'sast' is not configured for prod",
        ),
    ],
)
def test_bad_waivers_are_usage_errors_and_store_nothing(
    project: Project, cli: CliRunner, args: list[str], message: str
) -> None:
    project.write_config(GATED)
    cli("release", "create", "1.0.0", "--no-deploy")
    result = cli("gate", "waive", "1.0.0", "--env", "prod", *args)
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert execute(project.database_url, "SELECT count(*) FROM gate_waivers") == [(0,)]


@pytest.mark.parametrize(
    ("kind", "name", "content"),
    [
        ("junit", "truncated.xml", (REPORTS / "junit-xml" / "skippedTestResult.xml").read_bytes()[:300]),
        ("trivy", "truncated.json", (REPORTS / "trivy-json" / "pip.json").read_bytes()[:200]),
        ("sarif", "junit-as-sarif.json", (REPORTS / "junit-xml" / "skippedTestResult.xml").read_bytes()),
    ],
)
def test_a_corrupt_report_is_refused_and_stores_nothing(
    project: Project, cli: CliRunner, kind: str, name: str, content: bytes
) -> None:
    cli("release", "create", "1.0.0", "--no-deploy")
    (project.root / name).write_bytes(content)
    result = cli("evidence", "add", "1.0.0", "--kind", kind, name, "--json")
    assert result.exit_code == 2, result
    assert result.json()["error"]["code"] == "report-invalid"
    assert result.json()["error"]["data"]["source"] == name
    assert execute(project.database_url, "SELECT count(*) FROM evidence") == [(0,)]
    assert audit_tags(cli, "evidence:") == []


def test_a_report_for_another_commit_is_refused_unless_forced(project: Project, cli: CliRunner) -> None:
    sarif = REPORTS / "sarif" / "simple-example.sarif"
    cli("release", "create", "1.0.0", "--commit", COMMIT, "--no-deploy")
    refused = cli("evidence", "add", "1.0.0", "--kind", "sarif", sarif, "--commit", "0123456789abc")
    assert refused.exit_code == 3, refused
    assert f"report for commit 0123456789abc, but release 1.0.0 is built from {COMMIT}" in refused.stderr
    assert execute(project.database_url, "SELECT count(*) FROM evidence") == [(0,)]
    [attempt] = audit_tags(cli, "evidence:refused")
    assert isinstance(attempt["data"], dict) and attempt["data"]["commit"] == "0123456789abc"

    forced = cli(
        "evidence", "add", "1.0.0", "--kind", "sarif", sarif, "--commit", "0123456789abc", "--force", "--json"
    )
    assert forced.exit_code == 0, forced
    stored = forced.json()["evidence"]
    assert (stored["forced"], stored["commit"], stored["tool"]) == (True, "0123456789abc", "ESLint")
    [added] = audit_tags(cli, "evidence:added")
    assert isinstance(added["data"], dict) and added["data"]["forced"] is True
    listed = cli("evidence", "list", "1.0.0", "--json").json()["evidence"]
    assert [(e["kind"], e["forced"]) for e in listed] == [("sarif", True)]


def test_an_expired_ignore_fails_the_vulnerability_gate(project: Project, cli: CliRunner) -> None:
    trivy = REPORTS / "trivy-json" / "alpine-39-high-critical.json"
    project.write_config(
        GATED.replace(
            "      tests: {max_failed: 0}\n      coverage: {min_line: 50}\n",
            "      vulnerabilities:\n"
            "        max: {critical: 100, high: 100}\n"
            "        ignore:\n"
            "          - {id: CVE-2019-14697, until: 2020-01-31, reason: accepted until the base image moves}\n",
        )
    )
    cli("release", "create", "1.0.0", "--no-deploy")
    assert cli("evidence", "add", "1.0.0", "--kind", "trivy", trivy).exit_code == 0
    gates = cli("gates", "1.0.0", "--env", "prod", "--json")
    assert gates.exit_code == 3
    [verdict] = gates.json()["gates"]
    assert verdict["status"] == "fail"
    assert "ignore of CVE-2019-14697 expired on 2020-01-31" in verdict["reason"]


def test_an_unknown_severity_in_the_gate_config_is_a_config_error_with_its_line(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(
        GATED.replace("      tests: {max_failed: 0}\n", "      vulnerabilities: {max: {blocker: 0}}\n")
    )
    result = cli("config", "check")
    assert result.exit_code == 2
    assert (
        "clearance.yaml:9: environments[1].gates.vulnerabilities.max: unknown severity 'blocker'"
        in result.stderr
    )


def _waive(cli: CliRunner, until: str, *extra: str, actor: str = "rita") -> Result:
    return cli(
        "gate", "waive", "1.0.0", "--env", "prod", "--gate", "tests", "--reason", "flaky", "--until", until,
        "--actor", actor, *extra,
    )  # fmt: skip


def _unwaive(cli: CliRunner, *extra: str, actor: str = "rita") -> Result:
    return cli("gate", "unwaive", "1.0.0", "--env", "prod", *extra, "--actor", actor)


def test_waiving_again_replaces_the_waiver_and_unwaive_withdraws_it(
    project: Project, cli: CliRunner, reports: RealReports
) -> None:
    project.write_config(GATED)
    cli("release", "create", "1.0.0", "--no-deploy")
    cli("evidence", "add", "1.0.0", "--kind", "junit", reports.failing_junit)
    cli("evidence", "add", "1.0.0", "--kind", "cobertura", reports.coverage)
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    later, sooner = (TODAY + timedelta(days=300)).isoformat(), (TODAY + timedelta(days=10)).isoformat()
    assert _waive(cli, later).exit_code == 0

    shortened = _waive(cli, sooner)
    assert shortened.exit_code == 0, shortened
    assert f"waived for 1.0.0 in prod until {sooner}" in shortened.stderr
    assert f"replaces the waiver by rita until {later}" in shortened.stderr
    tests = cli("gates", "1.0.0", "--env", "prod", "--json").json()["gates"][0]
    assert (tests["status"], tests["waiver"]["until"]) == ("waived", sooner)
    assert f"waived by rita until {sooner}" in cli("gates", "1.0.0", "--env", "prod").stdout
    shown = cli("release", "show", "1.0.0", "--json").json()["release"]["waivers"]
    assert [w["until"] for w in shown] == [sooner]
    assert execute(project.database_url, "SELECT count(*) FROM gate_waivers") == [(1,)]
    newest = audit_tags(cli, "gate:waived")[0]["data"]
    assert isinstance(newest, dict) and newest["until"] == sooner
    assert [(r["until"], r["waived_by"]) for r in newest["replaces"]] == [(later, "rita")]

    # Withdrawn: release managers only, with a reason; the gate is judged again.
    refused = _unwaive(cli, "--gate", "tests", "--reason", "real failure", actor="alice")
    assert refused.exit_code == 3, refused
    assert "alice may not withdraw a gate waiver" in refused.stderr
    withdrawn = _unwaive(cli, "--gate", "tests", "--reason", "real failure")
    assert withdrawn.exit_code == 0, withdrawn
    assert "withdrawn: the gate is judged again" in withdrawn.stderr
    judged = cli("gates", "1.0.0", "--env", "prod", "--json")
    assert judged.exit_code == 3 and judged.json()["gates"][0]["status"] == "fail"
    assert execute(project.database_url, "SELECT count(*) FROM gate_waivers") == [(0,)]
    assert cli("release", "show", "1.0.0", "--json").json()["release"]["waivers"] == []
    [entry] = audit_tags(cli, "gate:unwaived")
    data = entry["data"]
    assert entry["actor"] == "rita" and isinstance(data, dict)
    assert (data["gate"], data["environment"], data["reason"]) == ("tests", "prod", "real failure")
    assert [w["until"] for w in data["withdrawn"]] == [sooner]
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 3

    again = _unwaive(cli, "--gate", "tests", "--reason", "real failure", "--json")
    assert again.exit_code == 4, again
    assert again.json()["error"]["code"] == "waiver-unknown"


def test_a_waiver_holds_at_most_a_year(project: Project, cli: CliRunner) -> None:
    project.write_config(GATED)
    cli("release", "create", "1.0.0", "--no-deploy")
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    too_far = (TODAY + timedelta(days=366)).isoformat()
    refused = _waive(cli, too_far)
    assert refused.exit_code == 2, refused
    latest = (TODAY + timedelta(days=365)).isoformat()
    assert (
        f"error: --until {too_far} is more than 365 days ahead (the latest is {latest})\n" in refused.stderr
    )
    assert execute(project.database_url, "SELECT count(*) FROM gate_waivers") == [(0,)]
    assert _waive(cli, latest).exit_code == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--gate", "tests"], 2, "Missing option '--reason'"),
        (["--gate", "tests", "--reason", "  "], 2, "withdrawing a waiver needs a reason"),
        (["--gate", "testz", "--reason", "x"], 2, "unknown gate 'testz'"),
        (["--gate", "tests", "--reason", "x", "--env", "qa"], 4, "unknown environment 'qa'"),
    ],
)
def test_bad_unwaives_change_nothing(
    project: Project, cli: CliRunner, args: list[str], code: int, message: str
) -> None:
    project.write_config(GATED)
    cli("release", "create", "1.0.0", "--no-deploy")
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    assert _waive(cli, SOON).exit_code == 0
    result = _unwaive(cli, *args)
    assert result.exit_code == code, result
    assert message in result.stderr
    assert execute(project.database_url, "SELECT count(*) FROM gate_waivers") == [(1,)]
    assert audit_tags(cli, "gate:unwaived") == []


def test_an_identical_report_changes_nothing_and_approvals_stay_valid(
    project: Project, cli: CliRunner, reports: RealReports
) -> None:
    project.write_config(
        GATED.replace("      coverage: {min_line: 50}\n", "      approvals: {require: ['1 qa-lead']}\n")
    )
    cli("release", "create", "1.0.0", "--no-deploy")
    assert cli("evidence", "add", "1.0.0", "--kind", "junit", reports.passing_junit).exit_code == 0
    assert cli("user", "add", "dana", "--role", "qa-lead", "--actor", "admin").exit_code == 0
    assert cli("approve", "1.0.0", "--env", "prod", "--actor", "dana").exit_code == 0

    again = cli("evidence", "add", "1.0.0", "--kind", "junit", reports.passing_junit)
    assert again.exit_code == 0, again
    assert again.stderr == "= passing.xml is identical to junit evidence #1 of 1.0.0: nothing changed\n"
    as_json = cli("evidence", "add", "1.0.0", "--kind", "junit", reports.passing_junit, "--json")
    assert as_json.exit_code == 0 and as_json.json()["unchanged"] is True
    assert as_json.json()["evidence"]["id"] == 1
    assert execute(project.database_url, "SELECT count(*) FROM evidence") == [(1,)]
    assert len(audit_tags(cli, "evidence:added")) == 1
    approvals = cli("release", "show", "1.0.0", "--json").json()["release"]["approvals"]
    assert [(a["approver"], a["state"]) for a in approvals] == [("dana", "valid")]
    assert cli("gates", "1.0.0", "--env", "prod").exit_code == 0

    # A report that is not the newest of its kind is judged again once re-added: that is a change.
    assert cli("evidence", "add", "1.0.0", "--kind", "junit", reports.failing_junit).exit_code == 0
    back = cli("evidence", "add", "1.0.0", "--kind", "junit", reports.passing_junit, "--json")
    assert back.exit_code == 0 and back.json()["unchanged"] is False and back.json()["evidence"]["id"] == 3
    assert len(audit_tags(cli, "evidence:added")) == 3
    approvals = cli("release", "show", "1.0.0", "--json").json()["release"]["approvals"]
    assert [(a["approver"], a["state"]) for a in approvals] == [("dana", "stale")]
