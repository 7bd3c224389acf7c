"""Quality gates: `tests` (failed and errored tests) and `coverage` (line and branch rates)."""

from __future__ import annotations

from typing import Any

from clearance.gates.base import GateFacts, GateResult, GateStatus, missing
from clearance.gates.evidence import CoverageReport, JUnitReport
from clearance.gates.policies import CoveragePolicy, TestsPolicy

__all__ = ["CoverageGate", "TestsGate"]

_SHOWN = 5  # failing names listed in a reason; the JSON carries all of them


class TestsGate:
    """Fails when more tests failed or errored than `max_failed`, or when no test ran or passed."""

    __test__ = False
    type = "tests"
    families = ("tests",)

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, TestsPolicy)
        used = facts.newest("tests")
        if not used:
            return missing(self.type, "test", "JUnit XML")
        reports = [u.report for u in used if isinstance(u.report, JUnitReport)]
        ran = sum(r.tests for r in reports)
        failing = [f"{c.name} ({c.outcome})" for r in reports for c in r.failures]
        details = {"tests": ran, "failing": failing, "max_failed": policy.max_failed}
        if ran == 0:
            return GateResult(
                gate=self.type, status=GateStatus.FAIL, reason="the report holds no tests", evidence=used
            )
        if not failing and sum(r.passed for r in reports) == 0:
            # Every test skipped: nothing was checked, which is no evidence that it works.
            return GateResult(
                gate=self.type,
                status=GateStatus.FAIL,
                reason=f"no test passed: all {ran} were skipped",
                evidence=used,
                details=details,
            )
        if len(failing) > policy.max_failed:
            names = ", ".join(failing[:_SHOWN]) + (
                f" and {len(failing) - _SHOWN} more" if len(failing) > _SHOWN else ""
            )
            return GateResult(
                gate=self.type,
                status=GateStatus.FAIL,
                reason=f"{len(failing)} failed of {ran} (max {policy.max_failed}): {names}",
                evidence=used,
                details=details,
            )
        return GateResult(
            gate=self.type,
            status=GateStatus.PASS,
            reason=f"{ran} tests, {len(failing)} failed (max {policy.max_failed})",
            evidence=used,
            details=details,
        )


class CoverageGate:
    """Fails when the line (or branch) rate is below the minimum, in percent."""

    type = "coverage"
    families = ("coverage",)

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, CoveragePolicy)
        used = facts.newest("coverage")
        if not used:
            return missing(self.type, "coverage", "Cobertura XML")
        report = used[0].report
        assert isinstance(report, CoverageReport)
        line, branch = report.line_rate, report.branch_rate  # percentages already
        details = {"line": round(line, 2), "branch": None if branch is None else round(branch, 2)}
        problems = []
        if policy.min_line is not None and line < policy.min_line:
            problems.append(f"line coverage {line:.1f}% is below {policy.min_line:g}%")
        if policy.min_branch is not None:
            if branch is None:
                problems.append("the report has no branch coverage (run coverage with --branch)")
            elif branch < policy.min_branch:
                problems.append(f"branch coverage {branch:.1f}% is below {policy.min_branch:g}%")
        if problems:
            return GateResult(
                gate=self.type,
                status=GateStatus.FAIL,
                reason="; ".join(problems),
                evidence=used,
                details=details,
            )
        shown = f"line {line:.1f}%" + ("" if branch is None else f", branch {branch:.1f}%")
        return GateResult(
            gate=self.type, status=GateStatus.PASS, reason=shown, evidence=used, details=details
        )
