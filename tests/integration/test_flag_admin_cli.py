"""`clearance flag …` and `clearance token …` on the store: every change audited, bad input refused
with the exit code the user expects, stale flags listed after `flags.stale_after`."""

from __future__ import annotations

import hashlib
import time

from support.cli import CliRunner
from support.store import execute

from .conftest import BASIC_CONFIG, Project


def _ok(cli: CliRunner, *args: str) -> None:
    result = cli(*args)
    assert result.exit_code == 0, result


def test_every_flag_change_is_audited_and_shown(project: Project, cli: CliRunner) -> None:
    _ok(cli, "flag", "create", "search-v2", "--type", "experiment", "--description", "New search")
    _ok(cli, "flag", "enable", "search-v2", "--env", "staging")
    _ok(cli, "flag", "rollout", "search-v2", "25%", "--env", "staging", "--stickiness", "userId")
    _ok(
        cli,
        "flag",
        "constrain",
        "search-v2",
        "--env",
        "staging",
        "--context-name",
        "country",
        "--operator",
        "in",
        "--values",
        "NO",
        "--values",
        "SE",
    )
    _ok(cli, "flag", "variants", "search-v2", "--env", "staging", "a=1", "b=3")
    _ok(cli, "flag", "disable", "search-v2", "--env", "staging")
    _ok(cli, "flag", "archive", "search-v2")
    entries = cli("audit", "list", "--json", "--limit", "50").json()["entries"]
    tags = [e["tag"] for e in reversed(entries) if e["subject"] == "flag:search-v2"]
    assert sorted(tags) == sorted(
        [
            "flag:created",
            "flag:enabled",
            "flag:rollout-set",
            "flag:constrained",
            "flag:variants-set",
            "flag:disabled",
            "flag:archived",
        ]
    )
    assert all(e["actor"] == "alice" for e in entries if e["subject"] == "flag:search-v2")

    shown = cli("flag", "show", "search-v2", "--json").json()
    assert shown["schema_version"] == 1
    staging = shown["flag"]["environments"]["staging"]
    assert staging["enabled"] is False and shown["flag"]["archived"] is True
    strategy = staging["strategies"][0]
    assert strategy["name"] == "flexibleRollout"
    assert strategy["parameters"] == {"rollout": "25", "stickiness": "userId", "groupId": "search-v2"}
    assert strategy["constraints"][0]["operator"] == "IN"
    assert strategy["constraints"][0]["values"] == ["NO", "SE"]
    assert [v["name"] for v in staging["variants"]] == ["a", "b"]
    assert cli("flag", "list", "--json").json()["flags"] == []
    assert [f["name"] for f in cli("flag", "list", "--archived", "--json").json()["flags"]] == ["search-v2"]


def test_bad_input_is_refused_with_the_right_exit_code(project: Project, cli: CliRunner) -> None:
    _ok(cli, "flag", "create", "checkout")
    cases = [
        (("flag", "enable", "nope", "--env", "dev"), 4, "unknown flag 'nope'"),
        (("flag", "show", "nope"), 4, "unknown flag"),
        (("flag", "enable", "checkout", "--env", "qa"), 4, "unknown environment 'qa'"),
        (("flag", "rollout", "checkout", "101%", "--env", "dev"), 2, "invalid rollout percentage"),
        (("flag", "rollout", "checkout", "--env", "dev", "--", "-5"), 2, "invalid rollout percentage"),
        (("flag", "rollout", "checkout", "half", "--env", "dev"), 2, "invalid rollout percentage"),
        (
            (
                "flag",
                "constrain",
                "checkout",
                "--env",
                "dev",
                "--context-name",
                "x",
                "--operator",
                "LIKE",
                "--values",
                "1",
            ),
            2,
            "unknown constraint operator 'LIKE'",
        ),
        (
            (
                "flag",
                "constrain",
                "checkout",
                "--env",
                "dev",
                "--context-name",
                "age",
                "--operator",
                "NUM_GT",
                "--values",
                "old",
            ),
            2,
            "NUM_GT needs a number",
        ),
        (("flag", "variants", "checkout", "--env", "dev", "a"), 2, "invalid variant 'a'"),
        (("flag", "create", "checkout"), 3, "flag 'checkout' exists"),
        (("flag", "create", "bad name"), 2, "invalid flag name"),
        (("flag", "create", "x" * 300), 2, "at most 255 characters"),
        (("flag", "create", "other", "--type", "forever"), 2, "unknown flag type"),
        (("token", "create"), 2, "a client token belongs to one environment"),
        (("token", "create", "--env", "qa"), 4, "unknown environment"),
        (("token", "revoke", "99"), 4, "no token with id 99"),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert (result.exit_code, message in result.stderr) == (code, True), (args, result)
    # Nothing was written by the refused commands.
    entries = cli("audit", "list", "--json", "--limit", "50").json()["entries"]
    assert [e["tag"] for e in entries if e["tag"].startswith("flag:")] == ["flag:created"]


def test_a_flag_fully_rolled_out_everywhere_becomes_stale(project: Project, cli: CliRunner) -> None:
    project.write_config(BASIC_CONFIG + "flags:\n  stale_after: 1s\n")
    for name in ("old-banner", "half-out"):
        _ok(cli, "flag", "create", name)
        for env in ("dev", "staging", "prod"):
            _ok(cli, "flag", "enable", name, "--env", env)
    _ok(cli, "flag", "rollout", "half-out", "50%", "--env", "prod")
    _ok(cli, "flag", "rollout", "old-banner", "100%", "--env", "prod")
    assert cli("flag", "stale", "--json").json()["flags"] == []
    time.sleep(1.2)
    stale = cli("flag", "stale", "--json").json()["flags"]
    assert [f["name"] for f in stale] == ["old-banner"]
    assert "old-banner" in cli("flag", "stale").stdout


def test_tokens_are_shown_once_and_stored_as_sha256(project: Project, cli: CliRunner) -> None:
    created = cli("token", "create", "--env", "dev")
    assert created.exit_code == 0, created
    token = created.stdout.strip()
    assert token.startswith("clr_client_") and len(token) > 40
    listed = cli("token", "list", "--json").json()["tokens"]
    assert [(t["kind"], t["environment"], t["revoked"]) for t in listed] == [("client", "dev", False)]
    assert token not in cli("token", "list").stdout
    rows = execute(project.database_url, "SELECT sha256 FROM flag_tokens")
    assert rows[0][0] == hashlib.sha256(token.encode()).hexdigest()
    _ok(cli, "token", "revoke", str(listed[0]["id"]))
    assert cli("token", "list", "--json").json()["tokens"][0]["revoked"] is True


def test_an_archived_flag_takes_no_changes_until_revived(project: Project, cli: CliRunner) -> None:
    _ok(cli, "flag", "create", "banner")
    _ok(cli, "flag", "enable", "banner", "--env", "dev")
    _ok(cli, "release", "create", "1.0.0", "--no-deploy")
    _ok(cli, "flag", "archive", "banner")
    for args in (
        ("flag", "enable", "banner", "--env", "staging"),
        ("flag", "rollout", "banner", "50%", "--env", "dev"),
        ("flag", "variants", "banner", "--env", "dev", "a=1"),
    ):
        refused = cli(*args)
        assert refused.exit_code == 3, refused
        assert "flag 'banner' is archived: SDKs no longer get it, and it takes no changes" in refused.stderr
        assert "clearance flag revive banner" in refused.stderr
    linked = cli("release", "flag", "1.0.0", "banner")
    assert linked.exit_code == 3 and "flag 'banner' is archived" in linked.stderr
    again = cli("flag", "create", "banner")
    assert again.exit_code == 3 and "flag 'banner' exists, archived" in again.stderr
    assert "(archived)" in cli("flag", "list", "--archived").stdout
    tags = [
        e["tag"] for e in cli("audit", "list", "--json").json()["entries"] if e["subject"] == "flag:banner"
    ]
    assert tags[0] == "flag:archived"  # nothing refused was audited as done

    _ok(cli, "flag", "revive", "banner")
    shown = cli("flag", "show", "banner", "--json").json()["flag"]
    assert shown["archived"] is False and shown["environments"]["dev"]["enabled"] is True
    _ok(cli, "flag", "enable", "banner", "--env", "staging")
    _ok(cli, "release", "flag", "1.0.0", "banner")


def test_switching_a_flag_to_the_state_it_is_in_audits_nothing_and_a_rollout_of_an_off_flag_warns(
    project: Project, cli: CliRunner
) -> None:
    _ok(cli, "flag", "create", "banner")
    rollout = cli("flag", "rollout", "banner", "50%", "--env", "dev")
    assert rollout.exit_code == 0, rollout
    assert (
        "flag banner is still off in dev: nobody gets it until `clearance flag enable banner --env dev`"
        in (" ".join(rollout.stderr.split()))
    )
    _ok(cli, "flag", "enable", "banner", "--env", "dev")
    quiet = cli("flag", "rollout", "banner", "60%", "--env", "dev")
    assert quiet.exit_code == 0 and "still off" not in quiet.stderr
    for _ in range(2):
        _ok(cli, "flag", "disable", "banner", "--env", "dev")
        _ok(cli, "flag", "enable", "banner", "--env", "dev")
        _ok(cli, "flag", "enable", "banner", "--env", "dev")
    tags = [
        e["tag"] for e in cli("audit", "list", "--json").json()["entries"] if e["subject"] == "flag:banner"
    ]
    assert (
        tags.count("flag:disabled") == 2 and tags.count("flag:enabled") == 3
    )  # first enable + 2 after disables
    admin_env = cli("token", "create", "--admin", "--env", "dev")
    assert admin_env.exit_code == 2 and "an admin token belongs to no environment" in admin_env.stderr
    admin = cli("token", "create", "--admin")
    assert admin.exit_code == 0 and "admin token created" in admin.stderr
