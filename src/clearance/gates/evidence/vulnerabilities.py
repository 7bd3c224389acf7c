"""Known vulnerabilities in dependencies, as scanners (Trivy, pip-audit, grype) and SBOMs report them,
in one model: what is vulnerable, how badly, what fixes it, and what the report itself suppressed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from clearance.gates.evidence.base import Report, Severity

__all__ = [
    "ScanFinding",
    "SuppressedVulnerability",
    "Vulnerability",
    "VulnerabilityReport",
    "count_by_severity",
]


@dataclass(frozen=True)
class Vulnerability:
    """One vulnerability in one package. `aliases` are the other ids of the same advisory (CVE, GHSA…);
    `target` is where the scanner found the package (a lock file, an image layer, an SBOM bom-ref)."""

    id: str
    severity: Severity
    package: str
    installed_version: str | None = None
    fixed_versions: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    purl: str | None = None
    target: str | None = None
    title: str | None = None

    @property
    def fixable(self) -> bool:
        return bool(self.fixed_versions)

    @property
    def fixed_version(self) -> str | None:
        """The first version the report names as fixing it (scanners list the nearest first)."""
        return self.fixed_versions[0] if self.fixed_versions else None

    def matches(self, vulnerability_id: str) -> bool:
        """Whether `vulnerability_id` is this vulnerability's id or one of its aliases (case-insensitive)."""
        wanted = vulnerability_id.strip().casefold()
        return any(known.casefold() == wanted for known in (self.id, *self.aliases))


@dataclass(frozen=True)
class SuppressedVulnerability:
    """A vulnerability the report itself marks as not applying (VEX `not_affected`, an ignore rule…).
    Kept so a reviewer sees it; gates do not count it."""

    vulnerability: Vulnerability
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class ScanFinding:
    """A scanner finding that is not a package vulnerability: a misconfiguration or a secret (Trivy)."""

    category: Literal["misconfiguration", "secret"]
    id: str
    severity: Severity
    title: str | None = None
    target: str | None = None
    line: int | None = None


def count_by_severity(vulnerabilities: Iterable[Vulnerability]) -> dict[str, int]:
    """Vulnerabilities per severity, every severity present, CRITICAL first."""
    counts = Counter(vulnerability.severity for vulnerability in vulnerabilities)
    return {severity.value: counts[severity] for severity in Severity}


@dataclass(frozen=True, kw_only=True)
class VulnerabilityReport(Report):
    """A dependency scan. `packages_scanned` is None when the report does not list what it scanned;
    `notes` says what the report cannot tell (pip-audit carries no severities)."""

    kind: Literal["trivy", "pip-audit", "grype"]
    vulnerabilities: tuple[Vulnerability, ...] = ()
    suppressed: tuple[SuppressedVulnerability, ...] = ()
    findings: tuple[ScanFinding, ...] = ()
    packages_scanned: int | None = None
    notes: tuple[str, ...] = ()

    def counts_by_severity(self) -> dict[str, int]:
        return count_by_severity(self.vulnerabilities)

    def at_least(self, severity: Severity) -> tuple[Vulnerability, ...]:
        """Vulnerabilities rated `severity` or higher (UNKNOWN ones only when asking for UNKNOWN)."""
        return tuple(v for v in self.vulnerabilities if v.severity.rank >= severity.rank)

    def find(self, vulnerability_id: str) -> tuple[Vulnerability, ...]:
        """Every finding of that id or alias (one advisory may hit several packages)."""
        return tuple(v for v in self.vulnerabilities if v.matches(vulnerability_id))

    def summary(self) -> dict[str, Any]:
        findings = Counter(finding.category for finding in self.findings)
        return {
            "vulnerabilities": len(self.vulnerabilities),
            "by_severity": self.counts_by_severity(),
            "fixable": sum(v.fixable for v in self.vulnerabilities),
            "suppressed": len(self.suppressed),
            "misconfigurations": findings["misconfiguration"],
            "secrets": findings["secret"],
            "packages_scanned": self.packages_scanned,
        }
