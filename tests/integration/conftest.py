"""Integration fixtures: a project folder with a real clearance.yaml, on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clearance.store import Store
from support.cli import CliRunner, clearance_command
from support.postgres import PostgresServer

BASIC_CONFIG = """\
project: shop
services:
  - name: web
  - name: api
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
lifecycle:
  phases:
    - environments: [dev]
    - environments: [staging]
    - environments: [prod]
process:
  - name: hello
    script: echo "deploying $CLEARANCE_SERVICE $CLEARANCE_RELEASE_VERSION to $CLEARANCE_ENVIRONMENT"
"""

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated once; each test gets a fresh copy of it."""
    postgres_server.psql("CREATE DATABASE clearance_template")
    store = Store(postgres_server.url("clearance_template"))
    store.upgrade()
    store.dispose()
    return "clearance_template"


@dataclass
class Project:
    root: Path
    database_url: str
    backend: str

    def process_env(self, actor: str = "alice", **extra: str) -> dict[str, str]:
        """The environment of a `clearance` subprocess working on this project's store."""
        env = {**os.environ, "CLEARANCE_ACTOR": actor, **extra}
        if self.backend == "postgresql":
            env["CLEARANCE_DATABASE_URL"] = self.database_url
        return env

    def start(self, *args: str, actor: str = "alice", **extra: str) -> subprocess.Popen[str]:
        """`clearance ARGS` as a separate process in the project folder (output captured)."""
        return subprocess.Popen(
            [*clearance_command(), *args],
            cwd=self.root,
            env=self.process_env(actor, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_interruptible,
        )

    def write_config(self, text: str) -> Path:
        path = self.root / "clearance.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path


def _interruptible() -> None:
    """Ctrl-C as at a terminal: a test suite run in the background (`make test &`) starts with SIGINT
    ignored, and a process inherits that, so a SIGINT the test sends would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        # The embedded default: the store lives in the project's .clearance folder.
        yield f"sqlite:///{tmp_path / 'project' / '.clearance' / 'clearance.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name = f"test_{next(_counter)}"
    server.psql(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield server.url(name)
    server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def project(backend: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    if backend == "postgresql":
        monkeypatch.setenv("CLEARANCE_DATABASE_URL", database_url)
    monkeypatch.setenv("CLEARANCE_ACTOR", "alice")
    p = Project(root, database_url, backend)
    p.write_config(BASIC_CONFIG)
    return p


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    return CliRunner(capsys)


Runner = Callable[..., object]
