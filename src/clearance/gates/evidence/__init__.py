"""Evidence from real reports: parsers for test, coverage, static-analysis, vulnerability and SBOM
reports, each giving a frozen, JSON-storable result with a summary gates can check.

    parse_report("junit", data, source="reports/junit.xml") -> JUnitReport
    detect_kind(data) -> "junit" | "cobertura" | "sarif" | "trivy" | "pip-audit" | "grype" | "cyclonedx" | None
    evidence_from_json(report.to_json()) == report
"""

from clearance.gates.evidence.base import SCHEMA_VERSION, Report, Severity
from clearance.gates.evidence.cobertura import CoverageReport, PackageCoverage
from clearance.gates.evidence.cyclonedx import Component, License, LicenseMatch, Sbom
from clearance.gates.evidence.junit import JUnitReport, NonPassingCase
from clearance.gates.evidence.registry import (
    KINDS,
    Evidence,
    ReportFormat,
    ReportKind,
    detect_kind,
    evidence_from_json,
    parse_report,
)
from clearance.gates.evidence.sarif import LEVELS, SarifFinding, SarifLevel, SastReport, SourceLocation
from clearance.gates.evidence.vulnerabilities import (
    ScanFinding,
    SuppressedVulnerability,
    Vulnerability,
    VulnerabilityReport,
)

__all__ = [
    "KINDS",
    "LEVELS",
    "SCHEMA_VERSION",
    "Component",
    "CoverageReport",
    "Evidence",
    "JUnitReport",
    "License",
    "LicenseMatch",
    "NonPassingCase",
    "PackageCoverage",
    "Report",
    "ReportFormat",
    "ReportKind",
    "SarifFinding",
    "SarifLevel",
    "SastReport",
    "Sbom",
    "ScanFinding",
    "Severity",
    "SourceLocation",
    "SuppressedVulnerability",
    "Vulnerability",
    "VulnerabilityReport",
    "detect_kind",
    "evidence_from_json",
    "parse_report",
]
