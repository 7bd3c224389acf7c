"""Read models of deployments for the front doors: the environment matrix, history, one deployment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearance.audit.chain import format_time
from clearance.errors import NotFound
from clearance.flags.release_links import rollout_in
from clearance.store import Deployment, Release
from clearance.store.tables import ChangeRequestRow, FlagRow, MeasurementRow, TargetObservation


def _time(at: datetime | None) -> str | None:
    return format_time(at) if at else None


def identity(d: Deployment) -> dict[str, Any]:
    """Which deployment an audit entry is about: its id, version, environment and service."""
    return {
        "deployment_id": d.id,
        "version": d.release.version,
        "environment": d.environment,
        "service": d.service,
    }


def deployment_summary(d: Deployment) -> dict[str, Any]:
    return {
        "id": d.id,
        "version": d.release.version,
        "environment": d.environment,
        "service": d.service,
        "kind": d.kind,
        "state": d.state,
        "reason": d.reason,
        "requested_by": d.requested_by,
        "rollback_of": d.rollback_of_id,
        "created_at": _time(d.created_at),
        "started_at": _time(d.started_at),
        "finished_at": _time(d.finished_at),
        "scheduled_at": _time(d.scheduled_at),
        "change_request_id": d.change_request_id,
    }


def deployment_detail(d: Deployment) -> dict[str, Any]:
    summary = deployment_summary(d)
    summary["config_sha256"] = d.config_sha256
    summary["steps"] = [
        {
            "position": s.position,
            "name": s.name,
            "kind": s.kind,
            "state": s.state,
            "reason": s.reason,
            "exit_code": s.exit_code,
            "started_at": _time(s.started_at),
            "finished_at": _time(s.finished_at),
            "output": s.output,
            "output_truncated": s.output_truncated,
        }
        for s in d.steps
    ]
    summary["strategy"] = d.strategy or None
    summary["rollout"] = dict(d.rollout or {})
    return summary


def deployment_measurements(session: Session, deployment_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(MeasurementRow)
        .where(MeasurementRow.deployment_id == deployment_id)
        .order_by(MeasurementRow.id)
    )
    return [
        {
            "step_id": m.step_id,
            "analysis": m.analysis,
            "metric": m.metric,
            "phase": m.phase,
            "value": (m.value or {}).get("result"),
            "error": m.error,
            "started_at": _time(m.started_at),
            "finished_at": _time(m.finished_at),
        }
        for m in rows
    ]


def flag_view(session: Session, deployment: Deployment) -> dict[str, Any] | None:
    """A flag-rollout deployment's flag: the share of users it is on for now in the deployment's
    environment (None: switched off) and the last share this deployment set."""
    progress = deployment.rollout or {}
    name = progress.get("flag")
    if not name:
        return None
    flag = session.scalars(
        select(FlagRow).where(FlagRow.project_id == deployment.project_id, FlagRow.name == name)
    ).first()
    return {
        "name": name,
        "environment": deployment.environment,
        "rollout": rollout_in(flag, deployment.environment) if flag is not None else None,
        "set_by_deployment": progress.get("flag_percent"),
    }


def target_view(session: Session, project_id: int, environment: str, service: str) -> dict[str, Any] | None:
    """What the agent last saw for this environment and service: replicas, weights, when."""
    row = session.get(TargetObservation, (project_id, environment, service))
    if row is None:
        return None
    observed = row.observed or {}
    return {
        "observed_at": _time(row.observed_at),
        "agent": row.agent_id,
        "weights": dict(observed.get("weights", [])),
        "replicas": [
            {k: r.get(k) for k in ("version", "port", "ready", "restarts", "last_error")}
            for r in observed.get("replicas", [])
        ],
        "error": observed.get("error", ""),
    }


@dataclass(frozen=True)
class MatrixCell:
    environment: str
    service: str
    deployment: Deployment | None  # the latest attempt, whatever its state
    current: Deployment | None = None  # the latest that succeeded: what runs there now

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "service": self.service,
            "deployment": deployment_summary(self.deployment) if self.deployment else None,
            "current": deployment_summary(self.current) if self.current else None,
        }


def _newest(session: Session, project_id: int, *, succeeded: bool) -> dict[tuple[str, str], Deployment]:
    query = select(func.max(Deployment.id)).where(Deployment.project_id == project_id)
    if succeeded:
        query = query.where(Deployment.state == "succeeded")
    newest = query.group_by(Deployment.environment, Deployment.service)
    rows = session.scalars(select(Deployment).where(Deployment.id.in_(newest)))
    return {(row.environment, row.service): row for row in rows}


def status_matrix(
    session: Session, project_id: int, environments: list[str], services: list[str]
) -> list[MatrixCell]:
    """Per environment × service: the latest deployment and the version running there now."""
    latest = _newest(session, project_id, succeeded=False)
    current = _newest(session, project_id, succeeded=True)
    return [
        MatrixCell(env, svc, latest.get((env, svc)), current.get((env, svc)))
        for env in environments
        for svc in services
    ]


def history(
    session: Session, project_id: int, environment: str | None = None, limit: int = 50
) -> list[Deployment]:
    query = select(Deployment).where(Deployment.project_id == project_id)
    if environment:
        query = query.where(Deployment.environment == environment)
    return list(session.scalars(query.order_by(Deployment.id.desc()).limit(limit)))


def get_deployment(session: Session, project_id: int, deployment_id: int) -> Deployment:
    d = session.get(Deployment, deployment_id)
    if d is None or d.project_id != project_id:
        raise NotFound(f"no deployment {deployment_id} in this project")
    return d


def release_deployments(session: Session, release: Release) -> list[Deployment]:
    return list(
        session.scalars(select(Deployment).where(Deployment.release_id == release.id).order_by(Deployment.id))
    )


def change_requests_of(
    session: Session, deployments: Sequence[Deployment | None]
) -> dict[int, dict[str, Any]]:
    """The change requests (ITIL mode) these deployments implement, by id: one query for all."""
    ids = {d.change_request_id for d in deployments if d is not None and d.change_request_id is not None}
    if not ids:
        return {}
    rows = session.scalars(select(ChangeRequestRow).where(ChangeRequestRow.id.in_(sorted(ids))))
    return {r.id: {"id": r.id, "kind": r.kind, "state": r.state, "reason": r.reason} for r in rows}
