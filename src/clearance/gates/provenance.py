"""Provenance gates: `signature: required` (a trusted signature over every artifact's digest) and
`evidence_fresh` (no report the other gates use is older than `max_age`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from clearance.gates.base import EvidenceFact, GateFacts, GateResult, GateStatus
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
    """The newest report of every kind the release has must be younger than `max_age`."""

    type = "evidence_fresh"
    families = ()

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, FreshnessPolicy)
        families = dict.fromkeys(fact.family for fact in facts.evidence)
        used: list[EvidenceFact] = [fact for family in families for fact in facts.newest(family)]
        if not used:
            return GateResult(gate=self.type, status=GateStatus.MISSING, reason="no evidence to be fresh")
        limit = timedelta(seconds=policy.max_age)
        stale = [f for f in used if facts.now - f.added_at > limit]
        if stale:
            names = ", ".join(f"{f.kind} {f.source} ({_days(facts.now - f.added_at)} old)" for f in stale)
            reason = f"evidence older than {_days(limit)}: {names}"
            return GateResult(gate=self.type, status=GateStatus.FAIL, reason=reason, evidence=tuple(stale))
        oldest = max(facts.now - f.added_at for f in used)
        reason = f"{len(used)} report(s), the oldest {_days(oldest)} old (max {_days(limit)})"
        return GateResult(gate=self.type, status=GateStatus.PASS, reason=reason, evidence=tuple(used))


def _days(age: timedelta) -> str:
    if age >= timedelta(days=1):
        return f"{age.total_seconds() / 86400:.1f}d"
    return f"{age.total_seconds() / 3600:.1f}h"
