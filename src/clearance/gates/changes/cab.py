"""The life of a change request and the judging of the decisions on it. Pure: `changes.service`
reads the facts from the store.

    pending     -> approved (its rule is met; a standard change at once) | rejected | cancelled
    approved    -> implemented | failed (once all its deployments have finished, see `outcome`)
                   | rejected | cancelled (withdrawn while none of its deployments runs)
    implemented -> failed (backed out: `clearance rollback` of one of its deployments)
    rejected, implemented, failed, cancelled: closed (deploying again opens a new request)

A normal change needs the `cab` rule, an emergency change the `emergency.approvers` rule met by
`--emergency` approvals. For every person only the newest decision counts. Under separation of
duties, the request's requester, the release's creator and the person deploying do not count; an
approval counts for the roles the approver held when deciding and still holds, each person filling
one requirement only (as for `approvals:`). One counting rejection closes the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from clearance.gates.approvals.decisions import assign
from clearance.gates.approvals.rules import Requirement, Role
from clearance.gates.changes.policy import ChangeControlPolicy
from clearance.gates.changes.risk import ChangeKind

__all__ = ["OPEN", "CabFacts", "CabVerdict", "ChangeDecision", "ChangeState", "judge_change", "rule_for"]


class ChangeState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    IMPLEMENTED = "implemented"
    FAILED = "failed"
    CANCELLED = "cancelled"  # withdrawn by its requester or a release manager before it was implemented


OPEN = frozenset({ChangeState.PENDING, ChangeState.APPROVED})


@dataclass(frozen=True, kw_only=True)
class ChangeDecision:
    id: int
    approver: str
    approve: bool
    emergency: bool
    roles: tuple[str, ...]  # the roles of its rule the approver held when deciding
    comment: str
    decided_at: datetime


@dataclass(frozen=True, kw_only=True)
class CabFacts:
    kind: ChangeKind
    decisions: tuple[ChangeDecision, ...] = ()
    holders: Mapping[str, frozenset[str]] = field(default_factory=dict)  # person -> roles held now
    creator: str = ""  # the release's
    requester: str = ""  # the change request's
    deployer: str | None = None  # who deploys now, when judging a deployment


@dataclass(frozen=True, kw_only=True)
class Judged:
    decision: ChangeDecision
    state: str  # valid | superseded | excluded | no-role | not-emergency | rejecting
    note: str = ""
    counts_as: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = self.decision
        return {
            "id": d.id,
            "approver": d.approver,
            "decision": "approve" if d.approve else "reject",
            "emergency": d.emergency,
            "roles": list(d.roles),
            "comment": d.comment,
            "decided_at": d.decided_at.isoformat(),
            "state": self.state,
            "note": self.note,
        }


@dataclass(frozen=True, kw_only=True)
class CabVerdict:
    approved: bool
    rejected_by: ChangeDecision | None
    approved_by: tuple[str, ...]
    still_needed: tuple[str, ...]
    judged: tuple[Judged, ...]

    def notes(self) -> list[str]:
        return [f"{j.decision.approver}: {j.state}, {j.note}" for j in self.judged if j.state in _NOTED]


_NOTED = ("excluded", "no-role", "not-emergency")


def rule_for(policy: ChangeControlPolicy, kind: ChangeKind) -> tuple[Requirement, ...]:
    """The rule a change of `kind` needs; empty for a standard (pre-approved) change."""
    if kind is ChangeKind.STANDARD:
        return ()
    if kind is ChangeKind.EMERGENCY and policy.emergency is not None:
        return policy.emergency.approvers
    return policy.cab


def _excluded(person: str, policy: ChangeControlPolicy, facts: CabFacts) -> str | None:
    if not policy.separation_of_duties:
        return None
    if person == facts.creator:
        return "created the release (separation of duties)"
    if person == facts.requester:
        return "requested the change (separation of duties)"
    if person == facts.deployer:
        return "deploys it (separation of duties)"
    return None


def _judge_one(d: ChangeDecision, policy: ChangeControlPolicy, facts: CabFacts, roles: set[Role]) -> Judged:
    if (note := _excluded(d.approver, policy, facts)) is not None:
        return Judged(decision=d, state="excluded", note=note)
    if d.approve and facts.kind is ChangeKind.EMERGENCY and not d.emergency:
        return Judged(
            decision=d, state="not-emergency", note="an emergency change needs --emergency approvals"
        )
    held = facts.holders.get(d.approver, frozenset())
    counts = tuple(r for r in d.roles if r in held and r in roles)
    if not counts:
        return Judged(decision=d, state="no-role", note=f"no longer holds {' or '.join(d.roles) or 'a role'}")
    return Judged(decision=d, state="valid" if d.approve else "rejecting", counts_as=counts)


def judge_change(policy: ChangeControlPolicy, facts: CabFacts) -> CabVerdict:
    rule = rule_for(policy, facts.kind)
    roles = {role for req in rule for role in req.roles} | set(policy.cab_roles())
    ordered = sorted(facts.decisions, key=lambda d: (d.decided_at, d.id))
    newest = {d.approver: d for d in ordered}
    judged = tuple(
        _judge_one(d, policy, facts, roles)
        if newest[d.approver] is d
        else Judged(decision=d, state="superseded", note=f"{d.approver} decided again later")
        for d in ordered
    )
    rejecting = [j.decision for j in judged if j.state == "rejecting"]
    valid = {j.decision.approver: j.counts_as for j in judged if j.state == "valid"}
    filled = assign(rule, valid) if rule else []
    needed = tuple(
        str(Requirement(count=req.count - len(got), roles=req.roles))
        for req, got in zip(rule, filled, strict=True)
        if len(got) < req.count
    )
    approved_by = tuple(f"{p} ({', '.join(valid[p])})" for got in filled for p in got)
    return CabVerdict(
        approved=not rejecting and not needed,
        rejected_by=rejecting[-1] if rejecting else None,
        approved_by=approved_by,
        still_needed=needed,
        judged=judged,
    )
