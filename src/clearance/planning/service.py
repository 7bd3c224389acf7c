"""Release operations on the store: create, list and read releases with their scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import AlreadyExists, NotFound
from clearance.planning.releases import ReleaseType, WorkItem, infer_release_type
from clearance.store import Release, WorkItemRow
from clearance.versioning.semver import Version

if TYPE_CHECKING:
    from clearance.workspace import Workspace


@dataclass(frozen=True)
class NewRelease:
    version: str
    type: ReleaseType | None = None
    notes: str = ""
    scope: tuple[WorkItem, ...] = ()
    planned_date: date | None = None
    risk_notes: str = ""
    rollback_plan: str = ""
    commit: str | None = None  # the commit it is built from (parse_commit)


def create_release(ws: Workspace, new: NewRelease) -> Release:
    """Record a release; refuse a version that exists (build metadata does not make a new one)."""
    version = Version.parse(new.version)
    with ws.store.transaction() as session:
        existing = _versions(session, ws.project_id)
        for other in existing:
            if other.precedence_key() == version.precedence_key():
                raise AlreadyExists(
                    f"release {other} already exists in project {ws.config.project}",
                    hint="versions are immutable: create the next version instead",
                )
        release_type = new.type or infer_release_type(version, existing)
        release = Release(
            project_id=ws.project_id,
            version=str(version),
            type=str(release_type),
            notes=new.notes,
            planned_date=new.planned_date,
            risk_notes=new.risk_notes,
            rollback_plan=new.rollback_plan,
            commit=new.commit,
            created_by=ws.actor,
            work_items=[
                WorkItemRow(position=i, key=item.id, title=item.title, url=item.url)
                for i, item in enumerate(new.scope)
            ],
        )
        session.add(release)
        session.flush()
        record(
            session,
            actor=ws.actor,
            tag="release:created",
            subject=f"release:{ws.config.project}@{release.version}",
            data={
                "release_id": release.id,
                "version": release.version,
                "type": release.type,
                "inferred_type": new.type is None,
                "scope": [item.id for item in new.scope],
                "commit": new.commit,
                "config_sha256": ws.loaded.sha256,
            },
        )
        return release


def _versions(session: Session, project_id: int) -> list[Version]:
    rows = session.scalars(select(Release.version).where(Release.project_id == project_id))
    return [Version.parse(v) for v in rows]


def find_release(session: Session, project_id: int, version: str) -> Release:
    release = session.scalars(
        select(Release).where(Release.project_id == project_id, Release.version == version)
    ).first()
    if release is None:
        known = sorted(
            (
                Version.parse(v)
                for v in session.scalars(select(Release.version).where(Release.project_id == project_id))
            ),
            reverse=True,
        )
        hint = (
            "known releases: " + ", ".join(str(v) for v in known[:5])
            if known
            else ("create it with `clearance release create VERSION`")
        )
        raise NotFound(f"no release {version} in this project", hint=hint)
    return release


def list_releases(session: Session, project_id: int) -> list[Release]:
    """Newest version first, by SemVer precedence."""
    releases = list(session.scalars(select(Release).where(Release.project_id == project_id)))
    releases.sort(key=lambda r: Version.parse(r.version).precedence_key(), reverse=True)
    return releases


def planned_releases(session: Session, project_id: int, first: date, last: date) -> list[Release]:
    """The releases planned for a day in [first, last], by date then version."""
    query = select(Release).where(
        Release.project_id == project_id, Release.planned_date >= first, Release.planned_date <= last
    )
    releases = list(session.scalars(query))
    releases.sort(key=lambda r: (r.planned_date or first, Version.parse(r.version).precedence_key()))
    return releases
