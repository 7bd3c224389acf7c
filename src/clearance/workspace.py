"""The wiring every operation starts from: the project's config, its store and who is acting."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from clearance.audit.service import record
from clearance.delivery.leases import reap_orphans
from clearance.errors import NotFound, UsageError
from clearance.project import LoadedConfig, ProjectConfig, find_config, load_config
from clearance.settings import Settings, load_settings
from clearance.store import Project, Store
from clearance.store.locks import insert_project_if_absent


@dataclass
class Workspace:
    loaded: LoadedConfig
    store: Store
    project_id: int
    actor: str
    settings: Settings

    @property
    def config(self) -> ProjectConfig:
        return self.loaded.config

    @property
    def root(self) -> Path:
        return self.loaded.root


# The width of the actor columns (audit entries, releases, deployments). PostgreSQL enforces it and
# SQLite does not, so it is checked here, before anything is written, the same way on both.
ACTOR_MAX_LENGTH = 255


def resolve_actor(explicit: str | None, settings: Settings) -> str:
    """--actor, then CLEARANCE_ACTOR, then the operating-system user."""
    for source, value in (("--actor", explicit), ("CLEARANCE_ACTOR", settings.actor)):
        if value:
            if len(value) > ACTOR_MAX_LENGTH:
                raise UsageError(
                    f"{source} is {len(value)} characters long; at most {ACTOR_MAX_LENGTH} are allowed",
                    hint="use a user name or an e-mail address",
                )
            return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def open_store(settings: Settings, root: Path, *, pool_size: int = 0) -> Store:
    store = Store(
        settings.resolved_database_url(root), busy_timeout=settings.sqlite_busy_timeout, pool_size=pool_size
    )
    store.upgrade()
    return store


def _register(store: Store, loaded: LoadedConfig, who: str) -> int:
    """The project's id, registering it on first use and auditing a config it has not seen yet.

    The common case (known project, same config) only reads, so a read-only store still works."""
    name = loaded.config.project
    by_name = select(Project).where(Project.name == name)
    with store.transaction() as session:
        project = session.scalars(by_name).first()
        if project is None:
            # Several first commands may race: one inserts, the others find its row.
            if insert_project_if_absent(session, name):
                record(session, actor=who, tag="project:registered", subject=f"project:{name}", data={})
            project = session.scalars(by_name).one()
        if project.config_sha256 != loaded.sha256:
            # Lock and look again: of several commands that start after the config changed, one
            # audits it and the others see its hash (SQLite's BEGIN IMMEDIATE already serializes).
            project = session.scalars(
                by_name.with_for_update().execution_options(populate_existing=True)
            ).one()
        if project.config_sha256 != loaded.sha256:
            previous = project.config_sha256 or None
            project.config_sha256 = loaded.sha256
            record(
                session,
                actor=who,
                tag="config:loaded",
                subject=f"project:{name}",
                data={"sha256": loaded.sha256, "previous_sha256": previous, "path": str(loaded.path)},
            )
        return project.id


def open_workspace(
    config_path: Path | None = None, *, actor: str | None = None, pool_size: int = 0
) -> Workspace:
    """Load clearance.yaml (found from the working directory up), open and upgrade the store,
    register the project, and audit the config when its content changed since it was last seen.
    Long-running processes pass `pool_size` (see Store); one-shot commands keep no connections."""
    settings = load_settings()
    path = config_path if config_path is not None else find_config(Path.cwd())
    if not path.exists():
        raise NotFound(f"no config file at {path}", hint="run `clearance init` to write one")
    loaded = load_config(path)
    who = resolve_actor(actor, settings)  # bad input is refused before the store is touched
    store = open_store(settings, loaded.root, pool_size=pool_size)
    project_id = _register(store, loaded, who)
    # Deployments whose worker died are failed (`interrupted`) before anyone reads or deploys.
    reap_orphans(store, actor=who)
    return Workspace(loaded=loaded, store=store, project_id=project_id, actor=who, settings=settings)
