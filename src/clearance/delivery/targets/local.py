"""The `local` target: desired state goes into the store, the local agent applies it and writes back
what it observed. The same rows serve a remote agent later; nothing here starts a process."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import select

from clearance.delivery.targets.base import (
    DesiredState,
    ObservedState,
    desired_from_json,
    desired_to_json,
    observed_from_json,
)
from clearance.store import Store
from clearance.store.tables import Project, TargetObservation, TargetState, utcnow

if TYPE_CHECKING:
    from clearance.workspace import Workspace


class LocalTarget:
    type = "local"

    def __init__(self, store: Store) -> None:
        self._store = store

    def _project_id(self, name: str) -> int:
        with self._store.transaction() as session:
            project_id = session.scalars(select(Project.id).where(Project.name == name)).one()
            return int(project_id)

    def apply(self, desired: DesiredState) -> None:
        """Record the desired state with the next revision (unchanged content keeps its revision)."""
        project_id = self._project_id(desired.project)
        key = (project_id, desired.environment, desired.service)
        with self._store.transaction() as session:
            row = session.get(TargetState, key, with_for_update=True)
            if row is not None:
                current = desired_from_json(row.desired)
                if replace(current, revision=0) == replace(desired, revision=0):
                    return
                revision = row.revision + 1
                row.revision, row.updated_at = revision, utcnow()
                row.desired = desired_to_json(replace(desired, revision=revision))
            else:
                session.add(
                    TargetState(
                        project_id=project_id,
                        environment=desired.environment,
                        service=desired.service,
                        revision=1,
                        desired=desired_to_json(replace(desired, revision=1)),
                    )
                )

    def desired(self, project: str, environment: str, service: str) -> DesiredState | None:
        project_id = self._project_id(project)
        with self._store.transaction() as session:
            row = session.get(TargetState, (project_id, environment, service))
            return desired_from_json(row.desired) if row else None

    def observe(self, project: str, environment: str, service: str) -> ObservedState | None:
        project_id = self._project_id(project)
        with self._store.transaction() as session:
            row = session.get(TargetObservation, (project_id, environment, service))
            return observed_from_json(row.observed) if row else None

    def remove(self, project: str, environment: str, service: str) -> None:
        project_id = self._project_id(project)
        with self._store.transaction() as session:
            row = session.get(TargetState, (project_id, environment, service), with_for_update=True)
            if row is not None:
                session.delete(row)


def local_target(ws: Workspace) -> LocalTarget:
    """The local target of a workspace, with an agent serving it (started in the background if needed)."""
    from clearance.agent.control import ensure_agent  # imported late: Envoy and replica code is heavy

    ensure_agent(ws)
    return LocalTarget(ws.store)
