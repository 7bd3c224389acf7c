"""`evidence_fresh` judges a report by when it says it was produced, and by when it was added only when
it gives no time (or was stored before clearance read report times)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clearance.gates import CHECKS
from clearance.gates.base import EvidenceFact, GateFacts
from clearance.gates.evaluation import GateVerdict, evaluate
from clearance.gates.evidence import KINDS, Evidence, evidence_from_json, parse_report
from clearance.gates.policies import GatesPolicy

REPORTS = Path(__file__).parents[2] / "conformance" / "reports"
JEST = REPORTS / "generated" / "jest-junit.xml"  # its suite ran at 2026-11-22T03:43:23 (UTC)
PIP_AUDIT = REPORTS / "generated" / "pip-audit.json"  # pip-audit writes no time
TEN_DAYS_LATER = datetime(2026, 12, 2, 3, 43, 23, tzinfo=UTC)


def read(path: Path, kind: str) -> Evidence:
    return parse_report(kind, path.read_bytes(), source=path.name)


def fact(report: Evidence, *, added: timedelta, now: datetime, id: int = 1) -> EvidenceFact:
    return EvidenceFact(
        id=id,
        kind=report.kind,
        family=KINDS[report.kind].family,
        source=report.source,
        added_at=now - added,
        report=report,
    )


def fresh(max_age: str, now: datetime, *evidence: EvidenceFact) -> GateVerdict:
    facts = GateFacts(version="1.0.0", environment="prod", now=now, evidence=evidence)
    policy = GatesPolicy.model_validate({"evidence_fresh": {"max_age": max_age}})
    (verdict,) = evaluate(policy, facts, (), CHECKS)
    return verdict


def reports(verdict: GateVerdict) -> list[dict[str, Any]]:
    return list(verdict.to_json()["details"]["reports"])


def test_an_old_report_added_again_is_as_old_as_its_run() -> None:
    jest = fact(read(JEST, "junit"), added=timedelta(minutes=1), now=TEN_DAYS_LATER)

    verdict = fresh("7d", TEN_DAYS_LATER, jest)

    assert verdict.status == "fail"
    assert verdict.result.reason == (
        "evidence older than 7 days: junit jest-junit.xml, ran 10.0 days ago (report time)"
    )
    assert verdict.result.evidence == (jest,)
    assert reports(verdict) == [
        {
            "id": 1,
            "kind": "junit",
            "source": "jest-junit.xml",
            "added_at": (TEN_DAYS_LATER - timedelta(minutes=1)).isoformat(),
            "produced_at": "2026-11-22T03:43:23+00:00",
            "judged_by": "produced_at",
            "age_seconds": 864000.0,
        }
    ]
    assert fresh("11d", TEN_DAYS_LATER, jest).status == "pass"


def test_a_recent_run_passes_and_the_reason_names_the_oldest_report() -> None:
    now = datetime(2026, 11, 24, 3, 43, 23, tzinfo=UTC)
    jest = fact(read(JEST, "junit"), added=timedelta(hours=1), now=now, id=1)
    audit = fact(read(PIP_AUDIT, "pip-audit"), added=timedelta(hours=2), now=now, id=2)

    verdict = fresh("7d", now, jest, audit)

    assert verdict.status == "pass"
    assert verdict.result.reason == (
        "2 report(s), the oldest, jest-junit.xml, ran 2.0 days ago (report time; max 7 days)"
    )
    assert [r["judged_by"] for r in reports(verdict)] == ["produced_at", "added_at"]


def test_a_report_without_a_time_is_judged_by_when_it_was_added() -> None:
    now = TEN_DAYS_LATER
    audit = read(PIP_AUDIT, "pip-audit")
    assert audit.produced_at is None

    recent = fresh("7d", now, fact(audit, added=timedelta(hours=2), now=now))
    assert recent.status == "pass"
    assert recent.result.reason == (
        "1 report(s), the oldest, pip-audit.json, was added 2.0 h ago (the report gives no time; max 7 days)"
    )
    assert reports(recent)[0]["produced_at"] is None

    stale = fresh("36h", now, fact(audit, added=timedelta(days=2), now=now))
    assert stale.status == "fail"
    assert stale.result.reason == (
        "evidence older than 1.5 days: pip-audit pip-audit.json, was added 2.0 days ago "
        "(the report gives no time)"
    )


def test_a_row_stored_before_report_times_were_read_is_judged_by_added_at() -> None:
    document = json.loads(json.dumps(read(JEST, "junit").to_json()))
    del document["produced_at"]
    stored = evidence_from_json(document)

    verdict = fresh("7d", TEN_DAYS_LATER, fact(stored, added=timedelta(hours=3), now=TEN_DAYS_LATER))

    assert verdict.status == "pass"
    assert (
        "jest-junit.xml, was added 3.0 h ago (the report gives no time; max 7 days)" in verdict.result.reason
    )
    assert reports(verdict)[0]["judged_by"] == "added_at"


def test_only_the_failing_reports_are_named_each_by_its_own_time() -> None:
    now = TEN_DAYS_LATER
    jest = fact(read(JEST, "junit"), added=timedelta(hours=1), now=now, id=1)
    audit = fact(read(PIP_AUDIT, "pip-audit"), added=timedelta(days=8), now=now, id=2)
    sbom = read(REPORTS / "generated" / "pip-audit.cdx.json", "cyclonedx")
    new_sbom = fact(
        replace(sbom, produced_at=now - timedelta(hours=5)), added=timedelta(hours=4), now=now, id=3
    )

    verdict = fresh("7d", now, jest, audit, new_sbom)

    assert verdict.status == "fail"
    assert verdict.result.reason == (
        "evidence older than 7 days: junit jest-junit.xml, ran 10.0 days ago (report time); "
        "pip-audit pip-audit.json, was added 8.0 days ago (the report gives no time)"
    )
    assert verdict.result.evidence == (jest, audit)
    assert [r["age_seconds"] for r in reports(verdict)] == [864000.0, 8 * 86400.0, 5 * 3600.0]


def test_a_runner_clock_slightly_ahead_makes_a_report_new_not_negative() -> None:
    now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    jest = fact(read(JEST, "junit"), added=timedelta(0), now=now)

    verdict = fresh("12h", now, jest)

    assert verdict.status == "pass"
    assert (
        verdict.result.reason
        == "1 report(s), the oldest, jest-junit.xml, ran 0.0 h ago (report time; max 12 h)"
    )


def test_a_report_more_than_a_day_ahead_of_our_clock_is_judged_by_when_it_was_added() -> None:
    now = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # the jest report claims a run two days from now
    jest = fact(read(JEST, "junit"), added=timedelta(days=9), now=now)

    verdict = fresh("7d", now, jest)

    assert verdict.status == "fail"
    assert [r["judged_by"] for r in reports(verdict)] == ["added_at"]
    assert verdict.result.reason == (
        "evidence older than 7 days: junit jest-junit.xml, was added 9.0 days ago "
        "(the report's own time is ahead of ours)"
    )
