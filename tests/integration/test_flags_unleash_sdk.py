"""clearance's flag engine and the real PyPI `UnleashClient` (Unleash's Rust engine underneath)
answer the same for a few hundred random callers, on the same client-API JSON.

The SDK runs offline: it is bootstrapped from an in-memory cache and never started, so nothing is
fetched. Only deterministic answers are compared: every caller has a session id, so no strategy or
variant falls back to a random draw.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from clearance.flags import Context, Evaluator, parse_snapshot

unleash = pytest.importorskip("UnleashClient", reason="UnleashClient is in the `bench` extra")

from UnleashClient.cache import BaseCache  # noqa: E402
from UnleashClient.constants import FEATURES_URL  # noqa: E402
from UnleashClient.utils import InstanceAllowType  # noqa: E402

APP = "checkout"
ENVIRONMENT = "production"


class _MemoryCache(BaseCache):  # type: ignore[misc]
    """A bootstrapped cache: the SDK loads its flags from here instead of a server."""

    def __init__(self, features: dict[str, Any]) -> None:
        self._data: dict[str, Any] = {FEATURES_URL: json.dumps(features)}
        self.bootstrapped = True

    def set(self, key: str, value: Any) -> None:
        self._data[key] = value

    def mset(self, data: dict[str, Any]) -> None:
        self._data.update(data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def exists(self, key: str) -> bool:
        return key in self._data

    def destroy(self) -> None:
        self._data.clear()


def _constraint(context_name: str, operator: str, *values: str, **extra: Any) -> dict[str, Any]:
    if operator in {"IN", "NOT_IN", "STR_STARTS_WITH", "STR_ENDS_WITH", "STR_CONTAINS", "IN_CIDR"}:
        return {"contextName": context_name, "operator": operator, "values": list(values), **extra}
    return {"contextName": context_name, "operator": operator, "value": values[0], **extra}


def _flag(name: str, *strategies: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "enabled": True, "strategies": list(strategies), **extra}


def _rollout(
    percent: int, stickiness: str = "default", group: str | None = None, **extra: Any
) -> dict[str, Any]:
    parameters = {"rollout": str(percent), "stickiness": stickiness}
    if group is not None:
        parameters["groupId"] = group
    return {"name": "flexibleRollout", "parameters": parameters, **extra}


def _variants(*names_weights: tuple[str, int], stickiness: str = "default") -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "weight": weight,
            "stickiness": stickiness,
            "payload": {"type": "string", "value": name.upper()},
        }
        for name, weight in names_weights
    ]


FEATURES: dict[str, Any] = {
    "version": 2,
    "segments": [{"id": 7, "constraints": [_constraint("country", "IN", "NO", "SE", "DK")]}],
    "features": [
        _flag(
            "rollout.three.constraints",
            _rollout(
                40,
                group="checkout",
                constraints=[
                    _constraint("country", "IN", "NO", "SE", "DE", "FR"),
                    _constraint("appVersion", "SEMVER_GT", "1.2.0"),
                    _constraint("plan", "STR_STARTS_WITH", "pro", "ent"),
                ],
            ),
        ),
        _flag("rollout.tenant", _rollout(30, stickiness="tenant")),
        _flag("rollout.session", _rollout(70, stickiness="sessionId")),
        _flag("rollout.user.nogroup", _rollout(25, stickiness="userId")),
        _flag("users", {"name": "userWithId", "parameters": {"userIds": "1, 2, 3,17 ,42,100"}}),
        _flag("office", {"name": "remoteAddress", "parameters": {"IPs": "10.0.0.0/9, 192.168.1.7, bogus"}}),
        _flag(
            "numbers",
            {
                "name": "default",
                "constraints": [_constraint("age", "NUM_GTE", "18"), _constraint("age", "NUM_LT", "65.5")],
            },
        ),
        _flag(
            "dates",
            {
                "name": "default",
                "constraints": [_constraint("currentTime", "DATE_AFTER", "2024-06-01T00:00:00Z")],
            },
        ),
        _flag(
            "strings",
            {
                "name": "default",
                "constraints": [
                    _constraint("email", "STR_ENDS_WITH", "@EXAMPLE.COM", caseInsensitive=True),
                    _constraint("plan", "NOT_IN", "free", inverted=True),
                ],
            },
        ),
        _flag(
            "contains", {"name": "default", "constraints": [_constraint("email", "STR_CONTAINS", "an", "bo")]}
        ),
        _flag(
            "semver.range",
            {"name": "default", "constraints": [_constraint("appVersion", "SEMVER_LT", "2.0.0-rc.1")]},
        ),
        _flag(
            "semver.eq",
            {"name": "default", "constraints": [_constraint("appVersion", "SEMVER_EQ", "1.10.0")]},
        ),
        _flag(
            "regex",
            {
                "name": "default",
                "constraints": [_constraint("email", "REGEX", "^[a-c][^@]*@example\\.(com|org)$")],
            },
        ),
        _flag(
            "cidr",
            {
                "name": "default",
                "constraints": [_constraint("remoteAddress", "IN_CIDR", "10.0.0.0/8", "not-a-cidr")],
            },
        ),
        _flag("segment", {"name": "flexibleRollout", "parameters": {"rollout": "60"}, "segments": [7]}),
        _flag("off", {"name": "default"}, enabled=False),
        _flag(
            "variants",
            {"name": "default"},
            variants=[
                *_variants(("red", 20), ("green", 30), ("blue", 50), stickiness="sessionId")[:2],
                {
                    "name": "blue",
                    "weight": 50,
                    "stickiness": "sessionId",
                    "overrides": [{"contextName": "userId", "values": ["1", "2"]}],
                },
            ],
        ),
        _flag(
            "strategy.variants",
            _rollout(
                80,
                group="sv",
                constraints=[_constraint("country", "IN", "NO", "DE")],
                variants=_variants(("a", 1), ("b", 1), ("c", 2), stickiness="tenant"),
            ),
            _rollout(50, stickiness="sessionId", variants=[]),
            variants=_variants(("fallback", 1)),
        ),
        # An explicit groupId: without one, the SDK's engine (yggdrasil 2.0) buckets a parent with
        # the *child's* name when it checks a dependency, so the parent is judged on other users
        # than when it is asked about itself. clearance keeps the parent's own name, as Unleash's
        # Node SDK does; tests/unit/flags/test_flags_dependencies.py pins that choice.
        _flag("parent", _rollout(50, group="parent"), variants=_variants(("x", 50), ("y", 50))),
        _flag("child", {"name": "default"}, dependencies=[{"feature": "parent", "variants": ["x"]}]),
        _flag("child.of.off", {"name": "default"}, dependencies=[{"feature": "parent", "enabled": False}]),
    ],
}


def _random_context(rng: random.Random) -> dict[str, Any]:
    properties = {
        "country": rng.choice(["NO", "SE", "DE", "FR", "US", "dk", ""]),
        "appVersion": rng.choice(
            ["1.2.0", "1.2.1", "1.10.0", "2.0.0-beta.3", "2.0.0", "v1.3.0", "1.3", "junk"]
        ),
        "plan": rng.choice(["pro", "professional", "enterprise", "free", "Pro"]),
        "age": rng.choice(["17", "18", "30", "64.9", "65.5", "70", "x", "-1", "1e2"]),
        "tenant": f"tenant-{rng.randint(1, 50)}",
        "email": rng.choice(
            ["ann@example.com", "bob@EXAMPLE.com", "carl@example.org", "dan@test.io", "Ben@example.com"]
        ),
    }
    context: dict[str, Any] = {
        "appName": APP,
        "environment": ENVIRONMENT,
        "sessionId": f"s{rng.randint(1, 10_000)}",
        "remoteAddress": rng.choice(["10.1.2.3", "10.200.0.1", "192.168.1.7", "192.168.1.8", "::1"]),
        "currentTime": rng.choice(
            ["2024-05-31T23:59:59Z", "2024-06-01T00:00:01Z", "2025-01-01T12:00:00+02:00"]
        ),
        "properties": {key: value for key, value in properties.items() if rng.random() > 0.1},
    }
    if rng.random() > 0.2:
        context["userId"] = str(rng.randint(1, 150))
    return context


@pytest.fixture(scope="module")
def sdk() -> Any:
    client = unleash.UnleashClient(
        url="http://127.0.0.1:9",  # never contacted: the client is bootstrapped and not started
        app_name=APP,
        environment=ENVIRONMENT,
        disable_metrics=True,
        disable_registration=True,
        cache=_MemoryCache(FEATURES),
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
    return client


def test_the_engine_and_the_unleash_sdk_agree_on_random_callers(sdk: Any) -> None:
    engine = Evaluator(parse_snapshot(FEATURES))
    assert engine.warnings == (
        "flag 'office': 'bogus' is neither an IP address nor a CIDR range: skipped",
        "flag 'cidr': 'not-a-cidr' is neither an IP address nor a CIDR range: skipped",
    )
    rng = random.Random(20240601)
    names = [feature["name"] for feature in FEATURES["features"]] + ["missing"]
    disagreements = []
    enabled_counts = dict.fromkeys(names, 0)
    for _ in range(400):
        raw = _random_context(rng)
        context = Context.from_dict(raw)
        for name in names:
            ours = engine.is_enabled(name, context)
            theirs = sdk.is_enabled(name, dict(raw))
            enabled_counts[name] += ours
            our_variant = engine.get_variant(name, context).to_dict()
            their_variant = sdk.get_variant(name, dict(raw))
            if ours != theirs or our_variant != their_variant:
                disagreements.append((name, raw, ours, theirs, our_variant, their_variant))

    assert disagreements == []
    # The comparison means something only if flags go both ways.
    always_same = [name for name, count in enabled_counts.items() if count in (0, 400)]
    assert sorted(always_same) == ["missing", "off", "variants"]
