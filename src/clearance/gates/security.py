"""Security gates: `vulnerabilities` (counts by severity, with dated ignores), `sast` (the highest
SARIF level allowed) and `licenses` (SPDX ids the SBOM must not contain)."""

from __future__ import annotations

from datetime import date
from typing import Any

from clearance.gates.base import GateFacts, GateResult, GateStatus, missing
from clearance.gates.evidence import SastReport, Sbom, Vulnerability, VulnerabilityReport
from clearance.gates.policies import LicensesPolicy, SastPolicy, VulnerabilityIgnore, VulnerabilityPolicy

__all__ = ["LicensesGate", "SastGate", "VulnerabilitiesGate", "count_vulnerabilities"]


def count_vulnerabilities(
    found: list[Vulnerability], ignores: tuple[VulnerabilityIgnore, ...], today: date
) -> tuple[dict[str, int], list[str], list[str]]:
    """Counts by lower-case severity of what is not ignored; the ignores applied; the expired ignores
    that still match a finding (each a sentence naming the id and the day it expired)."""
    counts: dict[str, int] = {}
    applied: list[str] = []
    expired: list[str] = []
    seen: set[tuple[str, str]] = set()
    for vulnerability in found:
        if (vulnerability.id, vulnerability.package) in seen:  # two scanners, one finding
            continue
        seen.add((vulnerability.id, vulnerability.package))
        ignore = next((i for i in ignores if vulnerability.matches(i.id)), None)
        if ignore is not None and ignore.until >= today:
            applied.append(ignore.id)
            continue
        if ignore is not None:
            expired.append(
                f"ignore of {ignore.id} expired on {ignore.until.isoformat()} ({vulnerability.package})"
            )
        name = vulnerability.severity.value.lower()
        counts[name] = counts.get(name, 0) + 1
    return counts, sorted(set(applied)), expired


class VulnerabilitiesGate:
    type = "vulnerabilities"
    families = ("vulnerabilities",)

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, VulnerabilityPolicy)
        used = facts.newest("vulnerabilities")
        if not used:
            return missing(self.type, "vulnerability", "trivy, grype or pip-audit JSON")
        found = [
            v for u in used if isinstance(u.report, VulnerabilityReport) for v in u.report.vulnerabilities
        ]
        counts, applied, expired = count_vulnerabilities(found, policy.ignore, facts.now.date())
        over = [
            f"{counts.get(name, 0)} {name} (max {limit})"
            for name, limit in policy.max.items()
            if counts.get(name, 0) > limit
        ]
        details = {"counts": counts, "ignored": applied, "expired_ignores": expired}
        if over or expired:
            return GateResult(
                gate=self.type,
                status=GateStatus.FAIL,
                reason="; ".join(over + expired),
                evidence=used,
                details=details,
            )
        shown = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "no vulnerabilities"
        if applied:
            shown += f" ({len(applied)} ignored: {', '.join(applied)})"
        return GateResult(
            gate=self.type, status=GateStatus.PASS, reason=shown, evidence=used, details=details
        )


class SastGate:
    type = "sast"
    families = ("sast",)

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, SastPolicy)
        used = facts.newest("sast")
        if not used:
            return missing(self.type, "static-analysis", "SARIF")
        reports = [u.report for u in used if isinstance(u.report, SastReport)]
        broken = [
            error for r in reports if not r.execution_successful for error in r.tool_errors or ("failed",)
        ]
        above = [f for r in reports for f in r.above(policy.max_level)]
        rules = sorted({f.rule_id or "?" for f in above})
        details = {"above": len(above), "rules": rules, "max_level": policy.max_level}
        if broken:
            reason = f"the analysis did not run to the end: {broken[0]}"
            return GateResult(
                gate=self.type, status=GateStatus.FAIL, reason=reason, evidence=used, details=details
            )
        if above:
            reason = f"{len(above)} finding(s) above {policy.max_level}: {', '.join(rules)}"
            return GateResult(
                gate=self.type, status=GateStatus.FAIL, reason=reason, evidence=used, details=details
            )
        active = sum(len(r.active) for r in reports)
        reason = f"{active} finding(s), none above {policy.max_level}"
        return GateResult(
            gate=self.type, status=GateStatus.PASS, reason=reason, evidence=used, details=details
        )


class LicensesGate:
    type = "licenses"
    families = ("sbom",)

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, LicensesPolicy)
        used = facts.newest("sbom")
        if not used:
            return missing(self.type, "SBOM", "CycloneDX JSON")
        matches = [
            m for u in used if isinstance(u.report, Sbom) for m in u.report.licensed_under(policy.deny)
        ]
        hits = sorted({f"{m.component.name} ({m.spdx_id})" for m in matches})
        components = sum(len(u.report.components) for u in used if isinstance(u.report, Sbom))
        if hits:
            reason = f"denied licence in {len(hits)} component(s): {', '.join(hits)}"
            return GateResult(
                gate=self.type, status=GateStatus.FAIL, reason=reason, evidence=used, details={"denied": hits}
            )
        reason = f"{components} component(s), none under {', '.join(policy.deny)}"
        return GateResult(gate=self.type, status=GateStatus.PASS, reason=reason, evidence=used)
