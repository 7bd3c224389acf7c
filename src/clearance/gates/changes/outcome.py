"""How a change request ends: settled from its deployments once all of them have finished, backed out
by a rollback, and the deployments a server runs at their scheduled time tied to it.

    all finished, one that started did not succeed  -> failed
    all finished, each service's succeeded           -> implemented
    all finished, only cancelled/refused before run -> stays approved, "not implemented" (a deployment
                                                       that never started changed nothing: the CAB's
                                                       approval stands and deploying again uses it)
    implemented, then `clearance rollback`           -> failed, backed out (ITIL: a change remediated
                                                       by its back-out plan is an unsuccessful change)
    pending or approved, `clearance change cancel`   -> cancelled (withdrawn: its deployments still
                                                       waiting are cancelled; refused while one runs)

`settlement` is the pure rule; the rest reads and writes the store, audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import Refused
from clearance.gates.changes.cab import OPEN, ChangeState
from clearance.gates.changes.service import ChangeClearance, implement_change
from clearance.store import Deployment
from clearance.store.tables import ChangeRequestRow, UserRow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

__all__ = [
    "DeploymentFact",
    "Settlement",
    "back_out_change",
    "cancellation_refusal",
    "confirm_change",
    "facts_of",
    "implementation_note",
    "settle_change",
    "settlement",
    "withdraw_change",
]

ACTIVE = frozenset({"queued", "running"})
# Who may withdraw a request besides the person who asked for it.
WITHDRAWING_ROLE = "release-manager"
_UNSUCCESSFUL = frozenset({"failed", "rolled_back", "cancelled"})


@dataclass(frozen=True, kw_only=True)
class DeploymentFact:
    id: int
    service: str
    state: str
    started: bool
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class Settlement:
    state: ChangeState | None  # None: stays approved
    reason: str


def facts_of(deployments: Sequence[Deployment]) -> tuple[DeploymentFact, ...]:
    return tuple(
        DeploymentFact(
            id=d.id, service=d.service, state=d.state, started=d.started_at is not None, reason=d.reason
        )
        for d in deployments
    )


def settlement(deployments: Sequence[DeploymentFact]) -> Settlement | None:
    """What an approved request becomes now; None while one of its deployments is still to finish
    (or it has none)."""
    if not deployments or any(d.state in ACTIVE for d in deployments):
        return None
    bad = [d for d in deployments if d.started and d.state in _UNSUCCESSFUL]
    if bad:
        first = bad[0]
        why = f"deployment {first.id} ({first.service}) {first.state.replace('_', ' ')}"
        return Settlement(state=ChangeState.FAILED, reason=f"{why}: {first.reason}" if first.reason else why)
    done = {d.service for d in deployments if d.state == "succeeded"}
    missing = [d for d in deployments if d.service not in done]
    if not missing:
        return Settlement(state=ChangeState.IMPLEMENTED, reason="")
    return Settlement(state=None, reason=_not_implemented(missing))


def _not_implemented(missing: Sequence[DeploymentFact]) -> str:
    said = "; ".join(
        f"deployment {d.id} ({d.service}) {d.state} before it ran" + (f": {d.reason}" if d.reason else "")
        for d in missing
    )
    return f"not implemented: {said}"


def implementation_note(state: str, deployments: Sequence[DeploymentFact]) -> str:
    """How far an approved request's implementation has got, for `change show`; "" otherwise."""
    if state != ChangeState.APPROVED.value:
        return ""
    if not deployments:
        return "not implemented yet: deploying the release uses this request"
    active = [d for d in deployments if d.state in ACTIVE]
    if active:
        return f"being implemented: deployment(s) {', '.join(str(d.id) for d in active)} to finish"
    outcome = settlement(deployments)
    if outcome is not None and outcome.state is None:
        return f"{outcome.reason}; the approval stands: deploying the release again uses this request"
    return ""


def _deployments(session: Session, change_request_id: int) -> list[Deployment]:
    query = (
        select(Deployment)
        .where(Deployment.change_request_id == change_request_id)
        .order_by(Deployment.id)
        .execution_options(populate_existing=True)  # what other workers committed, not a cached copy
    )
    return list(session.scalars(query))


def settle_change(session: Session, actor: str, change_request_id: int) -> None:
    """Once every deployment of an approved request has finished: implemented, failed, or (when none
    of the missing ones ever started) still approved and audited as not implemented."""
    row = session.get(ChangeRequestRow, change_request_id, with_for_update=True)
    if row is None or row.state != ChangeState.APPROVED.value:
        return
    deployments = _deployments(session, row.id)
    outcome = settlement(facts_of(deployments))
    if outcome is None:
        return
    data = {
        "change_request_id": row.id,
        "deployment_ids": [d.id for d in deployments],
        "reason": outcome.reason,
    }
    if outcome.state is None:
        record(session, actor=actor, tag="change:not-implemented", subject=f"change:{row.id}", data=data)
        return
    row.state, row.reason = outcome.state.value, outcome.reason
    record(session, actor=actor, tag=f"change:{row.state}", subject=f"change:{row.id}", data=data)


def back_out_change(session: Session, actor: str, deployment: Deployment, rollback: Deployment) -> None:
    """`clearance rollback` of a deployment that implemented a change request: an implemented request
    fails (backed out); an approved one is settled as its other deployments finish (this one now
    counts as rolled back); one already failed keeps its state and records the back-out."""
    if deployment.change_request_id is None:
        return
    row = session.get(ChangeRequestRow, deployment.change_request_id, with_for_update=True)
    if row is None:
        return
    if row.state == ChangeState.APPROVED.value:
        settle_change(session, actor, row.id)
        return
    backed_out = (
        f"backed out: deployment {deployment.id} ({deployment.service}) rolled back by deployment "
        f"{rollback.id} to {rollback.release.version}"
    )
    data = {
        "change_request_id": row.id,
        "backed_out": True,
        "deployment_id": deployment.id,
        "rollback_deployment_id": rollback.id,
        "restored_version": rollback.release.version,
        "was": row.state,
        "reason": backed_out,
    }
    if row.state == ChangeState.IMPLEMENTED.value:
        row.state, row.reason = ChangeState.FAILED.value, backed_out
        record(session, actor=actor, tag="change:failed", subject=f"change:{row.id}", data=data)
    elif row.state == ChangeState.FAILED.value:
        record(session, actor=actor, tag="change:backed-out", subject=f"change:{row.id}", data=data)


def confirm_change(
    ws: Workspace, session: Session, clearance: ChangeClearance, deployment: Deployment
) -> None:
    """A scheduled deployment that may run now under `clearance`: tie it to the request when it had
    none (change control was switched on since it was scheduled), and audit a freeze its emergency
    approval lets it through now."""
    if deployment.change_request_id is None:
        implement_change(ws, session, clearance, [deployment])
        return
    if clearance.bypassed:
        row = session.get(ChangeRequestRow, clearance.change_request_id)
        assert row is not None
        data = {
            "change_request_id": row.id,
            "deployment_ids": [deployment.id],
            "emergency_approvers": [
                d.approver for d in row.decisions if d.decision == "approve" and d.emergency
            ],
            "gates": [v.to_json() for v in clearance.bypassed],
            "scheduled": True,
        }
        record(session, actor=ws.actor, tag="change:freeze-bypassed", subject=f"change:{row.id}", data=data)


def cancellation_refusal(
    session: Session, actor: str, row: ChangeRequestRow, deployments: Sequence[Deployment]
) -> Refused | None:
    """Why `actor` may not withdraw `row` now (None: they may). Only an open request can be withdrawn,
    only by its requester or a release manager, and never while one of its deployments is running:
    what runs is stopped with `clearance abort` first."""
    if row.state not in OPEN:
        return Refused(
            f"change request #{row.id} is {row.state}: closed, there is nothing to cancel",
            code="change-closed",
        )
    if actor != row.requested_by:
        user = session.scalars(select(UserRow).where(UserRow.name == actor)).first()
        if user is None or WITHDRAWING_ROLE not in {r.role for r in user.roles}:
            return Refused(
                f"{actor} may not cancel change request #{row.id}: only its requester "
                f"({row.requested_by}) or a {WITHDRAWING_ROLE} may",
                code="change-cancel-forbidden",
                hint=f"`clearance user grant {actor} {WITHDRAWING_ROLE}`, or ask {row.requested_by}",
            )
    running = [d for d in deployments if d.state == "running" or (d.state == "queued" and d.lease_owner)]
    if running:
        ids = ", ".join(str(d.id) for d in running)
        return Refused(
            f"change request #{row.id} is being implemented: deployment {ids} is running",
            code="change-being-implemented",
            hint=f"stop it first with `clearance abort {running[0].id}`, then cancel the request",
        )
    return None


def withdraw_change(
    session: Session, actor: str, row: ChangeRequestRow, reason: str, cancelled: Sequence[int]
) -> None:
    """Close `row` as cancelled (its waiting deployments, `cancelled`, were cancelled by the caller)."""
    was = row.state
    row.state, row.reason = ChangeState.CANCELLED.value, f"cancelled by {actor}: {reason}"
    data = {
        "change_request_id": row.id,
        "was": was,
        "reason": reason,
        "cancelled_deployment_ids": list(cancelled),
    }
    record(session, actor=actor, tag="change:cancelled", subject=f"change:{row.id}", data=data)
