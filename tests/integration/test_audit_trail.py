"""A user's commands leave a hash-chained audit trail that `clearance audit verify` proves intact,
and that still names the first bad entry after someone edits the database behind clearance's back."""

from __future__ import annotations

import getpass
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clearance.audit.chain import GENESIS, entry_hash
from support.cli import CliRunner
from support.store import execute, snapshot

from .conftest import Project

# helpers -----------------------------------------------------------------------------------------


def trail(cli: CliRunner) -> list[dict[str, Any]]:
    """Every entry, oldest first, as `clearance audit export` gives it to an auditor."""
    result = cli("audit", "export", "--format", "jsonl")
    assert result.exit_code == 0, result
    return [json.loads(line) for line in result.stdout.splitlines()]


def tagged(entries: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["tag"] == tag]


def assert_broken_at(cli: CliRunner, seq: int) -> str:
    """`audit verify` fails (exit 1) and names entry `seq`, for people and for programs."""
    result = cli("audit", "verify")
    assert result.exit_code == 1, result
    assert f"audit trail broken at entry {seq}:" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    as_json = cli("audit", "verify", "--json")
    assert as_json.exit_code == 1, as_json
    error = as_json.json()["error"]
    assert error["code"] == "audit-broken"
    assert error["data"]["first_bad_entry"] == seq
    return result.stderr


def json_value(project: Project) -> str:
    # PostgreSQL will not put text into a json column without a cast; SQLite's CAST(… AS json)
    # would turn the text into the number 0, so it gets the text as it is.
    return ":value" if project.backend == "sqlite" else "CAST(:value AS json)"


def stored_time(at: datetime) -> str:
    """How the store keeps a time: naive UTC text that both databases read back exactly."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def insert_entry(project: Project, entry: dict[str, Any]) -> None:
    execute(
        project.database_url,
        "INSERT INTO audit_entries (seq, at, actor, tag, subject, data, prev_hash, hash) "
        f"VALUES (:seq, :at, :actor, :tag, :subject, {json_value(project)}, :prev_hash, :hash)",
        seq=entry["seq"],
        at=stored_time(entry["at"]),
        actor=entry["actor"],
        tag=entry["tag"],
        subject=entry["subject"],
        value=json.dumps(entry["data"]),
        prev_hash=entry["prev_hash"],
        hash=entry["hash"],
    )


@pytest.fixture
def history(project: Project, cli: CliRunner) -> list[dict[str, Any]]:
    """A release recorded and deployed to dev: a trail of a dozen entries to tamper with."""
    assert cli("release", "create", "1.0.0", "--scope", "SHOP-1:Checkout").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0
    entries = trail(cli)
    assert cli("audit", "verify").exit_code == 0
    return entries


# the trail of real commands ------------------------------------------------------------------------


def test_commands_leave_a_trail_that_verifies(project: Project, cli: CliRunner) -> None:
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0
    assert cli("release", "create", "1.1.0").exit_code == 0

    result = cli("audit", "verify")
    assert result.exit_code == 0, result
    assert "audit trail intact" in result.stdout

    report = cli("audit", "verify", "--json")
    assert report.exit_code == 0, report
    entries = trail(cli)
    assert report.json() == {"schema_version": 1, "ok": True, "entries": len(entries)}
    # project, config, release, 2 services x (queued, started, succeeded), release
    assert len(entries) == 10


def test_entries_carry_actor_utc_time_tag_and_data(
    project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = datetime.now(UTC)
    # --actor wins over CLEARANCE_ACTOR (alice, set for every project in these tests) ...
    assert cli("release", "create", "1.0.0", "--scope", "SHOP-1:Checkout", "--actor", "carol").exit_code == 0
    # ... which wins over the operating-system user ...
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0
    # ... which is who acts when nobody says otherwise.
    monkeypatch.delenv("CLEARANCE_ACTOR")
    assert cli("release", "create", "1.1.0").exit_code == 0
    after = datetime.now(UTC)
    entries = trail(cli)

    assert [e["tag"] for e in entries[:3]] == ["project:registered", "config:loaded", "release:created"]
    assert {e["actor"] for e in entries[:3]} == {"carol"}
    created = tagged(entries, "release:created")
    assert [(e["actor"], e["data"]["version"]) for e in created] == [
        ("carol", "1.0.0"),
        (getpass.getuser(), "1.1.0"),
    ]
    assert created[0]["subject"] == "release:shop@1.0.0"
    assert created[0]["data"]["type"] == "major"
    assert created[0]["data"]["scope"] == ["SHOP-1"]

    deployment_entries = [e for e in entries if e["tag"].startswith("deployment:")]
    assert {e["actor"] for e in deployment_entries} == {"alice"}
    queued = tagged(entries, "deployment:queued")
    assert sorted((e["data"]["service"], e["data"]["environment"], e["data"]["version"]) for e in queued) == [
        ("api", "dev", "1.0.0"),
        ("web", "dev", "1.0.0"),
    ]
    for q in queued:
        subject = q["subject"]
        assert subject == f"deployment:{q['data']['deployment_id']}"
        lifecycle = [e["tag"] for e in entries if e["subject"] == subject]
        assert lifecycle == ["deployment:queued", "deployment:started", "deployment:succeeded"]

    for e in entries:
        assert e["tag"].count(":") == 1 and all(e["tag"].split(":")), e["tag"]
        assert e["at"].endswith("Z"), e["at"]  # UTC, ISO 8601
        at = datetime.fromisoformat(e["at"])
        assert at.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=1) <= at <= after + timedelta(seconds=1)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)


def test_config_is_audited_with_its_sha256_and_again_once_when_it_changes(
    project: Project, cli: CliRunner
) -> None:
    config_path = project.root / "clearance.yaml"
    first_hash = hashlib.sha256(config_path.read_bytes()).hexdigest()
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("release", "list").exit_code == 0

    loaded = tagged(trail(cli), "config:loaded")
    assert len(loaded) == 1
    assert loaded[0]["subject"] == "project:shop"
    assert loaded[0]["data"]["sha256"] == first_hash
    assert loaded[0]["data"]["previous_sha256"] is None

    config_path.write_text(config_path.read_text() + "# staging now needs a sign-off\n", encoding="utf-8")
    second_hash = hashlib.sha256(config_path.read_bytes()).hexdigest()
    for _ in range(3):
        assert cli("release", "list").exit_code == 0
    assert cli("release", "create", "1.1.0").exit_code == 0

    entries = trail(cli)
    loaded = tagged(entries, "config:loaded")
    assert [e["data"]["sha256"] for e in loaded] == [first_hash, second_hash]
    assert loaded[1]["data"]["previous_sha256"] == first_hash
    assert tagged(entries, "release:created")[-1]["data"]["config_sha256"] == second_hash
    assert cli("audit", "verify").exit_code == 0


def test_a_refused_deployment_is_audited(project: Project, cli: CliRunner) -> None:
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 3
    refused = tagged(trail(cli), "promotion:refused")
    assert len(refused) == 1
    assert refused[0]["data"]["environment"] == "prod"
    assert refused[0]["actor"] == "alice"
    assert cli("audit", "verify").exit_code == 0


def test_an_actor_with_any_letters_verifies(project: Project, cli: CliRunner) -> None:
    assert cli("release", "create", "1.0.0", "--actor", "Zoë Ångström 🚀").exit_code == 0
    assert trail(cli)[-1]["actor"] == "Zoë Ångström 🚀"
    assert cli("audit", "verify").exit_code == 0


def test_an_actor_the_store_cannot_keep_is_a_usage_error_on_both_databases(
    project: Project, cli: CliRunner
) -> None:
    assert cli("release", "create", "1.0.0").exit_code == 0
    before = snapshot(project.database_url)
    result = cli("release", "create", "2.0.0", "--actor", "x" * 256)
    assert result.exit_code == 2, result
    assert "--actor" in result.stderr
    assert "255" in result.stderr
    assert snapshot(project.database_url) == before


# tampering with the database behind clearance's back --------------------------------------------


def test_edited_data_names_the_edited_entry(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    created = tagged(history, "release:created")[0]
    forged = {**created["data"], "version": "6.6.6"}
    execute(
        project.database_url,
        f"UPDATE audit_entries SET data = {json_value(project)} WHERE seq = :seq",
        value=json.dumps(forged),
        seq=created["seq"],
    )
    stderr = assert_broken_at(cli, created["seq"])
    assert "edited" in stderr


def test_edited_actor_names_the_edited_entry(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    started = tagged(history, "deployment:started")[-1]
    execute(
        project.database_url,
        "UPDATE audit_entries SET actor = 'mallory' WHERE seq = :seq",
        seq=started["seq"],
    )
    assert_broken_at(cli, started["seq"])


def test_rewritten_json_with_the_same_content_is_not_tampering(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    """The hash covers the data's canonical form, so a database that respells JSON (key order,
    spaces, escapes) on dump and restore does not break the chain."""
    queued = tagged(history, "deployment:queued")[0]
    respelled = json.dumps(dict(reversed(list(queued["data"].items()))), indent=4, ensure_ascii=True)
    execute(
        project.database_url,
        f"UPDATE audit_entries SET data = {json_value(project)} WHERE seq = :seq",
        value=respelled,
        seq=queued["seq"],
    )
    assert cli("audit", "verify").exit_code == 0


def test_deleted_middle_entry_is_named(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    middle = history[len(history) // 2]["seq"]
    execute(project.database_url, "DELETE FROM audit_entries WHERE seq = :seq", seq=middle)
    stderr = assert_broken_at(cli, middle)
    assert "deleted" in stderr


def test_deleted_newest_entry_is_noticed_by_the_head(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    newest = history[-1]["seq"]
    execute(project.database_url, "DELETE FROM audit_entries WHERE seq = :seq", seq=newest)
    stderr = assert_broken_at(cli, newest)
    assert "removed" in stderr


def test_deleted_tail_with_a_rewritten_head_is_not_detected(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    """A known limit of the chain, pinned here so nobody claims otherwise: the chain has no secret,
    so someone who can write the database can delete the newest entries AND move `audit_head` back
    to the new last entry. What is left is a valid, shorter chain and `audit verify` passes.
    Only a copy of the head kept outside the database (an earlier `audit export`) reveals the cut."""
    cut = history[-3]
    execute(project.database_url, "DELETE FROM audit_entries WHERE seq >= :seq", seq=cut["seq"])
    execute(
        project.database_url,
        "UPDATE audit_head SET seq = :seq, hash = :hash",
        seq=cut["seq"] - 1,
        hash=cut["prev_hash"],
    )
    report = cli("audit", "verify", "--json")
    assert report.exit_code == 0, report
    assert report.json()["entries"] == len(history) - 3
    # The earlier export is the evidence: its newest hash is no longer in the trail.
    assert history[-1]["hash"] not in {e["hash"] for e in trail(cli)}


def test_forged_entry_with_a_made_up_hash_is_named(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    last = history[-1]
    insert_entry(
        project,
        {
            "seq": last["seq"] + 1,
            "at": datetime.now(UTC),
            "actor": "alice",
            "tag": "deployment:succeeded",
            "subject": "deployment:99",
            "data": {"deployment_id": 99},
            "prev_hash": last["hash"],
            "hash": "f" * 64,
        },
    )
    assert_broken_at(cli, last["seq"] + 1)


def test_forged_entry_with_a_correct_hash_is_named_by_the_head(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    """A forger who knows the hash recipe can append a well-formed entry; the head that every real
    append moves still ends at the old newest entry, so the forged one is named."""
    last = history[-1]
    fields: dict[str, Any] = {
        "seq": last["seq"] + 1,
        "at": datetime.now(UTC),
        "actor": "alice",
        "tag": "gate:waived",
        "subject": "release:shop@1.0.0",
        "data": {"gate": "security"},
        "prev_hash": last["hash"],
    }
    insert_entry(project, {**fields, "hash": entry_hash(**fields)})
    stderr = assert_broken_at(cli, last["seq"] + 1)
    assert "added" in stderr


# export and list ---------------------------------------------------------------------------------


def test_export_jsonl_is_one_chained_json_object_per_line(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    result = cli("audit", "export", "--format", "jsonl")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == len(history)
    previous = GENESIS
    for number, line in enumerate(lines, start=1):
        entry = json.loads(line)
        assert set(entry) == {"seq", "at", "actor", "tag", "subject", "data", "prev_hash", "hash"}
        assert entry["seq"] == number
        assert entry["prev_hash"] == previous
        # An auditor can recompute every hash from the export alone.
        recomputed = entry_hash(
            seq=entry["seq"],
            at=datetime.fromisoformat(entry["at"]),
            actor=entry["actor"],
            tag=entry["tag"],
            subject=entry["subject"],
            data=entry["data"],
            prev_hash=entry["prev_hash"],
        )
        assert recomputed == entry["hash"]
        previous = entry["hash"]


def test_export_to_a_file(project: Project, cli: CliRunner, history: list[dict[str, Any]]) -> None:
    target = project.root / "audit.jsonl"
    result = cli("audit", "export", "--output", str(target))
    assert result.exit_code == 0, result
    assert result.stdout == ""
    assert f"wrote {len(history)} entries" in result.stderr
    assert [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()] == history


def test_export_in_an_unknown_format_is_a_usage_error(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    result = cli("audit", "export", "--format", "xml")
    assert result.exit_code == 2, result
    assert "unknown export format 'xml'" in result.stderr
    assert "--format jsonl" in result.stderr
    assert result.stdout == ""


def test_list_json_shows_the_newest_entries_first(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    result = cli("audit", "list", "--json")
    assert result.exit_code == 0, result
    document = result.json()
    assert document["schema_version"] == 1
    assert document["entries"] == list(reversed(history))

    newest_two = cli("audit", "list", "--json", "--limit", "2").json()["entries"]
    assert [e["seq"] for e in newest_two] == [history[-1]["seq"], history[-2]["seq"]]

    deployments = cli("audit", "list", "--json", "--tag", "deployment:").json()["entries"]
    assert deployments
    assert all(e["tag"].startswith("deployment:") for e in deployments)
    assert len(deployments) == len([e for e in history if e["tag"].startswith("deployment:")])


@pytest.mark.parametrize("prefix", ["release_", "%", "_"])
def test_list_tag_is_a_literal_prefix_not_a_pattern(
    project: Project, cli: CliRunner, history: list[dict[str, Any]], prefix: str
) -> None:
    result = cli("audit", "list", "--json", "--tag", prefix)
    assert result.exit_code == 0, result
    assert result.json()["entries"] == []


def test_list_for_people_shows_a_table(
    project: Project, cli: CliRunner, history: list[dict[str, Any]]
) -> None:
    result = cli("audit", "list")
    assert result.exit_code == 0, result
    assert "release:created" in result.stdout
    assert "alice" in result.stdout
