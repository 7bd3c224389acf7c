"""Reports that cannot be used: truncated or corrupt files (the error names the file and the parser's
line and column), files of another kind, XML attacks, values that cannot be mapped. Nothing is returned."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.errors import ReportInvalid, UsageError
from clearance.gates.evidence import KINDS, detect_kind, evidence_from_json, parse_report

REPORTS = Path(__file__).parents[2] / "conformance" / "reports"

SAMPLES = {
    "junit": "junit-xml/junit-report-with-properties.xml",
    "cobertura": None,  # written below: no upstream Cobertura sample is vendored
    "sarif": "sarif/simple-example.sarif",
    "trivy": "trivy-json/pip.json",
    "pip-audit": "generated/pip-audit.json",
    "grype": "grype-json/TestJsonImgsPresenter.golden.json",
    "cyclonedx": "cyclonedx/valid-bom-1.6.json",
}

COBERTURA = b"""<?xml version="1.0" ?>
<coverage version="7.6.1" timestamp="1" lines-valid="4" lines-covered="3" line-rate="0.75"
          branches-covered="0" branches-valid="0" branch-rate="0" complexity="0">
  <packages>
    <package name="shop" line-rate="0.75" branch-rate="0" complexity="0">
      <classes><class name="cart.py" filename="shop/cart.py" line-rate="0.75" branch-rate="0">
        <lines><line number="1" hits="1"/><line number="2" hits="1"/><line number="3" hits="0"/><line number="4" hits="2"/></lines>
      </class></classes>
    </package>
  </packages>
</coverage>
"""


def sample(kind: str) -> bytes:
    relative = SAMPLES[kind]
    return COBERTURA if relative is None else (REPORTS / relative).read_bytes()


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_truncated_report_names_the_file_and_the_position(kind: str) -> None:
    data = sample(kind)
    truncated = data[: len(data) // 2]

    with pytest.raises(ReportInvalid) as raised:
        parse_report(kind, truncated, source="reports/latest")

    error = raised.value
    syntax = "XML" if KINDS[kind].syntax == "xml" else "JSON"
    assert error.message.startswith(
        f"reports/latest: not {'well-formed' if syntax == 'XML' else 'valid'} {syntax} at line "
    )
    assert error.line is not None and error.line >= 1 and error.column is not None and error.column >= 1
    assert f"line {error.line}, column {error.column}" in error.message
    assert (error.exit_code, error.code, error.data["source"], error.data["kind"]) == (
        2,
        "report-invalid",
        "reports/latest",
        kind,
    )
    assert error.hint == "the file may be truncated or corrupt: produce the report again"


def test_json_position_points_at_the_bad_character() -> None:
    with pytest.raises(ReportInvalid) as raised:
        parse_report("trivy", b'{\n  "SchemaVersion": 2,\n  "Results": [}\n', source="trivy.json")

    assert raised.value.message == "trivy.json: not valid JSON at line 3, column 15: Expecting value"
    assert (raised.value.line, raised.value.column) == (3, 15)


def test_xml_position_points_at_the_mismatched_tag() -> None:
    corrupt = b'<?xml version="1.0"?>\n<testsuite name="s">\n  <testcase name="a">\n</testsuite>\n'

    with pytest.raises(ReportInvalid) as raised:
        parse_report("junit", corrupt, source="junit.xml")

    assert raised.value.message == "junit.xml: not well-formed XML at line 4, column 3: mismatched tag"
    assert (raised.value.line, raised.value.column) == (4, 3)


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_empty_file_is_refused(kind: str) -> None:
    with pytest.raises(ReportInvalid, match=r"^empty\.out: the file is empty, expected a "):
        parse_report(kind, b" \n", source="empty.out")


def test_a_file_that_is_not_utf8_json_is_refused() -> None:
    with pytest.raises(ReportInvalid, match=r"^scan\.json: not UTF-8 text: invalid byte at offset 1"):
        parse_report("grype", b'{\xff"matches": []}', source="scan.json")


@pytest.mark.parametrize(
    ("declared", "given"), [(declared, given) for declared in KINDS for given in KINDS if declared != given]
)
def test_a_well_formed_report_of_another_kind_is_refused_with_what_it_looks_like(
    declared: str, given: str
) -> None:
    data = sample(given)

    with pytest.raises(ReportInvalid) as raised:
        parse_report(declared, data, source="report.file")

    assert raised.value.message.startswith(f"report.file: not a {_label(declared)} report: ")
    assert raised.value.hint == f"it looks like a {_label(given)} report: use --kind {given}"


def _label(kind: str) -> str:
    return {
        "junit": "JUnit XML",
        "cobertura": "Cobertura XML",
        "sarif": "SARIF",
        "trivy": "Trivy JSON",
        "pip-audit": "pip-audit JSON",
        "grype": "grype JSON",
        "cyclonedx": "CycloneDX JSON",
    }[kind]


def test_sarif_given_as_junit_says_so_in_words() -> None:
    with pytest.raises(ReportInvalid) as raised:
        parse_report("junit", sample("sarif"), source="bandit.sarif")

    assert raised.value.message == "bandit.sarif: not a JUnit XML report: the file is JSON, not XML"
    assert raised.value.hint == "it looks like a SARIF report: use --kind sarif"


def test_cobertura_given_as_junit_names_the_root_element() -> None:
    with pytest.raises(ReportInvalid) as raised:
        parse_report("junit", COBERTURA, source="coverage.xml")

    assert raised.value.message == (
        "coverage.xml: not a JUnit XML report: the root element is <coverage>, expected <testsuites> or <testsuite>"
    )
    assert raised.value.hint == "it looks like a Cobertura XML report: use --kind cobertura"


def test_json_that_is_no_report_at_all_has_no_hint() -> None:
    with pytest.raises(ReportInvalid) as raised:
        parse_report("sarif", b'{"hello": "world"}', source="x.json")

    assert raised.value.message == "x.json: not a SARIF report: it has no `runs` array"
    assert raised.value.hint is None


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuite name="&lol3;"><testcase name="a"/></testsuite>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE coverage [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<coverage line-rate="1" lines-valid="1" lines-covered="1"><sources><source>&secret;</source></sources></coverage>
"""


@pytest.mark.parametrize(
    ("kind", "data"),
    [("junit", BILLION_LAUGHS), ("cobertura", EXTERNAL_ENTITY)],
    ids=["billion-laughs", "xxe"],
)
def test_xml_entities_are_never_expanded(kind: str, data: bytes) -> None:
    with pytest.raises(ReportInvalid, match="declares entities or external references") as raised:
        parse_report(kind, data, source="evil.xml")

    assert raised.value.hint is not None and "XXE" in raised.value.hint
    assert detect_kind(data) is None


def test_a_plain_doctype_without_entities_is_read() -> None:
    # coverage.py before 5.x wrote this DOCTYPE; nothing in it is expanded or fetched.
    data = COBERTURA.replace(
        b'<?xml version="1.0" ?>\n',
        b'<?xml version="1.0" ?>\n<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">\n',
    )

    result = parse_report("cobertura", data, source="coverage.xml")

    assert result.summary()["line_rate"] == 75.0


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (
            "trivy",
            b'{"SchemaVersion": 2, "Results": [{"Target": "req.txt", "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": "SEVERE"}]}]}',
            "t.json: unknown severity 'SEVERE' (known: critical, high, low, medium, unknown) at Results[0].Vulnerabilities[0].Severity",
        ),
        (
            "grype",
            b'{"matches": [{"vulnerability": {"id": "CVE-1", "severity": "Moderate"}, "artifact": {"name": "a"}}], "descriptor": {}}',
            "t.json: unknown severity 'Moderate' (known: critical, high, low, medium, negligible, unknown) at matches[0].vulnerability.severity",
        ),
        (
            "cyclonedx",
            b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "a", "bom-ref": "a"}], "vulnerabilities": [{"id": "CVE-1", "ratings": [{"severity": "urgent"}], "affects": [{"ref": "a"}]}]}',
            "t.json: unknown severity 'urgent' (known: critical, high, info, low, medium, none, unknown) at vulnerabilities[0].ratings[0].severity",
        ),
        (
            "sarif",
            b'{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "fatal", "message": {"text": "m"}}]}]}',
            "t.json: unknown SARIF level 'fatal' (known: none, note, warning, error) at runs[0].results[0].level",
        ),
    ],
    ids=["trivy", "grype", "cyclonedx", "sarif"],
)
def test_an_unknown_severity_name_is_an_error_naming_it_and_its_place(
    kind: str, data: bytes, message: str
) -> None:
    with pytest.raises(ReportInvalid) as raised:
        parse_report(kind, data, source="t.json")

    assert raised.value.message == message
    assert raised.value.path == message.rsplit(" at ", 1)[1]


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (
            "sarif",
            b'{"version": "2.2", "runs": []}',
            "s.json: unsupported SARIF version '2.2', only 2.1.0 is read at version",
        ),
        (
            "trivy",
            b'{"SchemaVersion": 1, "Results": []}',
            "s.json: unsupported Trivy SchemaVersion 1, only 2 is read at SchemaVersion",
        ),
        (
            "cyclonedx",
            b'{"bomFormat": "CycloneDX", "specVersion": "1.3", "components": []}',
            "s.json: unsupported CycloneDX specVersion '1.3' (read: 1.4, 1.5, 1.6, 1.7) at specVersion",
        ),
        (
            "trivy",
            b'{"SchemaVersion": 2, "Results": [{"Vulnerabilities": [{"VulnerabilityID": 7, "PkgName": "a"}]}]}',
            "s.json: expected a string, found the number 7 at Results[0].Vulnerabilities[0].VulnerabilityID",
        ),
        (
            "grype",
            b'{"matches": {"a": 1}, "descriptor": {}}',
            "s.json: not a grype JSON report: it has no `matches` array",
        ),
        (
            "pip-audit",
            b'{"dependencies": [{"version": "1.0", "vulns": []}]}',
            "s.json: missing required string at dependencies[0].name",
        ),
        (
            "cyclonedx",
            b'{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "a", "licenses": [{"license": {"url": "x"}}]}]}',
            "s.json: a licence needs an id, a name or an expression at components[0].licenses[0]",
        ),
        (
            "cobertura",
            b'<coverage line-rate="high" lines-valid="x"/>',
            "s.json: <coverage> attribute lines-valid is 'x', expected a whole number",
        ),
        (
            "cobertura",
            b'<coverage line-rate="1.5"/>',
            "s.json: <coverage> attribute line-rate is '1.5', expected a rate between 0 and 1",
        ),
    ],
)
def test_a_report_whose_content_cannot_be_read_says_where(kind: str, data: bytes, message: str) -> None:
    with pytest.raises(ReportInvalid) as raised:
        parse_report(kind, data, source="s.json")

    assert raised.value.message == message


def test_an_unknown_kind_is_a_usage_error_listing_the_known_ones() -> None:
    with pytest.raises(UsageError) as raised:
        parse_report("jacoco", b"<report/>", source="jacoco.xml")

    assert raised.value.message == "unknown evidence kind 'jacoco'"
    assert raised.value.hint == "known kinds: junit, cobertura, sarif, trivy, pip-audit, grype, cyclonedx"
    assert (raised.value.code, raised.value.exit_code) == ("evidence-kind-unknown", 2)


def test_stored_evidence_that_does_not_fit_is_refused() -> None:
    stored = parse_report("sarif", sample("sarif"), source="bandit.sarif").to_json()

    with pytest.raises(
        ReportInvalid, match=r"^bandit\.sarif: stored evidence has schema_version 2, expected 1$"
    ):
        evidence_from_json({**stored, "schema_version": 2})
    with pytest.raises(ReportInvalid, match=r"^bandit\.sarif: stored evidence has unknown kind 'lint'$"):
        evidence_from_json({**stored, "kind": "lint"})
    with pytest.raises(
        ReportInvalid,
        match=r"^bandit\.sarif: stored evidence is not a valid SastReport: findings\.0\.level: ",
    ):
        evidence_from_json({**stored, "findings": [{**stored["findings"][0], "level": "fatal"}]})
