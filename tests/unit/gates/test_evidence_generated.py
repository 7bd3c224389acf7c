"""Reports the real tools wrote on this project's machine (jest-junit, the JUnit 5 console launcher,
pip-audit in both its formats), vendored in tests/conformance/reports/generated: see PROVENANCE.md."""

from __future__ import annotations

import json
from pathlib import Path

from clearance.gates.evidence import (
    JUnitReport,
    Sbom,
    Severity,
    VulnerabilityReport,
    detect_kind,
    parse_report,
)

GENERATED = Path(__file__).parents[2] / "conformance" / "reports" / "generated"


def test_jest_junit_names_tests_once_and_reads_the_message_from_the_text() -> None:
    data = (GENERATED / "jest-junit.xml").read_bytes()
    assert detect_kind(data) == "junit"

    result = parse_report("junit", data, source="jest-junit.xml")

    assert isinstance(result, JUnitReport)
    # cart.test.js: 2 pass, 1 fail, 1 skip. broken.test.js cannot load: jest-junit writes it as one
    # errored and one failed case, both named after the file.
    assert (result.tests, result.passed, result.failed, result.errored, result.skipped) == (6, 2, 2, 1, 1)
    discount = result.failures[0]
    assert (discount.name, discount.outcome) == ("cart applies the discount", "failed")
    # jest-junit writes no message attribute: the first line of the text stands for it.
    assert discount.message == "Error: expect(received).toBe(expected) // Object.is equality"
    broken = [case for case in result.failures if case.name.endswith("broken.test.js")]
    assert [(case.name, case.outcome) for case in broken] == [
        ("Test suite failed to run::__tests__/broken.test.js", "errored"),
        ("Test suite failed to run::__tests__/broken.test.js", "failed"),
    ]
    assert broken[0].message == "● Test suite failed to run"
    assert [case.name for case in result.skips] == ["cart ships abroad"]


def test_junit5_console_launcher_report() -> None:
    result = parse_report(
        "junit", (GENERATED / "junit5-console-launcher.xml").read_bytes(), source="TEST-junit-jupiter.xml"
    )

    assert isinstance(result, JUnitReport)
    assert (result.tests, result.passed, result.failed, result.errored, result.skipped) == (5, 2, 1, 1, 1)
    assert [(c.name, c.outcome, c.message, c.type) for c in result.non_passing] == [
        ("com.example.CartTest::shipsAbroad()", "skipped", "shipping rules not written yet", None),
        (
            "com.example.CartTest::readsTheCatalogue()",
            "errored",
            "catalogue not loaded",
            "java.lang.IllegalStateException",
        ),
        (
            "com.example.CartTest::appliesTheDiscount()",
            "failed",
            "discounted total ==> expected: <8> but was: <9>",
            "org.opentest4j.AssertionFailedError",
        ),
    ]


def test_pip_audit_json_keeps_aliases_and_says_it_has_no_severity() -> None:
    result = parse_report("pip-audit", (GENERATED / "pip-audit.json").read_bytes(), source="pip-audit.json")

    assert isinstance(result, VulnerabilityReport)
    assert result.tool == "pip-audit"
    assert result.packages_scanned == 3
    assert [
        (v.package, v.installed_version, v.id, v.aliases, v.fixed_version) for v in result.vulnerabilities
    ] == [
        ("requests", "2.19.1", "PYSEC-2018-28", ("CVE-2018-18074",), "2.20.0"),
        ("requests", "2.19.1", "PYSEC-2023-74", ("CVE-2023-32681", "GHSA-j8r2-6x86-q33q"), "2.31.0"),
        ("jinja2", "2.10", "PYSEC-2019-217", ("CVE-2019-10906",), "2.10.1"),
        ("jinja2", "2.10", "PYSEC-2021-66", ("CVE-2020-28493", "SNYK-PYTHON-JINJA2-1012994"), "2.11.3"),
    ]
    assert all(v.severity is Severity.UNKNOWN for v in result.vulnerabilities)
    assert result.notes == (
        "pip-audit JSON carries no severity: every vulnerability is UNKNOWN (aliases are kept)",
    )
    # An ignore list written with the CVE finds the PYSEC advisory.
    assert [v.id for v in result.find("cve-2019-10906")] == ["PYSEC-2019-217"]
    assert result.at_least(Severity.LOW) == ()


def test_pip_audit_before_2_0_printed_the_same_list_bare() -> None:
    current = json.loads((GENERATED / "pip-audit.json").read_bytes())
    legacy = json.dumps(current["dependencies"]).encode()
    assert detect_kind(legacy) == "pip-audit"

    old = parse_report("pip-audit", legacy, source="old.json")
    new = parse_report("pip-audit", (GENERATED / "pip-audit.json").read_bytes(), source="old.json")

    assert isinstance(old, VulnerabilityReport)
    assert old == new
    assert len(old.vulnerabilities) == 4


def test_pip_audit_cyclonedx_1_4_attaches_vulnerabilities_by_ref() -> None:
    data = (GENERATED / "pip-audit.cdx.json").read_bytes()
    assert detect_kind(data) == "cyclonedx"

    result = parse_report("cyclonedx", data, source="pip-audit.cdx.json")

    assert isinstance(result, Sbom)
    assert result.spec_version == "1.4"
    assert sorted((c.name, c.version) for c in result.components) == [
        ("click", "8.1.7"),
        ("jinja2", "2.10"),
        ("requests", "2.19.1"),
    ]
    assert sorted((v.package, v.installed_version, v.id) for v in result.vulnerabilities) == [
        ("jinja2", "2.10", "PYSEC-2019-217"),
        ("jinja2", "2.10", "PYSEC-2021-66"),
        ("requests", "2.19.1", "PYSEC-2018-28"),
        ("requests", "2.19.1", "PYSEC-2023-74"),
    ]
    # pip-audit's CycloneDX carries no ratings either.
    assert result.counts_by_severity()["UNKNOWN"] == 4
    assert len(result.unlicensed()) == 3
