"""Strategies, buckets and variants: Unleash's hashing, stickiness, and the properties users rely on."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.flags import Context, Evaluator, parse_snapshot
from clearance.flags.bucketing import normalized_hash
from clearance.flags.model import STRATEGIES
from clearance.flags.strategies import _RULES


def _flags(*strategies: dict[str, Any], **feature: Any) -> Evaluator:
    return Evaluator(
        parse_snapshot(
            {"features": [{"name": "f", "enabled": True, "strategies": list(strategies), **feature}]}
        )
    )


def _rollout(percent: int | str, **parameters: str) -> dict[str, Any]:
    return {"name": "flexibleRollout", "parameters": {"rollout": str(percent), **parameters}}


def test_the_bucket_is_unleash_murmur3() -> None:
    # Reference values from Unleash's client specification (03-gradual-rollout-user-id-strategy).
    assert normalized_hash("Feature.flexibleRollout.userId.55", "25") <= 55
    assert 1 <= normalized_hash("g", "u") <= 100


@settings(max_examples=200, deadline=None)
@given(user=st.text(min_size=1, max_size=40), low=st.integers(0, 100), high=st.integers(0, 100))
def test_raising_the_rollout_never_turns_a_user_off(user: str, low: int, high: int) -> None:
    low, high = sorted((low, high))
    context = Context(user_id=user)
    if _flags(_rollout(low, groupId="g")).is_enabled("f", context):
        assert _flags(_rollout(high, groupId="g")).is_enabled("f", context)


def test_buckets_spread_users_evenly() -> None:
    buckets = Counter(normalized_hash("group", str(user)) for user in range(100_000))
    assert set(buckets) == set(range(1, 101))
    assert max(buckets.values()) < 1_150 and min(buckets.values()) > 850


def test_a_rollout_reaches_about_its_share_and_the_same_users_across_groups_differ() -> None:
    flags_a = _flags(_rollout(30, groupId="a"))
    flags_b = _flags(_rollout(30, groupId="b"))
    on_a = {user for user in range(10_000) if flags_a.is_enabled("f", Context(user_id=str(user)))}
    on_b = {user for user in range(10_000) if flags_b.is_enabled("f", Context(user_id=str(user)))}
    assert 2_800 < len(on_a) < 3_200
    assert len(on_a & on_b) < 1_200  # independent groups, not the same 30 %


def test_stickiness_choices() -> None:
    by_tenant = _flags(_rollout(100, stickiness="tenant"))
    assert by_tenant.is_enabled("f", Context(properties={"tenant": "t1"}))
    assert not by_tenant.is_enabled("f", Context(user_id="1"))  # the named field is missing: off
    by_session = _flags(_rollout(100, stickiness="sessionId"))
    assert not by_session.is_enabled("f", Context(user_id="1"))
    assert _flags(_rollout(100)).is_enabled("f", Context())  # default falls back to a random draw
    assert not _flags(_rollout(0)).is_enabled("f", Context(user_id="1"))
    random_half = _flags(_rollout(50, stickiness="random"))
    assert 300 < sum(random_half.is_enabled("f", Context(user_id="1")) for _ in range(1000)) < 700


def test_rollout_percentages_outside_0_to_100_turn_the_strategy_off_with_a_warning() -> None:
    for bad in ("101", "-5", "33.5", "", "fifty"):
        flags = _flags(_rollout(bad))
        assert not flags.is_enabled("f", Context(user_id="1"))
        assert "whole percentage 0–100" in flags.warnings[0]


def test_user_with_id_remote_address_and_hostname() -> None:
    users = _flags({"name": "userWithId", "parameters": {"userIds": "1, 2 ,3"}})
    assert users.is_enabled("f", Context(user_id="2")) and not users.is_enabled("f", Context(user_id="4"))
    addresses = _flags({"name": "remoteAddress", "parameters": {"IPs": "192.168.0.0/16, 10.0.0.1, ::1"}})
    assert addresses.is_enabled("f", Context(remote_address="192.168.44.1"))
    assert addresses.is_enabled("f", Context(remote_address="::1"))
    assert not addresses.is_enabled("f", Context(remote_address="10.0.0.2"))
    assert not addresses.is_enabled("f", Context())
    hosts = {"name": "applicationHostname", "parameters": {"hostNames": "web-1, Web-2"}}
    assert Evaluator(
        parse_snapshot({"features": [{"name": "f", "enabled": True, "strategies": [hosts]}]}),
        hostname="WEB-2",
    ).is_enabled("f")
    assert not Evaluator(
        parse_snapshot({"features": [{"name": "f", "enabled": True, "strategies": [hosts]}]})
    ).is_enabled("f")


def test_unknown_strategies_are_off_and_every_known_one_is_implemented() -> None:
    flags = _flags({"name": "myCustomStrategy"})
    assert not flags.is_enabled("f", Context(user_id="1"))
    assert flags.warnings == ("flag 'f': unknown strategy 'myCustomStrategy': it is never on",)
    assert _flags({"name": "myCustomStrategy"}, {"name": "default"}).is_enabled("f")
    assert set(_RULES) == STRATEGIES


def test_variants_weights_overrides_and_stickiness() -> None:
    variants = [
        {
            "name": "a",
            "weight": 1,
            "stickiness": "tenant",
            "overrides": [{"contextName": "userId", "values": ["vip"]}],
        },
        {"name": "b", "weight": 3, "stickiness": "tenant"},
        {"name": "never", "weight": 0},
    ]
    flags = _flags({"name": "default"}, variants=variants)
    names = Counter(flags.get_variant("f", Context(properties={"tenant": str(t)})).name for t in range(4000))
    assert 800 < names["a"] < 1200 and names["never"] == 0
    assert flags.get_variant("f", Context(user_id="vip", properties={"tenant": "1"})).name == "a"
    same = {
        flags.get_variant("f", Context(user_id=str(u), properties={"tenant": "x"})).name for u in range(50)
    }
    assert len(same) == 1  # sticky on the tenant, whoever the user
    assert flags.get_variant("missing").to_dict() == {
        "name": "disabled",
        "enabled": False,
        "feature_enabled": False,
    }
    no_variants = _flags({"name": "default"})
    assert no_variants.get_variant("f").to_dict() == {
        "name": "disabled",
        "enabled": False,
        "feature_enabled": True,
    }


@settings(max_examples=100, deadline=None)
@given(user=st.text(max_size=30), weights=st.lists(st.integers(1, 1000), min_size=1, max_size=6))
def test_some_variant_is_always_chosen_and_it_is_sticky(user: str, weights: list[int]) -> None:
    variants = [{"name": f"v{i}", "weight": w} for i, w in enumerate(weights)]
    flags = _flags({"name": "default"}, variants=variants)
    first = flags.get_variant("f", Context(user_id=user))
    assert first.enabled and first.name.startswith("v")
    assert flags.get_variant("f", Context(user_id=user)) == first
