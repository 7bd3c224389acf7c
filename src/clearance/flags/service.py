"""Flags in the store: create, switch, roll out, constrain, archive — each change audited — and the
views `clearance flag list|show|stale` and the admin API read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from clearance.audit.service import record
from clearance.errors import AlreadyExists, NotFound, Refused, UsageError
from clearance.flags import definitions as rules
from clearance.flags.release_links import propose_cleanup
from clearance.store.tables import FlagEnvironmentRow, FlagMetricRow, FlagRow, utcnow
from clearance.workspace import Workspace


@dataclass(frozen=True)
class EnvironmentView:
    enabled: bool
    strategies: list[Any]
    variants: list[Any]
    full_since: datetime | None


@dataclass(frozen=True)
class FlagView:
    name: str
    type: str
    description: str
    created_by: str
    created_at: datetime
    archived_at: datetime | None
    environments: dict[str, EnvironmentView]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "archived": self.archived_at is not None,
            "environments": {
                env: {
                    "enabled": view.enabled,
                    "strategies": view.strategies,
                    "variants": view.variants,
                    "fully_rolled_out_since": view.full_since.isoformat() if view.full_since else None,
                }
                for env, view in self.environments.items()
            },
            "metrics": self.metrics,
        }


def check_environment(ws: Workspace, environment: str) -> str:
    names = ws.config.environment_names()
    if environment not in names:
        raise NotFound(f"unknown environment {environment!r}", hint=f"environments: {', '.join(names)}")
    return environment


def _find(session: Session, project_id: int, name: str, *, lock: bool = False) -> FlagRow:
    unknown = NotFound(
        f"unknown flag {name[:80]!r}{'…' if len(name) > 80 else ''}",
        hint="`clearance flag list` shows the project's flags",
    )
    try:
        # Every stored name passed this check; one that fails it (say, not UTF-8) is not looked up.
        rules.check_flag_name(name)
    except UsageError:
        raise unknown from None
    query = select(FlagRow).where(FlagRow.project_id == project_id, FlagRow.name == name)
    flag = session.scalars(query.with_for_update() if lock else query).first()
    if flag is None:
        raise unknown
    return flag


def _view(ws: Workspace, flag: FlagRow) -> FlagView:
    stored = {row.environment: row for row in flag.environments}
    environments = {}
    for env in ws.config.environment_names():
        row = stored.get(env)
        environments[env] = (
            EnvironmentView(row.enabled, list(row.strategies), list(row.variants), row.full_since)
            if row is not None
            else EnvironmentView(False, [], [], None)
        )
    return FlagView(
        name=flag.name,
        type=flag.type,
        description=flag.description,
        created_by=flag.created_by,
        created_at=flag.created_at,
        archived_at=flag.archived_at,
        environments=environments,
    )


def create_flag(
    ws: Workspace, name: str, kind: str = "release", description: str = "", *, actor: str | None = None
) -> FlagView:
    rules.check_flag_name(name)
    rules.check_flag_type(kind)
    with ws.store.transaction() as session:
        exists = session.scalars(
            select(FlagRow).where(FlagRow.project_id == ws.project_id, FlagRow.name == name)
        ).first()
        if exists is not None and exists.archived_at is not None:
            raise AlreadyExists(
                f"flag {name!r} exists, archived", hint=f"`clearance flag revive {name}` brings it back"
            )
        if exists is not None:
            raise AlreadyExists(f"flag {name!r} exists", hint="flag names are unique in a project")
        flag = FlagRow(
            project_id=ws.project_id,
            name=name,
            type=kind,
            description=description,
            created_by=actor or ws.actor,
            environments=[],
        )
        session.add(flag)
        record(
            session,
            actor=actor or ws.actor,
            tag="flag:created",
            subject=f"flag:{name}",
            data={"type": kind, "description": description},
        )
        session.flush()
        return _view(ws, flag)


# What a change did, for the audit entry; None when it changed nothing (nothing is audited then).
Change = Callable[[FlagEnvironmentRow], dict[str, Any] | None]


def _change(
    ws: Workspace,
    name: str,
    environment: str,
    tag: str,
    change: Change,
    actor: str | None,
    context: dict[str, Any] | None = None,
) -> FlagView:
    """Apply `change` to the flag's row for `environment` (made when missing) and audit it, with
    `context` (who asked: a deployment, its kill switch) in the entry."""
    check_environment(ws, environment)
    with ws.store.transaction() as session:
        flag = _find(session, ws.project_id, name, lock=True)
        if flag.archived_at is not None and tag != "flag:kill-switch":
            raise Refused(
                f"flag {name!r} is archived: SDKs no longer get it, and it takes no changes",
                code="flag-archived",
                hint=f"`clearance flag revive {name}` brings it back first",
            )
        row = next((r for r in flag.environments if r.environment == environment), None)
        if row is None:
            row = FlagEnvironmentRow(environment=environment, enabled=False, strategies=[], variants=[])
            flag.environments.append(row)
        data = change(row)
        if data is None:
            return _view(ws, flag)
        full = rules.is_fully_rolled_out(row.enabled, row.strategies)
        now = utcnow()
        row.full_since = (row.full_since or now) if full else None
        row.updated_at = now
        # The feature as SDKs will receive it must parse: refuse the change otherwise.
        rules.feature_json(
            flag.name,
            flag.type,
            flag.description,
            enabled=row.enabled,
            strategies=row.strategies,
            variants=row.variants,
        )
        record(
            session,
            actor=actor or ws.actor,
            tag=tag,
            subject=f"flag:{name}",
            data={"environment": environment, **data, **(context or {})},
        )
        if full:
            propose_cleanup(ws, session, flag, actor or ws.actor)
        session.flush()
        return _view(ws, flag)


def set_enabled(
    ws: Workspace, name: str, environment: str, enabled: bool, *, actor: str | None = None
) -> FlagView:
    def change(row: FlagEnvironmentRow) -> dict[str, Any] | None:
        if row.enabled == enabled and (row.strategies or not enabled):
            return None  # already so: nothing to audit
        row.enabled = enabled
        if enabled and not row.strategies:
            row.strategies = [rules.default_strategy()]
        return {}

    tag = "flag:enabled" if enabled else "flag:disabled"
    return _change(ws, name, environment, tag, change, actor)


def set_rollout(
    ws: Workspace,
    name: str,
    environment: str,
    percent: int,
    *,
    stickiness: str = "default",
    group_id: str | None = None,
    actor: str | None = None,
    enable: bool = False,
    context: dict[str, Any] | None = None,
) -> FlagView:
    """`enable` switches the flag on in the same change (a flag rollout's steps), so the share set
    is the share served; otherwise the flag's on/off state is left alone."""

    def change(row: FlagEnvironmentRow) -> dict[str, Any]:
        before = rules.is_fully_rolled_out(True, row.strategies)
        row.strategies = rules.with_rollout(
            list(row.strategies), percent, stickiness=stickiness, group_id=group_id or name
        )
        data = {"percentage": percent, "stickiness": stickiness, "was_full": before}
        if enable and not row.enabled:
            row.enabled = True
            data["enabled"] = True
        return data

    return _change(ws, name, environment, "flag:rollout-set", change, actor, context)


def _to_zero(row: FlagEnvironmentRow, name: str) -> dict[str, Any]:
    first = row.strategies[0] if row.strategies else {}
    params = first.get("parameters", {}) if first.get("name") == "flexibleRollout" else {}
    row.strategies = rules.with_rollout(
        list(row.strategies),
        0,
        stickiness=params.get("stickiness", "default"),
        group_id=params.get("groupId") or name,
    )
    return {"percentage": 0, "kill_switch": True}


def kill_switch(ws: Workspace, name: str, environment: str, *, context: dict[str, Any]) -> FlagView:
    """A flag rollout went wrong: nobody gets the flag's share any more (rollout 0 %, still on, so
    its stickiness, group and constraints stay for the next attempt), audited with why."""
    return _change(ws, name, environment, "flag:kill-switch", lambda row: _to_zero(row, name), None, context)


def kill_switch_in(
    session: Session, project_id: int, name: str, environment: str, *, actor: str, context: dict[str, Any]
) -> None:
    """The kill switch inside a caller's transaction (a deployment found interrupted)."""
    flag = _find(session, project_id, name, lock=True)
    row = next((r for r in flag.environments if r.environment == environment), None)
    if row is None:
        return
    data = _to_zero(row, name)
    row.full_since, row.updated_at = None, utcnow()
    record(
        session,
        actor=actor,
        tag="flag:kill-switch",
        subject=f"flag:{name}",
        data={"environment": environment, **data, **context},
    )


def add_constraint(
    ws: Workspace, name: str, environment: str, given: rules.ConstraintInput, *, actor: str | None = None
) -> FlagView:
    constraint = rules.constraint_json(given)

    def change(row: FlagEnvironmentRow) -> dict[str, Any]:
        row.strategies = rules.with_constraint(list(row.strategies), constraint)
        return {"constraint": constraint}

    return _change(ws, name, environment, "flag:constrained", change, actor)


def set_variants(
    ws: Workspace,
    name: str,
    environment: str,
    items: list[str],
    *,
    stickiness: str = "default",
    actor: str | None = None,
) -> FlagView:
    variants = rules.parse_variants(items, stickiness=stickiness)

    def change(row: FlagEnvironmentRow) -> dict[str, Any]:
        row.variants = variants
        return {"variants": {v["name"]: v["weight"] for v in variants}}

    return _change(ws, name, environment, "flag:variants-set", change, actor)


def archive_flag(ws: Workspace, name: str, *, actor: str | None = None) -> FlagView:
    with ws.store.transaction() as session:
        flag = _find(session, ws.project_id, name, lock=True)
        if flag.archived_at is None:
            flag.archived_at = utcnow()
            record(session, actor=actor or ws.actor, tag="flag:archived", subject=f"flag:{name}", data={})
        return _view(ws, flag)


def revive_flag(ws: Workspace, name: str, *, actor: str | None = None) -> FlagView:
    """Serve an archived flag again, as it was when archived; audited."""
    with ws.store.transaction() as session:
        flag = _find(session, ws.project_id, name, lock=True)
        if flag.archived_at is not None:
            flag.archived_at = None
            record(session, actor=actor or ws.actor, tag="flag:revived", subject=f"flag:{name}", data={})
        return _view(ws, flag)


def _metrics(session: Session, project_id: int, name: str) -> dict[str, dict[str, Any]]:
    rows = session.scalars(
        select(FlagMetricRow).where(FlagMetricRow.project_id == project_id, FlagMetricRow.flag == name)
    )
    return {r.environment: {"yes": r.yes, "no": r.no, "variants": dict(r.variants)} for r in rows}


def show_flag(ws: Workspace, name: str) -> FlagView:
    with ws.store.transaction() as session:
        flag = _find(session, ws.project_id, name)
        return replace(_view(ws, flag), metrics=_metrics(session, ws.project_id, name))


def list_flags(ws: Workspace, *, archived: bool = False) -> list[FlagView]:
    query = (
        select(FlagRow)
        .where(FlagRow.project_id == ws.project_id)
        .options(selectinload(FlagRow.environments))
        .order_by(FlagRow.name)
    )
    if not archived:
        query = query.where(FlagRow.archived_at.is_(None))
    with ws.store.transaction() as session:
        return [_view(ws, flag) for flag in session.scalars(query)]


def stale_flags(ws: Workspace, now: datetime | None = None) -> list[FlagView]:
    """Flags fully rolled out in every environment for longer than `flags.stale_after`."""
    after = timedelta(seconds=ws.config.flags.stale_after)
    moment = now or utcnow()
    return [
        view
        for view in list_flags(ws)
        if rules.is_stale([e.full_since for e in view.environments.values()], moment, after)
    ]
