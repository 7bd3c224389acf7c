"""The upstream sample reports (vendored in tests/conformance/reports, see PROVENANCE.md) read into the
figures their projects and EXPECTED.json state."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from clearance.errors import ReportInvalid
from clearance.gates.evidence import (
    JUnitReport,
    SastReport,
    Sbom,
    Severity,
    VulnerabilityReport,
    detect_kind,
    evidence_from_json,
    parse_report,
)

REPORTS = Path(__file__).parents[2] / "conformance" / "reports"
EXPECTED: dict[str, Any] = json.loads((REPORTS / "EXPECTED.json").read_text())


def read(kind: str, relative: str) -> Any:
    path = REPORTS / relative
    parsed = parse_report(kind, path.read_bytes(), source=path.name)
    assert evidence_from_json(json.loads(json.dumps(parsed.to_json()))) == parsed
    return parsed


# --- JUnit XML (jenkinsci/junit-plugin) ---------------------------------------------------------------

JUNIT_FILES = sorted(name for name in EXPECTED["junit_xml"] if "computed" in EXPECTED["junit_xml"][name])


@pytest.mark.parametrize("name", JUNIT_FILES)
def test_junit_samples_have_the_collectors_counts(name: str) -> None:
    computed = EXPECTED["junit_xml"][name]["computed"]

    result = read("junit", f"junit-xml/{name}")

    assert isinstance(result, JUnitReport)
    # A suite-level <error> (nested-testsuites) is one more errored test than the <testcase> count.
    suite_errors = sum(case.name.endswith("::(suite)") for case in result.failures)
    assert result.tests == computed["testcases"] + suite_errors
    assert result.failed == computed["failures"]
    assert result.errored == computed["errors"] + suite_errors
    assert result.skipped == computed["skipped"]
    assert result.passed == result.tests - result.failed - result.errored - result.skipped


def test_nested_suites_give_jenkins_three_cases_one_of_them_the_broken_suite() -> None:
    # SuiteResultTest.testParseNestedTestSuites: 3 suite results with 1 case each.
    result = read("junit", "junit-xml/junit-report-nested-testsuites.xml")

    assert (result.tests, result.passed, result.errored) == (3, 2, 1)
    [broken] = result.failures
    assert (broken.name, broken.outcome, broken.message, broken.type) == (
        "test.3rdlevel::(suite)",
        "errored",
        "bla bla",
        "java.lang.IllegalStateException",
    )


def test_error_details_are_the_message_attribute() -> None:
    # SuiteResultTest.testErrorDetails.
    result = read("junit", "junit-xml/junit-report-errror-details.xml")

    [case] = result.failures
    assert case.name == "some.package.somewhere.WhooHoo::testHudsonReporting"
    assert case.message == "this normally has the string like, expected mullet, but got bream"
    assert case.type == "org.junit.ComparisonFailure"


def test_a_skip_without_message_attribute_takes_its_text() -> None:
    # TestResultTest.testSkippedMessageIsAddedWhenTheMessageAttributeIsNull.
    result = read("junit", "junit-xml/skippedTestResult.xml")

    assert [(case.name, case.message) for case in result.skips] == [
        (
            "Test Sample::Test Example",
            "Given skip This Test........................................................pending",
        )
    ]


def test_surefire_flaky_failures_leave_a_passed_flaky_test() -> None:
    # TestResultTest.includeFlakyAndRerun: testApp has 2 flaky failures, and passed in the end.
    result = read("junit", "junit-xml/TEST-io.olamy.FlakyTest.xml")

    assert (result.tests, result.passed, result.failed, result.flaky) == (1, 1, 0, 1)


def test_properties_do_not_hide_the_failure_under_them() -> None:
    # SuiteResultTest.testProperties: 2 cases; testCaseA failed.
    result = read("junit", "junit-xml/junit-report-with-properties.xml")

    assert [(c.name, c.message) for c in result.failures] == [
        ("io.jenkins.example.with.properties::testCaseA", "expected: [a] but was: [b]")
    ]


def test_a_negative_duration_does_not_stop_the_count() -> None:
    # TestResultTest.clampDuration: 1 suite, 2 cases.
    result = read("junit", "junit-xml/junit-report-bad-duration.xml")

    assert (result.tests, result.passed) == (2, 2)


def test_the_xxe_sample_is_refused_without_resolving_anything() -> None:
    # JUnitResultArchiverTest.testXxe: the external entity must not be fetched.
    data = (REPORTS / "junit-xml" / "testXxe-xxe.xml").read_bytes()

    with pytest.raises(ReportInvalid, match="declares entities") as raised:
        parse_report("junit", data, source="testXxe-xxe.xml")
    assert raised.value.data == {"source": "testXxe-xxe.xml", "kind": "junit"}


# --- SARIF (microsoft/sarif-tutorials) ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED["sarif"]))
def test_sarif_samples_have_the_collectors_counts(name: str) -> None:
    computed = EXPECTED["sarif"][name]["computed"]

    result = read("sarif", f"sarif/{name}")

    assert isinstance(result, SastReport)
    assert result.runs == computed["runs"]
    assert len(result.findings) == computed["results"]
    # None of these samples' rules has a defaultConfiguration: a result without level is a warning.
    levels = Counter(
        "warning" if level == "(absent)" else level
        for level, n in computed["levels"].items()
        for _ in range(n)
    )
    assert Counter(f.level for f in result.findings) == levels
    assert Counter(f.baseline_state for f in result.findings if f.baseline_state) == computed["baselineState"]
    assert sum(f.suppressed for f in result.findings) <= computed["results_with_suppressions"]
    assert result.execution_successful is (False not in computed["executionSuccessful"])
    assert len(result.tool_errors) == computed["error_level_tool_execution_notifications"]


def test_a_result_without_level_is_a_warning_and_absent_results_are_not_counted() -> None:
    result = read("sarif", "sarif/Baseline.sarif")

    assert {f.level for f in result.findings} == {"warning"}
    # "absent" = gone since the baseline: kept for the record, not counted.
    assert [f.message for f in result.active] == ["Unchanged result.", "Updated result.", "New result."]
    assert result.counts_by_level() == {"error": 0, "warning": 3, "note": 0, "none": 0}


def test_suppressions_hide_what_the_sample_says_they_hide() -> None:
    result = read("sarif", "sarif/Suppressions.sarif")
    expected = EXPECTED["sarif"]["Suppressions.sarif"]["upstream"]

    assert [f.message for f in result.findings] == expected["messages"]
    visible = [not f.suppressed for f in result.findings]
    # The 9th result has one suppression under review and one rejected. Today's sample calls it hidden;
    # an earlier copy of the sample (attached to a microsoft/sarif-web-component issue, files/4512703)
    # said "shown because no suppression has been accepted". clearance follows SARIF §3.35.3 (a suppression counts only when
    # accepted, the default status), so a finding under review keeps counting against a gate.
    assert visible[:8] == expected["expected_visible"][:8]
    assert visible[8] is True and expected["expected_visible"][8] is False
    assert result.summary()["suppressed"] == 5


def test_a_catastrophic_run_is_not_successful_and_says_why() -> None:
    result = read("sarif", "sarif/ExceptionalConditions-Catastrophic-execution-error.sarif")

    assert not result.execution_successful
    assert result.tool_errors == ("Out of memory.",)
    assert (result.findings, result.max_level) == ((), None)


def test_simple_example_locates_its_error() -> None:
    result = read("sarif", "sarif/simple-example.sarif")

    [finding] = result.findings
    assert (finding.rule_id, finding.level, finding.tool) == ("no-unused-vars", "error", "ESLint")
    assert [(loc.uri, loc.line) for loc in finding.locations] == [
        ("file:///C:/dev/sarif/sarif-tutorials/samples/Introduction/simple-example.js", 1)
    ]
    assert result.max_level == "error"


# --- Trivy (aquasecurity/trivy integration goldens) ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED["trivy_json"]))
def test_trivy_goldens_have_the_collectors_counts(name: str) -> None:
    computed = EXPECTED["trivy_json"][name]["computed"]

    result = read("trivy", f"trivy-json/{name}")

    assert isinstance(result, VulnerabilityReport)
    assert len(result.vulnerabilities) == computed["vulnerabilities"]
    assert {s: n for s, n in result.counts_by_severity().items() if n} == computed["vuln_severity"]
    assert sum(v.fixable for v in result.vulnerabilities) == computed["vuln_with_fix"]
    misconfigurations = [f for f in result.findings if f.category == "misconfiguration"]
    secrets = [f for f in result.findings if f.category == "secret"]
    assert len(misconfigurations) == computed["misconf_status"].get("FAIL", 0)
    assert _severities(misconfigurations) == computed["misconf_severity"]
    assert _severities(secrets) == computed["secret_severity"]
    assert len(result.suppressed) == computed["modified_findings"]
    assert {s.status for s in result.suppressed} == set(computed["modified_findings_status"])
    assert {v.target for v in result.vulnerabilities} <= set(computed["targets"])


def _severities(findings: list[Any]) -> dict[str, int]:
    return dict(Counter(finding.severity.value for finding in findings))


def test_trivy_pip_golden_gives_each_vulnerability_in_full() -> None:
    result = read("trivy", "trivy-json/pip.json")

    assert result.tool == "trivy dev"
    assert result.packages_scanned == 7
    assert [
        (v.id, v.severity, v.package, v.installed_version, v.fixed_versions, v.purl)
        for v in result.vulnerabilities
    ] == [
        ("CVE-2019-14806", Severity.HIGH, "Werkzeug", "0.11", ("0.15.3",), "pkg:pypi/werkzeug@0.11"),
        ("CVE-2020-28724", Severity.MEDIUM, "Werkzeug", "0.11", ("0.11.6",), "pkg:pypi/werkzeug@0.11"),
    ]
    assert (
        result.vulnerabilities[0].title
        == "python-werkzeug: insufficient debugger PIN randomness vulnerability"
    )


def test_trivy_vex_suppressed_finding_is_kept_apart_with_its_statement() -> None:
    result = read("trivy", "trivy-json/npm-with-suppressed.json")

    [kept] = result.vulnerabilities
    assert (kept.id, kept.fixed_versions) == ("CVE-2017-20165", ("3.1.0", "2.6.9"))
    [suppressed] = result.suppressed
    assert (suppressed.vulnerability.id, suppressed.vulnerability.severity) == (
        "CVE-2017-16137",
        Severity.LOW,
    )
    assert (suppressed.status, suppressed.reason) == ("not_affected", "vulnerable_code_not_in_execute_path")


def test_trivy_misconfiguration_and_secrets_are_findings_with_lines() -> None:
    dockerfile = read("trivy", "trivy-json/dockerfile.json")
    secrets = read("trivy", "trivy-json/secrets.json")

    assert [(f.id, f.severity, f.target) for f in dockerfile.findings] == [
        ("DS-0002", Severity.HIGH, "Dockerfile")
    ]
    assert [(f.id, f.severity, f.line) for f in secrets.findings] == [
        ("aws-access-key-id", Severity.CRITICAL, 3),
        ("mysecret", Severity.HIGH, 7),
    ]
    assert secrets.summary()["secrets"] == 2


# --- CycloneDX (CycloneDX/specification test resources) -------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED["cyclonedx"]))
def test_cyclonedx_samples_have_the_collectors_counts(name: str) -> None:
    computed = EXPECTED["cyclonedx"][name]["computed"]

    result = read("cyclonedx", f"cyclonedx/{name}")

    assert isinstance(result, Sbom)
    assert result.spec_version == computed["specVersion"]
    assert len(result.components) == computed["components"]
    everything = [*result.vulnerabilities, *(s.vulnerability for s in result.suppressed)]
    assert len(everything) == computed["vulnerabilities"]
    assert Counter(v.severity.value.lower() for v in everything) == computed["rating_severities"]


def test_cyclonedx_licences_by_id_name_and_expression() -> None:
    result = read("cyclonedx", "cyclonedx/valid-bom-1.6.json")

    licences = {c.name: [(lic.id, lic.name, lic.expression) for lic in c.licenses] for c in result.components}
    assert licences == {
        "tomcat-catalina": [("Apache-2.0", None, None)],
        "mylibrary": [(None, None, "EPL-2.0 OR GPL-2.0-with-classpath-exception")],
        "myframework": [(None, "Some random license", None)],
    }
    assert result.tool == "Awesome Tool 9.1.2"
    assert [
        (m.component.name, m.via) for m in result.licensed_under(["gpl-2.0-with-classpath-exception"])
    ] == [("mylibrary", "expression")]


def test_a_licence_expression_names_every_id_in_it() -> None:
    result = read("cyclonedx", "cyclonedx/valid-license-expression-1.6.json")

    [component] = result.components
    [licence] = component.licenses
    assert licence.spdx_ids() == ("EPL-2.0", "GPL-2.0", "Classpath-exception-2.0")
    assert [m.spdx_id for m in result.licensed_under(["GPL-2.0", "MIT"])] == ["GPL-2.0"]


def test_an_invalid_spdx_id_is_still_read_as_written() -> None:
    # The sample fails the schema ("Apache-2" is no SPDX id); clearance keeps what it says, and a
    # deny list with the real id does not match it.
    result = read("cyclonedx", "cyclonedx/invalid-license-id-1.6.json")

    assert result.license_counts() == {"Apache-2": 1}
    assert result.licensed_under(["Apache-2.0"]) == ()


def test_cyclonedx_vulnerability_attached_by_ref_and_cleared_by_vex() -> None:
    result = read("cyclonedx", "cyclonedx/valid-vulnerability-1.6.json")

    assert result.vulnerabilities == ()
    [cleared] = result.suppressed
    vulnerability = cleared.vulnerability
    assert (vulnerability.id, vulnerability.severity, vulnerability.aliases) == (
        "SNYK-JAVA-COMFASTERXMLJACKSONCORE-32111",
        Severity.CRITICAL,
        ("CVE-2018-7489",),
    )
    assert (vulnerability.package, vulnerability.installed_version) == ("jackson-databind", "2.9.4")
    assert vulnerability.purl == "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.4"
    assert (cleared.status, cleared.reason) == ("not_affected", "code_not_reachable")
    assert result.summary()["suppressed"] == 1


# --- grype (anchore/grype presenter golden) -------------------------------------------------------------


def test_grype_golden_matches() -> None:
    result = read("grype", "grype-json/TestJsonImgsPresenter.golden.json")

    assert isinstance(result, VulnerabilityReport)
    assert result.tool == "grype"  # the golden's version is the placeholder "[not provided]"
    assert [
        (v.id, v.severity, v.package, v.installed_version, v.fixed_versions, v.purl, v.target)
        for v in result.vulnerabilities
    ] == [
        (
            "CVE-1999-0001",
            Severity.LOW,
            "package-1",
            "1.1.1",
            ("1.2.1", "2.1.3", "3.4.0"),
            None,
            "/foo/bar/somefile-1.txt",
        ),
        (
            "CVE-1999-0002",
            Severity.CRITICAL,
            "package-2",
            "2.2.2",
            (),
            "pkg:deb/package-2@2.2.2",
            "/foo/bar/somefile-2.txt",
        ),
    ]
    assert result.counts_by_severity() == {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 1, "UNKNOWN": 0}


# --- every vendored report is recognised --------------------------------------------------------------

KINDS_BY_DIRECTORY = {
    "junit-xml": "junit",
    "sarif": "sarif",
    "trivy-json": "trivy",
    "cyclonedx": "cyclonedx",
    "grype-json": "grype",
}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (path.relative_to(REPORTS).as_posix(), kind)
        for directory, kind in KINDS_BY_DIRECTORY.items()
        for path in sorted((REPORTS / directory).iterdir())
        if path.suffix in (".xml", ".sarif", ".json") and path.name != "testXxe-xxe.xml"
    ],
)
def test_detect_kind_recognises_every_sample(path: str, kind: str) -> None:
    assert detect_kind((REPORTS / path).read_bytes()) == kind
