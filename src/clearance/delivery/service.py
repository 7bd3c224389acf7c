"""Deployment operations: deploy a release to an environment, promote it, roll an environment back.

Every rule is checked before anything is written; a refusal writes only its audit entry.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.delivery.admission import attempted_envs, check_rules, phase_rules, refuse, succeeded_envs
from clearance.delivery.engine import NullProgress, Progress, execute, step_environment
from clearance.delivery.leases import active_holder
from clearance.delivery.queueing import queue_deployment
from clearance.delivery.states import DeploymentState, advance
from clearance.errors import ClearanceError, DeploymentBusy, NotFound, Refused
from clearance.gates.changes.outcome import settle_change
from clearance.gates.changes.service import ChangeClearance, implement_change
from clearance.planning.lifecycle import (
    auto_deploy_targets,
    next_phase,
)
from clearance.planning.service import find_release
from clearance.project.rollout import FlagRollout
from clearance.store import Deployment, Release
from clearance.workspace import Workspace


@dataclass
class DeployOutcome:
    """What one `deploy`, `promote` or `rollback` did, in order, including automatic follow-ups."""

    deployments: list[Deployment] = field(default_factory=list)
    # Automatic follow-ups a rule refused (audited); they wait for a person and do not make the
    # deployments that were asked for fail.
    refused: list[Refused] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.state == DeploymentState.SUCCEEDED.value for d in self.deployments)

    def extend(self, other: DeployOutcome) -> None:
        self.deployments.extend(other.deployments)
        self.refused.extend(other.refused)


def unknown_error(kind: str, name: str, names: Sequence[str]) -> NotFound:
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known {kind}s: {', '.join(names)}"
    return NotFound(f"unknown {kind} '{name}'", hint=hint)


def select_services(ws: Workspace, services: Sequence[str] | None) -> list[str]:
    names = ws.config.service_names()
    for name in services or ():
        if name not in names:
            raise unknown_error("service", name, names)
    return list(services) if services else names


def code_first(ws: Workspace, environment: str, services: Sequence[str]) -> list[str]:
    """In a `flag-rollout` environment, the services that run code before those that only walk the
    release flag (each group in config order): the flag is raised once the code that reads it is out.
    Elsewhere the config's order stands (a script-only service may well be meant to go first)."""
    env = ws.config.environment(environment)
    if env is None or not isinstance(env.strategy, FlagRollout):
        return list(services)
    runs = [s for s in services if (config := ws.config.service(s)) is not None and config.run is not None]
    return runs + [s for s in services if s not in runs]


def deploy(
    ws: Workspace,
    version: str,
    environment: str,
    *,
    services: Sequence[str] | None = None,
    wait: bool = False,
    progress: Progress | None = None,
    follow_auto_deploy: bool = True,
    for_server: bool = False,
    at: datetime | None = None,
) -> DeployOutcome:
    """Deploy a release to one environment, service by service, then any auto-deploy phase it unlocks.

    With `at` (a future UTC instant) the deployments are queued for `clearance serve` to run then:
    the rules are judged as of that time now (a freeze then refuses at once) and again when it comes."""
    progress = progress or NullProgress()
    for_server = for_server or at is not None
    if ws.config.environment(environment) is None:
        raise unknown_error("environment", environment, ws.config.environment_names())
    targets = code_first(ws, environment, select_services(ws, services))
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        release_id = release.id
        refusal: Refused | None = None
        change: ChangeClearance | None = None
        for service in targets:
            try:
                if at is not None:
                    _not_scheduled_yet(session, release, environment, service)
                change = check_rules(ws, session, release, environment, service, at=at, targets=targets)
            except Refused as exc:
                refusal = exc
                break
            holder = active_holder(session, ws.project_id, environment, service)
            if holder is not None and not wait and at is None:
                raise DeploymentBusy(
                    f"{service} in {environment} is being deployed by deployment {holder.id} "
                    f"({holder.state})",
                    hint="add --wait to queue behind it",
                    data={"running_deployment_id": holder.id},
                )
    if refusal is not None:
        refuse(ws, refusal, version=version, environment=environment, services=targets)
    with ws.store.transaction() as session:
        fresh = session.get(Release, release_id)  # the first session is closed; reload in this one
        assert fresh is not None
        queued = [
            queue_deployment(ws, session, fresh, environment, s, for_server=for_server, scheduled_at=at)
            for s in targets
        ]
        for deployment in queued:
            step_environment(ws, deployment)  # secrets must be there before anything runs
        if change is not None:
            implement_change(ws, session, change, queued)
        ids = [d.id for d in queued]
    if for_server:
        # A `clearance serve` worker picks them up; the caller may follow them.
        return DeployOutcome(load_deployments(ws, ids))
    return _run_all(ws, ids, release_id, wait=wait, progress=progress, follow=follow_auto_deploy)


def _not_scheduled_yet(session: Session, release: Release, environment: str, service: str) -> None:
    """One scheduled deployment of a release per environment and service: a second one (the same
    command run twice) would deploy it twice."""
    waiting = session.scalars(
        select(Deployment)
        .where(
            Deployment.release_id == release.id,
            Deployment.environment == environment,
            Deployment.service == service,
            Deployment.state == DeploymentState.QUEUED.value,
            Deployment.scheduled_at.is_not(None),
        )
        .order_by(Deployment.id)
    ).first()
    if waiting is not None:
        assert waiting.scheduled_at is not None
        when = waiting.scheduled_at.replace(tzinfo=waiting.scheduled_at.tzinfo or UTC).isoformat()
        raise Refused(
            f"release {release.version} is already scheduled to {environment} ({service}) as deployment "
            f"{waiting.id}, at {when}",
            code="already-scheduled",
            hint=f"to move it, `clearance deployment cancel {waiting.id}` first",
            data={"deployment_id": waiting.id},
        )


def _run_all(
    ws: Workspace, ids: list[int], release_id: int, *, wait: bool, progress: Progress, follow: bool
) -> DeployOutcome:
    outcome = DeployOutcome()
    for position, deployment_id in enumerate(ids):
        try:
            done = execute(ws, deployment_id, wait=wait, progress=progress)
        except ClearanceError:
            cancel_queued(ws, ids[position + 1 :], "an earlier deployment of this request did not finish")
            raise
        outcome.deployments.append(done)
        if done.state != DeploymentState.SUCCEEDED.value:
            cancel_queued(ws, ids[position + 1 :], f"deployment {done.id} failed")
            outcome.deployments.extend(load_deployments(ws, ids[position + 1 :]))
            return outcome
    if follow:
        outcome.extend(_auto_deploy(ws, release_id, wait=wait, progress=progress))
    return outcome


def cancel_queued(ws: Workspace, ids: Sequence[int], reason: str) -> None:
    if not ids:
        return
    with ws.store.transaction() as session:
        for deployment in session.scalars(select(Deployment).where(Deployment.id.in_(ids))):
            if deployment.state == DeploymentState.QUEUED.value:
                deployment.state = advance(DeploymentState.QUEUED, DeploymentState.CANCELLED).value
                deployment.reason = reason
                deployment.lease_owner, deployment.lease_expires_at = None, None
                for step in deployment.steps:
                    step.state, step.reason = "cancelled", reason
                record(
                    session,
                    actor=ws.actor,
                    tag="deployment:cancelled",
                    subject=f"deployment:{deployment.id}",
                    data={"deployment_id": deployment.id, "reason": reason},
                )
                if deployment.change_request_id is not None:
                    settle_change(session, ws.actor, deployment.change_request_id)


def load_deployments(ws: Workspace, ids: Sequence[int]) -> list[Deployment]:
    with ws.store.transaction() as session:
        rows = list(session.scalars(select(Deployment).where(Deployment.id.in_(ids)).order_by(Deployment.id)))
        for row in rows:
            _ = row.release, row.steps
        return rows


def auto_deploy(
    ws: Workspace, version: str, *, wait: bool = False, progress: Progress | None = None
) -> DeployOutcome:
    """Deploy a release to the auto-deploy phases it may enter now (e.g. the first one, on creation)."""
    with ws.store.transaction() as session:
        release_id = find_release(session, ws.project_id, version).id
    return _auto_deploy(ws, release_id, wait=wait, progress=progress or NullProgress())


def _auto_deploy(ws: Workspace, release_id: int, *, wait: bool, progress: Progress) -> DeployOutcome:
    """Deploy to every auto-deploy environment whose earlier phases this release has now completed,
    round after round (one phase's success can unlock the next), until none is left or one fails."""
    outcome = DeployOutcome()
    refused: set[str] = set()
    while plan := _auto_plan(ws, release_id, skip=refused):
        version, targets = plan
        for env, services in targets.items():
            try:
                # No nested follow-up: it would plan from a store that does not yet show this round's
                # other environments and deploy them a second time. The next round plans afresh.
                result = deploy(
                    ws,
                    version,
                    env,
                    services=services,
                    wait=wait,
                    progress=progress,
                    follow_auto_deploy=False,
                )
            except Refused as exc:
                # Nobody asked for this one: a rule's "no" is reported, not raised, so the
                # deployment that was asked for is not mistaken for the refused one.
                refused.add(env)
                outcome.refused.append(exc)
                continue
            outcome.extend(result)
            if not result.ok:
                return outcome
    return outcome


def _auto_plan(ws: Workspace, release_id: int, *, skip: set[str]) -> tuple[str, dict[str, list[str]]] | None:
    """The release's version and the services to deploy to each auto-deploy environment it may enter now."""
    with ws.store.transaction() as session:
        release = session.get(Release, release_id)
        assert release is not None
        rules = phase_rules(ws.config, release.type == "hotfix")
        plan: dict[str, list[str]] = {}
        for service in ws.config.service_names():
            # Environments already attempted are left out, so every round shrinks what is left.
            for env in auto_deploy_targets(
                rules,
                succeeded_envs(session, release_id, service),
                attempted_envs(session, release_id, service) | skip,
            ):
                plan.setdefault(env, []).append(service)
        return (release.version, plan) if plan else None


def promote(
    ws: Workspace, version: str, *, wait: bool = False, progress: Progress | None = None
) -> DeployOutcome:
    """Deploy the release to the next phase of its lifecycle that it has not completed."""
    progress = progress or NullProgress()
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        release_id = release.id
        rules = phase_rules(ws.config, release.type == "hotfix")
        plan: dict[str, list[str]] = {}
        for service in ws.config.service_names():
            succeeded = succeeded_envs(session, release.id, service)
            phase = next_phase(rules, succeeded)
            if phase is None:
                continue
            for env in phase.environments:
                if env not in succeeded:
                    plan.setdefault(env, []).append(service)
    if not plan:
        raise Refused(
            f"release {version} has completed its lifecycle: nothing to promote", code="nothing-to-promote"
        )
    outcome = DeployOutcome()
    for env, services in plan.items():
        # Auto-deploy phases follow once, after the whole phase is deployed, not after each environment.
        result = deploy(
            ws, version, env, services=services, wait=wait, progress=progress, follow_auto_deploy=False
        )
        outcome.extend(result)
        if not result.ok:
            return outcome
    outcome.extend(_auto_deploy(ws, release_id, wait=wait, progress=progress))
    return outcome
