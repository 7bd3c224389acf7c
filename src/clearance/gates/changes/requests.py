"""Opening and following change requests: the request a deployment to a change-controlled environment
implements, found or opened with the risk assessed from the release (its type, size, gates not passed,
rollback plan, and the recent change failure rate there) and its kind (standard, normal, emergency);
reassessed while nobody has decided on it — at the next deployment, or at once when what the gates
judge changes (`follow_release`); only widened once someone has. The rules are pure, in `policy`,
`risk` and `cab`; `service` judges a request before a deployment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.gates.changes.cab import OPEN, ChangeState
from clearance.gates.changes.policy import ChangeControlPolicy
from clearance.gates.changes.risk import (
    FINISHED_STATES,
    Assessment,
    ChangeKind,
    RiskFacts,
    assess,
    classify,
    notes_entries,
)
from clearance.gates.verdicts import evaluate_release
from clearance.store import Deployment, Release
from clearance.store.tables import ChangeRequestRow, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from clearance.workspace import Workspace

__all__ = ["change_policy", "current_request", "follow_release"]

# Timing and sign-off are the CAB's and the windows' business, not a measure of the change itself.
_NOT_RISK = ("windows", "approvals")


def change_policy(ws: Workspace, environment: str) -> ChangeControlPolicy | None:
    env = ws.config.environment(environment)
    return env.change_control if env is not None else None


def _recent_states(
    session: Session, project_id: int, environment: str, services: Sequence[str], limit: int
) -> tuple[str, ...]:
    query = (
        select(Deployment.state)
        .where(
            Deployment.project_id == project_id,
            Deployment.environment == environment,
            Deployment.service.in_(list(services)),
            Deployment.kind == "deploy",
            Deployment.state.in_(sorted(FINISHED_STATES)),
            # One refused or cancelled before it started changed nothing: no change, so no failure.
            Deployment.started_at.is_not(None),
        )
        .order_by(Deployment.created_at.desc(), Deployment.id.desc())
        .limit(limit)
    )
    return tuple(session.scalars(query))


def _assess(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    services: Sequence[str],
    policy: ChangeControlPolicy,
    at: datetime | None,
) -> Assessment:
    verdicts = evaluate_release(ws, session, release, environment, requester=ws.actor, at=at)
    facts = RiskFacts(
        release_type=release.type,
        work_items=len(release.work_items),
        notes_entries=notes_entries(release.notes),
        rollback_plan=release.rollback_plan,
        unpassed_gates=tuple(
            f"{v.gate}: {v.status}" for v in verdicts if v.status != "pass" and v.gate not in _NOT_RISK
        ),
        recent_states=_recent_states(
            session, ws.project_id, environment, services, policy.risk.recent_deployments
        ),
    )
    return assess(facts, policy.risk)


def _kind(
    policy: ChangeControlPolicy, release: Release, assessment: Assessment, resubmitted: bool
) -> ChangeKind:
    kind = classify(policy, release.type, assessment.level)
    # A rejected change comes back to the CAB: it is never pre-approved on the second try.
    return ChangeKind.NORMAL if kind is ChangeKind.STANDARD and resubmitted else kind


def _apply(row: ChangeRequestRow, kind: ChangeKind, assessment: Assessment) -> None:
    row.kind = kind.value
    row.risk_level = assessment.level.value
    row.risk_score = assessment.score
    row.risk_factors = [f.to_json() for f in assessment.factors]


def _approve_standard(
    ws: Workspace, session: Session, row: ChangeRequestRow, policy: ChangeControlPolicy
) -> None:
    assert policy.standard is not None
    types = ", ".join(policy.standard.types) if policy.standard.types else "any type"
    row.state = ChangeState.APPROVED.value
    row.decided_at = utcnow()
    row.reason = f"standard change: {types} at most {policy.standard.max_risk} risk is pre-approved"
    data = {"change_request_id": row.id, "automatic": True, "reason": row.reason}
    record(session, actor=ws.actor, tag="change:approved", subject=f"change:{row.id}", data=data)


def _create(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    services: Sequence[str],
    policy: ChangeControlPolicy,
    previous: ChangeRequestRow | None,
    at: datetime | None,
    requester: str,
) -> ChangeRequestRow:
    resubmitted = previous is not None and previous.state == ChangeState.REJECTED.value
    assessment = _assess(ws, session, release, environment, services, policy, at)
    kind = _kind(policy, release, assessment, resubmitted)
    row = ChangeRequestRow(
        project_id=ws.project_id,
        release_id=release.id,
        environment=environment,
        services=list(services),
        rollback_plan=release.rollback_plan,
        state=ChangeState.PENDING.value,
        reason=f"resubmitted after change request #{previous.id} was rejected"
        if resubmitted and previous
        else "",
        requested_by=requester,
    )
    _apply(row, kind, assessment)
    session.add(row)
    session.flush()
    data = {
        "change_request_id": row.id,
        "version": release.version,
        "environment": environment,
        "services": row.services,
        "kind": row.kind,
        "risk_level": row.risk_level,
        "risk_score": row.risk_score,
        "risk_factors": row.risk_factors,
        "rollback_plan": row.rollback_plan,
        "requested_by": row.requested_by,
        "resubmission_of": previous.id if resubmitted and previous else None,
    }
    record(session, actor=ws.actor, tag="change:created", subject=f"change:{row.id}", data=data)
    if kind is ChangeKind.STANDARD:
        _approve_standard(ws, session, row, policy)
    return row


def _reassess(
    ws: Workspace,
    session: Session,
    row: ChangeRequestRow,
    services: Sequence[str],
    policy: ChangeControlPolicy,
    *,
    resubmitted: bool,
    at: datetime | None,
) -> None:
    """A request nobody has decided on yet follows the release (new evidence, a wider deployment);
    once someone has decided, what they decided on stays as it was."""
    scope = list(dict.fromkeys([*row.services, *services]))
    assessment = _assess(ws, session, row.release, row.environment, scope, policy, at)
    kind = _kind(policy, row.release, assessment, resubmitted)
    before = (row.kind, row.risk_level, row.risk_score, row.risk_factors, row.services)
    row.services = scope
    _apply(row, kind, assessment)
    if before == (row.kind, row.risk_level, row.risk_score, row.risk_factors, row.services):
        return
    data = {
        "change_request_id": row.id,
        "services": row.services,
        "kind": row.kind,
        "risk_level": row.risk_level,
        "risk_score": row.risk_score,
        "risk_factors": row.risk_factors,
        "was": {"kind": before[0], "risk_level": before[1], "risk_score": before[2]},
    }
    record(session, actor=ws.actor, tag="change:reassessed", subject=f"change:{row.id}", data=data)
    if kind is ChangeKind.STANDARD:
        _approve_standard(ws, session, row, policy)


def _extend(ws: Workspace, session: Session, row: ChangeRequestRow, services: Sequence[str]) -> None:
    added = [s for s in services if s not in row.services]
    if added:
        row.services = [*row.services, *added]
        data = {"change_request_id": row.id, "added": added, "services": row.services}
        record(session, actor=ws.actor, tag="change:services-added", subject=f"change:{row.id}", data=data)


def current_request(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    services: Sequence[str],
    policy: ChangeControlPolicy,
    at: datetime | None,
    requester: str,
) -> ChangeRequestRow:
    """The open request for deploying `release` to `environment`, created when there is none (asked
    for by `requester`: a server running a scheduled deployment opens it for the person who scheduled it)."""
    query = select(ChangeRequestRow).where(
        ChangeRequestRow.release_id == release.id, ChangeRequestRow.environment == environment
    )
    rows = list(session.scalars(query.order_by(ChangeRequestRow.id.desc())))
    position = next((i for i, r in enumerate(rows) if r.state in OPEN), None)
    if position is None:
        previous = rows[0] if rows else None
        return _create(ws, session, release, environment, services, policy, previous, at, requester)
    _follow(ws, session, rows, position, services, policy, at)
    return rows[position]


def _follow(
    ws: Workspace,
    session: Session,
    rows: Sequence[ChangeRequestRow],
    position: int,
    services: Sequence[str],
    policy: ChangeControlPolicy,
    at: datetime | None,
) -> None:
    """Bring the open request `rows[position]` (of one release and environment, newest first) up to
    date for a deployment of `services`: reassessed while nobody has decided on it, else only widened."""
    row = rows[position]
    if row.state == ChangeState.PENDING.value and not row.decisions:
        older = rows[position + 1] if position + 1 < len(rows) else None
        resubmitted = older is not None and older.state == ChangeState.REJECTED.value
        _reassess(ws, session, row, services, policy, resubmitted=resubmitted, at=at)
    else:
        _extend(ws, session, row, services)


def follow_release(ws: Workspace, session: Session, release: Release) -> None:
    """After a change to what the gates judge (evidence, artifacts, signatures, waivers), in the same
    transaction: reassess each of the release's open requests nobody has decided on yet (audited
    `change:reassessed` when its risk or kind moved). Decided requests stay as decided; a request for
    an environment no longer under change control is left alone."""
    query = select(ChangeRequestRow).where(ChangeRequestRow.release_id == release.id)
    rows = list(session.scalars(query.order_by(ChangeRequestRow.id.desc())))
    for environment in dict.fromkeys(r.environment for r in rows):
        policy = change_policy(ws, environment)
        if policy is None:
            continue
        mine = [r for r in rows if r.environment == environment]
        position = next((i for i, r in enumerate(mine) if r.state in OPEN), None)
        if position is not None:
            _follow(ws, session, mine, position, (), policy, None)
