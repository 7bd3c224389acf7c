"""Rolling an environment back: redeploy, per service, the release that was in place before."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.delivery.engine import NullProgress, Progress, execute, step_environment
from clearance.delivery.leases import active_holder
from clearance.delivery.queueing import queue_deployment
from clearance.delivery.service import (
    DeployOutcome,
    cancel_queued,
    load_deployments,
    select_services,
    unknown_error,
)
from clearance.delivery.states import DeploymentState, advance
from clearance.errors import ClearanceError, DeploymentBusy, NotFound, Refused
from clearance.gates.changes.outcome import back_out_change
from clearance.store import Deployment
from clearance.workspace import Workspace


def rollback(
    ws: Workspace,
    environment: str,
    *,
    services: Sequence[str] | None = None,
    wait: bool = False,
    progress: Progress | None = None,
) -> DeployOutcome:
    """Redeploy, per service, the last release that succeeded in the environment before the current one."""
    progress = progress or NullProgress()
    if ws.config.environment(environment) is None:
        raise unknown_error("environment", environment, ws.config.environment_names())
    targets = select_services(ws, services)
    with ws.store.transaction() as session:
        plan = _rollback_plan(ws, session, environment, targets, explicit=bool(services), wait=wait)
        queued = []
        for current, previous in plan:
            deployment = queue_deployment(
                ws,
                session,
                previous.release,
                environment,
                current.service,
                kind="rollback",
                rollback_of=current.id,
            )
            step_environment(ws, deployment)  # secrets must be there before anything runs
            record(
                session,
                actor=ws.actor,
                tag="deployment:rollback-requested",
                subject=f"deployment:{current.id}",
                data={
                    "environment": environment,
                    "service": current.service,
                    "from_version": current.release.version,
                    "to_version": previous.release.version,
                    "rollback_deployment_id": deployment.id,
                },
            )
            queued.append((deployment.id, current.id))
    ids = [deployment_id for deployment_id, _ in queued]
    outcome = DeployOutcome()
    for position, (deployment_id, current_id) in enumerate(queued):
        rest = ids[position + 1 :]
        try:
            done = execute(ws, deployment_id, wait=wait, progress=progress)
        except ClearanceError:
            cancel_queued(ws, rest, "an earlier deployment of this request did not finish")
            raise
        outcome.deployments.append(done)
        if done.state != DeploymentState.SUCCEEDED.value:
            # Left queued, the rest would hold their environment until this process's lease ran out.
            cancel_queued(ws, rest, f"deployment {done.id} failed")
            outcome.deployments.extend(load_deployments(ws, rest))
            break
        _mark_rolled_back(ws, current_id, done)
    return outcome


def _rollback_plan(
    ws: Workspace, session: Session, environment: str, services: Sequence[str], *, explicit: bool, wait: bool
) -> list[tuple[Deployment, Deployment]]:
    """(deployment to replace, deployment whose release to restore) per service; refuse before any write."""
    plan: list[tuple[Deployment, Deployment]] = []
    for service in services:
        current, previous = _rollback_pair(session, ws.project_id, environment, service)
        if current is None:
            if explicit:
                raise NotFound(f"nothing has been deployed to {environment} for {service}")
            continue
        if previous is None:
            raise Refused(
                f"cannot roll back {service} in {environment}: no earlier release succeeded there "
                f"before {current.release.version}",
                code="nothing-to-roll-back",
            )
        holder = active_holder(session, ws.project_id, environment, service)
        if holder is not None and not wait:
            raise DeploymentBusy(
                f"{service} in {environment} is being deployed by deployment {holder.id}",
                hint="add --wait to queue behind it",
                data={"running_deployment_id": holder.id},
            )
        plan.append((current, previous))
    if not plan:
        raise NotFound(f"nothing has been deployed to {environment}")
    return plan


_FINISHED = (DeploymentState.SUCCEEDED.value, DeploymentState.FAILED.value, DeploymentState.ROLLED_BACK.value)


def _rollback_pair(
    session: Session, project_id: int, environment: str, service: str
) -> tuple[Deployment | None, Deployment | None]:
    """The deployment in place now and the one whose release a rollback restores.

    The history is replayed as a stack: a deployment goes on top; a rollback takes off everything
    above the release it restored, so the next rollback goes further back rather than forward to a
    release that was rolled back from. A failed deployment can be rolled back from but is never
    restored; a failed rollback changed nothing; and a rollout that rolled itself back (failed
    analysis, `clearance abort`) never took over: the release before it kept serving.
    """
    history = list(
        session.scalars(
            select(Deployment)
            .where(
                Deployment.project_id == project_id,
                Deployment.environment == environment,
                Deployment.service == service,
                Deployment.state.in_(_FINISHED),
            )
            .order_by(Deployment.id)
        )
    )
    undone = {d.rollback_of_id for d in history if d.kind == "rollback" and d.rollback_of_id is not None}
    stack: list[Deployment] = []
    for deployment in history:
        if deployment.state == DeploymentState.ROLLED_BACK.value and deployment.id not in undone:
            continue  # rolled itself back
        if deployment.kind == "rollback":
            if deployment.state == DeploymentState.FAILED.value:
                continue
            while stack and stack[-1].release_id != deployment.release_id:
                stack.pop()
            if stack:
                stack.pop()  # the rollback now stands for the release it restored
        stack.append(deployment)
    if not stack:
        return None, None
    current = stack[-1]
    previous = next(
        (
            d
            for d in reversed(stack[:-1])
            if d.release_id != current.release_id and d.state != DeploymentState.FAILED.value
        ),
        None,
    )
    return current, previous


def _mark_rolled_back(ws: Workspace, current_id: int, rollback: Deployment) -> None:
    with ws.store.transaction() as session:
        current = session.get(Deployment, current_id)
        assert current is not None
        rolled_back = f"rolled back by deployment {rollback.id} to {rollback.release.version}"
        # A failed deployment's reason says why it failed; keep it in front of the rollback.
        current.reason = f"{current.reason}; {rolled_back}" if current.reason else rolled_back
        current.state = advance(DeploymentState(current.state), DeploymentState.ROLLED_BACK).value
        record(
            session,
            actor=ws.actor,
            tag="deployment:rolled-back",
            subject=f"deployment:{current.id}",
            data={
                "deployment_id": current.id,
                "version": current.release.version,
                "environment": current.environment,
                "service": current.service,
                "restored_version": rollback.release.version,
                "rollback_deployment_id": rollback.id,
            },
        )
        back_out_change(session, ws.actor, current, rollback)
