"""The rules each parser applies where tools differ: SARIF level resolution, Cobertura writers without
totals, JUnit edge cases, every scanner's severity names, CycloneDX versions, VEX and licences."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clearance.errors import ReportInvalid
from clearance.gates.evidence import (
    KINDS,
    CoverageReport,
    JUnitReport,
    SastReport,
    Sbom,
    Severity,
    Vulnerability,
    VulnerabilityReport,
    detect_kind,
    evidence_from_json,
    parse_report,
)


def as_json(document: Any) -> bytes:
    return json.dumps(document).encode()


# --- SARIF --------------------------------------------------------------------------------------------


def sarif(*runs: dict[str, Any]) -> SastReport:
    result = parse_report("sarif", as_json({"version": "2.1.0", "runs": list(runs)}), source="scan.sarif")
    assert isinstance(result, SastReport)
    return result


RULES = [
    {
        "id": "PY001",
        "defaultConfiguration": {"level": "error"},
        "messageStrings": {"default": {"text": "'{0}' is {1}"}},
    },
    {"id": "PY002", "defaultConfiguration": {"level": "note"}},
    {"id": "PY003"},
]


def test_sarif_level_comes_from_the_result_then_the_rule_then_warning() -> None:
    result = sarif(
        {
            "tool": {"driver": {"name": "pylint-sarif", "version": "3.1", "rules": RULES}},
            "results": [
                {"ruleId": "PY001", "ruleIndex": 0, "level": "note", "message": {"text": "own level wins"}},
                {"ruleId": "PY001", "ruleIndex": 0, "message": {"text": "rule default by index"}},
                {"ruleId": "PY002", "message": {"text": "rule default by id"}},
                {"ruleId": "PY003", "message": {"text": "rule without default"}},
                {"ruleId": "PY002", "kind": "pass", "message": {"text": "a pass is level none"}},
                {"message": {"text": "no rule at all"}},
            ],
        }
    )

    assert [(f.rule_id, f.level) for f in result.findings] == [
        ("PY001", "note"),
        ("PY001", "error"),
        ("PY002", "note"),
        ("PY003", "warning"),
        ("PY002", "none"),
        (None, "warning"),
    ]
    assert result.tool == "pylint-sarif 3.1"
    assert result.counts_by_level() == {"error": 1, "warning": 2, "note": 2, "none": 1}
    assert result.counts_by_rule() == {"PY001": 2, "PY002": 2, "PY003": 1, "(no rule)": 1}
    assert [f.message for f in result.above("note")] == [
        "rule default by index",
        "rule without default",
        "no rule at all",
    ]


def test_codeql_rules_in_an_extension_are_found_through_the_tool_component() -> None:
    result = sarif(
        {
            "tool": {
                "driver": {"name": "CodeQL", "semanticVersion": "2.19.0"},
                "extensions": [
                    {
                        "name": "codeql/python-queries",
                        "rules": [
                            {"id": "py/unused-import", "defaultConfiguration": {"level": "note"}},
                            {"id": "py/sql-injection", "defaultConfiguration": {"level": "error"}},
                        ],
                    }
                ],
            },
            "artifacts": [{"location": {"uri": "app/db.py"}}],
            "results": [
                {
                    "ruleId": "py/sql-injection",
                    "rule": {"id": "py/sql-injection", "index": 1, "toolComponent": {"index": 0}},
                    "message": {"text": "This SQL query depends on a user-provided value."},
                    "locations": [
                        {"physicalLocation": {"artifactLocation": {"index": 0}, "region": {"startLine": 42}}}
                    ],
                }
            ],
        }
    )

    [finding] = result.findings
    assert (finding.rule_id, finding.level, finding.tool) == ("py/sql-injection", "error", "CodeQL 2.19.0")
    assert [(loc.uri, loc.line) for loc in finding.locations] == [("app/db.py", 42)]
    assert result.max_level == "error"


def test_a_message_by_id_is_filled_in_from_the_rule_with_its_arguments() -> None:
    result = sarif(
        {
            "tool": {"driver": {"name": "x", "rules": RULES}},
            "results": [
                {"ruleId": "PY001", "message": {"id": "default", "arguments": ["password", "hard-coded"]}}
            ],
        }
    )

    assert result.findings[0].message == "'password' is hard-coded"


def test_several_runs_are_one_report() -> None:
    result = sarif(
        {"tool": {"driver": {"name": "Bandit"}}, "results": [{"level": "error", "message": {"text": "a"}}]},
        {"tool": {"driver": {"name": "Semgrep OSS", "semanticVersion": "1.90.0"}}, "results": []},
    )

    assert (result.runs, result.tools, result.tool) == (
        2,
        ("Bandit", "Semgrep OSS 1.90.0"),
        "Bandit, Semgrep OSS 1.90.0",
    )
    assert [f.tool for f in result.findings] == ["Bandit"]


# --- Cobertura ----------------------------------------------------------------------------------------


def test_a_cobertura_writer_without_totals_is_counted_from_its_lines() -> None:
    data = b"""<coverage line-rate="0.5" branch-rate="0.25">
      <packages><package name="core" line-rate="0.5" branch-rate="0.25"><classes>
        <class name="A" filename="a.py"><lines>
          <line number="1" hits="3"/><line number="2" hits="0"/>
          <line number="3" hits="0" branch="true" condition-coverage="25% (1/4)"/>
        </lines></class>
        <class name="A$Inner" filename="a.py"><lines><line number="3" hits="1"/><line number="4" hits="1"/></lines></class>
      </classes></package></packages></coverage>"""

    result = parse_report("cobertura", data, source="cobertura.xml")

    assert isinstance(result, CoverageReport)
    # Line 3 of a.py appears in two classes: counted once, covered because one of them ran it.
    assert (result.lines_valid, result.lines_covered, result.line_rate) == (4, 3, 75.0)
    assert (result.branch_rate, result.branches_valid) == (25.0, None)
    package = result.package("core")
    assert package is not None and (package.line_rate, package.branch_rate) == (50.0, 25.0)
    assert result.package("missing") is None


def test_no_branch_data_is_none_not_zero() -> None:
    data = b'<coverage line-rate="0.8" branch-rate="0" lines-valid="10" lines-covered="8"/>'

    result = parse_report("cobertura", data, source="c.xml")

    assert isinstance(result, CoverageReport)
    assert (result.line_rate, result.branch_rate) == (80.0, None)
    assert result.summary() == {
        "line_rate": 80.0,
        "branch_rate": None,
        "lines_valid": 10,
        "lines_covered": 8,
        "branches_valid": None,
        "branches_covered": None,
    }


def test_the_exact_rate_is_computed_from_the_counts() -> None:
    # coverage.py rounds line-rate to 4 digits; 2/3 is 66.666…, not 66.67.
    data = b'<coverage line-rate="0.6667" lines-valid="3" lines-covered="2" branches-valid="0" branches-covered="0"/>'

    result = parse_report("cobertura", data, source="c.xml")

    assert isinstance(result, CoverageReport)
    assert result.line_rate == pytest.approx(200 / 3)
    assert result.line_rate < 66.67
    assert result.summary()["line_rate"] == 66.67


# --- JUnit --------------------------------------------------------------------------------------------


def junit(xml: str) -> JUnitReport:
    result = parse_report("junit", xml.encode(), source="junit.xml")
    assert isinstance(result, JUnitReport)
    return result


def test_a_failure_with_a_teardown_error_counts_once_as_failed() -> None:
    result = junit(
        '<testsuite name="s"><testcase classname="m" name="t">'
        '<failure message="boom"/><error message="teardown broke"/></testcase></testsuite>'
    )

    assert (result.tests, result.failed, result.errored) == (1, 1, 0)
    assert result.failures[0].message == "boom"


def test_names_without_classname_and_long_messages() -> None:
    long = "x" * 5000
    result = junit(
        f'<testsuites><testsuite><testcase name="alone"><failure message="{long}"/></testcase></testsuite></testsuites>'
    )

    [case] = result.failures
    assert case.name == "alone"
    assert case.message is not None and len(case.message) == 1000 and case.message.endswith("…")


def test_an_empty_report_is_zero_tests_not_an_error() -> None:
    result = junit('<testsuites name="nothing ran"/>')

    assert result.summary() == {
        "tests": 0,
        "passed": 0,
        "failed": 0,
        "errored": 0,
        "skipped": 0,
        "flaky": 0,
        "failing": [],
    }


# --- severities ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "severity"),
    [
        ("trivy", "CRITICAL", Severity.CRITICAL),
        ("trivy", "HIGH", Severity.HIGH),
        ("trivy", "MEDIUM", Severity.MEDIUM),
        ("trivy", "LOW", Severity.LOW),
        ("trivy", "UNKNOWN", Severity.UNKNOWN),
        ("grype", "Critical", Severity.CRITICAL),
        ("grype", "High", Severity.HIGH),
        ("grype", "Medium", Severity.MEDIUM),
        ("grype", "Low", Severity.LOW),
        ("grype", "Negligible", Severity.LOW),
        ("grype", "Unknown", Severity.UNKNOWN),
        ("cyclonedx", "critical", Severity.CRITICAL),
        ("cyclonedx", "high", Severity.HIGH),
        ("cyclonedx", "medium", Severity.MEDIUM),
        ("cyclonedx", "low", Severity.LOW),
        ("cyclonedx", "info", Severity.LOW),
        ("cyclonedx", "none", Severity.LOW),
        ("cyclonedx", "unknown", Severity.UNKNOWN),
    ],
)
def test_every_severity_name_is_mapped_explicitly(kind: str, name: str, severity: Severity) -> None:
    documents = {
        "trivy": {
            "SchemaVersion": 2,
            "Results": [{"Vulnerabilities": [{"VulnerabilityID": "V-1", "PkgName": "p", "Severity": name}]}],
        },
        "grype": {
            "matches": [{"vulnerability": {"id": "V-1", "severity": name}, "artifact": {"name": "p"}}],
            "descriptor": {},
        },
        "cyclonedx": {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "components": [{"name": "p", "bom-ref": "p"}],
            "vulnerabilities": [{"id": "V-1", "ratings": [{"severity": name}], "affects": [{"ref": "p"}]}],
        },
    }

    result = parse_report(kind, as_json(documents[kind]), source="scan.json")

    assert isinstance(result, VulnerabilityReport | Sbom)
    assert [v.severity for v in result.vulnerabilities] == [severity]


def test_at_least_counts_rated_vulnerabilities_only() -> None:
    vulnerabilities = tuple(Vulnerability(id=f"V-{s.value}", severity=s, package="p") for s in Severity)
    report = VulnerabilityReport(kind="grype", source="s.json", vulnerabilities=vulnerabilities)

    assert [v.severity for v in report.at_least(Severity.HIGH)] == [Severity.CRITICAL, Severity.HIGH]
    assert len(report.at_least(Severity.LOW)) == 4
    assert len(report.at_least(Severity.UNKNOWN)) == 5


def test_a_vulnerability_is_found_by_id_or_alias_in_any_case() -> None:
    vulnerability = Vulnerability(
        id="PYSEC-2018-28", severity=Severity.UNKNOWN, package="requests", aliases=("CVE-2018-18074",)
    )

    assert vulnerability.matches("pysec-2018-28") and vulnerability.matches(" CVE-2018-18074 ")
    assert not vulnerability.matches("CVE-2018-1807")


# --- grype and trivy details --------------------------------------------------------------------------


def test_grype_related_vulnerabilities_are_aliases_and_ignored_matches_are_suppressed() -> None:
    document = {
        "matches": [
            {
                "vulnerability": {
                    "id": "GHSA-j8r2-6x86-q33q",
                    "severity": "Medium",
                    "fix": {"versions": ["2.31.0"], "state": "fixed"},
                },
                "relatedVulnerabilities": [{"id": "CVE-2023-32681"}, {"id": "GHSA-j8r2-6x86-q33q"}],
                "artifact": {
                    "name": "requests",
                    "version": "2.19.1",
                    "purl": "pkg:pypi/requests@2.19.1",
                    "locations": [{"path": "/app/requirements.txt"}],
                },
            }
        ],
        "ignoredMatches": [
            {
                "vulnerability": {"id": "CVE-2005-2541", "severity": "Negligible"},
                "artifact": {"name": "tar", "version": "1.34"},
                "appliedIgnoreRules": [
                    {"vulnerability": "CVE-2005-2541", "reason": "tar is not used at run time"}
                ],
            }
        ],
        "descriptor": {"name": "grype", "version": "0.86.1"},
    }

    result = parse_report("grype", as_json(document), source="grype.json")

    assert isinstance(result, VulnerabilityReport)
    assert result.tool == "grype 0.86.1"
    [match] = result.vulnerabilities
    assert (match.aliases, match.fixed_version, match.target) == (
        ("CVE-2023-32681",),
        "2.31.0",
        "/app/requirements.txt",
    )
    assert [v.id for v in result.find("CVE-2023-32681")] == ["GHSA-j8r2-6x86-q33q"]
    [ignored] = result.suppressed
    assert (ignored.vulnerability.severity, ignored.status, ignored.reason) == (
        Severity.LOW,
        "ignored",
        "tar is not used at run time",
    )


def test_trivy_vendor_ids_are_aliases_and_passed_checks_are_not_findings() -> None:
    document = {
        "SchemaVersion": 2,
        "Trivy": {"Version": "0.58.1"},
        "Results": [
            {
                "Target": "alpine 3.20",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-2024-0001",
                        "VendorIDs": ["ALPINE-1"],
                        "PkgName": "musl",
                        "InstalledVersion": "1.2.4",
                        "FixedVersion": "",
                        "Severity": "HIGH",
                    }
                ],
            },
            {
                "Target": "Dockerfile",
                "Misconfigurations": [
                    {"ID": "DS-0001", "Severity": "MEDIUM", "Status": "PASS"},
                    {
                        "AVDID": "AVD-DS-0002",
                        "Severity": "HIGH",
                        "Status": "FAIL",
                        "CauseMetadata": {"StartLine": 1},
                    },
                ],
            },
        ],
    }

    result = parse_report("trivy", as_json(document), source="trivy.json")

    assert isinstance(result, VulnerabilityReport)
    assert result.tool == "trivy 0.58.1"
    [vulnerability] = result.vulnerabilities
    assert (vulnerability.aliases, vulnerability.fixable, vulnerability.fixed_version) == (
        ("ALPINE-1",),
        False,
        None,
    )
    assert [(f.id, f.line) for f in result.findings] == [("AVD-DS-0002", 1)]


def test_pip_audit_skipped_dependencies_are_noted_not_counted() -> None:
    document = {
        "dependencies": [
            {
                "name": "shop",
                "skip_reason": "Dependency not found on PyPI and could not be audited: shop (1.0)",
            },
            {"name": "click", "version": "8.1.7", "vulns": []},
        ],
        "fixes": [],
    }

    result = parse_report("pip-audit", as_json(document), source="audit.json")

    assert isinstance(result, VulnerabilityReport)
    assert result.packages_scanned == 1
    assert (
        result.notes[1]
        == "shop was not audited: Dependency not found on PyPI and could not be audited: shop (1.0)"
    )


# --- CycloneDX ------------------------------------------------------------------------------------------


def test_cyclonedx_1_4_tools_nested_components_and_the_highest_rating() -> None:
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "metadata": {
            "tools": [{"vendor": "CycloneDX", "name": "cyclonedx-py", "version": "3.11.7"}],
            "component": {"name": "shop", "version": "2.0", "bom-ref": "shop"},
        },
        "components": [
            {
                "name": "framework",
                "version": "5.0",
                "bom-ref": "fw",
                "licenses": [{"license": {"id": "MIT"}}],
                "components": [
                    {
                        "name": "framework-core",
                        "version": "5.0",
                        "bom-ref": "fw-core",
                        "licenses": [{"expression": "(MIT OR GPL-3.0-only)"}],
                    }
                ],
            }
        ],
        "vulnerabilities": [
            {
                "id": "CVE-2024-1",
                "references": [{"id": "GHSA-aaaa-bbbb-cccc"}],
                "ratings": [
                    {"severity": "medium", "source": {"name": "NVD"}},
                    {"severity": "high", "source": {"name": "GitHub"}},
                ],
                "analysis": {"state": "in_triage"},
                "affects": [
                    {
                        "ref": "fw-core",
                        "versions": [
                            {"version": "5.0", "status": "affected"},
                            {"version": "5.1", "status": "unaffected"},
                        ],
                    },
                    {"ref": "shop"},
                    {"ref": "elsewhere"},
                ],
            }
        ],
    }

    result = parse_report("cyclonedx", as_json(document), source="bom.json")

    assert isinstance(result, Sbom)
    assert result.tool == "cyclonedx-py 3.11.7"
    assert result.subject is not None and result.subject.name == "shop"
    assert [c.name for c in result.components] == ["framework", "framework-core"]
    # in_triage is no verdict: the vulnerability counts, once per affected component.
    assert [
        (v.package, v.installed_version, v.severity, v.fixed_versions, v.aliases)
        for v in result.vulnerabilities
    ] == [
        ("framework-core", "5.0", Severity.HIGH, ("5.1",), ("GHSA-aaaa-bbbb-cccc",)),
        ("shop", "2.0", Severity.HIGH, (), ("GHSA-aaaa-bbbb-cccc",)),
        ("elsewhere", None, Severity.HIGH, (), ("GHSA-aaaa-bbbb-cccc",)),
    ]
    assert [(m.component.name, m.via) for m in result.licensed_under(["gpl-3.0-only"])] == [
        ("framework-core", "expression")
    ]
    assert result.license_counts() == {"MIT": 1, "(MIT OR GPL-3.0-only)": 1}


def test_cyclonedx_1_5_tools_are_components() -> None:
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "metadata": {
            "tools": {
                "components": [
                    {"name": "cyclonedx-py", "version": "4.6.1"},
                    {"name": "cyclonedx-python-lib", "version": "6.4.4"},
                ]
            }
        },
        "components": [],
    }

    result = parse_report("cyclonedx", as_json(document), source="bom.json")

    assert result.tool == "cyclonedx-py 4.6.1, cyclonedx-python-lib 6.4.4"


def test_cyclonedx_xml_is_recognised_and_refused_with_a_hint() -> None:
    data = b'<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1"><components/></bom>'
    assert detect_kind(data) == "cyclonedx"

    with pytest.raises(ReportInvalid, match="the file is XML, not JSON") as raised:
        parse_report("cyclonedx", data, source="bom.xml")
    assert raised.value.hint == "clearance reads CycloneDX JSON: ask the tool for that format"


# --- registry -------------------------------------------------------------------------------------------


def test_every_kind_is_registered_with_its_family_and_result_type() -> None:
    assert {kind: (f.family, f.syntax, f.result.__name__) for kind, f in KINDS.items()} == {
        "junit": ("tests", "xml", "JUnitReport"),
        "cobertura": ("coverage", "xml", "CoverageReport"),
        "sarif": ("sast", "json", "SastReport"),
        "trivy": ("vulnerabilities", "json", "VulnerabilityReport"),
        "pip-audit": ("vulnerabilities", "json", "VulnerabilityReport"),
        "grype": ("vulnerabilities", "json", "VulnerabilityReport"),
        "cyclonedx": ("sbom", "json", "Sbom"),
    }


def test_stored_json_keeps_the_kind_and_comes_back_equal() -> None:
    report = parse_report(
        "pip-audit",
        b'[{"name": "a", "version": "1", "vulns": [{"id": "X-1", "fix_versions": [], "aliases": []}]}]',
        source="a.json",
    )

    stored = json.loads(json.dumps(report.to_json()))

    assert (stored["schema_version"], stored["kind"], stored["source"]) == (1, "pip-audit", "a.json")
    assert stored["vulnerabilities"][0]["severity"] == "UNKNOWN"
    assert evidence_from_json(stored) == report
