"""Appending to, verifying and exporting the audit trail in the store."""

from __future__ import annotations

import json
from collections.abc import Generator
from contextlib import closing
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.chain import GENESIS, ChainEntry, ChainProblem, entry_hash, verify_chain
from clearance.store import AuditEntry, AuditHead, Store
from clearance.store.tables import utcnow

_HEAD_ID = 1


def record(session: Session, *, actor: str, tag: str, subject: str, data: dict[str, Any]) -> AuditEntry:
    """Append one entry inside the caller's transaction, so it commits or vanishes with the change."""
    # The head row is the chain's lock: FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite. Migration
    # 0002 seeds it, so even the very first append has a row to lock.
    head = session.scalars(select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update()).first()
    prev_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    # Round-trip through JSON so the hashed data is exactly what the store will give back.
    clean = json.loads(json.dumps(data, default=str))
    at = utcnow()
    seq = prev_seq + 1
    digest = entry_hash(
        seq=seq, at=at, actor=actor, tag=tag, subject=subject, data=clean, prev_hash=prev_hash
    )
    entry = AuditEntry(
        seq=seq, at=at, actor=actor, tag=tag, subject=subject, data=clean, prev_hash=prev_hash, hash=digest
    )
    session.add(entry)
    if head is None:
        session.add(AuditHead(id=_HEAD_ID, seq=seq, hash=digest))
    else:
        head.seq, head.hash = seq, digest
    session.flush()
    return entry


def _chain_entry(row: AuditEntry) -> ChainEntry:
    return ChainEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        tag=row.tag,
        subject=row.subject,
        data=row.data,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _entries(session: Session) -> Generator[ChainEntry, None, None]:
    """Every entry in seq order, streamed; use it under `closing()` when the walk may stop early."""
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
    try:
        for (row,) in rows:
            yield _chain_entry(row)
    finally:
        # yield_per is a server-side cursor on PostgreSQL: verification stops at the first broken
        # entry, and the cursor must not be left open until garbage collection.
        rows.close()


def verify(store: Store) -> tuple[int, ChainProblem | None]:
    with store.transaction() as session:
        head_row = session.get(AuditHead, _HEAD_ID)
        head = (head_row.seq, head_row.hash) if head_row else None
        with closing(_entries(session)) as entries:
            return verify_chain(entries, head)


def export_jsonl(store: Store, out: TextIO) -> int:
    count = 0
    # closing(): a failed write (a closed pipe, a full disk) must not leave the cursor open.
    with store.transaction() as session, closing(_entries(session)) as entries:
        for entry in entries:
            out.write(json.dumps(entry.to_json(), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def recent(session: Session, limit: int = 50, tag_prefix: str | None = None) -> list[ChainEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if tag_prefix:
        # autoescape: the prefix is literal text, so `_` and `%` must not act as LIKE wildcards.
        query = query.where(AuditEntry.tag.startswith(tag_prefix, autoescape=True))
    return [_chain_entry(row) for row in session.scalars(query)]


def about(session: Session, subject: str, tags: tuple[str, ...]) -> list[ChainEntry]:
    """Every entry on `subject` with one of `tags`, oldest first (e.g. a release's refusals)."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.subject == subject, AuditEntry.tag.in_(tags))
        .order_by(AuditEntry.seq)
    )
    return [_chain_entry(row) for row in session.scalars(query)]
