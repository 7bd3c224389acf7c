"""The gate-check contract: what a check is given (the release's facts), what it answers (a result),
and the `GateCheck` protocol every check — built-in or added later (approvals, windows) — follows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from clearance.gates.evidence import Evidence

if TYPE_CHECKING:
    from clearance.gates.approvals.decisions import ApprovalFacts

__all__ = [
    "ArtifactFact",
    "EvidenceFact",
    "GateCheck",
    "GateFacts",
    "GateResult",
    "GateStatus",
]


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    # No evidence to judge: a gate never passes silently for want of a report.
    MISSING = "missing"


@dataclass(frozen=True, kw_only=True)
class EvidenceFact:
    """One stored report as the gates see it."""

    id: int
    kind: str
    family: str
    source: str
    added_at: datetime
    report: Evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "source": self.source,
            "added_at": self.added_at.isoformat(),
        }


@dataclass(frozen=True, kw_only=True)
class ArtifactFact:
    name: str
    digest: str  # "sha256:<hex>"


@dataclass(frozen=True, kw_only=True)
class GateFacts:
    """Everything known about a release that gates judge, read from the store before checking."""

    version: str
    environment: str
    now: datetime
    evidence: tuple[EvidenceFact, ...] = ()  # newest first
    artifacts: tuple[ArtifactFact, ...] = ()
    envelopes: tuple[Mapping[str, Any], ...] = ()  # stored DSSE envelopes
    trusted_keys: Mapping[str, str] = field(default_factory=dict)  # keyid -> public key PEM
    approvals: ApprovalFacts | None = None  # decisions and roles, for the `approvals` gate

    def newest(self, family: str) -> tuple[EvidenceFact, ...]:
        """The newest report of each kind in `family` (a newer trivy scan replaces the older one)."""
        chosen: dict[str, EvidenceFact] = {}
        for fact in sorted(self.evidence, key=lambda f: (f.added_at, f.id), reverse=True):
            if fact.family == family:
                chosen.setdefault(fact.kind, fact)
        return tuple(chosen.values())


@dataclass(frozen=True, kw_only=True)
class GateResult:
    """A check's answer, with the reason a person reads and the evidence it used."""

    gate: str
    status: GateStatus
    reason: str
    evidence: tuple[EvidenceFact, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status is GateStatus.PASS


class GateCheck(Protocol):
    """One kind of gate. `type` is its key under `gates:` in clearance.yaml; `check` gets that key's
    validated policy (the model `policy_model` names) and the release's facts, and never does I/O."""

    @property
    def type(self) -> str: ...

    @property
    def families(self) -> tuple[str, ...]:
        """The evidence families it reads (for `evidence_fresh`); empty for checks of other facts."""
        ...

    def check(self, policy: Any, facts: GateFacts) -> GateResult: ...


def missing(gate: str, family: str, kinds: str) -> GateResult:
    """The result of a gate that has no evidence of `family` to judge."""
    return GateResult(
        gate=gate,
        status=GateStatus.MISSING,
        reason=f"no {family} evidence: add a {kinds} report with `clearance evidence add`",
    )
