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
from clearance.delivery.engine import NullProgress, Progress, execute, step_environment
from clearance.delivery.leases import active_holder, lease_until, worker_id
from clearance.delivery.states import DeploymentState, advance
from clearance.delivery.strategies.plan import plan as rollout_plan
from clearance.errors import ClearanceError, DeploymentBusy, NotFound, Refused
from clearance.flags.release_links import flag_for_rollout
from clearance.gates.changes.outcome import settle_change
from clearance.gates.changes.service import ChangeClearance, check_change, implement_change
from clearance.planning.lifecycle import (
    PhaseRule,
    auto_deploy_targets,
    check_prerelease,
    check_promotion,
    next_phase,
)
from clearance.planning.service import find_release
from clearance.project import ProjectConfig
from clearance.project.rollout import FlagRollout
from clearance.project.schema import Environment, Service
from clearance.store import Deployment, DeploymentStep, Release
from clearance.versioning.semver import Version
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


def phase_rules(config: ProjectConfig, hotfix: bool) -> list[PhaseRule]:
    return [
        PhaseRule(
            name=phase.display_name(),
            environments=tuple(phase.environments),
            min_required=phase.min_required(),
            auto_deploy=phase.auto_deploy,
        )
        for phase in config.lifecycle_for(hotfix).phases
    ]


def unknown_error(kind: str, name: str, names: Sequence[str]) -> NotFound:
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known {kind}s: {', '.join(names)}"
    return NotFound(f"unknown {kind} '{name}'", hint=hint)


def _succeeded_envs(session: Session, release_id: int, service: str) -> set[str]:
    rows = session.scalars(
        select(Deployment.environment).where(
            Deployment.release_id == release_id,
            Deployment.service == service,
            Deployment.state == DeploymentState.SUCCEEDED.value,
        )
    )
    return set(rows)


def _attempted_envs(session: Session, release_id: int, service: str) -> set[str]:
    rows = session.scalars(
        select(Deployment.environment).where(
            Deployment.release_id == release_id, Deployment.service == service
        )
    )
    return set(rows)


def _check_rules(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    service: str,
    *,
    at: datetime | None = None,
    requester: str | None = None,
    targets: Sequence[str] = (),
    change_request_id: int | None = None,
) -> ChangeClearance | None:
    env = ws.config.environment(environment)
    assert env is not None
    version = Version.parse(release.version)
    check_prerelease(
        version=release.version,
        is_prerelease=version.is_prerelease,
        target=environment,
        production=env.production,
        allows_prerelease=env.allows_prerelease(),
    )
    check_promotion(
        phase_rules(ws.config, release.type == "hotfix"),
        version=release.version,
        target=environment,
        succeeded=_succeeded_envs(session, release.id, service),
    )
    # Quality and security gates last: a lifecycle violation is the more basic "no". In ITIL mode,
    # then the change request of all `targets` (an approved emergency change lifts a freeze).
    services = targets or (service,)
    return check_change(
        ws,
        session,
        release,
        environment,
        services,
        at=at,
        requester=requester,
        change_request_id=change_request_id,
    )


def recheck_rules(ws: Workspace, session: Session, deployment: Deployment) -> ChangeClearance | None:
    """The rules again, now, for a deployment queued earlier (a scheduled one, when its time has
    come), on behalf of the person who asked for it, under the change request it was queued under;
    raises the refusal."""
    return _check_rules(
        ws,
        session,
        deployment.release,
        deployment.environment,
        deployment.service,
        requester=deployment.requested_by,
        change_request_id=deployment.change_request_id,
    )


def _refuse(
    ws: Workspace, error: Refused, *, version: str, environment: str, services: Sequence[str]
) -> None:
    """A refusal is itself a fact worth keeping: audit it on its own, then raise."""
    with ws.store.transaction() as session:
        record(
            session,
            actor=ws.actor,
            tag="promotion:refused",
            subject=f"release:{ws.config.project}@{version}",
            data={
                "version": version,
                "environment": environment,
                "services": list(services),
                "code": error.code,
                "reason": error.message,
                **error.data,
            },
        )
    raise error


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


def select_services(ws: Workspace, services: Sequence[str] | None) -> list[str]:
    names = ws.config.service_names()
    for name in services or ():
        if name not in names:
            raise unknown_error("service", name, names)
    return list(services) if services else names


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
    targets = select_services(ws, services)
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        release_id = release.id
        refusal: Refused | None = None
        change: ChangeClearance | None = None
        for service in targets:
            try:
                change = _check_rules(ws, session, release, environment, service, at=at, targets=targets)
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
        _refuse(ws, refusal, version=version, environment=environment, services=targets)
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
                _succeeded_envs(session, release_id, service),
                _attempted_envs(session, release_id, service) | skip,
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
            succeeded = _succeeded_envs(session, release.id, service)
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
