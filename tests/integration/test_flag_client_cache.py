"""The client API's in-memory snapshots and tokens (flags/client_cache.py) on a real store: served
without touching the store, rebuilt when the audit trail shows a flag or token change made by any
process, left alone by other changes, and read without taking the store's write lock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clearance.errors import StoreError
from clearance.flags.client_cache import ClientApiCache, Missing
from clearance.flags.client_service import create_token
from clearance.store import AuditHead
from clearance.workspace import Workspace, open_workspace
from support.cli import CliRunner

from .conftest import Project


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ws(project: Project, cli: CliRunner) -> Iterator[Workspace]:
    for args in (("flag", "create", "checkout"), ("flag", "enable", "checkout", "--env", "dev")):
        assert cli(*args).exit_code == 0
    workspace = open_workspace()
    yield workspace
    workspace.store.dispose()


def _checked(cache: ClientApiCache, clock: _Clock) -> None:
    clock.now += cache.check_every
    assert cache.due() and not cache.due()  # one caller checks, the others go on serving
    cache.check()


def test_a_snapshot_is_built_once_and_rebuilt_only_after_a_flag_change(ws: Workspace, cli: CliRunner) -> None:
    clock = _Clock()
    cache = ClientApiCache(ws, clock=clock)
    _checked(cache, clock)
    first = cache.snapshot("dev")
    assert cache.peek_snapshot("dev") is first and b'"checkout"' in first.body

    # A change by another process (the CLI writes the store directly) is not seen until the check...
    assert cli("flag", "rollout", "checkout", "30%", "--env", "dev").exit_code == 0
    assert cache.peek_snapshot("dev") is first
    clock.now += cache.check_every / 2
    assert not cache.due()
    # ...and is seen at it: the old snapshot is dropped and the next one carries the change.
    _checked(cache, clock)
    assert cache.peek_snapshot("dev") is None
    second = cache.snapshot("dev")
    assert second.etag != first.etag and b'"rollout":"30"' in second.body

    # Audited changes that are not about flags or tokens keep the snapshot.
    assert cli("release", "create", "1.0.0").exit_code == 0
    _checked(cache, clock)
    assert cache.peek_snapshot("dev") is second

    # Everything is rebuilt after max_age anyway (for edits made around clearance).
    clock.now += cache.max_age
    cache.check()
    assert cache.peek_snapshot("dev") is None and cache.snapshot("dev").etag == second.etag


def test_tokens_are_remembered_until_a_token_changes(ws: Workspace, cli: CliRunner) -> None:
    clock = _Clock()
    cache = ClientApiCache(ws, clock=clock)
    token, view = create_token(ws, "dev", admin=False)
    _checked(cache, clock)
    assert isinstance(cache.peek_token(token), Missing)
    assert cache.token(f"Bearer {token}") == view
    assert cache.peek_token(token) == view and cache.peek_token("Bearer nope") is not None
    assert cache.token("nope") is None and cache.peek_token("nope") is None  # unknown: remembered
    assert cache.peek_token(None) is None and cache.peek_token("") is None

    assert cli("token", "revoke", str(view.id)).exit_code == 0
    assert cache.peek_token(token) == view  # until the next check
    _checked(cache, clock)
    assert isinstance(cache.peek_token(token), Missing)
    assert cache.token(token) is None


def test_the_cache_reads_while_a_writer_holds_the_store(ws: Workspace) -> None:
    clock = _Clock()
    cache = ClientApiCache(ws, clock=clock)
    token, _ = create_token(ws, "dev", admin=False)
    # A write transaction holds the write lock (BEGIN IMMEDIATE on SQLite, the audit head row
    # locked on PostgreSQL); reading the client API's data must not queue behind it.
    with ws.store.transaction() as writer:
        writer.get(AuditHead, 1, with_for_update=True)
        _checked(cache, clock)
        assert cache.token(token) is not None
        assert b'"checkout"' in cache.snapshot("dev").body


def test_a_read_only_unit_of_work_cannot_write(ws: Workspace) -> None:
    with pytest.raises(StoreError), ws.store.read() as session:
        head = session.get(AuditHead, 1)
        assert head is not None
        head.seq += 1
    with ws.store.read() as session:
        assert session.get(AuditHead, 1) is not None
