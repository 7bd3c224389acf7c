"""Queue a deployment: its script steps, then the rollout steps of its environment's strategy (and,
for a `flag-rollout`, the flag it moves, chosen up front), audited as queued or scheduled."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.delivery.leases import lease_until, worker_id
from clearance.delivery.states import DeploymentState
from clearance.delivery.strategies.plan import plan as rollout_plan
from clearance.flags.release_links import flag_for_rollout
from clearance.project.rollout import FlagRollout
from clearance.project.schema import Environment, Service
from clearance.store import Deployment, DeploymentStep, Release
from clearance.workspace import Workspace

__all__ = ["queue_deployment"]


def queue_deployment(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    service: str,
    *,
    kind: str = "deploy",
    rollback_of: int | None = None,
    for_server: bool = False,
    scheduled_at: datetime | None = None,
) -> Deployment:
    steps = ws.config.steps_for(environment, service)
    rows = [
        DeploymentStep(position=i, name=s.name, kind="script", state="pending") for i, s in enumerate(steps)
    ]
    strategy = ""
    service_config, env_config = ws.config.service(service), ws.config.environment(environment)
    if _rolls_out(service_config, env_config, kind):
        assert service_config is not None and env_config is not None
        # A running service rolls out after its script steps (migrations first, then traffic);
        # a flag-only one (no `run:`) walks its flag's steps after them.
        strategy = env_config.strategy.type
        rows += [
            DeploymentStep(position=len(rows) + i, name=p.name, kind=p.kind, state="pending")
            for i, p in enumerate(rollout_plan(env_config.strategy, runs=service_config.run is not None))
        ]
    recorded = _flag_of(ws, session, release, env_config, kind) if strategy else {}
    deployment = Deployment(
        project_id=ws.project_id,
        release_id=release.id,
        environment=environment,
        service=service,
        kind=kind,
        state=DeploymentState.QUEUED.value,
        requested_by=ws.actor,
        config_sha256=ws.loaded.sha256,
        rollback_of_id=rollback_of,
        # Queued for a server: no owner until a worker claims it. Run here: this process holds it.
        lease_owner=None if for_server else worker_id(),
        lease_expires_at=None if for_server else lease_until(ws.settings.lease_seconds),
        strategy=strategy,
        rollout=recorded,
        steps=rows,
        scheduled_at=scheduled_at,
    )
    session.add(deployment)
    session.flush()
    record(
        session,
        actor=ws.actor,
        # Scheduled: queued now, to run at `scheduled_at`.
        tag="deployment:scheduled" if scheduled_at else "deployment:queued",
        subject=f"deployment:{deployment.id}",
        data={
            "deployment_id": deployment.id,
            "version": release.version,
            "environment": environment,
            "service": service,
            "kind": kind,
            "rollback_of": rollback_of,
            "steps": [r.name for r in rows],
            "strategy": strategy or None,
            "config_sha256": ws.loaded.sha256,
            "scheduled_at": scheduled_at.astimezone(UTC).isoformat() if scheduled_at else None,
        },
    )
    return deployment


def _rolls_out(service: Service | None, env: Environment | None, kind: str) -> bool:
    """A `run:` service rolls out by its environment's strategy; a service without one only in a
    flag-rollout environment, and never in a rollback (nothing to redeploy, flags are left alone)."""
    if service is None or env is None:
        return False
    flag_only = isinstance(env.strategy, FlagRollout) and kind != "rollback"
    return service.run is not None or flag_only


def _flag_of(
    ws: Workspace, session: Session, release: Release, env: Environment | None, kind: str
) -> dict[str, str]:
    """A flag-rollout deployment's flag, chosen up front (a missing one refuses the deployment before
    anything runs). A rollback redeploys an older version and leaves flags alone."""
    if env is None or not isinstance(env.strategy, FlagRollout) or kind == "rollback":
        return {}
    return {"flag": flag_for_rollout(ws, session, release, env.strategy)}
