"""Provenance gates: `signature: required` (a trusted signature over every artifact's digest) and
`evidence_fresh` (no report the other gates use was produced longer than `max_age` ago)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clearance.gates.base import EvidenceFact, GateFacts, GateResult, GateStatus
from clearance.gates.evidence.timestamps import FUTURE_SLACK
from clearance.gates.policies import FreshnessPolicy

__all__ = ["FreshnessGate", "SignatureGate"]


class SignatureGate:
    type = "signature"
    families = ()

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert policy == "required"
        from clearance.gates.artifacts.attestation import verify_envelope  # cryptography, when used

        if not facts.artifacts:
            return GateResult(
                gate=self.type,
                status=GateStatus.MISSING,
                reason="the release has no artifacts: add them with `clearance artifact add`",
            )
        if not facts.envelopes:
            return GateResult(
                gate=self.type,
                status=GateStatus.MISSING,
                reason="the release's artifacts are not signed: `clearance artifact sign`",
            )
        if not facts.trusted_keys:
            reason = f"environment {facts.environment} trusts no key: add `trusted_keys` to clearance.yaml"
            return GateResult(gate=self.type, status=GateStatus.FAIL, reason=reason)
        checked = [verify_envelope(e, facts.trusted_keys, facts.artifacts) for e in facts.envelopes]
        details = {"signatures": [v.to_json() for v in checked]}
        valid = next((v for v in checked if v.valid), None)
        if valid is not None:
            return GateResult(gate=self.type, status=GateStatus.PASS, reason=valid.reason, details=details)
        reasons = "; ".join(dict.fromkeys(v.reason for v in checked))
        return GateResult(
            gate=self.type, status=GateStatus.FAIL, reason=f"no valid signature: {reasons}", details=details
        )


class FreshnessGate:
    """The newest report of every kind the release has must be younger than `max_age`.

    A report is as old as the time it says it was produced (a test run, a scan): adding an old report
    again does not make it fresh. A report that gives no time (pip-audit, most SARIF logs) is judged by
    when it was added, and the reason says which time was used.
    """

    type = "evidence_fresh"
    families = ()

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, FreshnessPolicy)
        families = dict.fromkeys(fact.family for fact in facts.evidence)
        used: list[EvidenceFact] = [fact for family in families for fact in facts.newest(family)]
        if not used:
            return GateResult(gate=self.type, status=GateStatus.MISSING, reason="no evidence to be fresh")
        limit = timedelta(seconds=policy.max_age)
        ages = [_Age.of(fact, facts.now) for fact in used]
        details = {"max_age_seconds": policy.max_age, "reports": [age.to_json() for age in ages]}
        stale = [age for age in ages if age.age > limit]
        if stale:
            names = "; ".join(f"{age.fact.kind} {age.describe()}" for age in stale)
            reason = f"evidence older than {_limit(limit)}: {names}"
            evidence = tuple(age.fact for age in stale)
            return GateResult(
                gate=self.type, status=GateStatus.FAIL, reason=reason, evidence=evidence, details=details
            )
        oldest = max(ages, key=lambda age: age.age)
        reason = f"{len(used)} report(s), the oldest, {oldest.describe(limit)}"
        return GateResult(
            gate=self.type, status=GateStatus.PASS, reason=reason, evidence=tuple(used), details=details
        )


@dataclass(frozen=True)
class _Age:
    """How old one report is, and by which time: the report's own, else when it was added."""

    fact: EvidenceFact
    age: timedelta
    by_report_time: bool
    ahead: bool = False  # the report's time was set aside: more than a day ahead of our clock

    @classmethod
    def of(cls, fact: EvidenceFact, now: datetime) -> _Age:
        produced = fact.report.produced_at  # None for reports stored before clearance read it
        ahead = produced is not None and produced > now + FUTURE_SLACK
        if ahead:
            produced = None  # a wrong clock, not an early report
        # A runner's clock a little ahead of ours makes a report from the future: it is 0 old.
        age = max(now - (produced or fact.added_at), timedelta(0))
        return cls(fact, age, by_report_time=produced is not None, ahead=ahead)

    def describe(self, limit: timedelta | None = None) -> str:
        """`junit.xml, ran 10.0 days ago (report time; max 7 days)` or `… was added 2.0 h ago (…)`."""
        verb = "ran" if self.by_report_time else "was added"
        why = (
            "report time"
            if self.by_report_time
            else "the report's own time is ahead of ours"
            if self.ahead
            else "the report gives no time"
        )
        bound = f"; max {_limit(limit)}" if limit is not None else ""
        return f"{self.fact.source}, {verb} {_age(self.age)} ago ({why}{bound})"

    def to_json(self) -> dict[str, Any]:
        produced = self.fact.report.produced_at
        return {
            **self.fact.to_json(),
            "produced_at": produced.isoformat() if produced else None,
            "judged_by": "produced_at" if self.by_report_time else "added_at",
            "age_seconds": round(self.age.total_seconds(), 3),
        }


def _age(age: timedelta) -> str:
    if age >= timedelta(days=1):
        return f"{age.total_seconds() / 86400:.1f} days"
    return f"{age.total_seconds() / 3600:.1f} h"


def _limit(limit: timedelta) -> str:
    """A configured duration as written by people: `7 days`, `1.5 days`, `12 h`."""
    days = round(limit.total_seconds() / 86400, 2)
    if days >= 1:
        return f"{days:g} day" + ("" if days == 1 else "s")
    return f"{round(limit.total_seconds() / 3600, 2):g} h"
