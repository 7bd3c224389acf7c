"""Bad input at the client API of a real `clearance serve`: tokens that are unknown, revoked, of
another environment or project (401, and the same answer whatever exists); stored flag data the
engine does not know (served, evaluated off with one warning, never raised); huge and non-string
values from SDKs (counted sanely or dropped)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from clearance.flags import Context, Evaluator, parse_snapshot
from support.cli import CliRunner, run_process
from support.serve import running_api
from support.store import execute

from .conftest import Project

pytestmark = pytest.mark.slow


@pytest.fixture
def server(project: Project) -> Iterator[str]:
    with running_api(project.root, project.process_env("server")) as base:
        yield base


def _token(cli: CliRunner, *args: str) -> str:
    result = cli("token", "create", *args, "--json")
    assert result.exit_code == 0, result
    return str(result.json()["token"])


def _make(cli: CliRunner, *commands: tuple[str, ...]) -> None:
    for args in commands:
        result = cli(*args)
        assert result.exit_code == 0, result


def test_refused_tokens_get_one_401_that_says_nothing_about_flags(
    project: Project, cli: CliRunner, tmp_path: Any
) -> None:
    _make(cli, ("flag", "create", "secret-project-x"), ("flag", "enable", "secret-project-x", "--env", "dev"))
    dev, staging = _token(cli, "--env", "dev"), _token(cli, "--env", "staging")
    revoked = _token(cli, "--env", "prod")
    assert cli("token", "revoke", "3").exit_code == 0
    # A token of another project sharing the store.
    other = tmp_path / "other"
    other.mkdir()
    (other / "clearance.yaml").write_text(
        (project.root / "clearance.yaml").read_text().replace("shop", "bank")
    )
    created = run_process(
        "token",
        "create",
        "--env",
        "dev",
        "--json",
        cwd=other,
        env={"CLEARANCE_DATABASE_URL": project.database_url},
    )
    assert created.exit_code == 0, created
    foreign = str(created.json()["token"])
    # The server's config no longer has staging: its tokens read nothing.
    config = (project.root / "clearance.yaml").read_text()
    project.write_config(
        config.replace("  - name: staging\n", "").replace("    - environments: [staging]\n", "")
    )

    with running_api(project.root, project.process_env("server")) as server:
        features = f"{server}/client/features"
        assert httpx.get(features, headers={"Authorization": dev}).status_code == 200
        refusals = {
            "no token": httpx.get(features),
            "empty": httpx.get(features, headers={"Authorization": "Bearer"}),
            "unknown": httpx.get(features, headers={"Authorization": "clr_client_nope"}),
            "huge": httpx.get(features, headers={"Authorization": "x" * 60_000}),
            "not UTF-8": httpx.get(features, headers={"Authorization": b"clr_client_\xff\xfe"}),
            "revoked": httpx.get(features, headers={"Authorization": revoked}),
            "another project": httpx.get(features, headers={"Authorization": foreign}),
            "environment gone": httpx.get(features, headers={"Authorization": staging}),
            "asks another environment": httpx.get(
                features, params={"environment": "prod"}, headers={"Authorization": dev}
            ),
        }
        for case, response in refusals.items():
            assert response.status_code == 401, (case, response.status_code, response.text)
            assert response.content == refusals["no token"].content, case  # indistinguishable
            assert "secret-project-x" not in response.text and "ETag" not in response.headers, case
        for route in ("register", "metrics"):
            posted = httpx.post(f"{server}/client/{route}", json={}, headers={"Authorization": staging})
            assert posted.status_code == 401, route


def _set_strategies(project: Project, flag: str, strategies: list[Any]) -> None:
    value = "CAST(:value AS JSON)" if project.backend == "postgresql" else ":value"
    execute(
        project.database_url,
        f"UPDATE flag_environments SET strategies = {value} "
        "WHERE environment = 'dev' AND flag_id = (SELECT id FROM flags WHERE name = :flag)",
        value=json.dumps(strategies),
        flag=flag,
    )


def test_stored_flags_the_engine_does_not_know_are_served_and_evaluate_off_with_one_warning(
    project: Project, cli: CliRunner, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("fine", "odd-operator", "odd-strategy", "broken"):
        _make(cli, ("flag", "create", name), ("flag", "enable", name, "--env", "dev"))
    token = _token(cli, "--env", "dev")
    # Data written by a newer version, or by hand, straight into the store.
    odd = {"contextName": "userId", "operator": "MATCHES_SOMEHOW", "values": ["1"]}
    _set_strategies(project, "odd-operator", [{"name": "default", "parameters": {}, "constraints": [odd]}])
    _set_strategies(project, "odd-strategy", [{"name": "myCustomStrategy", "parameters": {"x": "1"}}])
    _set_strategies(project, "broken", [{"name": "default", "constraints": [{"operator": "IN"}]}])

    with running_api(project.root, project.process_env("server")) as server:
        for _ in range(5):
            response = httpx.get(f"{server}/client/features", headers={"Authorization": token})
            assert response.status_code == 200, response.text
    served = {f["name"]: f for f in response.json()["features"]}
    assert served["broken"]["enabled"] is False and served["broken"]["strategies"] == []
    assert served["odd-operator"]["strategies"][0]["constraints"] == [odd]  # handed on as stored
    log = (project.root.parent / "serve.log").read_text()
    assert log.count("flag 'broken' is stored malformed") == 1, log
    assert "$.features[broken].strategies[0].constraints[0].contextName" in log

    caplog.set_level(logging.WARNING, logger="clearance.flags")
    engine = Evaluator(parse_snapshot(response.json()))
    for user in ("1", "2", "x" * 100_000):
        context = Context(user_id=user)
        assert engine.is_enabled("fine", context)
        assert not engine.is_enabled("odd-operator", context)
        assert not engine.is_enabled("odd-strategy", context)
        assert not engine.is_enabled("broken", context)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings  # once per flag, not per evaluation
    assert sorted(warnings) == [
        "flag 'odd-operator': unknown constraint operator 'MATCHES_SOMEHOW' on 'userId': it never matches",
        "flag 'odd-strategy': unknown strategy 'myCustomStrategy': it is never on",
    ]


def test_huge_and_non_string_values_from_sdks_are_cut_or_dropped(
    project: Project, cli: CliRunner, server: str
) -> None:
    _make(cli, ("flag", "create", "fine"), ("flag", "enable", "fine", "--env", "dev"))
    headers = {"Authorization": _token(cli, "--env", "dev")}
    registered = httpx.post(
        f"{server}/client/register",
        json={
            "appName": "x" * 1_000_000,
            "instanceId": 5,
            "strategies": [1, {}, "default"],
            "sdkVersion": None,
        },
        headers=headers,
    )
    assert registered.status_code == 202, registered.text
    toggles = {
        "fine": {"yes": "lots", "no": 10**30, "variants": {"a": -5, "b": 3, "c": "many"}},
        "y" * 300: {"yes": 1},
        "other": "nope",
    }
    metrics = {"appName": "shop", "instanceId": "i", "bucket": {"toggles": toggles}}
    assert httpx.post(f"{server}/client/metrics", json=metrics, headers=headers).status_code == 202
    counted = cli("flag", "show", "fine", "--json").json()["flag"]["metrics"]["dev"]
    assert counted == {"yes": 0, "no": 10**12, "variants": {"a": 0, "b": 3, "c": 0}}
    for body in ({"bucket": []}, {}):
        refused = httpx.post(f"{server}/client/metrics", json=body, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (400, "usage"), refused.text
    not_json = httpx.post(f"{server}/client/metrics", content=b"\xff{", headers=headers)
    assert not_json.status_code == 400 and not_json.json()["code"] == "usage", not_json.text
