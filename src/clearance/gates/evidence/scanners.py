"""The JSON reports of dependency scanners — Trivy (`--format json`), pip-audit (`-f json`, both its
`{"dependencies": …}` form and the older bare list) and grype (`-o json`) — read into one model.
Trivy (`CreatedAt`) and grype (`descriptor.timestamp`) say when they scanned; pip-audit does not."""

from __future__ import annotations

from typing import Any

from clearance.gates.evidence.base import (
    GRYPE_SEVERITIES,
    TRIVY_SEVERITIES,
    Severity,
    normalize_severity,
)
from clearance.gates.evidence.decoding import JsonReader, decode_json, sniff_json, wrong_kind
from clearance.gates.evidence.timestamps import iso_time
from clearance.gates.evidence.vulnerabilities import (
    ScanFinding,
    SuppressedVulnerability,
    Vulnerability,
    VulnerabilityReport,
)

__all__ = ["parse_grype", "parse_pip_audit", "parse_trivy"]

PIP_AUDIT_NOTE = "pip-audit JSON carries no severity: every vulnerability is UNKNOWN (aliases are kept)"
_TITLE_LIMIT = 200


def parse_trivy(data: bytes, *, source: str) -> VulnerabilityReport:
    """Vulnerabilities, failed misconfigurations, secrets and VEX-suppressed findings of a Trivy report."""
    document = decode_json(data, source=source, kind="trivy")
    reader = JsonReader(source, "trivy")
    if not isinstance(document, dict) or "SchemaVersion" not in document:
        raise wrong_kind("trivy", source, "it has no `SchemaVersion`", sniff_json(document))
    if document["SchemaVersion"] != 2:
        reader.fail(
            f"unsupported Trivy SchemaVersion {document['SchemaVersion']!r}, only 2 is read", "SchemaVersion"
        )
    version = reader.text(reader.child(document, "Trivy", ""), "Version", "Trivy")
    vulnerabilities: list[Vulnerability] = []
    suppressed: list[SuppressedVulnerability] = []
    findings: list[ScanFinding] = []
    packages: int | None = None
    for path, result in reader.objects(document, "Results", ""):
        target = reader.text(result, "Target", path)
        if "Packages" in result:
            packages = (packages or 0) + len(reader.array(result["Packages"] or [], f"{path}.Packages"))
        for item_path, item in reader.objects(result, "Vulnerabilities", path):
            vulnerabilities.append(_trivy_vulnerability(reader, item_path, item, target))
        for item_path, item in reader.objects(result, "ExperimentalModifiedFindings", path):
            suppressed.append(_trivy_modified(reader, item_path, item, target))
        findings += _trivy_findings(reader, path, result, target)
    return VulnerabilityReport(
        kind="trivy",
        source=source,
        tool=f"trivy {version}" if version else "trivy",
        produced_at=iso_time(document.get("CreatedAt")),
        vulnerabilities=tuple(vulnerabilities),
        suppressed=tuple(suppressed),
        findings=tuple(findings),
        packages_scanned=packages,
    )


def _trivy_vulnerability(
    reader: JsonReader, path: str, item: dict[str, Any], target: str | None
) -> Vulnerability:
    fixed = reader.text(item, "FixedVersion", path) or ""
    return Vulnerability(
        id=reader.required_text(item, "VulnerabilityID", path),
        severity=normalize_severity(
            reader.text(item, "Severity", path), TRIVY_SEVERITIES, reader=reader, path=f"{path}.Severity"
        ),
        package=reader.required_text(item, "PkgName", path),
        installed_version=reader.text(item, "InstalledVersion", path),
        fixed_versions=tuple(version.strip() for version in fixed.split(",") if version.strip()),
        aliases=reader.texts(item, "VendorIDs", path),
        purl=reader.text(reader.child(item, "PkgIdentifier", path), "PURL", f"{path}.PkgIdentifier"),
        target=target,
        title=_short(reader.text(item, "Title", path)),
    )


def _trivy_modified(
    reader: JsonReader, path: str, item: dict[str, Any], target: str | None
) -> SuppressedVulnerability:
    finding = reader.child(item, "Finding", path)
    return SuppressedVulnerability(
        vulnerability=_trivy_vulnerability(reader, f"{path}.Finding", finding, target),
        status=reader.text(item, "Status", path) or "suppressed",
        reason=reader.text(item, "Statement", path) or reader.text(item, "Source", path),
    )


def _trivy_findings(
    reader: JsonReader, path: str, result: dict[str, Any], target: str | None
) -> list[ScanFinding]:
    findings = []
    for item_path, item in reader.objects(result, "Misconfigurations", path):
        if (reader.text(item, "Status", item_path) or "FAIL") != "FAIL":
            continue  # PASS entries appear with --include-non-failures
        cause = reader.child(item, "CauseMetadata", item_path)
        findings.append(
            ScanFinding(
                category="misconfiguration",
                id=reader.text(item, "ID", item_path) or reader.required_text(item, "AVDID", item_path),
                severity=_trivy_severity(reader, item_path, item),
                title=_short(reader.text(item, "Title", item_path)),
                target=target,
                line=reader.integer(cause, "StartLine", f"{item_path}.CauseMetadata"),
            )
        )
    for item_path, item in reader.objects(result, "Secrets", path):
        findings.append(
            ScanFinding(
                category="secret",
                id=reader.required_text(item, "RuleID", item_path),
                severity=_trivy_severity(reader, item_path, item),
                title=_short(reader.text(item, "Title", item_path)),
                target=target,
                line=reader.integer(item, "StartLine", item_path),
            )
        )
    return findings


def _trivy_severity(reader: JsonReader, path: str, item: dict[str, Any]) -> Severity:
    name = reader.text(item, "Severity", path)
    return normalize_severity(name, TRIVY_SEVERITIES, reader=reader, path=f"{path}.Severity")


def parse_pip_audit(data: bytes, *, source: str) -> VulnerabilityReport:
    """Vulnerabilities of a pip-audit JSON report. pip-audit gives no severity: all are UNKNOWN."""
    document = decode_json(data, source=source, kind="pip-audit")
    reader = JsonReader(source, "pip-audit")
    if isinstance(document, list):  # pip-audit before 2.0 printed the dependency list bare
        dependencies = [(f"[{i}]", reader.object(item, f"[{i}]")) for i, item in enumerate(document)]
    elif (
        isinstance(document, dict)
        and isinstance(document.get("dependencies"), list)
        and "bomFormat" not in document
    ):
        dependencies = reader.objects(document, "dependencies", "")
    else:
        raise wrong_kind("pip-audit", source, "it has no `dependencies` list", sniff_json(document))
    vulnerabilities: list[Vulnerability] = []
    notes = [PIP_AUDIT_NOTE]
    audited = 0
    for path, dependency in dependencies:
        name = reader.required_text(dependency, "name", path)
        skipped = reader.text(dependency, "skip_reason", path)
        if skipped:
            notes.append(f"{name} was not audited: {skipped}")
            continue
        audited += 1
        version = reader.text(dependency, "version", path)
        for vuln_path, vuln in reader.objects(dependency, "vulns", path):
            vulnerabilities.append(
                Vulnerability(
                    id=reader.required_text(vuln, "id", vuln_path),
                    severity=Severity.UNKNOWN,
                    package=name,
                    installed_version=version,
                    fixed_versions=reader.texts(vuln, "fix_versions", vuln_path),
                    # pip-audit prints aliases from a set: sorted, equal reports give equal evidence.
                    aliases=tuple(sorted(reader.texts(vuln, "aliases", vuln_path))),
                    title=_short(reader.text(vuln, "description", vuln_path)),
                )
            )
    return VulnerabilityReport(
        kind="pip-audit",
        source=source,
        tool="pip-audit",
        vulnerabilities=tuple(vulnerabilities),
        packages_scanned=audited,
        notes=tuple(notes),
    )


def parse_grype(data: bytes, *, source: str) -> VulnerabilityReport:
    """Matches (and ignored matches, as suppressed) of a grype JSON report."""
    document = decode_json(data, source=source, kind="grype")
    reader = JsonReader(source, "grype")
    if not isinstance(document, dict) or not isinstance(document.get("matches"), list):
        raise wrong_kind("grype", source, "it has no `matches` array", sniff_json(document))
    descriptor = reader.child(document, "descriptor", "")
    version = reader.text(descriptor, "version", "descriptor")
    ignored = [
        SuppressedVulnerability(
            vulnerability=_grype_match(reader, path, match),
            status="ignored",
            reason=_grype_ignore_reason(reader, path, match),
        )
        for path, match in reader.objects(document, "ignoredMatches", "")
    ]
    return VulnerabilityReport(
        kind="grype",
        source=source,
        tool=f"grype {version}" if version and not version.startswith("[") else "grype",
        produced_at=iso_time(descriptor.get("timestamp")),
        vulnerabilities=tuple(
            _grype_match(reader, path, match) for path, match in reader.objects(document, "matches", "")
        ),
        suppressed=tuple(ignored),
    )


def _grype_match(reader: JsonReader, path: str, match: dict[str, Any]) -> Vulnerability:
    vulnerability = reader.child(match, "vulnerability", path)
    artifact = reader.child(match, "artifact", path)
    where = f"{path}.vulnerability"
    vulnerability_id = reader.required_text(vulnerability, "id", where)
    related = [
        reader.text(item, "id", p) for p, item in reader.objects(match, "relatedVulnerabilities", path)
    ]
    locations = reader.objects(artifact, "locations", f"{path}.artifact")
    return Vulnerability(
        id=vulnerability_id,
        severity=normalize_severity(
            reader.text(vulnerability, "severity", where),
            GRYPE_SEVERITIES,
            reader=reader,
            path=f"{where}.severity",
        ),
        package=reader.required_text(artifact, "name", f"{path}.artifact"),
        installed_version=reader.text(artifact, "version", f"{path}.artifact"),
        fixed_versions=reader.texts(reader.child(vulnerability, "fix", where), "versions", f"{where}.fix"),
        aliases=tuple(dict.fromkeys(alias for alias in related if alias and alias != vulnerability_id)),
        purl=reader.text(artifact, "purl", f"{path}.artifact") or None,
        target=reader.text(locations[0][1], "path", locations[0][0]) if locations else None,
        title=_short(reader.text(vulnerability, "description", where)),
    )


def _grype_ignore_reason(reader: JsonReader, path: str, match: dict[str, Any]) -> str | None:
    rules = reader.objects(match, "appliedIgnoreRules", path)
    reasons = [reader.text(rule, "reason", p) or reader.text(rule, "vulnerability", p) for p, rule in rules]
    return "; ".join(reason for reason in reasons if reason) or None


def _short(text: str | None) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    return text if len(text) <= _TITLE_LIMIT else text[: _TITLE_LIMIT - 1] + "…"
