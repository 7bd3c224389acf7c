"""The hash chain, as pure functions: canonical JSON, entry hashes and verification of a sequence.

Each entry's hash is SHA-256 over the canonical JSON of {seq, at, actor, tag, subject, data, prev}.
Editing an entry breaks its own hash; inserting or deleting one breaks the next entry's `prev` link
or the contiguous numbering; deleting the newest ones, or appending well-formed ones without moving
the head, disagrees with the stored head. There is no secret in the chain: whoever can write the store
can cut the tail and move the head back, and only a copy of the head kept elsewhere reveals that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def format_time(at: datetime) -> str:
    """UTC, ISO 8601, always with microseconds: one spelling per instant, whatever zone it came in."""
    if at.tzinfo is None or at.utcoffset() is None:
        # A naive time could be any instant; hashing it as-is would bless a guess.
        raise ValueError("a time without a time zone cannot go into the audit chain; use datetime.now(UTC)")
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


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
    # The walk above proved seq 1..count contiguous, so the last entry is (count, expected_prev).
    return count, _check_head(count, expected_prev, head)


def _check_head(last_seq: int, last_hash: str, head: tuple[int, str] | None) -> ChainProblem | None:
    """Compare the end of an intact walk with the head record, which `record` moves on every append."""
    if head is None:
        return ChainProblem(1, "the chain has entries but no head record") if last_seq else None
    head_seq, head_hash = head
    if head_seq > last_seq:
        why = f"the chain ends at entry {last_seq} but the head says {head_seq}: newest entries were removed"
        return ChainProblem(last_seq + 1, why)
    if head_seq < last_seq:
        # Every link holds, so these entries were appended well-formed, but never through `record`.
        why = f"the head says the chain ends at entry {head_seq}, but it goes on: entries were added"
        return ChainProblem(head_seq + 1, why)
    if head_hash != last_hash:
        return ChainProblem(last_seq, "it does not match the head record: the newest entry was rewritten")
    return None
