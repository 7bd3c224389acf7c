"""The store's migrations, on an empty SQLite file and an empty PostgreSQL database: they build exactly
the schema the code declares, every one of them goes down and up again, and a store full of data
from an earlier schema is brought to the newest one without losing any of it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from clearance.store import Store
from clearance.store.database import MIGRATIONS
from clearance.store.tables import Base
from support.cli import CliRunner
from support.postgres import PostgresServer
from support.store import execute

from .conftest import Project


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'clearance.db'}")
        yield store
        store.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    server.psql(f"CREATE DATABASE {name}")  # from template1: no tables at all
    store = Store(server.url(name))
    yield store
    store.dispose()
    server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _config(store: Store) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["store"] = store
    return config


def _revisions(store: Store) -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(_config(store))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _differences(store: Store) -> list[object]:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names()) - {"alembic_version"}


def test_the_migrations_build_exactly_the_schema_the_code_declares(empty_store: Store) -> None:
    empty_store.upgrade()
    assert _tables(empty_store) == set(Base.metadata.tables)
    assert _differences(empty_store) == []


def test_every_migration_goes_down_and_up_again(empty_store: Store) -> None:
    config = _config(empty_store)
    revisions = _revisions(empty_store)
    command.upgrade(config, "head")
    for target in [*reversed(revisions[:-1]), "base"]:
        command.downgrade(config, target)
    assert _tables(empty_store) == set()
    for target in revisions:
        command.upgrade(config, target)
    assert _differences(empty_store) == []


def test_a_store_with_data_from_the_previous_schema_is_upgraded_without_losing_any(
    project: Project, cli: CliRunner
) -> None:
    """Data written by today's commands, the schema taken back one migration (as a store of the
    previous release would be), then the next command upgrades it: every row is still there."""
    assert cli("release", "create", "1.0.0", "--scope", "SHOP-1:Checkout", "--actor", "carol").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0
    assert cli("user", "add", "rita", "--role", "release-manager", "--actor", "admin").exit_code == 0
    counted = (
        "releases",
        "work_items",
        "deployments",
        "deployment_steps",
        "audit_entries",
        "users",
        "user_roles",
    )
    before = {
        table: execute(project.database_url, f"SELECT COUNT(*) FROM {table}")[0][0] for table in counted
    }
    assert all(before.values()), before
    store = Store(project.database_url)
    try:
        previous = _revisions(store)[-2]
        command.downgrade(_config(store), previous)
        with store.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == previous
    finally:
        store.dispose()

    status = cli("status", "--json")  # the first command on the old store migrates it
    assert status.exit_code == 0, status
    after = {table: execute(project.database_url, f"SELECT COUNT(*) FROM {table}")[0][0] for table in counted}
    assert after == before
    deployed = execute(
        project.database_url,
        "SELECT r.version, d.environment, d.state FROM deployments d JOIN releases r ON r.id = d.release_id",
    )
    assert ("1.0.0", "dev", "succeeded") in [tuple(row) for row in deployed]
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0  # and it goes on working
