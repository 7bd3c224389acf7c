"""The flag server inside `clearance serve`: flags made with the CLI reach the real PyPI
`UnleashClient` SDK, which evaluates them as clearance's engine does and reports metrics back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from clearance.flags import Context, Evaluator, parse_snapshot
from support.cli import CliRunner
from support.serve import running_api, wait_for

from .conftest import Project

unleash = pytest.importorskip("UnleashClient")

from UnleashClient.utils import InstanceAllowType  # noqa: E402

pytestmark = pytest.mark.slow


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    wait_for(condition, what, timeout)


def _within(condition: Callable[[], bool], what: str) -> float:
    return wait_for(condition, what, timeout=5)


@pytest.fixture
def server(project: Project) -> Iterator[str]:
    """A real `clearance serve --no-agent` on a free port; yields the API's base URL."""
    with running_api(project.root, project.process_env("server")) as base:
        yield base


def _token(cli: CliRunner, *args: str) -> str:
    result = cli("token", "create", *args, "--json")
    assert result.exit_code == 0, result
    return str(result.json()["token"])


def _features(base: str, token: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/client/features", headers={"Authorization": token})
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _make_flags(cli: CliRunner) -> None:
    for args in (
        ("flag", "create", "new-checkout", "--description", "The one-page checkout"),
        ("flag", "enable", "new-checkout", "--env", "dev"),
        ("flag", "rollout", "new-checkout", "40%", "--env", "dev", "--stickiness", "userId"),
        (
            "flag",
            "constrain",
            "new-checkout",
            "--env",
            "dev",
            "--context-name",
            "appVersion",
            "--operator",
            "SEMVER_GTE",
            "--values",
            "1.2.0",
        ),
        ("flag", "create", "button-colour", "--type", "experiment"),
        ("flag", "enable", "button-colour", "--env", "dev"),
        (
            "flag",
            "variants",
            "button-colour",
            "--env",
            "dev",
            "blue=30",
            "green=70",
            "--stickiness",
            "userId",
        ),
        ("flag", "create", "kill-search", "--type", "kill-switch"),
        ("flag", "enable", "kill-search", "--env", "prod"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, result


def _contexts() -> list[dict[str, Any]]:
    return [
        {"userId": str(user), "sessionId": f"s{user}", "appVersion": version}
        for user in range(60)
        for version in ("1.1.9", "1.2.0", "2.0.0")
    ]


@pytest.fixture
def sdk_factory() -> Iterator[Callable[[str, str], Any]]:
    clients: list[Any] = []

    def make(base: str, token: str) -> Any:
        client = unleash.UnleashClient(
            url=base,
            app_name="shop",
            environment="dev",
            instance_id=f"test-{len(clients)}",
            refresh_interval=1,
            metrics_interval=1,
            disable_registration=False,
            custom_headers={"Authorization": token},
            multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
        )
        client.initialize_client()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.destroy()


def test_the_unleash_sdk_evaluates_served_flags_as_the_engine_does_and_reports_metrics(
    project: Project, cli: CliRunner, server: str, sdk_factory: Callable[[str, str], Any]
) -> None:
    _make_flags(cli)
    token = _token(cli, "--env", "dev")
    sdk = sdk_factory(server, token)
    _wait(lambda: sdk.is_enabled("button-colour", {"userId": "1"}), "the SDK's first fetch")
    engine = Evaluator(parse_snapshot(_features(server, token)))

    names = ["new-checkout", "button-colour", "kill-search", "missing"]
    disagreements, enabled = [], dict.fromkeys(names, 0)
    for raw in _contexts():
        for name in names:
            ours = engine.is_enabled(name, Context.from_dict(raw))
            theirs = sdk.is_enabled(name, dict(raw))
            enabled[name] += ours
            our_variant = engine.get_variant(name, Context.from_dict(raw)).to_dict()
            if ours != theirs or our_variant != sdk.get_variant(name, dict(raw)):
                disagreements.append((name, raw, ours, theirs))
    assert disagreements == []
    # new-checkout goes both ways (40 %, and older app versions never); kill-search is off in dev.
    assert 0 < enabled["new-checkout"] < len(_contexts())
    assert enabled["kill-search"] == enabled["missing"] == 0

    # A change made with the CLI reaches the SDK at its next refresh.
    assert cli("flag", "disable", "button-colour", "--env", "dev").exit_code == 0
    _wait(lambda: not sdk.is_enabled("button-colour", {"userId": "1"}), "the SDK to see the change")

    # The SDK's metrics arrive, per flag, with yes/no and variant counts: every is_enabled and
    # get_variant above counted once, and ten more now.
    for user in range(10):
        sdk.is_enabled("kill-search", {"userId": str(user)})
    calls = 2 * len(_contexts()) + 10

    def metrics() -> dict[str, Any]:
        shown = cli("flag", "show", "kill-search", "--json")
        assert shown.exit_code == 0, shown
        result: dict[str, Any] = shown.json()["flag"]["metrics"]
        return result

    _wait(lambda: metrics().get("dev", {}).get("no", 0) == calls, "the SDK's metrics")
    assert metrics()["dev"]["yes"] == 0
    colour = cli("flag", "show", "button-colour", "--json").json()["flag"]["metrics"]["dev"]
    assert set(colour["variants"]) <= {"blue", "green", "disabled"} and sum(colour["variants"].values())
    human = cli("flag", "show", "kill-search")
    assert f" {calls} " in next(line for line in human.stdout.splitlines() if line.startswith(" dev"))


def test_etag_answers_304_until_a_flag_changes(project: Project, cli: CliRunner, server: str) -> None:
    _make_flags(cli)
    token = _token(cli, "--env", "dev")
    first = httpx.get(f"{server}/client/features", headers={"Authorization": token})
    etag = first.headers["ETag"]
    again = httpx.get(f"{server}/client/features", headers={"Authorization": token, "If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert cli("flag", "rollout", "new-checkout", "60", "--env", "dev").exit_code == 0
    # The server keeps the snapshot in memory and looks for changes every 250 ms: the CLI's change,
    # made by another process straight into the store, is served within that bound (plus a rebuild).
    answers: list[httpx.Response] = []

    def served_anew() -> bool:
        answers.append(
            httpx.get(f"{server}/client/features", headers={"Authorization": token, "If-None-Match": etag})
        )
        return answers[-1].status_code != 304

    assert _within(served_anew, "the changed snapshot") < 1.0
    changed = answers[-1]
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    served = {f["name"]: f for f in changed.json()["features"]}
    assert served["new-checkout"]["strategies"][0]["parameters"]["rollout"] == "60"


def test_client_tokens_read_only_their_environment_and_bad_tokens_get_401(
    project: Project, cli: CliRunner, server: str
) -> None:
    _make_flags(cli)
    dev, prod, admin = _token(cli, "--env", "dev"), _token(cli, "--env", "prod"), _token(cli, "--admin")
    in_prod = {f["name"]: f["enabled"] for f in _features(server, prod)["features"]}
    assert in_prod == {"new-checkout": False, "button-colour": False, "kill-search": True}
    assert {f["name"]: f["enabled"] for f in _features(server, dev)["features"]}["kill-search"] is False
    for headers in ({}, {"Authorization": "nope"}, {"Authorization": admin}):
        response = httpx.get(f"{server}/client/features", headers=headers)
        assert response.status_code == 401
        assert "new-checkout" not in response.text  # nothing about which flags exist
    listed = cli("token", "list", "--json").json()["tokens"]
    assert all("token" not in t for t in listed) and dev not in cli("token", "list").stdout
    prod_id = next(t["id"] for t in listed if t["environment"] == "prod")
    assert cli("token", "revoke", str(prod_id)).exit_code == 0

    def refused() -> bool:
        return httpx.get(f"{server}/client/features", headers={"Authorization": prod}).status_code == 401

    assert _within(refused, "the revoked token to be refused") < 1.0
    metrics = {"appName": "x", "instanceId": "i", "bucket": {"toggles": {"a": {"yes": 1}}}}
    assert httpx.post(f"{server}/client/metrics", json=metrics).status_code == 401


def test_admin_api_changes_flags_with_an_admin_token(project: Project, cli: CliRunner, server: str) -> None:
    admin, client = {"Authorization": _token(cli, "--admin")}, {"Authorization": _token(cli, "--env", "dev")}
    created = httpx.post(f"{server}/admin/flags", json={"name": "beta", "type": "ops"}, headers=admin)
    assert created.status_code == 201, created.text
    assert httpx.post(f"{server}/admin/flags", json={"name": "x"}, headers=client).status_code == 403
    assert httpx.post(f"{server}/admin/flags/beta/environments/dev/on", headers=admin).status_code == 200
    rolled = httpx.post(
        f"{server}/admin/flags/beta/environments/dev/rollout", json={"percentage": "30%"}, headers=admin
    )
    assert rolled.status_code == 200, rolled.text
    bad = httpx.post(
        f"{server}/admin/flags/beta/environments/dev/rollout", json={"percentage": 130}, headers=admin
    )
    assert bad.status_code == 400 and bad.json()["code"] == "usage"
    missing = httpx.post(f"{server}/admin/flags/nope/environments/dev/on", headers=admin)
    assert missing.status_code == 404
    shown = cli("flag", "show", "beta", "--json").json()["flag"]["environments"]["dev"]
    assert shown["enabled"] and shown["strategies"][0]["parameters"]["rollout"] == "30"
    entries = cli("audit", "list", "--json", "--limit", "50").json()["entries"]
    flag_entries = [(e["tag"], e["actor"]) for e in entries if e["subject"] == "flag:beta"]
    assert {tag for tag, _ in flag_entries} == {"flag:created", "flag:enabled", "flag:rollout-set"}
    assert {actor for _, actor in flag_entries} == {"token:1"}
