"""JUnit XML test reports (pytest --junitxml, JUnit 4/5 via Surefire or the console launcher, jest-junit):
passed / failed / errored / skipped counts, the tests that did not pass, with their message, and when
the tests ran."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from xml.etree.ElementTree import Element

from clearance.gates.evidence.base import Report
from clearance.gates.evidence.decoding import decode_xml, local_name, sniff_xml, wrong_kind
from clearance.gates.evidence.timestamps import iso_time, oldest

__all__ = ["JUnitReport", "NonPassingCase", "parse_junit"]

Outcome = Literal["failed", "errored", "skipped"]

# A message is what a person reads in a gate's reason; stack traces stay in the report file.
_MESSAGE_LIMIT = 1000
# Surefire writes these beside a test that passed on a rerun; the test counts as passed and flaky.
_FLAKY = ("flakyFailure", "flakyError")
# A <failure>/<error> directly under a <testsuite> means the suite itself broke (e.g. a class that
# did not load); it is counted as one errored test named after the suite, as Jenkins does.
_SUITE_CASE = "(suite)"


@dataclass(frozen=True)
class NonPassingCase:
    """A test case that failed, errored or was skipped; `name` is `classname::name`."""

    name: str
    outcome: Outcome
    message: str | None = None
    type: str | None = None


@dataclass(frozen=True, kw_only=True)
class JUnitReport(Report):
    """Counts over every test case of the report (nested suites included)."""

    kind: Literal["junit"] = "junit"
    tests: int
    passed: int
    failed: int
    errored: int
    skipped: int
    flaky: int = 0
    non_passing: tuple[NonPassingCase, ...] = ()

    @property
    def failures(self) -> tuple[NonPassingCase, ...]:
        """The failed and errored tests, in report order."""
        return tuple(case for case in self.non_passing if case.outcome != "skipped")

    @property
    def skips(self) -> tuple[NonPassingCase, ...]:
        return tuple(case for case in self.non_passing if case.outcome == "skipped")

    def summary(self) -> dict[str, Any]:
        return {
            "tests": self.tests,
            "passed": self.passed,
            "failed": self.failed,
            "errored": self.errored,
            "skipped": self.skipped,
            "flaky": self.flaky,
            "failing": [case.name for case in self.failures],
        }


def parse_junit(data: bytes, *, source: str) -> JUnitReport:
    """The test results of a JUnit XML report (root `<testsuites>` or a single `<testsuite>`)."""
    root = decode_xml(data, source=source, kind="junit")
    if local_name(root) not in ("testsuites", "testsuite"):
        found = f"the root element is <{local_name(root)}>, expected <testsuites> or <testsuite>"
        raise wrong_kind("junit", source, found, sniff_xml(root))
    counts = {"passed": 0, "failed": 0, "errored": 0, "skipped": 0}
    flaky = 0
    non_passing: list[NonPassingCase] = []
    for case in _cases(root):
        outcome = _outcome(case)
        if outcome is None:
            counts["passed"] += 1
            flaky += any(local_name(child) in _FLAKY for child in case)
            continue
        counts[outcome] += 1
        non_passing.append(_non_passing(case, outcome))
    return JUnitReport(
        source=source,
        produced_at=_ran_at(root),
        tests=sum(counts.values()),
        flaky=flaky,
        passed=counts["passed"],
        failed=counts["failed"],
        errored=counts["errored"],
        skipped=counts["skipped"],
        non_passing=tuple(non_passing),
    )


def _ran_at(root: Element) -> datetime | None:
    """The `timestamp` of the root element when it has one, else the oldest `<testsuite timestamp>`:
    a report merged from several runs is as old as its oldest suite. Placeholders (jest-junit's
    1970-01-01 for a suite that did not load) are not times and are skipped. JUnit times rarely carry a
    zone; one without is read as UTC (see `iso_time`)."""
    stamped = iso_time(root.get("timestamp"))
    if stamped is not None:
        return stamped
    return oldest(
        iso_time(element.get("timestamp")) for element in root.iter() if local_name(element) == "testsuite"
    )


def _cases(root: Element) -> Iterator[Element]:
    """Every <testcase> in document order, plus a pseudo case for each suite-level error."""
    suites = [root] if local_name(root) == "testsuite" else []
    suites += [
        element for element in root.iter() if local_name(element) == "testsuite" and element is not root
    ]
    for suite in suites:
        for child in suite:
            if local_name(child) in ("error", "failure"):
                pseudo = Element("testcase", classname=suite.get("name", ""), name=_SUITE_CASE)
                pseudo.append(Element("error", dict(child.attrib)))
                pseudo[0].text = child.text
                yield pseudo
    for element in root.iter():
        if local_name(element) == "testcase":
            yield element


def _outcome(case: Element) -> Outcome | None:
    names = {local_name(child) for child in case}
    # The test's own verdict first: a failure stays a failure even if teardown also errored.
    if "failure" in names:
        return "failed"
    if "error" in names:
        return "errored"
    if "skipped" in names:
        return "skipped"
    return None


def _non_passing(case: Element, outcome: Outcome) -> NonPassingCase:
    tag = {"failed": "failure", "errored": "error", "skipped": "skipped"}[outcome]
    detail = next(child for child in case if local_name(child) == tag)
    return NonPassingCase(
        name=_case_name(case),
        outcome=outcome,
        message=_message(detail),
        type=detail.get("type") or None,
    )


def _case_name(case: Element) -> str:
    classname = (case.get("classname") or "").strip()
    name = (case.get("name") or "").strip()
    # jest-junit writes the full title in both attributes; saying it twice helps nobody.
    if not classname or classname == name:
        return name or classname or "(unnamed)"
    return f"{classname}::{name}"


def _message(detail: Element) -> str | None:
    """The `message` attribute, else the first non-blank line of the element's text (jest, Cucumber)."""
    message = detail.get("message")
    if not message or not message.strip():
        lines = [line.strip() for line in (detail.text or "").splitlines() if line.strip()]
        message = lines[0] if lines else None
    if message is None:
        return None
    message = message.strip()
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 1] + "…"
