"""The hash chain, as pure functions: canonical JSON, entry hashes and verification of a sequence.

Each entry's hash is SHA-256 over the canonical JSON of {seq, at, actor, tag, subject, data, prev}.
Editing an entry breaks its own hash; inserting or deleting one breaks the next entry's `prev` link
or the contiguous numbering; deleting the newest ones disagrees with the stored head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def format_time(at: datetime) -> str:
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    at: datetime
    actor: str
    tag: str
    subject: str
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": format_time(self.at),
            "actor": self.actor,
            "tag": self.tag,
            "subject": self.subject,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def entry_hash(
    *, seq: int, at: datetime, actor: str, tag: str, subject: str, data: dict[str, Any], prev_hash: str
) -> str:
    body = {
        "seq": seq,
        "at": format_time(at),
        "actor": actor,
        "tag": tag,
        "subject": subject,
        "data": data,
        "prev": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    why: str


def verify_chain(
    entries: Iterable[ChainEntry], head: tuple[int, str] | None
) -> tuple[int, ChainProblem | None]:
    """Walk the entries in seq order; return how many were checked and the first problem, if any."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    for entry in entries:
        if entry.seq != expected_seq:
            why = f"expected entry {expected_seq} here, found {entry.seq}: entries were deleted or inserted"
            return count, ChainProblem(expected_seq, why)
        if entry.prev_hash != expected_prev:
            return count, ChainProblem(entry.seq, "its link to the previous entry is broken")
        actual = entry_hash(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            tag=entry.tag,
            subject=entry.subject,
            data=entry.data,
            prev_hash=entry.prev_hash,
        )
        if actual != entry.hash:
            return count, ChainProblem(entry.seq, "its content does not match its hash: it was edited")
        expected_prev = entry.hash
        expected_seq += 1
        count += 1
    last_seq, last_hash = (count, expected_prev) if count else (0, GENESIS)
    if head is not None and head != (last_seq, last_hash):
        why = f"the chain ends at entry {last_seq} but the head says {head[0]}: newest entries were removed"
        return count, ChainProblem(min(head[0], last_seq + 1), why)
    if head is None and count:
        return count, ChainProblem(1, "the chain has entries but no head record")
    return count, None
