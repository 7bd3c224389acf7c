"""The wiring every operation starts from: the project's config, its store and who is acting."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from clearance.audit.service import record
from clearance.delivery.leases import reap_orphans
from clearance.errors import NotFound
from clearance.project import LoadedConfig, ProjectConfig, find_config, load_config
from clearance.settings import Settings, load_settings
from clearance.store import Project, Store


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


def resolve_actor(explicit: str | None, settings: Settings) -> str:
    """--actor, then CLEARANCE_ACTOR, then the operating-system user."""
    if explicit:
        return explicit
    if settings.actor:
        return settings.actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def open_store(settings: Settings, root: Path) -> Store:
    store = Store(settings.resolved_database_url(root), busy_timeout=settings.sqlite_busy_timeout)
    store.upgrade()
    return store


def open_workspace(config_path: Path | None = None, *, actor: str | None = None) -> Workspace:
    """Load clearance.yaml (found from the working directory up), open and upgrade the store,
    register the project, and audit the config when its content changed since it was last seen."""
    settings = load_settings()
    path = config_path if config_path is not None else find_config(Path.cwd())
    if not path.exists():
        raise NotFound(f"no config file at {path}", hint="run `clearance init` to write one")
    loaded = load_config(path)
    store = open_store(settings, loaded.root)
    who = resolve_actor(actor, settings)
    with store.transaction() as session:
        name = loaded.config.project
        project = session.scalars(select(Project).where(Project.name == name)).first()
        if project is None:
            project = Project(name=name, config_sha256="")
            session.add(project)
            session.flush()
            record(session, actor=who, tag="project:registered", subject=f"project:{name}", data={})
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
        project_id = project.id
    # Deployments whose worker died are failed (`interrupted`) before anyone reads or deploys.
    reap_orphans(store, actor=who)
    return Workspace(loaded=loaded, store=store, project_id=project_id, actor=who, settings=settings)
