"""The admin REST API of a real `clearance serve` does what `clearance flag …` does — rollout with
stickiness, constraints, variants, archive, stale — audited with the token as actor; bad input
(invalid fields, percentages outside 0–100, non-UTF-8 and very long names) is a 400/404 problem
that names the field and writes nothing."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.cli import CliRunner, clearance_command
from support.serve import running_api, wait_for

from .conftest import BASIC_CONFIG, Project

pytestmark = pytest.mark.slow


@pytest.fixture
def server(project: Project) -> Iterator[str]:
    with running_api(project.root, project.process_env("server")) as base:
        yield base


@pytest.fixture
def admin(cli: CliRunner) -> dict[str, str]:
    created = cli("token", "create", "--admin", "--json")
    assert created.exit_code == 0, created
    return {"Authorization": str(created.json()["token"])}


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    document: dict[str, Any] = response.json()
    assert document["schema_version"] == 1
    return document


def test_the_admin_api_rolls_out_constrains_sets_variants_and_archives(
    project: Project, cli: CliRunner, server: str, admin: dict[str, str]
) -> None:
    flags = f"{server}/admin/flags"
    _ok(httpx.post(flags, json={"name": "search-v2", "type": "experiment"}, headers=admin), 201)
    _ok(httpx.post(f"{flags}/search-v2/environments/staging/on", headers=admin))
    rollout = {"percentage": "25%", "stickiness": "userId", "group_id": "search"}
    _ok(httpx.post(f"{flags}/search-v2/environments/staging/rollout", json=rollout, headers=admin))
    constraint = {"context_name": "country", "operator": "in", "values": ["NO", "SE"], "inverted": True}
    _ok(httpx.post(f"{flags}/search-v2/environments/staging/constraints", json=constraint, headers=admin))
    variants = {"variants": {"a": 1, "b": 3}, "stickiness": "userId"}
    staging = _ok(
        httpx.put(f"{flags}/search-v2/environments/staging/variants", json=variants, headers=admin)
    )["flag"]["environments"]["staging"]

    # What the API answered is what the CLI shows from the store.
    assert cli("flag", "show", "search-v2", "--json").json()["flag"]["environments"]["staging"] == staging
    strategy = staging["strategies"][0]
    assert strategy["parameters"] == {"rollout": "25", "stickiness": "userId", "groupId": "search"}
    assert strategy["constraints"] == [
        {
            "contextName": "country",
            "operator": "IN",
            "values": ["NO", "SE"],
            "inverted": True,
            "caseInsensitive": False,
        }
    ]
    assert [(v["name"], v["weight"], v["stickiness"]) for v in staging["variants"]] == [
        ("a", 1, "userId"),
        ("b", 3, "userId"),
    ]
    assert [f["name"] for f in _ok(httpx.get(flags, headers=admin))["flags"]] == ["search-v2"]

    archived = _ok(httpx.post(f"{flags}/search-v2/archive", headers=admin))["flag"]
    assert archived["archived"] is True
    assert _ok(httpx.get(flags, headers=admin))["flags"] == []
    listed = _ok(httpx.get(flags, params={"archived": "true"}, headers=admin))["flags"]
    assert [f["name"] for f in listed] == ["search-v2"]

    # Archived, it takes no changes until revived.
    _problem(httpx.post(f"{flags}/search-v2/environments/staging/off", headers=admin), 409, "is archived")
    revived = _ok(httpx.post(f"{flags}/search-v2/revive", headers=admin))["flag"]
    assert revived["archived"] is False and revived["environments"]["staging"] == staging

    entries = cli("audit", "list", "--json", "--limit", "50").json()["entries"]
    mine = [(e["tag"], e["actor"]) for e in reversed(entries) if e["subject"] == "flag:search-v2"]
    actor = "token:1"
    assert mine == [
        ("flag:created", actor),
        ("flag:enabled", actor),
        ("flag:rollout-set", actor),
        ("flag:constrained", actor),
        ("flag:variants-set", actor),
        ("flag:archived", actor),
        ("flag:revived", actor),
    ]
    # Any name is a flag's path, `stale` too: the stale list is a query.
    _ok(httpx.post(flags, json={"name": "stale"}, headers=admin), 201)
    assert _ok(httpx.get(f"{flags}/stale", headers=admin))["flag"]["name"] == "stale"


def test_stale_flags_are_listed_over_the_api(project: Project, cli: CliRunner, admin: dict[str, str]) -> None:
    project.write_config(BASIC_CONFIG + "flags:\n  stale_after: 2s\n")
    with running_api(project.root, project.process_env("server")) as server:
        for name in ("old-banner", "half-out"):
            assert cli("flag", "create", name).exit_code == 0
            for env in ("dev", "staging", "prod"):
                assert cli("flag", "enable", name, "--env", env).exit_code == 0
        assert cli("flag", "rollout", "half-out", "50%", "--env", "prod").exit_code == 0
        assert _ok(httpx.get(f"{server}/admin/flags?stale=true", headers=admin))["flags"] == []
        time.sleep(2.2)
        stale = _ok(httpx.get(f"{server}/admin/flags?stale=true", headers=admin))["flags"]
        assert [f["name"] for f in stale] == ["old-banner"]
        client = cli("token", "create", "--env", "dev", "--json").json()["token"]
        refused = httpx.get(f"{server}/admin/flags?stale=true", headers={"Authorization": client})
        assert refused.status_code == 403


def _problem(response: httpx.Response, status: int, *needles: str) -> None:
    assert response.status_code == status, (response.request.url, response.status_code, response.text)
    problem = response.json()
    assert isinstance(problem, dict) and "code" in problem, (response.request.url, problem)
    assert set(problem) >= {"code", "message", "hint"} and "\n" not in problem["message"]
    for needle in needles:
        assert needle in problem["message"], (needle, problem)


def test_bad_admin_input_is_a_problem_naming_the_field_and_writes_nothing(
    project: Project, cli: CliRunner, server: str, admin: dict[str, str]
) -> None:
    flags = f"{server}/admin/flags"
    _ok(httpx.post(flags, json={"name": "checkout"}, headers=admin), 201)
    on = f"{flags}/checkout/environments/dev"

    def post(url: str, document: Any) -> httpx.Response:
        return httpx.post(url, json=document, headers=admin)

    # Rollout percentages outside 0–100, or not whole numbers.
    for percentage in (101, 130, -5, "101%", "-5", "25.5%", "half", ""):
        _problem(post(f"{on}/rollout", {"percentage": percentage}), 400, "invalid rollout percentage")
    for percentage in (25.5, True, None, [25]):
        _problem(post(f"{on}/rollout", {"percentage": percentage}), 400, "body.percentage")
    _problem(post(f"{on}/rollout", {"percent": 5}), 400, "body.percentage", "body.percent")
    # Invalid definitions, each naming what is wrong.
    _problem(post(flags, {"name": 5}), 400, "body.name")
    _problem(post(flags, {"name": "x", "type": "forever"}), 400, "unknown flag type 'forever'")
    _problem(post(flags, {"name": "bad name"}), 400, "invalid flag name")
    _problem(
        post(f"{on}/constraints", {"context_name": "x", "operator": "LIKE", "values": ["1"]}), 400, "LIKE"
    )
    _problem(post(f"{on}/constraints", {"context_name": "age", "operator": "NUM_GT", "values": ["old"]}), 400)
    _problem(post(f"{on}/constraints", {"context_name": "age", "operator": "IN"}), 400, "body.values")
    _problem(httpx.put(f"{on}/variants", json={"variants": {"a": -1}}, headers=admin), 400, "a=-1")
    _problem(httpx.put(f"{on}/variants", json={"variants": {"a": 0}}, headers=admin), 400, "add up to 0")
    _problem(
        httpx.put(f"{on}/variants", json={"variants": {"a": "1"}}, headers=admin), 400, "body.variants.a"
    )
    # Names: very long, not UTF-8 (a lone surrogate in JSON, raw bytes, a percent-encoded byte).
    _problem(post(flags, {"name": "x" * 300}), 400, "at most 255 characters")
    _problem(post(flags, {"name": "é" * 100_000}), 400, "at most 255 characters")
    surrogate = b'{"name": "\\udcff-flag"}'
    _problem(httpx.post(flags, content=surrogate, headers={**admin, "Content-Type": "application/json"}), 400)
    raw = b'{"name": "\xff\xfe-flag"}'
    _problem(
        httpx.post(flags, content=raw, headers={**admin, "Content-Type": "application/json"}), 400, "body"
    )
    _problem(httpx.post(f"{flags}/%FF%FE/environments/dev/on", headers=admin), 404, "unknown flag")
    long_path = httpx.get(f"{flags}/{'x' * 20_000}", headers=admin)
    _problem(long_path, 404, "unknown flag")
    assert len(long_path.content) < 500  # the name is not echoed back
    # Unknown flag or environment.
    _problem(post(f"{flags}/nope/environments/dev/rollout", {"percentage": 5}), 404, "unknown flag 'nope'")
    _problem(post(f"{flags}/checkout/environments/qa/rollout", {"percentage": 5}), 404, "unknown environment")

    entries = cli("audit", "list", "--json", "--limit", "100").json()["entries"]
    assert [e["tag"] for e in entries if e["tag"].startswith("flag:")] == ["flag:created"]
    assert [f["name"] for f in cli("flag", "list", "--json").json()["flags"]] == ["checkout"]
    dev = cli("flag", "show", "checkout", "--json").json()["flag"]["environments"]["dev"]
    assert dev == {"enabled": False, "strategies": [], "variants": [], "fully_rolled_out_since": None}


def test_the_cli_refuses_non_utf8_and_very_long_flag_names(project: Project, cli: CliRunner) -> None:
    assert cli("flag", "create", "checkout").exit_code == 0
    # Arguments that are not UTF-8 reach Python as lone surrogates; the error still prints.
    not_utf8 = "\udcff\udcfe-flag"
    for args, code, message in (
        (("flag", "create", not_utf8), 2, "invalid flag name"),
        (("flag", "show", not_utf8), 4, "unknown flag"),
        (("flag", "rollout", not_utf8, "50%", "--env", "dev"), 4, "unknown flag"),
        (("flag", "create", "é" * 100_000), 2, "at most 255 characters"),
        (("flag", "show", "x" * 100_000), 4, "unknown flag"),
        (("flag", "rollout", "checkout", "1000%", "--env", "dev"), 2, "invalid rollout percentage"),
    ):
        result = cli(*args)
        assert (result.exit_code, message in result.stderr) == (code, True), (args[:2], result.stderr[:300])
        assert "Traceback" not in result.stderr
    entries = cli("audit", "list", "--json", "--limit", "50").json()["entries"]
    assert [e["tag"] for e in entries if e["tag"].startswith("flag:")] == ["flag:created"]


def test_a_non_utf8_argument_from_a_real_shell_is_refused_in_one_line(project: Project) -> None:
    done = subprocess.run(
        [*clearance_command(), "flag", "create", b"\xff\xfe-flag"],
        cwd=project.root,
        env=project.process_env(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert b"invalid flag name" in done.stderr and b"Traceback" not in done.stderr


def test_a_cli_change_reaches_the_client_api_within_the_check_bound(
    project: Project, cli: CliRunner, server: str
) -> None:
    assert cli("flag", "create", "banner").exit_code == 0
    token = {"Authorization": str(cli("token", "create", "--env", "dev", "--json").json()["token"])}

    def banner() -> dict[str, Any]:
        document = httpx.get(f"{server}/client/features", headers=token).json()
        return next(f for f in document["features"] if f["name"] == "banner")

    assert banner()["enabled"] is False
    for _ in range(3):
        assert cli("flag", "enable", "banner", "--env", "dev").exit_code == 0
        assert wait_for(lambda: banner()["enabled"] is True, "the change", timeout=5) < 1.0
        assert cli("flag", "disable", "banner", "--env", "dev").exit_code == 0
        assert wait_for(lambda: banner()["enabled"] is False, "the change", timeout=5) < 1.0
