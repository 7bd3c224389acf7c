"""When each report says it was produced: the real samples (tests/conformance/reports) where the format
carries a time, synthetic files where the samples do not, and times nobody could mean set aside."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clearance.gates.evidence import evidence_from_json, parse_report
from clearance.gates.evidence.timestamps import epoch_millis, iso_time

REPORTS = Path(__file__).parents[2] / "conformance" / "reports"


def produced(kind: str, data: bytes, source: str = "report") -> datetime | None:
    return parse_report(kind, data, source=source).produced_at


def sample(kind: str, relative: str) -> datetime | None:
    return produced(kind, (REPORTS / relative).read_bytes(), Path(relative).name)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "relative", "expected"),
    [
        # jest-junit writes UTC without a zone; its unloadable suite's 1970-01-01 is not a time.
        ("junit", "generated/jest-junit.xml", utc(2026, 11, 22, 3, 43, 23)),
        ("junit", "generated/junit5-console-launcher.xml", utc(2026, 11, 22, 3, 43, 34)),
        ("junit", "junit-xml/junit-report-nested-testsuites.xml", utc(2011, 7, 22, 13, 12, 19)),
        ("junit", "junit-xml/junit-report-errror-details.xml", utc(2008, 7, 3, 15, 42, 30)),
        ("junit", "junit-xml/skippedTestResult.xml", None),
        ("junit", "junit-xml/TEST-io.olamy.FlakyTest.xml", None),
        # Trivy writes nanoseconds (truncated to microseconds) and the scanner's own offset.
        ("trivy", "trivy-json/alpine-39-high-critical.json", utc(2021, 8, 25, 12, 20, 30)),
        ("trivy", "trivy-json/npm-with-suppressed.json", utc(2024, 9, 9, 7, 21, 9, 230231)),
        ("cyclonedx", "cyclonedx/valid-bom-1.6.json", utc(2020, 4, 13, 20, 20, 39)),
        ("cyclonedx", "generated/pip-audit.cdx.json", utc(2026, 11, 22, 3, 55, 37, 642633)),
        ("cyclonedx", "cyclonedx/valid-minimal-viable-1.6.json", None),
        # grype's golden file blanks its timestamp ("") so that it stays stable.
        ("grype", "grype-json/TestJsonImgsPresenter.golden.json", None),
        ("pip-audit", "generated/pip-audit.json", None),  # pip-audit writes no time at all
        ("sarif", "sarif/simple-example.sarif", None),  # the tutorials' logs have no invocation times
        ("sarif", "sarif/ExceptionalConditions-Catastrophic-execution-error.sarif", None),
    ],
)
def test_the_samples_give_the_time_they_carry(kind: str, relative: str, expected: datetime | None) -> None:
    found = sample(kind, relative)
    assert found == expected
    assert found is None or found.utcoffset() == timedelta(0)


def junit(*suites: str, root: str = "") -> bytes:
    return f"<testsuites{root}>{''.join(suites)}</testsuites>".encode()


def test_junit_prefers_the_root_time_else_the_oldest_suite() -> None:
    newer = '<testsuite name="b" timestamp="2026-11-20T10:00:00+02:00"><testcase name="t"/></testsuite>'
    older = '<testsuite name="a" timestamp="2026-11-19T10:00:00Z"><testcase name="t"/></testsuite>'
    assert produced("junit", junit(newer, older)) == utc(2026, 11, 19, 10)
    assert produced("junit", junit(newer, older, root=' timestamp="2026-11-21T00:00:00"')) == utc(
        2026, 11, 21
    )
    # pytest writes its local time with its offset.
    assert produced("junit", junit(newer)) == utc(2026, 11, 20, 8)


def coverage(timestamp: str) -> bytes:
    return (
        f'<?xml version="1.0" ?><coverage version="7.6" timestamp="{timestamp}" line-rate="1" '
        'branch-rate="0" lines-covered="1" lines-valid="1"><packages/></coverage>'
    ).encode()


def test_cobertura_timestamp_is_milliseconds_since_the_epoch() -> None:
    # The form coverage.py writes: str(int(time.time() * 1000)).
    assert produced("cobertura", coverage("1795317803123")) == utc(2026, 11, 22, 3, 23, 23, 123000)
    # A writer that gives seconds lands in 1970: not a time, and not an error either.
    assert produced("cobertura", coverage("1795317803")) is None
    assert produced("cobertura", coverage("")) is None


def sarif(*invocations: dict[str, Any]) -> dict[str, Any]:
    return {"tool": {"driver": {"name": "bandit"}}, "invocations": list(invocations), "results": []}


def sarif_log(*runs: dict[str, Any]) -> bytes:
    return json.dumps({"version": "2.1.0", "runs": list(runs)}).encode()


def test_sarif_run_ended_else_started_and_the_oldest_run_counts() -> None:
    ended = {
        "executionSuccessful": True,
        "startTimeUtc": "2026-11-20T09:00:00Z",
        "endTimeUtc": "2026-11-20T09:05:00Z",
    }
    started = {"executionSuccessful": True, "startTimeUtc": "2026-11-21T09:00:00Z"}
    assert produced("sarif", sarif_log(sarif(ended))) == utc(2026, 11, 20, 9, 5)
    assert produced("sarif", sarif_log(sarif(started))) == utc(2026, 11, 21, 9)
    assert produced("sarif", sarif_log(sarif(started), sarif(ended))) == utc(2026, 11, 20, 9, 5)
    assert produced("sarif", sarif_log(sarif({"executionSuccessful": True}))) is None


def test_grype_descriptor_timestamp() -> None:
    document = {
        "matches": [],
        "descriptor": {"name": "grype", "timestamp": "2026-11-21T08:30:00.123456789-05:00"},
    }
    assert produced("grype", json.dumps(document).encode()) == utc(2026, 11, 21, 13, 30, 0, 123456)


@pytest.mark.parametrize(
    "value",
    [
        "1999-12-31T23:59:59Z",
        "1970-01-01T00:00:00",
        "yesterday",
        "",
        1795317803,
        None,
    ],
)
def test_an_unreadable_or_absurd_time_is_ignored_never_an_error(value: object) -> None:
    trivy = {"SchemaVersion": 2, "CreatedAt": value, "ArtifactName": "x", "Results": []}
    assert produced("trivy", json.dumps(trivy).encode()) is None
    sbom = {"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {"timestamp": value}}
    assert produced("cyclonedx", json.dumps(sbom).encode()) is None
    assert produced("sarif", sarif_log(sarif({"endTimeUtc": value}))) is None
    if isinstance(value, str):
        suite = f'<testsuite name="a" timestamp="{value}"><testcase name="t"/></testsuite>'
        assert produced("junit", junit(suite)) is None


def test_times_are_read_as_written_without_the_clock() -> None:
    # Pure: a time from the future is kept here; the gate, which knows "now", sets it aside.
    assert iso_time("2999-01-01T00:00:00Z") == utc(2999, 1, 1)
    assert epoch_millis(str(int(utc(2026, 12, 3, 11).timestamp() * 1000))) == utc(2026, 12, 3, 11)
    assert epoch_millis("99999999999999999999") is None
    assert epoch_millis(True) is None


def test_the_stored_json_keeps_the_time_and_rows_stored_before_it_still_load() -> None:
    report = parse_report(
        "junit", (REPORTS / "generated" / "jest-junit.xml").read_bytes(), source="jest-junit.xml"
    )
    stored = json.loads(json.dumps(report.to_json()))
    assert stored["produced_at"] == "2026-11-22T03:43:23Z"
    assert evidence_from_json(stored) == report

    del stored["produced_at"]  # evidence stored before clearance read report times
    old = evidence_from_json(stored)
    assert old.produced_at is None
    assert (old.tests, old.failed) == (report.tests, report.failed)  # type: ignore[union-attr]
