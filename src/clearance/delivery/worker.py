"""Engine workers of `clearance serve`: claim deployments from the store and run them.

Claiming is one short transaction: the oldest queued deployment nobody holds and whose scheduled
time (if any) has come — or a rollout whose driver died, to resume — gets this worker as its lease
owner (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several servers never take the same one;
SQLite's BEGIN IMMEDIATE serializes claims). From then on the engine renews the lease as it runs.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clearance.delivery.engine import NullProgress, execute
from clearance.delivery.leases import (
    SERVER_PREFIX,
    driven_by_server,
    lease_until,
    orphaned,
    resumable,
    worker_id,
)
from clearance.delivery.leases import live_server as _live_server
from clearance.delivery.scheduled import allowed_at_its_time
from clearance.delivery.states import DeploymentState
from clearance.errors import ClearanceError, StoreError
from clearance.store import Deployment
from clearance.store.tables import AgentRow, utcnow
from clearance.workspace import Workspace

__all__ = ["SERVER_PREFIX", "claim_next", "live_server", "run_worker"]
log = logging.getLogger("clearance.serve")


def claim_next(ws: Workspace) -> tuple[int, bool] | None:
    """The next deployment for this worker and whether it is a resumption, or None."""
    with ws.store.transaction() as session:
        query = (
            select(Deployment)
            .where(
                Deployment.project_id == ws.project_id,
                Deployment.state.in_((DeploymentState.QUEUED.value, DeploymentState.RUNNING.value)),
                # `deploy --at`: not before its time.
                or_(Deployment.scheduled_at.is_(None), Deployment.scheduled_at <= utcnow()),
            )
            .order_by(Deployment.id)
            .with_for_update(skip_locked=True)
        )
        for deployment in session.scalars(query):
            if deployment.state == DeploymentState.QUEUED.value:
                if deployment.lease_owner is not None or _waits_for_code(ws, session, deployment):
                    continue
                resume = False
            elif (
                resumable(deployment)
                and orphaned(deployment)
                and (driven_by_server(deployment) or deployment.lease_owner is None)
            ):
                resume = True
            else:
                continue
            deployment.lease_owner = worker_id()
            deployment.lease_expires_at = lease_until(ws.settings.lease_seconds)
            deployment.rollout = {**(deployment.rollout or {}), "server": True}
            return deployment.id, resume
        return None


def _waits_for_code(ws: Workspace, session: Session, deployment: Deployment) -> bool:
    """A flag-only rollout (a service without `run:` walking a release flag) starts only once the
    deployments queued before it for the same release and environment — the services that carry the
    flag's code — have finished: raising the flag before the code is out would measure nothing."""
    service = ws.config.service(deployment.service)
    if not (deployment.rollout or {}).get("flag") or service is None or service.run is not None:
        return False
    earlier = select(Deployment.id).where(
        Deployment.release_id == deployment.release_id,
        Deployment.environment == deployment.environment,
        Deployment.id < deployment.id,
        Deployment.state.in_((DeploymentState.QUEUED.value, DeploymentState.RUNNING.value)),
    )
    return session.scalars(earlier.limit(1)).first() is not None


def run_worker(ws: Workspace, stop: threading.Event, *, poll: float = 0.5) -> None:
    while not stop.is_set():
        try:
            claimed = claim_next(ws)
            refused = claimed is not None and not claimed[1] and not allowed_at_its_time(ws, claimed[0])
        except StoreError as exc:
            # The store is down or restarting: wait it out. A claim it interrupted is released when
            # its lease runs out.
            log.warning("cannot claim a deployment: %s", exc.message)
            stop.wait(poll)
            continue
        if claimed is None:
            stop.wait(poll)
            continue
        deployment_id, resume = claimed
        if refused:
            log.warning("deployment %s: refused at its scheduled time", deployment_id)
            continue
        log.info("%s deployment %s", "resuming" if resume else "running", deployment_id)
        try:
            done = execute(ws, deployment_id, wait=True, progress=NullProgress(), resume=resume, stop=stop)
            log.info("deployment %s: %s %s", deployment_id, done.state, done.reason)
        except ClearanceError as exc:
            log.warning("deployment %s: %s", deployment_id, exc.message)


def live_server(ws: Workspace) -> AgentRow | None:
    with ws.store.transaction() as session:
        return _live_server(session, ws.project_id)
