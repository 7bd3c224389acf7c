"""Alembic environment: migrations run on the Store's own engine, never from a URL in an ini file.

On SQLite a migration that changes a column copies the table, drops the old one and renames the
copy ("batch" mode). With foreign keys enforced, dropping a table that other rows point at fails
(or would cascade), so they are switched off for the migration, as SQLite's own documentation for
schema changes says, and every reference is checked once it is done."""

from __future__ import annotations

from typing import Any

from alembic import context

from clearance.errors import StoreError
from clearance.store.tables import Base

store = context.config.attributes["store"]


def _pragma(connection: Any, statement: str) -> None:
    # On the driver's own connection, outside any transaction: inside one SQLite ignores it.
    connection.connection.driver_connection.execute(statement)


with store.engine.connect() as connection:
    sqlite = store.dialect == "sqlite"
    if sqlite:
        _pragma(connection, "PRAGMA foreign_keys = OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() if sqlite else []
            if broken:
                raise StoreError(
                    f"the migration would leave {len(broken)} rows pointing at rows that do not exist "
                    f"(first: table {broken[0][0]}, row {broken[0][1]}); nothing was changed",
                    code="migration-failed",
                )
        connection.commit()
    finally:
        if sqlite:
            connection.rollback()
            _pragma(connection, "PRAGMA foreign_keys = ON")
