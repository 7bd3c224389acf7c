"""What the client API serves, kept in memory: each environment's snapshot (body and ETag built once)
and the tokens seen, reused until the audit trail says that a flag or a token changed.

Why the audit trail: every change to a flag or a token appends an audit entry in its own
transaction, and appends are serialised on the audit head row, so the head's `seq` only grows and
every entry up to it is committed. One single-row read of the head tells whether anything changed,
made by any process (the CLI writing the store directly, other servers sharing a PostgreSQL); a
range read of the new entries tells whether one of them was about flags or tokens. The head is
read at most every `check_every` seconds, in a read-only unit of work, so a change is served
within that bound plus one rebuild. Edits that bypass clearance (SQL by hand) are not audited:
everything is rebuilt after `max_age` seconds anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from sqlalchemy import or_, select

from clearance.errors import StoreError
from clearance.flags.client_service import (
    ServedSnapshot,
    TokenView,
    find_token,
    header_digest,
    snapshot,
)
from clearance.store import AuditEntry, AuditHead
from clearance.workspace import Workspace

_log = logging.getLogger(__name__)


class Missing:
    """Not in memory: ask the store (`peek_token` answers this, None means "no such token")."""


MISSING: Final = Missing()
_TOKENS_MAX = 10_000  # unknown tokens are remembered too; a flood of random ones cannot grow memory


class ClientApiCache:
    """Snapshots per environment and tokens by sha256, for one workspace (one project).

    `peek_*` never touch the store and suit the event loop; `check`, `token` and `snapshot` may
    read it and belong in a worker thread. Safe to share between threads.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        check_every: float = 0.25,
        max_age: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ws = ws
        self.check_every = check_every
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._generation = 0
        self._head: int | None = None
        self._checked_at = float("-inf")
        self._checking = False
        self._invalidated_at = clock()
        self._snapshots: dict[str, tuple[int, ServedSnapshot]] = {}
        self._building: dict[str, threading.Lock] = {}
        self._tokens: dict[str, TokenView | None] = {}

    # change detection

    def due(self) -> bool:
        """True, for exactly one caller, when the store should be checked for changes."""
        with self._lock:
            if self._checking or self._clock() - self._checked_at < self.check_every:
                return False
            self._checking = True
            return True

    def check_due(self) -> bool:
        """Whether a check is due (without claiming it, unlike `due`)."""
        return self._clock() - self._checked_at >= self.check_every

    def check(self) -> None:
        """Look at the audit head; forget what changed. A store that cannot be read is logged and
        what is in memory goes on being served (SDKs keep working through a database outage)."""
        try:
            changed, head = self._changed_since(self._head)
        except StoreError as exc:
            _log.warning("cannot check the store for flag changes: %s", exc.message)
            changed, head = False, self._head
        with self._lock:
            now = self._clock()
            if changed or now - self._invalidated_at >= self.max_age:
                self._generation += 1
                self._tokens.clear()
                self._invalidated_at = now
            self._head = head
            self._checked_at = now
            self._checking = False

    def _changed_since(self, last: int | None) -> tuple[bool, int | None]:
        with self._ws.store.read() as session:
            head = session.scalars(select(AuditHead.seq).where(AuditHead.id == 1)).first()
            if last is None or head is None:
                # The first look: whatever was built before the head was known may predate it.
                return True, head
            if head == last:
                return False, head
            about_flags = or_(
                AuditEntry.tag.startswith("flag"),
                AuditEntry.tag.startswith("token"),
                AuditEntry.subject.startswith("flag"),
                AuditEntry.subject.startswith("token"),
            )
            found = session.scalars(
                select(AuditEntry.seq)
                .where(AuditEntry.seq > last, AuditEntry.seq <= head, about_flags)
                .limit(1)
            ).first()
            # A head that went backwards (a restored database) is a change too.
            return found is not None or head < last, head

    # tokens

    def peek_token(self, header: str | None) -> TokenView | Missing | None:
        digest = header_digest(header)
        if digest is None:
            return None
        return self._tokens.get(digest, MISSING)

    def token(self, header: str | None) -> TokenView | None:
        digest = header_digest(header)
        if digest is None:
            return None
        generation = self._generation
        found = find_token(self._ws, digest)
        with self._lock:
            if generation == self._generation:
                if len(self._tokens) >= _TOKENS_MAX:
                    self._tokens.clear()
                self._tokens[digest] = found
        return found

    # snapshots

    def peek_snapshot(self, environment: str) -> ServedSnapshot | None:
        """The current snapshot; or, while another thread rebuilds it, the previous one."""
        held = self._snapshots.get(environment)
        if held is None:
            return None
        generation, served = held
        if generation == self._generation:
            return served
        building = self._building.get(environment)
        return served if building is not None and building.locked() else None

    def snapshot(self, environment: str) -> ServedSnapshot:
        """The current snapshot, built from the store when it is not in memory (one build at a time
        per environment; callers that waited reuse its result)."""
        with self._lock:
            building = self._building.setdefault(environment, threading.Lock())
        with building:
            held = self._snapshots.get(environment)
            if held is not None and held[0] == self._generation:
                return held[1]
            generation = self._generation
            served = snapshot(self._ws, environment)
            with self._lock:
                # Built before a newer change was seen: serve it once, keep it marked old.
                self._snapshots[environment] = (generation, served)
            return served
