"""Connections of long-running processes: `clearance serve` and `clearance agent` keep a pool (on both
databases), a one-shot command keeps none, a pooled connection never crosses a fork, and a
PostgreSQL that drops connections or restarts costs a reconnect, never a dead worker or agent."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text

from clearance.errors import StoreError
from clearance.store import Store
from support.cli import clearance_command
from support.postgres import PostgresServer, start_postgres
from support.serve import wait_for
from support.store import execute

from .conftest import Project

_names = itertools.count(1)

CONFIG = """\
project: shop
services:
  - name: web
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
process:
  - name: work
    script: echo "$CLEARANCE_SERVICE $CLEARANCE_RELEASE_VERSION"
"""


@pytest.fixture
def pg_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    name = f"pool_{next(_names)}"
    postgres_server.psql(f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    yield postgres_server.url(name)
    postgres_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def backend_pid(store: Store) -> int:
    with store.transaction() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def connects(store: Store) -> list[int]:
    """Grows by one for every connection the store opens."""
    opened: list[int] = []
    event.listen(store.engine, "connect", lambda *_: opened.append(1))
    return opened


def other_backends(url: str) -> set[int]:
    """Server processes connected to this database, except the one asking."""
    rows = execute(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return {pid for (pid,) in rows}


# the store ---------------------------------------------------------------------------------------


@pytest.fixture
def store_url(backend: str, database_url: str) -> str:
    """A migrated store on each database (the PostgreSQL one is a copy of the migrated template)."""
    if backend == "sqlite":
        store = Store(database_url)
        store.upgrade()
        store.dispose()
    return database_url


def test_a_pooled_store_reuses_its_connection_and_a_one_shot_store_opens_one_per_unit(
    backend: str, store_url: str
) -> None:
    pooled, one_shot = Store(store_url, pool_size=2), Store(store_url)
    try:
        pooled_connects, one_shot_connects = connects(pooled), connects(one_shot)
        for _ in range(20):
            with pooled.transaction() as session:
                session.execute(text("SELECT count(*) FROM projects"))
            with pooled.read() as session:
                session.execute(text("SELECT count(*) FROM projects"))
            with one_shot.transaction() as session:
                session.execute(text("SELECT count(*) FROM projects"))
        assert (len(pooled_connects), len(one_shot_connects)) == (1, 20)
        if backend == "postgresql":
            pooled_pid = backend_pid(pooled)
            assert other_backends(store_url) == {pooled_pid}  # kept; none of the one-shot ones left
    finally:
        pooled.dispose()
        one_shot.dispose()
    if backend == "postgresql":
        assert other_backends(store_url) == set()  # dispose() closed the pool


def test_a_read_only_unit_of_work_leaves_its_pooled_connection_writable(store_url: str) -> None:
    store = Store(store_url, pool_size=1)
    try:
        opened = connects(store)
        with pytest.raises(StoreError), store.read() as session:
            session.execute(text("CREATE TABLE refused (id integer)"))
        with store.read() as session:
            assert session.execute(text("SELECT count(*) FROM projects")).scalar_one() == 0
        with store.transaction() as session:  # the same connection, writable again
            session.execute(text("CREATE TABLE pool_probe (id integer)"))
            session.execute(text("INSERT INTO pool_probe VALUES (1)"))
        assert len(opened) == 1
    finally:
        store.dispose()
    assert execute(store_url, "SELECT count(*) FROM pool_probe") == [(1,)]


def test_connections_the_server_dropped_are_replaced_before_use(
    pg_url: str, postgres_server: PostgresServer
) -> None:
    store = Store(pg_url, pool_size=2)
    try:
        first = backend_pid(store)
        postgres_server.psql(f"SELECT pg_terminate_backend({first})")
        wait_for(lambda: first not in other_backends(pg_url), "the backend to end")
        second = backend_pid(store)  # no error: the dead connection was noticed before use
        assert second != first
        assert backend_pid(store) == second
    finally:
        store.dispose()


def test_a_forked_child_never_uses_its_parents_pooled_connection(store_url: str) -> None:
    store = Store(store_url, pool_size=2)
    try:
        opened = connects(store)
        with store.transaction() as session:
            session.execute(text("SELECT count(*) FROM projects"))
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through the pipe and never returns
            code = 1
            try:
                with store.transaction() as session:
                    session.execute(text("SELECT count(*) FROM projects"))
                os.write(write_end, str(len(opened)).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end) as reader:
            reported = reader.read()
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert reported == "2"  # the child opened a connection of its own
        with store.transaction() as session:  # the parent's connection still works, as it was
            session.execute(text("SELECT count(*) FROM projects"))
        assert len(opened) == 1
    finally:
        store.dispose()


# serve and the agent -----------------------------------------------------------------------------


def pg_project(root: Path, url: str) -> Project:
    root.mkdir()
    project = Project(root, url, "postgresql")
    project.write_config(CONFIG)
    return project


def start_serve(project: Project, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*clearance_command(), "serve", "--workers", "2", "--port", "0", *extra],
            cwd=project.root,
            env=project.process_env("server"),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    wait_for(
        lambda: (
            execute(project.database_url, "SELECT count(*) FROM agents WHERE id LIKE 'serve:%'")[0][0] > 0
        ),
        "serve to register",
    )
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def deploy_and_wait(project: Project, version: str) -> None:
    """Queue a deployment for serve (no --wait: serve's workers must run it) and wait for it."""
    queued = subprocess.run(
        [*clearance_command(), "deploy", version, "--to", "dev", "--json"],
        cwd=project.root,
        env=project.process_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert queued.returncode == 0 and '"queued": true' in queued.stdout, queued
    wait_for(
        lambda: (
            execute(
                project.database_url,
                "SELECT d.state FROM deployments d JOIN releases r ON r.id = d.release_id WHERE r.version = :v",
                v=version,
            )
            == [("succeeded",)]
        ),
        f"serve to run {version}",
        timeout=60,
    )


def create_release(project: Project, version: str) -> None:
    subprocess.run(
        [*clearance_command(), "release", "create", version],
        cwd=project.root,
        env=project.process_env(),
        capture_output=True,
        check=True,
    )


def test_serve_keeps_its_connections_and_goes_on_after_they_are_dropped(
    pg_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    project = pg_project(tmp_path / "project", pg_url)
    for version in ("1.0.0", "1.1.0"):
        create_release(project, version)
    serve = start_serve(project, tmp_path / "serve.log", "--no-agent")
    try:
        deploy_and_wait(project, "1.0.0")
        # Pooled: serve polls the store several times a second over the same few connections.
        before = other_backends(pg_url)
        time.sleep(2)
        after = other_backends(pg_url)
        assert before and before & after, (before, after)
        assert len(after) <= 2 * (2 * 2 + 4)  # never more than the pool and its overflow

        killed = postgres_server.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{pg_url.rsplit('/', 1)[1]}' AND pid <> pg_backend_pid()"
        )
        assert int(killed) > 0
        deploy_and_wait(project, "1.1.0")
        assert serve.poll() is None
        assert not other_backends(pg_url) & before  # every dropped connection was replaced
    finally:
        stop(serve)
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log


def agent_beat(url: str) -> str:
    rows = execute(url, "SELECT heartbeat_at FROM agents WHERE id LIKE 'agent:%'")
    return str(rows[0][0]) if rows else ""


def test_serve_and_its_agent_outlast_a_postgresql_restart(tmp_path: Path) -> None:
    # A server of its own: stopping the session's server would break the other tests' stores.
    base = Path(tempfile.mkdtemp(prefix="clearance-pg-restart-"))
    server = start_postgres(base)
    try:
        server.psql("CREATE DATABASE shop")
        project = pg_project(tmp_path / "project", server.url("shop"))
        for version in ("1.0.0", "1.1.0"):
            create_release(project, version)
        log = tmp_path / "serve.log"
        serve = start_serve(project, log)  # with the local agent, in its own process
        try:
            deploy_and_wait(project, "1.0.0")
            wait_for(lambda: agent_beat(project.database_url) != "", "the agent to register")

            server.stop()  # immediate: as if the server crashed
            wait_for(lambda: "cannot claim a deployment" in log.read_text(), "serve to notice")
            time.sleep(2.5)  # the agent's heartbeat (every 2 s) meets the outage too
            server.start()

            deploy_and_wait(project, "1.1.0")
            beat = agent_beat(project.database_url)
            wait_for(lambda: agent_beat(project.database_url) != beat, "the agent's next heartbeat")
            assert serve.poll() is None
        finally:
            stop(serve)
            agent_log = project.root / ".clearance" / "agent.log"
            subprocess.run(
                [*clearance_command(), "agent", "--stop"],
                cwd=project.root,
                env=project.process_env(),
                capture_output=True,
                check=False,
                timeout=60,
            )
        agent_text = agent_log.read_text()
        assert "cannot reach the store" in agent_text, agent_text
        assert "Traceback" not in agent_text, agent_text
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)
