"""Engine workers of `clearance serve`: claim queued deployments from the store and run them.

Claiming is one short transaction: the oldest queued deployment nobody holds gets this worker as its
lease owner (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several servers never take the same one;
SQLite's BEGIN IMMEDIATE serializes claims). From then on the engine renews the lease as it runs.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import select

from clearance.delivery.engine import NullProgress, execute
from clearance.delivery.leases import lease_until, worker_id
from clearance.delivery.states import DeploymentState
from clearance.errors import ClearanceError
from clearance.store import Deployment
from clearance.store.tables import AgentRow, utcnow
from clearance.workspace import Workspace

log = logging.getLogger("clearance.serve")
SERVER_PREFIX = "serve:"
SERVER_TIMEOUT_SECONDS = 10.0


def claim_next(ws: Workspace) -> int | None:
    with ws.store.transaction() as session:
        query = (
            select(Deployment)
            .where(
                Deployment.project_id == ws.project_id,
                Deployment.state == DeploymentState.QUEUED.value,
                Deployment.lease_owner.is_(None),
            )
            .order_by(Deployment.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        deployment = session.scalars(query).first()
        if deployment is None:
            return None
        deployment.lease_owner = worker_id()
        deployment.lease_expires_at = lease_until(ws.settings.lease_seconds)
        return deployment.id


def run_worker(ws: Workspace, stop: threading.Event, *, poll: float = 0.5) -> None:
    while not stop.is_set():
        deployment_id = claim_next(ws)
        if deployment_id is None:
            stop.wait(poll)
            continue
        log.info("running deployment %s", deployment_id)
        try:
            done = execute(ws, deployment_id, wait=True, progress=NullProgress())
            log.info("deployment %s: %s %s", deployment_id, done.state, done.reason)
        except ClearanceError as exc:
            log.warning("deployment %s: %s", deployment_id, exc.message)


def live_server(ws: Workspace) -> AgentRow | None:
    cutoff = utcnow() - timedelta(seconds=SERVER_TIMEOUT_SECONDS)
    with ws.store.transaction() as session:
        rows = session.scalars(
            select(AgentRow).where(AgentRow.id.startswith(SERVER_PREFIX), AgentRow.heartbeat_at >= cutoff)
        )
        return next((r for r in rows if r.project_id in (None, ws.project_id)), None)
