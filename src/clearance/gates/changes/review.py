"""The CAB's side of change requests on the store: approve or reject one (refusing the decisions the
rules forbid, audited), list them, and the record of one as `change show`, `gates` and `release show`
give it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import Refused, UsageError
from clearance.gates.changes.cab import OPEN, ChangeState, rule_for
from clearance.gates.changes.outcome import facts_of, implementation_note
from clearance.gates.changes.policy import ChangeControlPolicy
from clearance.gates.changes.requests import change_policy
from clearance.gates.changes.risk import ChangeKind
from clearance.gates.changes.service import find_change, judge_request
from clearance.store import Deployment, Release
from clearance.store.tables import ChangeDecisionRow, ChangeRequestRow, UserRow, utcnow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

__all__ = ["change_json", "decide_change", "list_changes", "release_changes", "summary"]


def release_changes(session: Session, release: Release) -> list[ChangeRequestRow]:
    query = select(ChangeRequestRow).where(ChangeRequestRow.release_id == release.id)
    return list(session.scalars(query.order_by(ChangeRequestRow.id)))


def summary(row: ChangeRequestRow) -> dict[str, Any]:
    """A change request in one line's worth of facts (for `release show` and `gates`)."""
    return {
        "id": row.id,
        "environment": row.environment,
        "kind": row.kind,
        "state": row.state,
        "risk_level": row.risk_level,
        "risk_score": row.risk_score,
        "reason": row.reason,
    }


def list_changes(
    session: Session, project_id: int, *, environment: str | None = None, state: str | None = None
) -> list[ChangeRequestRow]:
    query = select(ChangeRequestRow).where(ChangeRequestRow.project_id == project_id)
    if environment is not None:
        query = query.where(ChangeRequestRow.environment == environment)
    if state is not None:
        query = query.where(ChangeRequestRow.state == state)
    return list(session.scalars(query.order_by(ChangeRequestRow.id.desc())))


def _policy(ws: Workspace, row: ChangeRequestRow) -> ChangeControlPolicy:
    policy = change_policy(ws, row.environment)
    if policy is None:
        raise UsageError(
            f"{row.environment} is no longer under change control: nothing to decide",
            code="change-control-off",
            hint=f"add `change_control: true` to {row.environment} in clearance.yaml",
        )
    return policy


def _check_flag(row: ChangeRequestRow, approve: bool, emergency: bool) -> None:
    if emergency and row.kind != ChangeKind.EMERGENCY.value:
        raise UsageError(
            f"change request #{row.id} is a {row.kind} change: --emergency is for emergency changes",
            code="change-not-emergency",
        )
    if approve and not emergency and row.kind == ChangeKind.EMERGENCY.value:
        raise UsageError(
            f"change request #{row.id} is an emergency change: approve it with --emergency "
            "(an emergency approval lets it through freeze windows)",
            code="change-emergency-needed",
        )


def _roles_for(policy: ChangeControlPolicy, row: ChangeRequestRow, approve: bool) -> list[str]:
    """The roles whose holders may take this decision: the rule's to approve, the CAB's too to reject."""
    rule = rule_for(policy, ChangeKind(row.kind))
    roles = [r for req in rule for r in req.roles]
    if not approve:
        roles += policy.cab_roles()
    return list(dict.fromkeys(r.value for r in roles))


def _refusal(
    session: Session, policy: ChangeControlPolicy, row: ChangeRequestRow, actor: str, approve: bool
) -> Refused | None:
    if row.state not in OPEN:
        return Refused(
            f"change request #{row.id} is {row.state}: closed, no decision can change it",
            code="change-closed",
            hint="deploying the release again opens a new change request",
        )
    if approve and row.kind == ChangeKind.STANDARD.value:
        return Refused(
            f"change request #{row.id} is a standard change: pre-approved, there is nothing to approve",
            code="change-standard",
        )
    user = session.scalars(select(UserRow).where(UserRow.name == actor)).first()
    if user is None:
        return Refused(
            f"{actor} is not a known user and may not approve or reject",
            code="approver-unknown",
            hint=f"`clearance user add {actor} --role ROLE` (by someone who manages users)",
        )
    needed = _roles_for(policy, row, approve)
    if not {r.role for r in user.roles} & set(needed):
        return Refused(
            f"{actor} holds none of the roles this decision needs ({', '.join(needed)})",
            code="approver-role-missing",
            hint=f"`clearance user grant {actor} ROLE`",
        )
    if policy.separation_of_duties and actor in (row.requested_by, row.release.created_by):
        did = "requested this change" if actor == row.requested_by else "created the release"
        return Refused(
            f"{actor} {did} and may not approve or reject change request #{row.id} (separation of duties)",
            code="separation-of-duties",
            hint="someone else holding a role the rule needs must decide",
        )
    return None


def _settle(ws: Workspace, session: Session, policy: ChangeControlPolicy, row: ChangeRequestRow) -> None:
    verdict = judge_request(session, policy, row)
    subject = f"change:{row.id}"
    if verdict.rejected_by is not None:
        by = verdict.rejected_by
        row.state, row.decided_at = ChangeState.REJECTED.value, utcnow()
        row.reason = f"rejected by {by.approver}: {by.comment}"
        data = {"change_request_id": row.id, "rejected_by": by.approver, "comment": by.comment}
        record(session, actor=ws.actor, tag="change:rejected", subject=subject, data=data)
    elif verdict.approved and row.state == ChangeState.PENDING.value:
        row.state, row.decided_at = ChangeState.APPROVED.value, utcnow()
        row.reason = f"approved by {', '.join(verdict.approved_by)}"
        data = {"change_request_id": row.id, "automatic": False, "approved_by": list(verdict.approved_by)}
        record(session, actor=ws.actor, tag="change:approved", subject=subject, data=data)


def decide_change(
    ws: Workspace, change_id: int, *, approve: bool, comment: str, emergency: bool = False
) -> ChangeRequestRow:
    """Record the actor's approval or rejection of a change request; the request is approved once its
    rule is met and rejected by one rejection. Refused (audited, exit 3) when the actor may not decide."""
    if not approve and not comment.strip():
        raise UsageError("a rejection needs a reason", hint="--comment 'what must change'")
    action = "approve" if approve else "reject"
    with ws.store.transaction() as session:
        row = find_change(session, ws.project_id, change_id)
        policy = _policy(ws, row)
        _check_flag(row, approve, emergency)
        refusal = _refusal(session, policy, row, ws.actor, approve)
        if refusal is None:
            held = {
                r.role for r in session.scalars(select(UserRow).where(UserRow.name == ws.actor)).one().roles
            }
            decision = ChangeDecisionRow(
                approver=ws.actor,
                decision=action,
                roles=[r for r in _roles_for(policy, row, approve) if r in held],
                emergency=emergency,
                comment=comment.strip(),
            )
            row.decisions.append(decision)
            session.flush()
            data = {"change_request_id": row.id, "decision_id": decision.id, "decision": action}
            data |= {"emergency": emergency, "roles": decision.roles, "comment": decision.comment}
            record(session, actor=ws.actor, tag="change:decided", subject=f"change:{row.id}", data=data)
            _settle(ws, session, policy, row)
            return row
    with ws.store.transaction() as session:
        data = {
            "change_request_id": change_id,
            "decision": action,
            "code": refusal.code,
            "reason": refusal.message,
        }
        record(session, actor=ws.actor, tag="change:refused", subject=f"change:{change_id}", data=data)
    raise refusal


def _deployments(rows: list[Deployment]) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "service": d.service,
            "state": d.state,
            "reason": d.reason,
            "requested_by": d.requested_by,
            "created_at": d.created_at.isoformat(),
            "finished_at": d.finished_at.isoformat() if d.finished_at else None,
            "scheduled_at": d.scheduled_at.isoformat() if d.scheduled_at else None,
        }
        for d in rows
    ]


def _untouched(row: ChangeRequestRow) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "approver": d.approver,
            "decision": d.decision,
            "emergency": d.emergency,
            "roles": list(d.roles),
            "comment": d.comment,
            "decided_at": d.decided_at.isoformat(),
            "state": "unjudged",
            "note": f"{row.environment} is no longer under change control",
        }
        for d in row.decisions
    ]


def change_json(ws: Workspace, session: Session, row: ChangeRequestRow) -> dict[str, Any]:
    """One change request: its risk and why, its rule and who has approved, its decisions (each with
    whether it counts) and the deployments that implement it."""
    policy = change_policy(ws, row.environment)
    query = select(Deployment).where(Deployment.change_request_id == row.id).order_by(Deployment.id)
    deployments = list(session.scalars(query))
    document: dict[str, Any] = {
        "id": row.id,
        "version": row.release.version,
        "release_type": row.release.type,
        "environment": row.environment,
        "services": list(row.services),
        "kind": row.kind,
        "state": row.state,
        "reason": row.reason,
        "risk": {"level": row.risk_level, "score": row.risk_score, "factors": list(row.risk_factors)},
        "rollback_plan": row.rollback_plan,
        "requested_by": row.requested_by,
        "created_at": row.created_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "approval": None,
        "decisions": [],
        "deployments": _deployments(deployments),
        "implementation": implementation_note(row.state, facts_of(deployments)),
    }
    if policy is not None:
        verdict = judge_request(session, policy, row)
        document["approval"] = {
            "rule": [str(r) for r in rule_for(policy, ChangeKind(row.kind))],
            "emergency": row.kind == ChangeKind.EMERGENCY.value,
            "separation_of_duties": policy.separation_of_duties,
            "approved_by": list(verdict.approved_by),
            "still_needed": list(verdict.still_needed) if row.state in OPEN else [],
        }
        document["decisions"] = [j.to_json() for j in verdict.judged]
    else:  # the environment left change control: the decisions as they were taken
        document["decisions"] = _untouched(row)
    return document
