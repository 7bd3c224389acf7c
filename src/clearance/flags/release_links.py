"""Flags tied to releases: `clearance release flag RELEASE NAME` links a flag to the release that
needs it, a `flag-rollout` deployment finds its flag there, and once the flag is fully out in every
production environment the link proposes the flag for clean-up (audited once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import NotFound, Refused, UsageError
from clearance.flags import definitions as rules
from clearance.planning.service import find_release
from clearance.project.rollout import FlagRollout
from clearance.store import Release
from clearance.store.tables import FlagRow, ReleaseFlagRow, utcnow
from clearance.workspace import Workspace


@dataclass(frozen=True)
class ReleaseFlagView:
    name: str
    linked_by: str
    linked_at: datetime
    rollout: dict[str, int | None]  # environment -> % of users (None: off)
    cleanup_proposed_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "linked_by": self.linked_by,
            "linked_at": self.linked_at.isoformat(),
            "rollout": self.rollout,
            "cleanup_proposed": self.cleanup_proposed_at is not None,
            "cleanup_proposed_at": self.cleanup_proposed_at.isoformat() if self.cleanup_proposed_at else None,
        }


def _flag(session: Session, project_id: int, name: str) -> FlagRow:
    flag = session.scalars(
        select(FlagRow).where(FlagRow.project_id == project_id, FlagRow.name == name)
    ).first()
    if flag is None:
        raise NotFound(f"unknown flag {name!r}", hint="`clearance flag list` shows the project's flags")
    return flag


def link_flag(
    ws: Workspace, version: str, name: str, *, unlink: bool = False, actor: str | None = None
) -> bool:
    """Link (or unlink) a flag and a release; False when there was nothing to change."""
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        flag = _flag(session, ws.project_id, name)
        link = session.get(ReleaseFlagRow, (release.id, flag.id))
        if unlink and link is None:
            raise NotFound(
                f"flag {name!r} is not linked to release {version}",
                hint=f"`clearance release show {version}` lists its flags",
            )
        if not unlink and link is not None:
            return False
        if not unlink and flag.archived_at is not None:
            raise Refused(
                f"flag {name!r} is archived: SDKs no longer get it, so release {version} cannot depend on it",
                code="flag-archived",
                hint=f"`clearance flag revive {name}` brings it back first",
            )
        if unlink:
            session.delete(link)
        record(
            session,
            actor=actor or ws.actor,
            tag="release:flag-unlinked" if unlink else "release:flag-linked",
            subject=f"release:{ws.config.project}@{version}",
            data={"version": version, "flag": name},
        )
        if not unlink:
            session.add(ReleaseFlagRow(release_id=release.id, flag_id=flag.id, linked_by=actor or ws.actor))
            session.flush()
            propose_cleanup(ws, session, flag, actor or ws.actor)  # it may be fully out already
        return True


def share_of(enabled: bool, strategies: list[Any]) -> int | None:
    """The % of users a flag is on for in one environment (None: switched off); a flag whose first
    strategy is no plain flexibleRollout counts as 0 % unless something lets everyone in."""
    if not enabled:
        return None
    if rules.is_fully_rolled_out(enabled, strategies):
        return 100
    first = strategies[0] if strategies else {}
    shared = first.get("parameters", {}).get("rollout") if first.get("name") == "flexibleRollout" else None
    return int(shared) if shared is not None else 0


def rollout_in(flag: FlagRow, environment: str) -> int | None:
    row = next((r for r in flag.environments if r.environment == environment), None)
    return None if row is None else share_of(row.enabled, row.strategies)


def release_flags(ws: Workspace, session: Session, release: Release) -> list[ReleaseFlagView]:
    rows = session.execute(
        select(ReleaseFlagRow, FlagRow)
        .join(FlagRow, FlagRow.id == ReleaseFlagRow.flag_id)
        .where(ReleaseFlagRow.release_id == release.id)
        .order_by(FlagRow.name)
    )
    return [
        ReleaseFlagView(
            name=flag.name,
            linked_by=link.linked_by,
            linked_at=link.linked_at,
            rollout={env: rollout_in(flag, env) for env in ws.config.environment_names()},
            cleanup_proposed_at=link.cleanup_proposed_at,
        )
        for link, flag in rows
    ]


def flag_for_rollout(ws: Workspace, session: Session, release: Release, strategy: FlagRollout) -> str:
    """The flag a flag-rollout deployment of `release` moves: the strategy's, or the release's only one."""
    if strategy.flag is not None:
        return _flag(session, ws.project_id, strategy.flag).name
    names = [view.name for view in release_flags(ws, session, release)]
    if len(names) == 1:
        return names[0]
    problem = "has no linked flag" if not names else f"has {len(names)} linked flags ({', '.join(names)})"
    raise UsageError(
        f"release {release.version} {problem}: the flag-rollout strategy cannot tell which flag to roll out",
        hint=f"link exactly one with `clearance release flag {release.version} NAME`, or name it in the "
        "strategy (`flag: NAME`)",
    )


def production_environments(ws: Workspace) -> list[str]:
    """Where a release counts as fully out: the production environments (all, if none is marked)."""
    marked = [env.name for env in ws.config.environments if env.production]
    return marked or ws.config.environment_names()


def propose_cleanup(ws: Workspace, session: Session, flag: FlagRow, actor: str) -> None:
    """Once a linked flag is fully out in every production environment, its releases propose removing
    it — recorded once per release, however often the flag is changed afterwards."""
    stored = {row.environment: row for row in flag.environments}
    for env in production_environments(ws):
        row = stored.get(env)
        if row is None or not rules.is_fully_rolled_out(row.enabled, row.strategies):
            return
    links = session.scalars(
        select(ReleaseFlagRow).where(
            ReleaseFlagRow.flag_id == flag.id, ReleaseFlagRow.cleanup_proposed_at.is_(None)
        )
    )
    for link in links:
        link.cleanup_proposed_at = utcnow()
        release = session.get(Release, link.release_id)
        assert release is not None
        record(
            session,
            actor=actor,
            tag="release:flag-cleanup-proposed",
            subject=f"release:{ws.config.project}@{release.version}",
            data={
                "version": release.version,
                "flag": flag.name,
                "environments": production_environments(ws),
                "reason": "fully rolled out in every production environment: remove the flag from the code",
            },
        )
