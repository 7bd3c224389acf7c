"""Insert-if-absent, in each dialect's own words: the deployment lock and the project's row.

Both rows are claimed by whichever process gets there first; a plain INSERT would make the loser of
the race fail on PostgreSQL (SQLite's BEGIN IMMEDIATE happens to serialize it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clearance.store.tables import DeploymentLock, Project


def insert_lock_if_absent(
    session: Session,
    *,
    project_id: int,
    environment: str,
    service: str,
    deployment_id: int,
    owner: str,
    expires_at: datetime,
) -> bool:
    """Take the (project, environment, service) lock when nobody holds it; True if this call did."""
    values = {
        "project_id": project_id,
        "environment": environment,
        "service": service,
        "deployment_id": deployment_id,
        "owner": owner,
        "expires_at": expires_at,
    }
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(DeploymentLock)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(DeploymentLock.deployment_id)
    )
    # RETURNING, not rowcount: psycopg reports a row count of 1 even when the conflict skipped it.
    return session.execute(statement).first() is not None


def insert_project_if_absent(session: Session, name: str) -> bool:
    """Register the project unless it is there; True if this call did. The first commands of a new
    project may start at once, and each must find the one row instead of failing on a duplicate."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(Project)
        .values(name=name)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(Project.id)
    )
    return session.execute(statement).first() is not None
