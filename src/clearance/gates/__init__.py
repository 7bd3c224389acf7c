"""Gates: the evidence a release carries (parsed reports, signed artifacts) and the checks each
environment's `gates:` runs on it before a deployment. Approvals are a check like the others; windows (freeze and change windows) too.

The built-in checks are registered here, by name; `gates:` in clearance.yaml accepts exactly these."""

from __future__ import annotations

from collections.abc import Mapping

from clearance.gates.approvals.decisions import ApprovalsGate
from clearance.gates.base import GateCheck
from clearance.gates.provenance import FreshnessGate, SignatureGate
from clearance.gates.quality import CoverageGate, TestsGate
from clearance.gates.security import LicensesGate, SastGate, VulnerabilitiesGate
from clearance.gates.windows import WindowsGate

__all__ = ["CHECKS", "GateCheck"]

CHECKS: Mapping[str, GateCheck] = {
    check.type: check
    for check in (
        TestsGate(),
        CoverageGate(),
        VulnerabilitiesGate(),
        SastGate(),
        LicensesGate(),
        SignatureGate(),
        FreshnessGate(),
        ApprovalsGate(),
        WindowsGate(),
    )
}
