"""The report kinds clearance reads, and the entry points: `parse_report`, `detect_kind` and
`evidence_from_json` (the inverse of `to_json`, for evidence read back from the store)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from clearance.errors import ReportInvalid, UsageError
from clearance.gates.evidence.base import Report
from clearance.gates.evidence.cobertura import CoverageReport, parse_cobertura
from clearance.gates.evidence.cyclonedx import Sbom, parse_cyclonedx
from clearance.gates.evidence.decoding import detect_kind
from clearance.gates.evidence.junit import JUnitReport, parse_junit
from clearance.gates.evidence.sarif import SastReport, parse_sarif
from clearance.gates.evidence.scanners import parse_grype, parse_pip_audit, parse_trivy
from clearance.gates.evidence.vulnerabilities import VulnerabilityReport

__all__ = [
    "KINDS",
    "Evidence",
    "ReportFormat",
    "ReportKind",
    "detect_kind",
    "evidence_from_json",
    "parse_report",
]

Evidence = JUnitReport | CoverageReport | SastReport | VulnerabilityReport | Sbom
ReportKind = Literal["junit", "cobertura", "sarif", "trivy", "pip-audit", "grype", "cyclonedx"]


@dataclass(frozen=True)
class ReportFormat:
    """One kind of report: what it measures (`family`), its syntax, its parser and its result type."""

    kind: ReportKind
    family: Literal["tests", "coverage", "sast", "vulnerabilities", "sbom"]
    syntax: Literal["xml", "json"]
    parse: Callable[..., Evidence]
    result: type[Report]
    description: str


KINDS: Mapping[str, ReportFormat] = {
    f.kind: f
    for f in (
        ReportFormat(
            "junit", "tests", "xml", parse_junit, JUnitReport, "JUnit XML (pytest, JUnit 4/5, Jest)"
        ),
        ReportFormat(
            "cobertura", "coverage", "xml", parse_cobertura, CoverageReport, "Cobertura XML (coverage.py)"
        ),
        ReportFormat(
            "sarif", "sast", "json", parse_sarif, SastReport, "SARIF 2.1.0 (bandit, semgrep, CodeQL)"
        ),
        ReportFormat("trivy", "vulnerabilities", "json", parse_trivy, VulnerabilityReport, "Trivy JSON"),
        ReportFormat(
            "pip-audit", "vulnerabilities", "json", parse_pip_audit, VulnerabilityReport, "pip-audit JSON"
        ),
        ReportFormat("grype", "vulnerabilities", "json", parse_grype, VulnerabilityReport, "grype JSON"),
        ReportFormat(
            "cyclonedx", "sbom", "json", parse_cyclonedx, Sbom, "CycloneDX JSON SBOM (cyclonedx-py)"
        ),
    )
}
assert set(KINDS) == set(get_args(ReportKind))


def report_format(kind: str) -> ReportFormat:
    """The format registered for `kind`; an unknown kind is a usage error listing the known ones."""
    found = KINDS.get(kind)
    if found is None:
        raise UsageError(
            f"unknown evidence kind {kind!r}",
            hint=f"known kinds: {', '.join(KINDS)}",
            code="evidence-kind-unknown",
        )
    return found


def parse_report(kind: str, data: bytes, *, source: str) -> Evidence:
    """The normalized result of the report `data` read as `kind`; `source` names the file in errors.

    Raises ReportInvalid (exit 2) for a truncated or corrupt file (with the parser's line and column),
    a well-formed file of another kind, or a value that cannot be mapped (an unknown severity), and
    UsageError for an unknown kind. Nothing is returned on error.
    """
    return report_format(kind).parse(data, source=source)


def evidence_from_json(document: Mapping[str, Any]) -> Evidence:
    """Evidence stored with `to_json`, rebuilt as the right type for its `kind`."""
    kind = document.get("kind")
    source = str(document.get("source", "stored evidence"))
    if not isinstance(kind, str) or kind not in KINDS:
        raise ReportInvalid(
            f"{source}: stored evidence has unknown kind {kind!r}", source=source, path="kind"
        )
    result = KINDS[kind].result.from_json(document)
    assert isinstance(result, JUnitReport | CoverageReport | SastReport | VulnerabilityReport | Sbom)
    return result
