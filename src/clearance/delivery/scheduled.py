"""Scheduled deployments (`deploy --at`) on the store: the rules again when their time comes, cancelling
one before it runs (alone, or with the change request it implements), and the ones to come for the
calendar.

A scheduled deployment is a queued one with `scheduled_at`: `clearance serve` workers leave it alone
until then (see `worker.claim_next`). When its time has come the rules are judged again — with the
clearance.yaml on disk then, so a freeze added since is seen even by a server started before it — and
a refusal fails it with the reason, audited, before anything runs.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.delivery.admission import recheck_rules
from clearance.delivery.states import DeploymentState, StepState, advance, advance_step
from clearance.delivery.views import get_deployment, identity
from clearance.errors import ClearanceError, Refused, UsageError
from clearance.gates.changes.outcome import (
    cancellation_refusal,
    confirm_change,
    settle_change,
    withdraw_change,
)
from clearance.gates.changes.service import find_change
from clearance.project import load_config
from clearance.store import Deployment
from clearance.store.tables import utcnow
from clearance.workspace import Workspace

__all__ = ["allowed_at_its_time", "cancel", "cancel_change", "scheduled_between"]


def _current(ws: Workspace) -> Workspace:
    """The workspace with the clearance.yaml as it is on disk now (a server may be older than it)."""
    loaded = load_config(ws.loaded.path)
    return ws if loaded.sha256 == ws.loaded.sha256 else dataclasses.replace(ws, loaded=loaded)


def allowed_at_its_time(ws: Workspace, deployment_id: int) -> bool:
    """True when the claimed deployment may run now. A scheduled one whose rules refuse it now (or
    whose clearance.yaml is no longer valid) fails with the reason, audited, and gives up its lease."""
    with ws.store.transaction() as session:
        deployment = session.get(Deployment, deployment_id)
        if deployment is None or deployment.scheduled_at is None:
            return True
        try:
            clearance = recheck_rules(_current(ws), session, deployment)
            if clearance is not None:
                confirm_change(ws, session, clearance, deployment)
            return True
        except Refused as exc:
            problem = exc
        except ClearanceError as exc:  # e.g. the config was broken since: run on no rules, never
            problem = Refused(exc.message, code=exc.code, hint=exc.hint)
        _fail_refused(ws, session, deployment, problem)
        return False


def _fail_refused(ws: Workspace, session: Session, deployment: Deployment, refusal: Refused) -> None:
    reason = f"refused at its scheduled time: {refusal.message}"
    deployment.state = advance(DeploymentState(deployment.state), DeploymentState.FAILED).value
    deployment.reason, deployment.finished_at = reason, utcnow()
    deployment.lease_owner, deployment.lease_expires_at = None, None
    for step in deployment.steps:
        step.state = advance_step(StepState(step.state), StepState.CANCELLED).value
        step.reason = "refused at its scheduled time"
    record(
        session,
        actor=ws.actor,
        tag="deployment:refused",
        subject=f"deployment:{deployment.id}",
        data={
            **identity(deployment),
            "scheduled_at": deployment.scheduled_at.isoformat() if deployment.scheduled_at else None,
            "requested_by": deployment.requested_by,
            "code": refusal.code,
            "reason": refusal.message,
            **refusal.data,
        },
    )
    if deployment.change_request_id is not None:
        settle_change(session, ws.actor, deployment.change_request_id)


def cancel(ws: Workspace, deployment_id: int, *, reason: str = "") -> Deployment:
    """Cancel a queued deployment no worker has taken yet (typically a scheduled one), audited.
    One that runs is stopped with `clearance abort`; a finished one cannot be cancelled (exit 3)."""
    with ws.store.transaction() as session:
        deployment = get_deployment(session, ws.project_id, deployment_id)
        session.refresh(deployment, with_for_update=True)  # a worker may be claiming it right now
        if deployment.state != DeploymentState.QUEUED.value or deployment.lease_owner is not None:
            started = deployment.state in (DeploymentState.QUEUED.value, DeploymentState.RUNNING.value)
            raise Refused(
                f"cannot cancel deployment {deployment_id}: it is "
                + ("starting or running" if started else deployment.state.replace("_", " ")),
                code="deployment-not-cancellable",
                hint="stop a running rollout with `clearance abort ID`" if started else None,
            )
        _cancel_waiting(ws, session, deployment, reason.strip() or f"cancelled by {ws.actor}")
        if deployment.change_request_id is not None:
            # Nothing ran: the change is not implemented, and its approval stands (see changes.outcome).
            settle_change(session, ws.actor, deployment.change_request_id)
        _ = deployment.release, deployment.steps
        return deployment


def _cancel_waiting(ws: Workspace, session: Session, deployment: Deployment, why: str) -> None:
    deployment.state = advance(DeploymentState.QUEUED, DeploymentState.CANCELLED).value
    deployment.reason, deployment.finished_at = why, utcnow()
    for step in deployment.steps:
        step.state, step.reason = advance_step(StepState(step.state), StepState.CANCELLED).value, why
    record(
        session,
        actor=ws.actor,
        tag="deployment:cancelled",
        subject=f"deployment:{deployment.id}",
        data={
            "deployment_id": deployment.id,
            "reason": why,
            "scheduled_at": deployment.scheduled_at.isoformat() if deployment.scheduled_at else None,
        },
    )


def cancel_change(ws: Workspace, change_id: int, *, reason: str) -> list[int]:
    """Withdraw an open change request, with the deployments of it still waiting (scheduled, or
    queued for a server), in one transaction, audited; the ids of the deployments cancelled.
    Refused (exit 3, audited) when it is closed, the actor is neither its requester nor a release
    manager, or one of its deployments runs. Deploying the release again opens a new request."""
    if not reason.strip():
        raise UsageError("cancelling a change request needs a reason", hint="--reason 'why it is withdrawn'")
    with ws.store.transaction() as session:
        row = find_change(session, ws.project_id, change_id)
        session.refresh(row, with_for_update=True)
        query = (
            select(Deployment)
            .where(Deployment.change_request_id == row.id, Deployment.state.in_(("queued", "running")))
            .order_by(Deployment.id)
            .with_for_update()  # a worker may be claiming one right now
        )
        waiting = list(session.scalars(query))
        refusal = cancellation_refusal(session, ws.actor, row, waiting)
        if refusal is None:
            why = f"change request #{row.id} cancelled by {ws.actor}: {reason.strip()}"
            for deployment in waiting:
                _cancel_waiting(ws, session, deployment, why)
            ids = [d.id for d in waiting]
            withdraw_change(session, ws.actor, row, reason.strip(), ids)
            return ids
    with ws.store.transaction() as session:
        data = {
            "change_request_id": change_id,
            "action": "cancel",
            "code": refusal.code,
            "reason": refusal.message,
        }
        record(session, actor=ws.actor, tag="change:refused", subject=f"change:{change_id}", data=data)
    raise refusal


def scheduled_between(ws: Workspace, start: datetime, end: datetime) -> list[Deployment]:
    """The scheduled deployments still waiting whose time falls in [start, end), by time."""
    with ws.store.transaction() as session:
        rows = list(
            session.scalars(
                select(Deployment)
                .where(
                    Deployment.project_id == ws.project_id,
                    Deployment.state == DeploymentState.QUEUED.value,
                    Deployment.scheduled_at >= start,
                    Deployment.scheduled_at < end,
                )
                .order_by(Deployment.scheduled_at, Deployment.id)
            )
        )
        for row in rows:
            _ = row.release
        return rows
