"""Connections, transactions and schema upgrades for SQLite and PostgreSQL.

Every write transaction on SQLite starts with BEGIN IMMEDIATE, so two processes never race between a
read and the write that depends on it; on PostgreSQL the code takes row locks where it needs them.
Vendor errors leave this module as StoreError subclasses; a database URL that clearance cannot use
is a UsageError (a configuration mistake, exit 2), found before anything connects.

Connections: a one-shot command opens one per unit of work and leaves none behind. A long-running
process (`clearance serve`, `clearance agent`) asks for a pool and keeps that many connections; a
connection opened before a fork is never used after it. On PostgreSQL each is checked before use, so
a server restart or a dropped connection costs a reconnect. On SQLite a kept connection also spares
the checkpoint and WAL file rebuild that closing the last connection to a file costs.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool, QueuePool

from clearance.errors import StoreError, StoreLocked, StoreUnavailable, UsageError

MIGRATIONS = Path(__file__).parent / "migrations"
_READ_ONLY = "clearance_read_only"  # execution option of Store.read()'s connections
# A pooled connection older than this is replaced when next used, so a server that runs for weeks
# does not keep one session (and its memory) forever; pre-ping catches the ones dropped sooner.
POOL_RECYCLE_SECONDS = 1800


class Store:
    """One database: a SQLite file (the embedded default) or a PostgreSQL server."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0, pool_size: int = 0) -> None:
        """`pool_size` > 0: keep up to that many connections open (and as many again in a burst) for
        a long-running process; 0: a connection per unit of work (a one-shot command)."""
        self.url = url
        parsed = _supported_url(url)
        self.dialect = parsed.get_backend_name()
        self._display = parsed.render_as_string(hide_password=True)
        self.sqlite_path: Path | None = None
        if self.dialect == "sqlite":
            self.engine = self._sqlite_engine(url, parsed.database or "", busy_timeout, pool_size)
        else:
            self.engine = _postgresql_engine(parsed, pool_size)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        read_only_options = {_READ_ONLY: True}
        if self.dialect == "postgresql":
            read_only_options["postgresql_readonly"] = True
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**read_only_options), expire_on_commit=False
        )

    def _sqlite_engine(self, url: str, database: str, busy_timeout: float, pool_size: int) -> Engine:
        if database and database != ":memory:":
            self.sqlite_path = Path(database)
            try:
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create the store's folder {self.sqlite_path.parent}: {exc.strerror}",
                    hint="check the path and its permissions, or set CLEARANCE_DATABASE_URL",
                ) from exc
        # Every transaction is begun and ended explicitly (below), so a lock held by this process ends
        # with its transaction whether the connection is then closed or kept in a pool; a pooled
        # connection serves one thread at a time.
        if pool_size > 0 and self.sqlite_path is not None:
            engine = create_engine(
                url,
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=pool_size,
                connect_args={"timeout": busy_timeout, "check_same_thread": False},
            )
            _not_across_fork(engine)
        else:
            engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": busy_timeout})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            # A read-only unit of work takes no write lock: BEGIN (deferred) reads a WAL snapshot.
            read_only = connection.get_execution_options().get(_READ_ONLY, False)
            connection.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine

    def describe(self) -> str:
        return self._display

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back whole if it raises."""
        with translate_errors(self):
            session = self._sessions()
            try:
                with session.begin():
                    yield session
            finally:
                session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work: no write lock on SQLite (deferred BEGIN), READ ONLY on
        PostgreSQL; for hot read paths that must never queue behind writers. Writing in it fails."""
        with translate_errors(self):
            session = self._read_sessions()
            try:
                with session.begin():
                    yield session
            finally:
                session.close()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration; cheap when it already is."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["store"] = self
        head = ScriptDirectory.from_config(config).get_current_head()
        with translate_errors(self):
            with self.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
                connection.rollback()
            if current == head:
                return
            with self._migration_lock():
                command.upgrade(config, "head")

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        # Several processes may start on a new database at once; only one migrates.
        if self.dialect == "postgresql":
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(7316012)"))
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(7316012)"))
                    connection.commit()
        elif self.sqlite_path is not None:
            lock_path = self.sqlite_path.with_name(self.sqlite_path.name + ".migrate.lock")
            with open(lock_path, "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield
        else:
            yield

    def dispose(self) -> None:
        self.engine.dispose()


def _postgresql_engine(url: URL, pool_size: int) -> Engine:
    connect_args = {"connect_timeout": 5}
    if pool_size <= 0:
        # A one-shot command opens few connections and must leave none behind.
        return create_engine(url, poolclass=NullPool, connect_args=connect_args)
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a connection the server dropped is replaced before a unit of work gets it
        pool_recycle=POOL_RECYCLE_SECONDS,
        # A quiet process reuses its most recent connections; the rest may idle out on the server.
        pool_use_lifo=True,
        connect_args=connect_args,
    )
    _not_across_fork(engine)
    return engine


def _not_across_fork(engine: Engine) -> None:
    """A forked child must not talk over its parent's sockets (SQLAlchemy's "event-based" recipe).

    Checked when a connection is taken from the pool, not at fork time: children of serve and the
    agent fork and exec at once, and nothing may take the pool's lock between fork and exec."""

    @event.listens_for(engine, "connect")
    def _remember_pid(_dbapi_connection: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _refuse_inherited(_dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info["pid"] != os.getpid():
            # Forgotten, not closed: closing would end the parent's session on the server.
            record.dbapi_connection = proxy.dbapi_connection = None
            raise DisconnectionError("connection opened before a fork; opening a new one")


# The drivers clearance installs and is tested with; "" is the dialect's default driver.
_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg")}
_URL_HINT = "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"


def _supported_url(url: str) -> URL:
    """Parse a database URL and refuse, as a configuration error, anything clearance cannot open.

    Without this, a typo or another driver surfaces as a traceback from SQLAlchemy's import of a
    module that is not installed. The messages never repeat the URL: it may carry a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(
            "CLEARANCE_DATABASE_URL is not a database URL", code="database-url-invalid", hint=_URL_HINT
        ) from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in _DRIVERS:
        raise UsageError(
            f"CLEARANCE_DATABASE_URL names an unsupported database '{backend}'",
            code="database-url-invalid",
            hint=_URL_HINT,
        )
    if driver not in _DRIVERS[backend]:
        raise UsageError(
            f"CLEARANCE_DATABASE_URL names the driver '{driver}', which clearance does not use",
            code="database-url-invalid",
            hint=_URL_HINT,
        )
    if backend == "postgresql":
        # SQLAlchemy's default PostgreSQL driver is psycopg2 before 2.1, which is not installed.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@contextmanager
def translate_errors(store: Store) -> Iterator[None]:
    """Turn driver errors into StoreError with a message a user can act on."""
    try:
        yield
    except StoreError:
        raise
    except OperationalError as exc:
        raise _operational(store, exc) from exc
    except DBAPIError as exc:
        raise StoreError(f"database error on {store.describe()}: {_first_line(exc.orig)}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"database error on {store.describe()}: {_first_line(exc)}") from exc


def _operational(store: Store, exc: OperationalError) -> StoreError:
    message = _first_line(exc.orig)
    lowered = message.lower()
    where = store.describe()
    if "locked" in lowered or "busy" in lowered:
        return StoreLocked(
            f"the store {where} is locked by another process",
            hint="wait for the other clearance command to finish, or raise CLEARANCE_SQLITE_BUSY_TIMEOUT",
        )
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return StoreUnavailable(
            f"cannot write the store {where}: {message}",
            hint="check that the file and its folder are writable, or set CLEARANCE_DATABASE_URL",
        )
    if store.dialect == "postgresql":
        return StoreUnavailable(
            f"cannot reach PostgreSQL at {where}: {message}",
            hint="check that the server runs and CLEARANCE_DATABASE_URL is right",
        )
    return StoreUnavailable(f"the store {where} cannot be used: {message}")


def _first_line(error: object) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    return re.sub(r"^\(\S+\)\s*", "", first)
