"""The audit hash chain as pure functions: one spelling per entry, one hash per spelling, and a
verifier that names the first entry where an edited, inserted, deleted or reordered chain breaks."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from clearance.audit.chain import GENESIS, ChainEntry, canonical_json, entry_hash, format_time, verify_chain

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def make_chain(count: int) -> list[ChainEntry]:
    """A chain as `record` writes it: seq from 1, each entry linked to the hash of the one before."""
    entries: list[ChainEntry] = []
    prev = GENESIS
    for seq in range(1, count + 1):
        entry = sealed(
            seq=seq,
            at=T0 + timedelta(seconds=seq),
            actor="alice",
            tag="deployment:queued",
            subject=f"deployment:{seq}",
            data={"deployment_id": seq, "environment": "dev"},
            prev_hash=prev,
        )
        entries.append(entry)
        prev = entry.hash
    return entries


def sealed(**fields: Any) -> ChainEntry:
    """An entry whose hash is right for its content, as a careful forger would write it."""
    return ChainEntry(**fields, hash=entry_hash(**fields))


def head_of(entries: list[ChainEntry]) -> tuple[int, str]:
    return (entries[-1].seq, entries[-1].hash) if entries else (0, GENESIS)


def renumbered(entries: list[ChainEntry]) -> list[ChainEntry]:
    """Seq made contiguous again, as an attacker would, without recomputing any hash."""
    return [dataclasses.replace(e, seq=i) for i, e in enumerate(entries, start=1)]


# canonical JSON ---------------------------------------------------------------------------------


def test_canonical_json_has_one_spelling_per_value() -> None:
    one = {"b": 1, "a": {"d": [1, 2], "c": "é"}}
    other = {"a": {"c": "é", "d": [1, 2]}, "b": 1}
    assert canonical_json(one) == canonical_json(other) == '{"a":{"c":"é","d":[1,2]},"b":1}'


def test_canonical_json_keeps_unicode_and_list_order() -> None:
    assert canonical_json({"who": "Zoë Ångström", "steps": ["b", "a"]}) == (
        '{"steps":["b","a"],"who":"Zoë Ångström"}'
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_canonical_json_refuses_numbers_json_cannot_spell(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": value})


# entry_hash --------------------------------------------------------------------------------------


def test_entry_hash_is_sha256_of_the_documented_canonical_body() -> None:
    """Pinned: changing how an entry is hashed would make every stored trail fail verification."""
    body = (
        '{"actor":"alice","at":"2026-01-02T03:04:05.678901Z",'
        '"data":{"note":"café","scope":["SHOP-1"],"type":"major","version":"1.0.0"},'
        f'"prev":"{GENESIS}","seq":1,"subject":"release:shop@1.0.0","tag":"release:created"}}'
    )
    digest = entry_hash(
        seq=1,
        at=T0,
        actor="alice",
        tag="release:created",
        subject="release:shop@1.0.0",
        data={"version": "1.0.0", "type": "major", "scope": ["SHOP-1"], "note": "café"},
        prev_hash=GENESIS,
    )
    assert digest == hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert digest == "47803e54b268b6fb41d631b2c643f9140f6478c0c28aaf42192376ecdb2ee1fa"


def test_entry_hash_ignores_key_order_of_data() -> None:
    common: dict[str, Any] = {
        "seq": 3,
        "at": T0,
        "actor": "bob",
        "tag": "x:y",
        "subject": "s",
        "prev_hash": GENESIS,
    }
    assert entry_hash(**common, data={"a": 1, "b": [1, {"y": 2, "x": 1}]}) == entry_hash(
        **common, data={"b": [1, {"x": 1, "y": 2}], "a": 1}
    )


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 2},
        {"at": T0 + timedelta(microseconds=1)},
        {"actor": "mallory"},
        {"tag": "release:deleted"},
        {"subject": "release:shop@6.6.6"},
        {"data": {"version": "6.6.6"}},
        {"prev_hash": "f" * 64},
    ],
    ids=lambda change: next(iter(change)),
)
def test_every_field_is_covered_by_the_hash(change: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "seq": 1,
        "at": T0,
        "actor": "alice",
        "tag": "release:created",
        "subject": "release:shop@1.0.0",
        "data": {"version": "1.0.0"},
        "prev_hash": GENESIS,
    }
    assert entry_hash(**fields) != entry_hash(**{**fields, **change})


def test_the_same_instant_hashes_the_same_in_any_time_zone() -> None:
    """Times are UTC in the chain: an instant written with another offset is the same entry."""
    berlin = T0.astimezone(timezone(timedelta(hours=1)))
    fields: dict[str, Any] = {
        "seq": 1,
        "actor": "a",
        "tag": "t:t",
        "subject": "s",
        "data": {},
        "prev_hash": GENESIS,
    }
    assert format_time(berlin) == "2026-01-02T03:04:05.678901Z"
    assert entry_hash(**fields, at=berlin) == entry_hash(**fields, at=T0)


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        format_time(datetime(2026, 1, 2, 3, 4, 5))


def test_to_json_shows_utc_time_and_both_links() -> None:
    first = make_chain(1)[0]
    document = first.to_json()
    assert document["at"] == "2026-01-02T03:04:06.678901Z"
    assert document["prev_hash"] == GENESIS
    assert document["hash"] == first.hash


# verify_chain: intact chains ---------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 7])
def test_an_intact_chain_verifies(count: int) -> None:
    chain = make_chain(count)
    assert verify_chain(chain, head_of(chain)) == (count, None)


def test_an_empty_store_verifies_with_or_without_a_head() -> None:
    assert verify_chain([], None) == (0, None)
    assert verify_chain([], (0, GENESIS)) == (0, None)


# verify_chain: tampering, each naming the first bad entry ---------------------------------------


def test_edited_data_names_the_edited_entry() -> None:
    chain = make_chain(5)
    head = head_of(chain)
    chain[2] = dataclasses.replace(chain[2], data={"deployment_id": 3, "environment": "prod"})
    count, problem = verify_chain(chain, head)
    assert problem is not None
    assert (count, problem.seq) == (2, 3)
    assert "edited" in problem.why


def test_edited_actor_of_the_first_entry_names_entry_1() -> None:
    chain = make_chain(3)
    head = head_of(chain)
    chain[0] = dataclasses.replace(chain[0], actor="mallory")
    count, problem = verify_chain(chain, head)
    assert problem is not None
    assert (count, problem.seq) == (0, 1)


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_next_link() -> None:
    chain = make_chain(4)
    head = head_of(chain)
    fields = {f.name: getattr(chain[1], f.name) for f in dataclasses.fields(chain[1]) if f.name != "hash"}
    chain[1] = sealed(**{**fields, "actor": "mallory"})
    count, problem = verify_chain(chain, head)
    assert problem is not None
    assert (count, problem.seq) == (2, 3)
    assert "link" in problem.why


def test_an_edited_newest_entry_with_a_recomputed_hash_disagrees_with_the_head() -> None:
    chain = make_chain(4)
    head = head_of(chain)
    fields = {f.name: getattr(chain[3], f.name) for f in dataclasses.fields(chain[3]) if f.name != "hash"}
    chain[3] = sealed(**{**fields, "data": {"environment": "prod"}})
    count, problem = verify_chain(chain, head)
    assert problem is not None
    assert (count, problem.seq) == (4, 4)
    assert "removed" not in problem.why  # nothing was removed: the newest entry was rewritten


def test_an_inserted_entry_with_a_bogus_hash_is_named() -> None:
    chain = make_chain(4)
    head = head_of(chain)
    forged = ChainEntry(
        seq=3,
        at=T0,
        actor="mallory",
        tag="release:created",
        subject="release:shop@6.6.6",
        data={},
        prev_hash=chain[1].hash,
        hash="f" * 64,
    )
    tampered = renumbered([*chain[:2], forged, *chain[2:]])
    count, problem = verify_chain(tampered, head)
    assert problem is not None
    assert (count, problem.seq) == (2, 3)


def test_an_inserted_well_formed_entry_breaks_the_link_of_the_entry_after_it() -> None:
    """A forger can hash their own entry correctly, but the entry that followed still points to the
    old predecessor: the first entry that no longer checks out is the one after the insertion."""
    chain = make_chain(4)
    head = head_of(chain)
    forged = sealed(
        seq=3,
        at=T0,
        actor="mallory",
        tag="release:created",
        subject="release:shop@6.6.6",
        data={},
        prev_hash=chain[1].hash,
    )
    count, problem = verify_chain(renumbered([*chain[:2], forged, *chain[2:]]), head)
    assert problem is not None
    assert (count, problem.seq) == (3, 4)


def test_an_inserted_entry_without_renumbering_is_named_by_position() -> None:
    chain = make_chain(4)
    forged = sealed(seq=3, at=T0, actor="mallory", tag="t:t", subject="s", data={}, prev_hash=chain[1].hash)
    count, problem = verify_chain([*chain[:2], forged, *chain[2:]], head_of(chain))
    assert problem is not None
    assert (count, problem.seq) == (3, 4)
    assert "deleted or inserted" in problem.why


def test_an_entry_appended_after_the_head_is_named() -> None:
    """A well-formed entry added at the end: every link holds, only the head knows it is extra."""
    chain = make_chain(4)
    head = head_of(chain)
    forged = sealed(seq=5, at=T0, actor="mallory", tag="t:t", subject="s", data={}, prev_hash=chain[-1].hash)
    count, problem = verify_chain([*chain, forged], head)
    assert problem is not None
    assert (count, problem.seq) == (5, 5)
    assert "removed" not in problem.why


def test_a_deleted_middle_entry_is_named() -> None:
    chain = make_chain(5)
    head = head_of(chain)
    count, problem = verify_chain([*chain[:2], *chain[3:]], head)
    assert problem is not None
    assert (count, problem.seq) == (2, 3)
    assert "deleted" in problem.why


def test_a_deleted_middle_entry_with_renumbering_breaks_the_next_link() -> None:
    chain = make_chain(5)
    count, problem = verify_chain(renumbered([*chain[:2], *chain[3:]]), head_of(chain))
    assert problem is not None
    assert (count, problem.seq) == (2, 3)


def test_a_deleted_first_entry_is_named() -> None:
    chain = make_chain(3)
    count, problem = verify_chain(chain[1:], head_of(chain))
    assert problem is not None
    assert (count, problem.seq) == (0, 1)


@pytest.mark.parametrize("removed", [1, 2])
def test_a_deleted_tail_names_the_first_missing_entry(removed: int) -> None:
    chain = make_chain(5)
    count, problem = verify_chain(chain[:-removed], head_of(chain))
    assert problem is not None
    assert (count, problem.seq) == (5 - removed, 6 - removed)
    assert "removed" in problem.why


def test_every_entry_deleted_but_the_head_is_noticed() -> None:
    chain = make_chain(3)
    count, problem = verify_chain([], head_of(chain))
    assert problem is not None
    assert (count, problem.seq) == (0, 1)


def test_a_deleted_tail_with_a_rewritten_head_is_undetectable() -> None:
    """Known limit, not a feature: the chain has no secret, so whoever can write the store can cut
    the newest entries AND move the head back to the new last entry, and the result is a valid,
    shorter chain. Only a copy of the head kept elsewhere (an exported trail, a signed checkpoint)
    can reveal it. This test pins the limit so that nobody claims otherwise."""
    chain = make_chain(5)
    shortened = chain[:3]
    assert verify_chain(shortened, head_of(shortened)) == (3, None)


def test_swapped_entries_name_the_first_out_of_place() -> None:
    chain = make_chain(5)
    head = head_of(chain)
    swapped = [chain[0], chain[2], chain[1], chain[3], chain[4]]
    count, problem = verify_chain(swapped, head)
    assert problem is not None
    assert (count, problem.seq) == (1, 2)


def test_swapped_entries_with_swapped_numbers_break_the_link() -> None:
    chain = make_chain(5)
    head = head_of(chain)
    count, problem = verify_chain(renumbered([chain[0], chain[2], chain[1], chain[3], chain[4]]), head)
    assert problem is not None
    assert (count, problem.seq) == (1, 2)
    assert "link" in problem.why


def test_a_missing_head_with_entries_is_a_problem() -> None:
    chain = make_chain(2)
    count, problem = verify_chain(chain, None)
    assert problem is not None
    assert count == 2
