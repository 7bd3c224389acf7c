"""May this release be deployed here, now (or at its scheduled time)? The lifecycle, the gates and,
in ITIL mode, the change request — checked before anything is written; a refusal writes only its
audit entry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.delivery.states import DeploymentState
from clearance.errors import Refused
from clearance.gates.changes.service import ChangeClearance, check_change
from clearance.planning.lifecycle import PhaseRule, check_prerelease, check_promotion
from clearance.project import ProjectConfig
from clearance.store import Deployment, Release
from clearance.versioning.semver import Version
from clearance.workspace import Workspace

__all__ = ["attempted_envs", "check_rules", "phase_rules", "recheck_rules", "refuse", "succeeded_envs"]


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


def succeeded_envs(session: Session, release_id: int, service: str) -> set[str]:
    rows = session.scalars(
        select(Deployment.environment).where(
            Deployment.release_id == release_id,
            Deployment.service == service,
            Deployment.state == DeploymentState.SUCCEEDED.value,
        )
    )
    return set(rows)


def attempted_envs(session: Session, release_id: int, service: str) -> set[str]:
    rows = session.scalars(
        select(Deployment.environment).where(
            Deployment.release_id == release_id, Deployment.service == service
        )
    )
    return set(rows)


def check_rules(
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
        succeeded=succeeded_envs(session, release.id, service),
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
    return check_rules(
        ws,
        session,
        deployment.release,
        deployment.environment,
        deployment.service,
        requester=deployment.requested_by,
        change_request_id=deployment.change_request_id,
    )


def refuse(ws: Workspace, error: Refused, *, version: str, environment: str, services: Sequence[str]) -> None:
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
