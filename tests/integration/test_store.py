"""Where the store lives, how its schema comes to be, and what a user sees when the store or the
config cannot be used: one clear error line, the right exit code, and nothing changed."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text

from clearance.project import STARTER_CONFIG
from clearance.store.database import MIGRATIONS
from support.cli import CliRunner, Result, run_process
from support.postgres import PostgresServer
from support.store import TABLES, execute, snapshot

from .conftest import Project

# helpers -----------------------------------------------------------------------------------------


def assert_one_error_line(result: Result) -> str:
    """What a user should see on stderr: `error: …` on one line, then `hint: …`; no traceback."""
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result
    assert lines[0].startswith("error: "), result
    assert lines[1].startswith("hint: "), result
    assert "Traceback" not in result.stderr
    return lines[0]


def migrations_head() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement this process sends to any database while the block runs."""
    seen: list[str] = []

    def remember(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", remember)


def schema_changes(sql: list[str]) -> list[str]:
    ddl = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.IGNORECASE)
    version_write = re.compile(r"^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+alembic_version\b", re.IGNORECASE)
    return [s for s in sql if ddl.match(s) or version_write.match(s)]


def sqlite_path(project: Project) -> Path:
    return project.root / ".clearance" / "clearance.db"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def fresh_store(
    project: Project, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The project's store before any command ran: no SQLite file, an empty PostgreSQL database."""
    if project.backend == "sqlite":
        assert not sqlite_path(project).exists()
        yield project.database_url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    server.psql(f"CREATE DATABASE {name}")  # from template1: no tables at all
    url = server.url(name)
    monkeypatch.setenv("CLEARANCE_DATABASE_URL", url)
    project.database_url = url
    yield url
    server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# where the store lives and how its schema comes to be ------------------------------------------


def test_sqlite_store_lives_in_the_project_and_runs_in_wal_mode(project: Project, cli: CliRunner) -> None:
    if project.backend != "sqlite":
        pytest.skip("SQLite only: the embedded default store is a file in the project")
    assert cli("release", "create", "1.0.0").exit_code == 0
    path = sqlite_path(project)
    assert path.is_file()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("SELECT version FROM releases").fetchall() == [("1.0.0",)]


def test_schema_is_migrated_on_first_use_and_only_then(
    project: Project, cli: CliRunner, fresh_store: str
) -> None:
    with statements() as first:
        assert cli("release", "create", "1.0.0").exit_code == 0
    assert any(re.match(r"\s*CREATE TABLE audit_entries\b", s) for s in first)

    engine = create_engine(fresh_store)
    try:
        with engine.connect() as connection:
            assert set(TABLES) | {"alembic_version"} <= set(inspect(connection).get_table_names())
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert versions == [migrations_head()]

    with statements() as second:
        assert cli("release", "create", "1.1.0").exit_code == 0
    assert second, "the second command ran no SQL at all?"
    assert schema_changes(second) == []


def test_two_processes_starting_on_a_fresh_store_both_succeed(project: Project, fresh_store: str) -> None:
    versions = ["1.0.0", "2.0.0", "3.0.0"]
    with ThreadPoolExecutor(len(versions)) as pool:
        results = list(pool.map(lambda v: run_process("release", "create", v, cwd=project.root), versions))
    for result in results:
        assert result.exit_code == 0, result

    assert execute(fresh_store, "SELECT name FROM projects") == [("shop",)]
    assert sorted(v for (v,) in execute(fresh_store, "SELECT version FROM releases")) == versions
    assert execute(fresh_store, "SELECT version_num FROM alembic_version") == [(migrations_head(),)]
    verified = run_process("audit", "verify", "--json", cwd=project.root)
    assert verified.exit_code == 0, verified
    # project registered and config loaded once, then one entry per release
    assert verified.json()["entries"] == 2 + len(versions)


def test_two_projects_starting_on_one_fresh_store_share_one_chain(
    project: Project, fresh_store: str, tmp_path: Path
) -> None:
    """A team store: two projects whose first commands race. Each registers itself, and the audit
    chain of the store stays one chain, whoever appends first."""
    books = tmp_path / "books"
    books.mkdir()
    shop_config = (project.root / "clearance.yaml").read_text(encoding="utf-8")
    books_config = shop_config.replace("project: shop", "project: books")
    (books / "clearance.yaml").write_text(books_config, encoding="utf-8")
    env = {"CLEARANCE_DATABASE_URL": fresh_store}
    runs = [(project.root, "1.0.0"), (books, "1.0.0"), (project.root, "2.0.0"), (books, "2.0.0")]
    with ThreadPoolExecutor(len(runs)) as pool:
        results = list(
            pool.map(lambda run: run_process("release", "create", run[1], cwd=run[0], env=env), runs)
        )
    for result in results:
        assert result.exit_code == 0, result

    assert sorted(execute(fresh_store, "SELECT name FROM projects")) == [("books",), ("shop",)]
    verified = run_process("audit", "verify", "--json", cwd=books, env=env)
    assert verified.exit_code == 0, verified
    assert verified.json()["entries"] == 2 * 2 + len(runs)


def test_a_changed_config_is_audited_once_when_commands_race(project: Project, cli: CliRunner) -> None:
    assert cli("release", "create", "1.0.0").exit_code == 0
    config = project.root / "clearance.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: run_process("release", "list", cwd=project.root), range(6)))
    for result in results:
        assert result.exit_code == 0, result
    loaded = cli("audit", "list", "--json", "--tag", "config:loaded").json()["entries"]
    assert len(loaded) == 2
    assert cli("audit", "verify").exit_code == 0


# the store cannot be used ------------------------------------------------------------------------


def _immutable_files_unsupported(probe: Path) -> str | None:
    if shutil.which("chattr") is None:
        return "chattr is not installed"
    probe.write_text("probe", encoding="utf-8")
    made = subprocess.run(["chattr", "+i", str(probe)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        return made.stderr.strip() or f"chattr +i exited {made.returncode}"
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    probe.unlink()
    return None


def test_an_immutable_database_file_is_reported_and_left_alone(
    project: Project, cli: CliRunner, tmp_path: Path
) -> None:
    """We run as root, so file permissions would not stop a write: the file is made immutable with
    `chattr +i`, which stops root too. The other way a store is unwritable (its folder cannot be
    created) is covered by the next test, which needs no special file system support."""
    if project.backend != "sqlite":
        pytest.skip("SQLite only: PostgreSQL has no database file")
    why = _immutable_files_unsupported(tmp_path / "chattr-probe")
    if why is not None:
        pytest.skip(f"needs immutable files (chattr +i) on this file system: {why}")
    assert cli("release", "create", "1.0.0").exit_code == 0
    before = snapshot(project.database_url)
    path = sqlite_path(project)
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        result = cli("release", "create", "2.0.0")
        assert result.exit_code == 1, result
        line = assert_one_error_line(result)
        assert "cannot write the store" in line
        assert "readonly" in line
        assert "writable" in result.stderr
        # Reading still works: an auditor can verify a read-only copy.
        assert cli("audit", "verify").exit_code == 0
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert snapshot(project.database_url) == before


def test_a_store_folder_that_is_a_file_is_reported(project: Project, cli: CliRunner) -> None:
    """`.clearance` exists as a regular file, so the default store's folder cannot be created."""
    if project.backend != "sqlite":
        pytest.skip("SQLite only: the store's folder is where the SQLite file lives")
    blocker = project.root / ".clearance"
    blocker.write_text("not a folder\n", encoding="utf-8")
    result = cli("release", "create", "1.0.0")
    assert result.exit_code == 1, result
    line = assert_one_error_line(result)
    assert f"cannot create the store's folder {blocker}" in line
    assert "CLEARANCE_DATABASE_URL" in result.stderr
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"


HOLD_EXCLUSIVE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes our stdin
connection.rollback()
"""


def test_a_store_locked_by_another_process_is_reported_quickly(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    if project.backend != "sqlite":
        pytest.skip("SQLite only: a whole-database lock and CLEARANCE_SQLITE_BUSY_TIMEOUT are SQLite's")
    assert cli("release", "create", "1.0.0").exit_code == 0
    before = snapshot(project.database_url)
    monkeypatch.setenv("CLEARANCE_SQLITE_BUSY_TIMEOUT", "0.2")
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_EXCLUSIVE_LOCK, str(sqlite_path(project))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = cli("release", "create", "2.0.0")
        elapsed = time.monotonic() - started
        holder.stdin.close()
    assert result.exit_code == 1, result
    line = assert_one_error_line(result)
    assert "locked by another process" in line
    assert "CLEARANCE_SQLITE_BUSY_TIMEOUT" in result.stderr
    assert elapsed < 10
    assert snapshot(project.database_url) == before
    assert cli("release", "create", "2.0.0").exit_code == 0  # once the other process is done


def test_an_unreachable_postgresql_is_reported_without_a_traceback(project: Project, cli: CliRunner) -> None:
    if project.backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to reach")
    assert cli("release", "create", "1.0.0").exit_code == 0
    before = snapshot(project.database_url)
    url = f"postgresql+psycopg://clearance:s3cret@127.0.0.1:{closed_port()}/shop"
    started = time.monotonic()
    result = run_process("release", "create", "2.0.0", cwd=project.root, env={"CLEARANCE_DATABASE_URL": url})
    assert time.monotonic() - started < 30
    assert result.exit_code == 1, result
    line = assert_one_error_line(result)
    assert "cannot reach PostgreSQL" in line
    assert "s3cret" not in result.stderr
    assert "CLEARANCE_DATABASE_URL" in result.stderr
    assert snapshot(project.database_url) == before


@pytest.mark.parametrize(
    "url",
    [
        "mysql://shop:s3cret@localhost/shop",
        "postgres://shop:s3cret@localhost/shop",
        "postgresql+asyncpg://shop:s3cret@localhost/shop",
        "sqlite+pysqlcipher://:s3cret@/shop.db",
        "not a database url s3cret",
    ],
)
def test_an_unsupported_database_url_is_a_config_error(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    assert cli("release", "create", "1.0.0").exit_code == 0
    before = snapshot(project.database_url)
    monkeypatch.setenv("CLEARANCE_DATABASE_URL", url)
    result = cli("release", "create", "2.0.0")
    assert result.exit_code == 2, result
    line = assert_one_error_line(result)
    assert "CLEARANCE_DATABASE_URL" in line
    assert "s3cret" not in result.stderr
    assert "sqlite:///" in result.stderr and "postgresql+psycopg://" in result.stderr  # the hint
    assert snapshot(project.database_url) == before


# the config cannot be used -----------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line_and_changes_nothing(project: Project, cli: CliRunner) -> None:
    assert cli("release", "create", "1.0.0").exit_code == 0
    before = snapshot(project.database_url)
    project.write_config("project: shop\nservices: [web, api\nenvironments: []\n")
    for command in (["config", "check"], ["release", "create", "2.0.0"], ["audit", "verify"]):
        result = cli(*command)
        assert result.exit_code == 2, result
        assert re.search(r"^error: clearance\.yaml:\d+: invalid YAML: ", result.stderr, re.MULTILINE), result
        assert "Traceback" not in result.stderr
    assert snapshot(project.database_url) == before


def test_an_unknown_key_names_file_line_and_key_and_changes_nothing(project: Project, cli: CliRunner) -> None:
    assert cli("release", "create", "1.0.0").exit_code == 0
    before = snapshot(project.database_url)
    config = (project.root / "clearance.yaml").read_text(encoding="utf-8")
    broken = config.replace("    production: true\n", "    production: true\n    aproval: required\n")
    line = broken.splitlines().index("    aproval: required") + 1
    project.write_config(broken)
    for command in (["config", "check"], ["release", "create", "2.0.0"]):
        result = cli(*command)
        assert result.exit_code == 2, result
        assert f"clearance.yaml:{line}: environments[2].aproval: unknown key" in result.stderr, result
    as_json = cli("config", "check", "--json")
    assert as_json.exit_code == 2
    assert as_json.json()["error"]["code"] == "config-invalid"
    [problem] = as_json.json()["error"]["data"]["problems"]
    assert problem.startswith(f"clearance.yaml:{line}: environments[2].aproval: unknown key")
    assert snapshot(project.database_url) == before


@pytest.fixture
def empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "new-project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_init_writes_a_starter_that_config_check_accepts(empty_folder: Path, cli: CliRunner) -> None:
    result = cli("init")
    assert result.exit_code == 0, result
    path = empty_folder / "clearance.yaml"
    assert path.read_text(encoding="utf-8") == STARTER_CONFIG
    assert "clearance config check" in result.stderr
    check = cli("config", "check", "--json")
    assert check.exit_code == 0, check
    assert check.json()["valid"] is True
    assert check.json()["project"] == "shop"
    assert not (empty_folder / ".clearance").exists()  # checking a config does not create a store


def test_init_refuses_to_overwrite_unless_forced(empty_folder: Path, cli: CliRunner) -> None:
    assert cli("init").exit_code == 0
    path = empty_folder / "clearance.yaml"
    path.write_text(STARTER_CONFIG + "# my own changes\n", encoding="utf-8")

    again = cli("init")
    assert again.exit_code == 3, again
    line = assert_one_error_line(again)
    assert "already exists" in line
    assert "--force" in again.stderr
    assert path.read_text(encoding="utf-8").endswith("# my own changes\n")

    forced = cli("init", "--force")
    assert forced.exit_code == 0, forced
    assert path.read_text(encoding="utf-8") == STARTER_CONFIG


@pytest.mark.parametrize(
    "command",
    [["config", "check"], ["release", "list"], ["audit", "verify"], ["deploy", "1.0.0", "--to", "dev"]],
)
def test_no_config_anywhere_is_not_found_with_a_hint_to_init(
    empty_folder: Path, cli: CliRunner, command: list[str]
) -> None:
    result = cli(*command)
    assert result.exit_code == 4, result
    line = assert_one_error_line(result)
    assert "no clearance.yaml" in line
    assert "clearance init" in result.stderr
    assert list(empty_folder.iterdir()) == []  # no store was created


@pytest.mark.parametrize(
    "command",
    [
        ["config", "check", "elsewhere.yaml"],
        ["config", "check", "--config", "elsewhere.yaml"],
        ["release", "list", "--config", "elsewhere.yaml"],
    ],
)
def test_a_named_config_that_does_not_exist_is_not_found(
    empty_folder: Path, cli: CliRunner, command: list[str]
) -> None:
    result = cli(*command)
    assert result.exit_code == 4, result
    line = assert_one_error_line(result)
    assert "elsewhere.yaml" in line
    assert "clearance init" in result.stderr
