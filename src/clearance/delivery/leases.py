"""Who holds a deployment, for how long, and what happens to deployments whose holder died.

A worker's identity is `host:pid:start` (the process start time guards against pid reuse). On the
same host a dead holder is recognised at once; elsewhere its lease has to run out first.

An orphan in the middle of its rollout (every script step done) can be resumed: a `clearance serve`
worker takes it over from its last recorded step. Anything else an orphan was doing (a script step)
cannot be repeated safely, so it fails as `interrupted`; if it had shifted traffic, the target goes
back to the stable version recorded when the rollout began.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.delivery.states import DeploymentState, StepState, advance, advance_step
from clearance.store import Deployment, DeploymentLock, Store
from clearance.store.locks import insert_lock_if_absent
from clearance.store.tables import AgentRow, TargetState, utcnow

ACTIVE = (DeploymentState.QUEUED.value, DeploymentState.RUNNING.value)
SERVER_PREFIX = "serve:"
SERVER_TIMEOUT_SECONDS = 10.0


def _start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            # The command name may hold spaces; the fields after its closing parenthesis do not.
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


@cache
def worker_id() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def holder_is_dead(owner: str | None) -> bool:
    """True only when the holder certainly is gone: same host, and its process no longer exists."""
    if not owner:
        return False
    try:
        host, pid_text, ticks = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    if owner == worker_id():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return ticks != "0" and _start_ticks(pid) not in (ticks, "0")


def lease_until(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


def try_lock(
    session: Session, deployment: Deployment, *, lease_seconds: float, actor: str
) -> Deployment | None:
    """Take the lock of the deployment's environment and service; return the holder if busy."""
    key = (deployment.project_id, deployment.environment, deployment.service)
    owner = worker_id()
    if insert_lock_if_absent(
        session,
        project_id=key[0],
        environment=key[1],
        service=key[2],
        deployment_id=deployment.id,
        owner=owner,
        expires_at=lease_until(lease_seconds),
    ):
        return None
    lock = session.get(DeploymentLock, key, with_for_update=True, populate_existing=True)
    if lock is None:  # released between our insert and this read: try again next round
        return session.get(Deployment, deployment.id)
    holder = session.get(Deployment, lock.deployment_id)
    if lock.deployment_id == deployment.id:
        # Our own lock, still held for a deployment this worker resumes after its driver died.
        lock.owner, lock.expires_at = owner, lease_until(lease_seconds)
        return None
    if (
        lock.expires_at < utcnow()
        or holder_is_dead(lock.owner)
        or holder is None
        or (holder.state not in ACTIVE)
    ):
        if holder is not None and holder.state in ACTIVE:
            if awaits_server(holder) and live_server(session, holder.project_id) is not None:
                return holder  # a server is about to resume it: wait for it like for any holder
            mark_interrupted(session, holder, actor=actor)
        lock.deployment_id, lock.owner = deployment.id, owner
        lock.expires_at = lease_until(lease_seconds)
        return None
    return holder


def release_lock(session: Session, deployment: Deployment) -> None:
    session.execute(
        delete(DeploymentLock).where(
            DeploymentLock.project_id == deployment.project_id,
            DeploymentLock.environment == deployment.environment,
            DeploymentLock.service == deployment.service,
            DeploymentLock.deployment_id == deployment.id,
        )
    )


def active_holder(session: Session, project_id: int, environment: str, service: str) -> Deployment | None:
    """The live deployment holding this environment and service, if any."""
    lock = session.get(DeploymentLock, (project_id, environment, service))
    if lock is None or lock.expires_at < utcnow() or holder_is_dead(lock.owner):
        return None
    holder = session.get(Deployment, lock.deployment_id)
    return holder if holder is not None and holder.state in ACTIVE else None


def resumable(deployment: Deployment) -> bool:
    """Running its rollout: every script step done, so the rest is idempotent reconcile steps."""
    return (
        bool(deployment.strategy)
        and deployment.state == DeploymentState.RUNNING.value
        and all(s.state == StepState.SUCCEEDED.value for s in deployment.steps if s.kind == "script")
    )


def driven_by_server(deployment: Deployment) -> bool:
    return bool((deployment.rollout or {}).get("server"))


def awaits_server(deployment: Deployment) -> bool:
    """An orphan a `clearance serve` worker will take over (not one to fail as interrupted)."""
    return driven_by_server(deployment) and resumable(deployment)


def orphaned(deployment: Deployment) -> bool:
    """Nobody drives this active deployment: its holder is gone or its lease ran out."""
    if deployment.lease_owner is None:
        return deployment.state == DeploymentState.RUNNING.value  # handed over, not yet taken
    expired = deployment.lease_expires_at is None or deployment.lease_expires_at < utcnow()
    return expired or holder_is_dead(deployment.lease_owner)


def live_server(session: Session, project_id: int) -> AgentRow | None:
    """A `clearance serve` of this project (or of every project) that beat recently."""
    cutoff = utcnow() - timedelta(seconds=SERVER_TIMEOUT_SECONDS)
    rows = session.scalars(
        select(AgentRow).where(AgentRow.id.startswith(SERVER_PREFIX), AgentRow.heartbeat_at >= cutoff)
    )
    return next((r for r in rows if r.project_id in (None, project_id)), None)


def hand_over(session: Session, deployment: Deployment, *, actor: str) -> None:
    """Leave an orphaned rollout to the servers: the first free worker resumes it."""
    deployment.lease_owner, deployment.lease_expires_at = None, None
    deployment.rollout = {**(deployment.rollout or {}), "server": True}
    record(
        session,
        actor=actor,
        tag="deployment:handed-over",
        subject=f"deployment:{deployment.id}",
        data={
            "deployment_id": deployment.id,
            "environment": deployment.environment,
            "service": deployment.service,
            "step": (deployment.rollout or {}).get("step", 0),
        },
    )


def fall_back_to_stable(session: Session, deployment: Deployment) -> str | None:
    """Point the target back at the stable version the rollout started from; return it.

    Used when nobody can finish a rollout: all traffic to stable (at the largest replica count
    the rollout had), and the agent stops the new version's replicas once Envoy has moved."""
    from clearance.delivery.targets.base import desired_from_json, desired_to_json

    stable = str((deployment.rollout or {}).get("stable") or "")
    if not stable:
        return None
    row = session.get(TargetState, (deployment.project_id, deployment.environment, deployment.service))
    if row is None:
        return None
    desired = desired_from_json(row.desired)
    kept = [v for v in desired.versions if v.version == stable]
    if not kept or (len(desired.versions) == 1 and kept[0].weight == 100):
        return stable
    replicas = max(v.replicas for v in desired.versions)
    versions = (dataclasses.replace(kept[0], replicas=replicas, weight=100),)
    row.revision += 1
    row.desired = desired_to_json(
        dataclasses.replace(
            desired, versions=versions, preview_version=None, header_version=None, revision=row.revision
        )
    )
    row.updated_at = utcnow()
    return stable


def mark_interrupted(session: Session, deployment: Deployment, *, actor: str) -> None:
    """A holder died: the deployment fails with reason `interrupted`, never stays running."""
    now = utcnow()
    previous = deployment.state
    deployment.state = advance(DeploymentState(previous), DeploymentState.FAILED).value
    deployment.reason = "interrupted"
    deployment.finished_at = now
    deployment.lease_owner, deployment.lease_expires_at = None, None
    for step in deployment.steps:
        if step.state == StepState.RUNNING.value:
            step.state = advance_step(StepState.RUNNING, StepState.FAILED).value
            step.reason, step.finished_at = "interrupted", now
        elif step.state == StepState.PENDING.value:
            step.state = advance_step(StepState.PENDING, StepState.CANCELLED).value
            step.reason = "interrupted"
    release_lock(session, deployment)
    restored = fall_back_to_stable(session, deployment) if deployment.strategy else None
    progress = deployment.rollout or {}
    if progress.get("flag") and progress.get("flag_percent"):
        # A flag rollout nobody finishes: its flag must not stay half on either.
        from clearance.flags.service import kill_switch_in

        kill_switch_in(
            session,
            deployment.project_id,
            str(progress["flag"]),
            deployment.environment,
            actor=actor,
            context={"deployment_id": deployment.id, "reason": "interrupted"},
        )
    record(
        session,
        actor=actor,
        tag="deployment:interrupted",
        subject=f"deployment:{deployment.id}",
        data={
            "deployment_id": deployment.id,
            "was": previous,
            "environment": deployment.environment,
            "service": deployment.service,
            "reason": "interrupted",
            "restored": restored,
        },
    )


def reap_orphans(store: Store, *, actor: str) -> list[int]:
    """Deal with every active deployment whose lease ran out or whose holder is gone.

    Rollouts a server can resume are left to it (or handed to one that is running); a claim of a
    queued deployment by a server that died goes back to the queue; the rest fail as interrupted."""
    with store.transaction() as session:
        candidates = list(session.scalars(select(Deployment).where(Deployment.state.in_(ACTIVE))))
        reaped = []
        for deployment in candidates:
            if deployment.state == DeploymentState.QUEUED.value and deployment.lease_owner is None:
                continue  # queued for a `clearance serve` worker: nobody holds it yet
            if not orphaned(deployment) or awaits_server(deployment):
                continue
            if deployment.state == DeploymentState.QUEUED.value and driven_by_server(deployment):
                deployment.lease_owner, deployment.lease_expires_at = None, None  # back in the queue
                continue
            if resumable(deployment) and live_server(session, deployment.project_id) is not None:
                hand_over(session, deployment, actor=actor)
                continue
            mark_interrupted(session, deployment, actor=actor)
            reaped.append(deployment.id)
        return reaped


class Heartbeat:
    """Renews a deployment's lease from a background thread while the work goes on."""

    def __init__(self, store: Store, deployment_id: int, lease_seconds: float) -> None:
        self._store = store
        self._deployment_id = deployment_id
        self._lease = lease_seconds
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{deployment_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._lease / 3):
            try:
                self.renew()
            except Exception:  # a missed beat is survivable; the next one tries again
                continue

    def renew(self) -> None:
        owner = worker_id()
        until = lease_until(self._lease)
        with self._store.transaction() as session:
            result = session.execute(
                update(Deployment)
                .where(Deployment.id == self._deployment_id, Deployment.lease_owner == owner)
                .values(lease_expires_at=until)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                self.lost.set()
                return
            session.execute(
                update(DeploymentLock)
                .where(DeploymentLock.deployment_id == self._deployment_id, DeploymentLock.owner == owner)
                .values(expires_at=until)
            )
