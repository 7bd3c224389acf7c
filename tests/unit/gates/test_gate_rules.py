"""The pure gate rules: each built-in check on parsed reports, waivers, and the config that sets them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from clearance.errors import ConfigError
from clearance.gates import CHECKS
from clearance.gates.base import EvidenceFact, GateFacts, GateStatus
from clearance.gates.evaluation import Waiver, evaluate
from clearance.gates.evidence import KINDS, parse_report
from clearance.gates.policies import GatesPolicy
from clearance.project.loader import parse_config

REPORTS = Path(__file__).parents[2] / "conformance" / "reports"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def fact(kind: str, path: Path, *, id: int = 1, age: timedelta = timedelta(hours=1)) -> EvidenceFact:
    report = parse_report(kind, path.read_bytes(), source=path.name)
    return EvidenceFact(
        id=id, kind=kind, family=KINDS[kind].family, source=path.name, added_at=NOW - age, report=report
    )


def judge(
    gates: dict[str, object], *evidence: EvidenceFact, waivers: tuple[Waiver, ...] = ()
) -> dict[str, object]:
    facts = GateFacts(version="1.0.0", environment="prod", now=NOW, evidence=evidence)
    verdicts = evaluate(GatesPolicy.model_validate(gates), facts, waivers, CHECKS)
    return {v.gate: v for v in verdicts}


def test_no_evidence_is_missing_never_a_silent_pass() -> None:
    verdicts = judge(
        {
            "tests": {},
            "coverage": {"min_line": 80},
            "vulnerabilities": {},
            "sast": {},
            "licenses": {"deny": ["GPL-3.0-only"]},
            "evidence_fresh": {"max_age": "7d"},
        }
    )
    assert {name: v.status for name, v in verdicts.items()} == dict.fromkeys(
        ["tests", "coverage", "vulnerabilities", "sast", "licenses", "evidence_fresh"], "missing"
    )
    assert all(v.blocks for v in verdicts.values())
    assert "clearance evidence add" in verdicts["tests"].result.reason


def test_tests_gate_names_the_failing_tests() -> None:
    junit = fact("junit", REPORTS / "junit-xml" / "junit-report-errror-details.xml")
    verdict = judge({"tests": {"max_failed": 0}}, junit)["tests"]
    assert verdict.status == "fail"
    assert "testHudsonReporting" in verdict.result.reason
    assert verdict.result.evidence == (junit,)
    assert judge({"tests": {"max_failed": 1}}, junit)["tests"].status == "pass"


def test_newer_evidence_of_a_kind_replaces_the_older_one() -> None:
    failing = fact(
        "junit", REPORTS / "junit-xml" / "junit-report-errror-details.xml", id=1, age=timedelta(days=1)
    )
    passing = fact("junit", REPORTS / "junit-xml" / "junit-report-bad-duration.xml", id=2)
    assert passing.report.failures == ()  # type: ignore[union-attr]
    verdict = judge({"tests": {}}, failing, passing)["tests"]
    assert verdict.status == "pass", verdict.result.reason
    assert verdict.result.evidence == (passing,)


def test_a_report_whose_every_test_was_skipped_checked_nothing_and_fails_the_tests_gate() -> None:
    skipped = fact("junit", REPORTS / "junit-xml" / "skippedTestResult.xml")
    verdict = judge({"tests": {}}, skipped)["tests"]
    assert (verdict.status, verdict.result.reason) == ("fail", "no test passed: all 1 were skipped")


def test_vulnerability_gate_counts_by_severity_and_honours_current_ignores() -> None:
    trivy = fact("trivy", REPORTS / "trivy-json" / "alpine-39-high-critical.json")
    counts = trivy.report.counts_by_severity()  # type: ignore[union-attr]
    assert counts["CRITICAL"] >= 1
    verdict = judge({"vulnerabilities": {"max": {"critical": 0, "high": 100}}}, trivy)["vulnerabilities"]
    assert verdict.status == "fail"
    assert f"{counts['CRITICAL']} critical (max 0)" in verdict.result.reason
    criticals = [v.id for v in trivy.report.vulnerabilities if v.severity.value == "CRITICAL"]  # type: ignore[union-attr]
    ignores = [{"id": i, "until": "2027-01-31", "reason": "not reachable"} for i in set(criticals)]
    allowed = judge({"vulnerabilities": {"max": {"critical": 0, "high": 100}, "ignore": ignores}}, trivy)
    assert allowed["vulnerabilities"].status == "pass", allowed["vulnerabilities"].result.reason


def test_an_expired_ignore_fails_the_gate_and_says_which() -> None:
    trivy = fact("trivy", REPORTS / "trivy-json" / "alpine-39-high-critical.json")
    first = trivy.report.vulnerabilities[0]  # type: ignore[union-attr]
    ignore = {"id": first.id, "until": "2026-01-31", "reason": "accepted for Q1"}
    verdict = judge({"vulnerabilities": {"ignore": [ignore]}}, trivy)["vulnerabilities"]
    assert verdict.status == "fail"
    assert f"ignore of {first.id} expired on 2026-01-31" in verdict.result.reason


def test_sast_gate_fails_above_the_allowed_level() -> None:
    sarif = fact("sarif", REPORTS / "sarif" / "simple-example.sarif")
    levels = sarif.report.counts_by_level()  # type: ignore[union-attr]
    top = sarif.report.max_level  # type: ignore[union-attr]
    assert top is not None, levels
    assert judge({"sast": {"max_level": "error"}}, sarif)["sast"].status == "pass"
    below = {"error": "warning", "warning": "note", "note": "none"}[top]
    assert judge({"sast": {"max_level": below}}, sarif)["sast"].status == "fail"


def test_licence_gate_lists_denied_components_even_inside_an_expression() -> None:
    sbom = fact("cyclonedx", REPORTS / "cyclonedx" / "valid-license-expression-1.6.json")
    assert judge({"licenses": {"deny": ["AGPL-3.0-only"]}}, sbom)["licenses"].status == "pass"
    # "EPL-2.0 OR GPL-2.0 WITH Classpath-exception-2.0": a denied id anywhere in it fails (conservative).
    denied = judge({"licenses": {"deny": ["GPL-2.0"]}}, sbom)["licenses"]
    assert denied.status == "fail"
    assert "denied licence in 1 component(s)" in denied.result.reason
    assert "(GPL-2.0)" in denied.result.reason


def test_freshness_gate_fails_on_old_evidence() -> None:
    old = fact("junit", REPORTS / "junit-xml" / "skippedTestResult.xml", age=timedelta(days=8))
    verdict = judge({"evidence_fresh": {"max_age": "7d"}}, old)["evidence_fresh"]
    assert verdict.status == "fail"
    assert (
        "evidence older than 7 days: junit skippedTestResult.xml, was added 8.0 days ago"
        in verdict.result.reason
    )
    assert judge({"evidence_fresh": {"max_age": "9d"}}, old)["evidence_fresh"].status == "pass"


def test_a_valid_waiver_lets_a_failing_gate_through_and_an_expired_one_does_not() -> None:
    waiver = Waiver(
        gate="tests", reason="flaky suite, tracked in OPS-4", until=date(2026, 11, 22), waived_by="rm"
    )
    waived = judge({"tests": {}}, waivers=(waiver,))["tests"]
    assert waived.status == "waived" and not waived.blocks
    assert waived.result.status is GateStatus.MISSING  # the underlying result stays visible
    expired = Waiver(gate="tests", reason="old", until=date(2026, 11, 21), waived_by="rm")
    assert judge({"tests": {}}, waivers=(expired,))["tests"].status == "missing"


def config_with(gates: str) -> str:
    return (
        "project: shop\nservices: [{name: web}]\nenvironments:\n  - name: prod\n    gates:\n"
        + gates
        + "lifecycle: {phases: [{environments: [prod]}]}\n"
    )


@pytest.mark.parametrize(
    ("gates", "expected"),
    [
        (
            "      vulnerabilities:\n        max: {critical: 0, severe: 1}\n",
            "clearance.yaml:7: environments[0].gates.vulnerabilities.max: unknown severity 'severe'",
        ),
        ("      approval: {}\n", "clearance.yaml:6: environments[0].gates.approval: unknown key"),
        ("      sast: {max_level: warn}\n", "clearance.yaml:6: environments[0].gates.sast.max_level:"),
        (
            "      evidence_fresh: {max_age: soon}\n",
            "clearance.yaml:6: environments[0].gates.evidence_fresh.max_age:",
        ),
        (
            "      vulnerabilities:\n        ignore: [{id: CVE-2024-1, until: 2027-01-31}]\n",
            "clearance.yaml:7: environments[0].gates.vulnerabilities.ignore[0].reason: required key is missing",
        ),
    ],
)
def test_bad_gate_config_is_a_config_error_with_its_line(gates: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config_with(gates), "clearance.yaml")
    assert any(problem.startswith(expected) for problem in raised.value.problems), raised.value.problems


def test_every_gate_key_has_a_registered_check() -> None:
    assert list(GatesPolicy.model_fields) == list(CHECKS)
    assert all(check.type == name for name, check in CHECKS.items())


def test_coverage_gate_compares_percentages() -> None:
    xml = (
        b'<?xml version="1.0" ?><coverage version="7.6" line-rate="0.6" branch-rate="0.5" lines-covered="6"'
        b' lines-valid="10" branches-covered="3" branches-valid="6"><packages/></coverage>'
    )
    report = parse_report("cobertura", xml, source="coverage.xml")
    evidence = EvidenceFact(
        id=1, kind="cobertura", family="coverage", source="coverage.xml", added_at=NOW, report=report
    )
    assert judge({"coverage": {"min_line": 60}}, evidence)["coverage"].status == "pass"
    failed = judge({"coverage": {"min_line": 80, "min_branch": 60}}, evidence)["coverage"]
    assert failed.status == "fail"
    assert failed.result.reason == "line coverage 60.0% is below 80%; branch coverage 50.0% is below 60%"


def test_the_newest_waiver_of_a_gate_replaces_the_earlier_ones() -> None:
    long = Waiver(id=1, gate="tests", reason="for a year", until=date(2027, 11, 1), waived_by="rm")
    short = Waiver(id=2, gate="tests", reason="a week", until=date(2026, 11, 29), waived_by="rm")
    verdict = judge({"tests": {}}, waivers=(short, long))["tests"]
    assert verdict.status == "waived" and verdict.waiver == short
    # Shortened to a day gone by: the longer, older waiver does not come back.
    ended = Waiver(id=3, gate="tests", reason="ends", until=date(2026, 11, 21), waived_by="rm")
    assert judge({"tests": {}}, waivers=(long, short, ended))["tests"].status == "missing"
