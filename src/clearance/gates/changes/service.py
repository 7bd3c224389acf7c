"""Change requests before a deployment: the request a deployment to a change-controlled environment
implements (found or opened by `requests`) judged by the CAB's rule, the gates judged with the
bypass an approved emergency change allows, and the queued deployments tied to it. Decisions are in
`review`, endings in `outcome`; the rules are pure, in `policy`, `risk` and `cab`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import NotFound, Refused
from clearance.gates.changes.cab import CabFacts, CabVerdict, ChangeDecision, ChangeState, judge_change
from clearance.gates.changes.policy import ChangeControlPolicy
from clearance.gates.changes.requests import change_policy, current_request
from clearance.gates.changes.risk import (
    ChangeKind,
)
from clearance.gates.evaluation import GateVerdict
from clearance.gates.verdicts import check_gates
from clearance.store import Deployment, Release
from clearance.store.tables import ChangeRequestRow, UserRoleRow, UserRow

if TYPE_CHECKING:
    from datetime import datetime

    from clearance.workspace import Workspace

__all__ = [
    "ChangeClearance",
    "check_change",
    "find_change",
    "implement_change",
    "judge_request",
]


@dataclass(frozen=True)
class ChangeClearance:
    """An approved change request a deployment may go ahead under, and the gates its emergency
    approval let through (the windows gate only)."""

    change_request_id: int
    bypassed: tuple[GateVerdict, ...] = ()


def find_change(session: Session, project_id: int, change_id: int) -> ChangeRequestRow:
    row = session.get(ChangeRequestRow, change_id)
    if row is None or row.project_id != project_id:
        raise NotFound(
            f"no change request #{change_id} in this project",
            hint="`clearance change list` shows them",
            code="change-unknown",
        )
    return row


def _holders(session: Session, people: Collection[str]) -> dict[str, frozenset[str]]:
    query = select(UserRow.name, UserRoleRow.role).join(UserRoleRow).where(UserRow.name.in_(list(people)))
    held: dict[str, set[str]] = {p: set() for p in people}
    for name, role in session.execute(query):
        held[name].add(role)
    return {p: frozenset(r) for p, r in held.items()}


def judge_request(
    session: Session, policy: ChangeControlPolicy, row: ChangeRequestRow, deployer: str | None = None
) -> CabVerdict:
    """The CAB's verdict on `row` now; `deployer`'s own approvals do not count for their deployment."""
    decisions = tuple(
        ChangeDecision(
            id=d.id,
            approver=d.approver,
            approve=d.decision == "approve",
            emergency=d.emergency,
            roles=tuple(d.roles),
            comment=d.comment,
            decided_at=d.decided_at,
        )
        for d in row.decisions
    )
    facts = CabFacts(
        kind=ChangeKind(row.kind),
        decisions=decisions,
        holders=_holders(session, {d.approver for d in decisions}),
        creator=row.release.created_by,
        requester=row.requested_by,
        deployer=deployer,
    )
    return judge_change(policy, facts)


def _unapproved(row: ChangeRequestRow, verdict: CabVerdict, version: str) -> Refused:
    what = f"change request #{row.id} ({row.kind} change, risk {row.risk_level})"
    emergency = row.kind == ChangeKind.EMERGENCY.value
    needs = f"needs {'an emergency approval by ' if emergency else ''}{', '.join(verdict.still_needed)}"
    message = f"release {version} may not be deployed to {row.environment}: {what} is not approved: {needs}"
    if verdict.approved_by:
        message += f"; approved by {', '.join(verdict.approved_by)}"
    if notes := verdict.notes():
        message += "; " + "; ".join(notes)
    if row.reason:
        message += f" ({row.reason})"
    flag = " --emergency" if emergency else ""
    return Refused(
        message,
        code="change-not-approved",
        hint=f"`clearance change approve {row.id}{flag} --comment …` by someone the rule names; "
        f"see `clearance change show {row.id}`",
        data={"change_request_id": row.id, "kind": row.kind, "still_needed": list(verdict.still_needed)},
    )


def _scheduled_under(
    session: Session, release: Release, environment: str, change_request_id: int
) -> ChangeRequestRow:
    row = session.get(ChangeRequestRow, change_request_id)
    assert row is not None  # a foreign key of the deployment
    if row.state != ChangeState.APPROVED.value:
        why = f": {row.reason}" if row.reason else ""
        raise Refused(
            f"release {release.version} may not be deployed to {environment}: change request #{row.id}, "
            f"under which it was scheduled, is {row.state}{why}",
            code="change-not-approved",
            hint="deploy the release again: that opens a new change request for the CAB",
            data={"change_request_id": row.id, "kind": row.kind, "state": row.state},
        )
    return row


def check_change(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    services: Sequence[str],
    *,
    at: datetime | None = None,
    requester: str | None = None,
    change_request_id: int | None = None,
) -> ChangeClearance | None:
    """The gates, and in a change-controlled environment the change request: found or opened (and
    committed with the caller's transaction even when the deployment is refused, as the record of
    the request), then required approved. An approved emergency change lets the windows gate through.
    With `change_request_id` (a scheduled deployment's, when its time comes) that request is judged,
    never a new one opened: a request closed since refuses the deployment."""
    policy = change_policy(ws, environment)
    if policy is None:
        check_gates(ws, session, release, environment, at=at, requester=requester)
        return None
    if change_request_id is not None:
        row = _scheduled_under(session, release, environment, change_request_id)
    else:
        row = current_request(ws, session, release, environment, services, policy, at, requester or ws.actor)
    verdict = judge_request(session, policy, row, deployer=requester or ws.actor)
    emergency = row.kind == ChangeKind.EMERGENCY.value
    bypass = ("windows",) if emergency and verdict.approved else ()
    try:
        bypassed = check_gates(ws, session, release, environment, at=at, requester=requester, bypass=bypass)
    except Refused as exc:
        exc.data["change_request_id"] = row.id
        frozen = any(g.get("gate") == "windows" for g in exc.data.get("gates", []))
        if emergency and frozen and not verdict.approved:
            exc.hint = (
                f"change request #{row.id} is an emergency change: approved with `clearance change approve "
                f"{row.id} --emergency` ({', '.join(verdict.still_needed)}), it may be deployed in a freeze"
            )
        raise
    if not verdict.approved:
        raise _unapproved(row, verdict, release.version)
    return ChangeClearance(row.id, tuple(bypassed))


def implement_change(
    ws: Workspace, session: Session, clearance: ChangeClearance, deployments: Sequence[Deployment]
) -> None:
    """Tie the queued deployments to their change request, and audit a freeze it lets them through."""
    row = session.get(ChangeRequestRow, clearance.change_request_id)
    assert row is not None
    ids = [d.id for d in deployments]
    for deployment in deployments:
        deployment.change_request_id = row.id
    subject = f"change:{row.id}"
    data = {"change_request_id": row.id, "deployment_ids": ids, "environment": row.environment}
    record(session, actor=ws.actor, tag="change:implementing", subject=subject, data=data)
    if clearance.bypassed:
        approvers = [d.approver for d in row.decisions if d.decision == "approve" and d.emergency]
        data = {
            "change_request_id": row.id,
            "deployment_ids": ids,
            "emergency_approvers": approvers,
            "gates": [v.to_json() for v in clearance.bypassed],
        }
        record(session, actor=ws.actor, tag="change:freeze-bypassed", subject=subject, data=data)
