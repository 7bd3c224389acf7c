"""Judging the approve and reject decisions of one release in one environment against its rule, and
the `approvals` gate check built on that. Pure: `approvals.service` reads the facts from the store.

The rules, in order, for every person's newest decision (older ones are `superseded`):
- an approval counts only while the release's content hash is the one it approved (else `stale`);
- under separation of duties, the release's creator and the deployment's requester do not count
  (`excluded`);
- it counts for the roles the approver held when approving and still holds (else `no-role`), and
  each person fills one requirement only, so "1 qa-lead" and "1 release-manager" are two people;
- a rejection blocks until a newer counting approval by someone holding one of the rejecting
  person's roles supersedes it; a change of content does not lift a rejection.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clearance.gates.approvals.rules import ApprovalPolicy, Requirement
from clearance.gates.base import GateFacts, GateResult, GateStatus

__all__ = ["ApprovalFacts", "ApprovalsGate", "Decision", "Judged", "assign", "content_hash", "judge"]


def content_hash(version: str, artifact_digests: Iterable[str], evidence_digests: Iterable[str]) -> str:
    """sha256 of the canonical JSON of what an approval vouches for: version, artifacts and evidence."""
    document = {
        "version": version,
        "artifacts": sorted(artifact_digests),
        "evidence": sorted(evidence_digests),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Decision:
    """One approval (`approve=True`) or rejection, as stored."""

    id: int
    approver: str
    approve: bool
    roles: tuple[str, ...]  # the roles the rule needs that the approver held when deciding
    content_hash: str
    comment: str
    decided_at: datetime


@dataclass(frozen=True, kw_only=True)
class ApprovalFacts:
    """What the approvals gate judges: decisions for this environment, who holds which role now."""

    content_hash: str
    decisions: tuple[Decision, ...] = ()
    holders: Mapping[str, frozenset[str]] | None = None  # user -> roles held now
    creator: str = ""
    requester: str | None = None  # the deployment's requester, when judging a deployment
    production: bool = False


@dataclass(frozen=True, kw_only=True)
class Judged:
    decision: Decision
    state: str  # valid | stale | superseded | excluded | no-role | blocking
    note: str = ""
    counts_as: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d = self.decision
        return {
            "id": d.id,
            "approver": d.approver,
            "decision": "approve" if d.approve else "reject",
            "roles": list(d.roles),
            "comment": d.comment,
            "decided_at": d.decided_at.isoformat(),
            "state": self.state,
            "note": self.note,
        }


def _judge_approval(d: Decision, policy: ApprovalPolicy, facts: ApprovalFacts) -> Judged:
    if d.content_hash != facts.content_hash:
        return Judged(decision=d, state="stale", note="the release's artifacts or evidence changed since")
    if policy.separated(facts.production):
        if d.approver == facts.creator:
            return Judged(decision=d, state="excluded", note="created the release (separation of duties)")
        if d.approver == facts.requester:
            note = "requests this deployment (separation of duties)"
            return Judged(decision=d, state="excluded", note=note)
    held = (facts.holders or {}).get(d.approver, frozenset())
    counts = tuple(r for r in d.roles if r in held and r in policy.roles())
    if not counts:
        return Judged(decision=d, state="no-role", note=f"no longer holds {' or '.join(d.roles) or 'a role'}")
    return Judged(decision=d, state="valid", counts_as=counts)


def judge(policy: ApprovalPolicy, facts: ApprovalFacts) -> list[Judged]:
    """Every decision with its state, oldest first."""
    ordered = sorted(facts.decisions, key=lambda d: (d.decided_at, d.id))
    newest = {d.approver: d for d in ordered}
    judged: list[Judged] = []
    for d in ordered:
        if newest[d.approver] is not d:
            judged.append(Judged(decision=d, state="superseded", note=f"{d.approver} decided again later"))
        elif d.approve:
            judged.append(_judge_approval(d, policy, facts))
        else:
            judged.append(Judged(decision=d, state="blocking"))
    valid = [j for j in judged if j.state == "valid"]
    for i, j in enumerate(judged):
        if j.state != "blocking":
            continue
        later = [
            v
            for v in valid
            if v.decision.decided_at >= j.decision.decided_at and set(v.counts_as) & set(j.decision.roles)
        ]
        if later:
            note = f"superseded by {later[0].decision.approver}'s approval"
            judged[i] = Judged(decision=j.decision, state="superseded", note=note)
    return judged


def assign(requirements: Sequence[Requirement], approvers: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The approvers filling each requirement, each person in one place only (a bipartite matching,
    so that a person holding two roles goes where nobody else can)."""
    slots = [i for i, req in enumerate(requirements) for _ in range(req.count)]
    taken: dict[int, str] = {}  # slot -> approver

    def place(person: str, seen: set[int]) -> bool:
        for s, req_index in enumerate(slots):
            if s in seen or not set(requirements[req_index].roles) & set(approvers[person]):
                continue
            seen.add(s)
            if s not in taken or place(taken[s], seen):
                taken[s] = person
                return True
        return False

    for person in sorted(approvers):
        place(person, set())
    filled: list[list[str]] = [[] for _ in requirements]
    for s, person in sorted(taken.items()):
        filled[slots[s]].append(person)
    return [sorted(people) for people in filled]


class ApprovalsGate:
    """`approvals:` under an environment's `gates:`: pass when its rule is met by valid approvals."""

    type = "approvals"
    families = ()

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, ApprovalPolicy)
        known = facts.approvals or ApprovalFacts(content_hash="")
        judged = judge(policy, known)
        valid = {j.decision.approver: j.counts_as for j in judged if j.state == "valid"}
        filled = assign(policy.require, valid)
        needed = [
            str(Requirement(count=req.count - len(got), roles=req.roles))
            for req, got in zip(policy.require, filled, strict=True)
            if len(got) < req.count
        ]
        approved_by = [f"{p} ({', '.join(valid[p])})" for got in filled for p in got]
        details = {
            "required": [str(r) for r in policy.require],
            "separation_of_duties": policy.separated(known.production),
            "approved_by": [{"approver": p, "roles": list(valid[p])} for got in filled for p in got],
            "still_needed": needed,
            "decisions": [j.to_json() for j in judged],
        }
        notes = [f"{j.decision.approver}: {j.state}, {j.note}" for j in judged if j.state in _NOTED]
        blocking = [j for j in judged if j.state == "blocking"]
        if blocking:
            reason = "; ".join(
                f"rejected by {j.decision.approver} ({', '.join(j.decision.roles)}): {j.decision.comment} — "
                f"a newer approval by a {' or '.join(j.decision.roles)} supersedes it"
                for j in blocking
            )
            status = GateStatus.FAIL
        elif not needed:
            reason, status = f"approved by {', '.join(approved_by)}", GateStatus.PASS
        elif not valid:
            reason = f"no valid approval: needs {', '.join(needed)}"
            status = GateStatus.MISSING
        else:
            reason = f"still needs {', '.join(needed)}; approved by {', '.join(approved_by) or 'nobody'}"
            status = GateStatus.FAIL
        if notes and status is not GateStatus.PASS:
            reason += "; " + "; ".join(notes)
        return GateResult(gate=self.type, status=status, reason=reason, details=details)


_NOTED = ("stale", "excluded", "no-role")
