"""People steering a running rollout: promote, abort, pause and resume — and retrying one that ended
without success.

Each writes a request into the deployment's `rollout` record and audits it; the engine driving the
rollout reads the requests on its next round. A finished deployment cannot be steered (exit 3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clearance.audit.service import record
from clearance.delivery.states import DeploymentState
from clearance.delivery.views import get_deployment, identity
from clearance.errors import Refused
from clearance.store import Deployment
from clearance.workspace import Workspace

_ACTIVE = (DeploymentState.QUEUED.value, DeploymentState.RUNNING.value)


def _request(
    ws: Workspace,
    deployment_id: int,
    action: str,
    changes: dict[str, Any],
    check: Callable[[Deployment], None] | None = None,
) -> Deployment:
    with ws.store.transaction() as session:
        deployment = get_deployment(session, ws.project_id, deployment_id)
        if deployment.state not in _ACTIVE:
            raise Refused(
                f"cannot {action} deployment {deployment_id}: it is {deployment.state.replace('_', ' ')}",
                code="deployment-finished",
                hint="only a queued or running deployment can be steered",
            )
        if not deployment.strategy:
            raise Refused(
                f"cannot {action} deployment {deployment_id}: it has no rollout (its service has no `run:`)",
                code="no-rollout",
            )
        if check is not None:
            check(deployment)
        rollout = dict(deployment.rollout or {})
        for key, value in changes.items():
            rollout[key] = rollout.get(key, 0) + 1 if value == "+1" else value
        deployment.rollout = rollout
        record(
            session,
            actor=ws.actor,
            tag=f"deployment:{action}-requested",
            subject=f"deployment:{deployment.id}",
            data={
                **identity(deployment),
                **{k: rollout[k] for k in changes},
            },
        )
        return deployment


def promote(ws: Workspace, deployment_id: int, *, full: bool = False) -> Deployment:
    """End the current pause (or, with `full`, skip every remaining step to 100 %)."""
    changes: dict[str, Any] = {"promote": "+1", "paused": False}
    if full:
        changes["full"] = True
    return _request(ws, deployment_id, "promote", changes)


def abort(ws: Workspace, deployment_id: int) -> Deployment:
    """Send all traffic back to the stable version and stop the new one."""
    return _request(ws, deployment_id, "abort", {"abort": True, "abort_by": ws.actor})


def pause(ws: Workspace, deployment_id: int) -> Deployment:
    return _request(ws, deployment_id, "pause", {"paused": True})


def resume(ws: Workspace, deployment_id: int) -> Deployment:
    """Let a rollout held by `clearance pause` go on; one waiting at a `pause: {}` step of its
    strategy is not paused but waiting for `clearance promote`."""

    def paused(deployment: Deployment) -> None:
        if not (deployment.rollout or {}).get("paused"):
            raise Refused(
                f"cannot resume deployment {deployment_id}: it is not paused",
                code="deployment-not-paused",
                hint=f"a rollout waiting at a pause step goes on with `clearance promote {deployment_id}`",
            )

    return _request(ws, deployment_id, "resume", {"paused": False}, paused)


def retry_target(ws: Workspace, deployment_id: int) -> tuple[str, str, str]:
    """The release, environment and service a failed, cancelled or rolled-back deployment was for:
    a retry deploys them again through every rule a new deployment meets."""
    with ws.store.transaction() as session:
        deployment = get_deployment(session, ws.project_id, deployment_id)
        if deployment.state in _ACTIVE or deployment.state == DeploymentState.SUCCEEDED.value:
            why = "it succeeded" if deployment.state == "succeeded" else f"it is still {deployment.state}"
            raise Refused(
                f"cannot retry deployment {deployment_id}: {why}",
                code="deployment-not-retryable",
                hint="only a failed, cancelled or rolled-back deployment can be retried",
            )
        record(
            session,
            actor=ws.actor,
            tag="deployment:retry-requested",
            subject=f"deployment:{deployment.id}",
            data={
                **identity(deployment),
                "was": deployment.state,
            },
        )
        return deployment.release.version, deployment.environment, deployment.service
