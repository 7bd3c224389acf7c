"""Dependent flags: a child is on only when its parent is in the required state."""

from __future__ import annotations

from typing import Any

from clearance.flags import Context, Evaluator, parse_snapshot
from clearance.flags.bucketing import normalized_hash


def _flags(*features: dict[str, Any]) -> Evaluator:
    return Evaluator(parse_snapshot({"features": list(features)}))


def test_a_parent_without_group_id_is_bucketed_by_its_own_name_not_the_childs() -> None:
    # The Rust engine inside UnleashClient 6.9 buckets such a parent with the child's name when it
    # checks the dependency; clearance asks the parent exactly as if it were asked directly.
    flags = _flags(
        {
            "name": "parent",
            "enabled": True,
            "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "50"}}],
        },
        {"name": "child", "enabled": True, "strategies": [], "dependencies": [{"feature": "parent"}]},
    )
    for user in map(str, range(300)):
        context = Context(user_id=user)
        assert flags.is_enabled("child", context) is (normalized_hash("parent", user) <= 50)
        assert flags.is_enabled("child", context) is flags.is_enabled("parent", context)


def test_dependency_states_variants_and_depth() -> None:
    on = {"name": "on", "enabled": True, "strategies": [], "variants": [{"name": "x", "weight": 1}]}
    off = {"name": "off", "enabled": False, "strategies": []}
    flags = _flags(
        on,
        off,
        {"name": "needs-on", "enabled": True, "dependencies": [{"feature": "on"}]},
        {"name": "needs-off", "enabled": True, "dependencies": [{"feature": "off", "enabled": False}]},
        {"name": "needs-x", "enabled": True, "dependencies": [{"feature": "on", "variants": ["x"]}]},
        {"name": "needs-y", "enabled": True, "dependencies": [{"feature": "on", "variants": ["y"]}]},
        {"name": "needs-missing", "enabled": True, "dependencies": [{"feature": "nope"}]},
        {"name": "grandchild", "enabled": True, "dependencies": [{"feature": "needs-on"}]},
        {"name": "disabled-child", "enabled": False, "dependencies": [{"feature": "on"}]},
    )
    answers = {
        name: flags.is_enabled(name)
        for name in [
            "needs-on",
            "needs-off",
            "needs-x",
            "needs-y",
            "needs-missing",
            "grandchild",
            "disabled-child",
        ]
    }
    assert answers == {
        "needs-on": True,
        "needs-off": True,
        "needs-x": True,
        "needs-y": False,
        "needs-missing": False,
        "grandchild": False,  # one level only: a parent that itself depends never satisfies
        "disabled-child": False,
    }
