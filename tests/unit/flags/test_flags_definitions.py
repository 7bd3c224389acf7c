"""The pure rules behind `clearance flag …`: percentages, constraints, variants, staleness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clearance.errors import UsageError
from clearance.flags import Context, Evaluator, parse_snapshot
from clearance.flags import definitions as rules
from clearance.flags.definitions import ConstraintInput


@pytest.mark.parametrize(("text", "percent"), [("0", 0), ("25%", 25), (" 100 % ", 100), ("7", 7)])
def test_percentages_from_0_to_100_are_read(text: str, percent: int) -> None:
    assert rules.parse_percentage(text) == percent


@pytest.mark.parametrize("text", ["101", "-1", "25.5%", "", "%", "half", "1000%"])
def test_other_percentages_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="invalid rollout percentage"):
        rules.parse_percentage(text)


def test_a_rollout_replaces_the_first_strategy_and_keeps_its_constraints() -> None:
    constraint = rules.constraint_json(ConstraintInput("country", "in", ("NO",)))
    strategies = rules.with_constraint([], constraint)
    rolled = rules.with_rollout(strategies, 30, stickiness="userId", group_id="g")
    assert rolled == [
        {
            "name": "flexibleRollout",
            "parameters": {"rollout": "30", "stickiness": "userId", "groupId": "g"},
            "constraints": [constraint],
        }
    ]
    assert strategies[0]["name"] == "default"  # the input is not changed


def test_list_and_single_value_operators_are_written_as_the_client_api_spells_them() -> None:
    listed = rules.constraint_json(ConstraintInput("userId", "NOT_IN", ("1", "2"), inverted=True))
    assert listed == {
        "contextName": "userId",
        "operator": "NOT_IN",
        "values": ["1", "2"],
        "inverted": True,
        "caseInsensitive": False,
    }
    single = rules.constraint_json(ConstraintInput("appVersion", "semver_gt", ("1.2.0",)))
    assert single["operator"] == "SEMVER_GT" and single["value"] == "1.2.0" and "values" not in single
    for operator, value in (
        ("DATE_AFTER", "2026-12-24T18:00:00+01:00"),
        ("REGEX", "^[a-z]+@acme\\.com$"),
        ("SEMVER_LT", "2.0.0-beta.1"),
        ("NUM_GTE", "1e3"),
    ):
        assert rules.constraint_json(ConstraintInput("x", operator, (value,)))["value"] == value
    cidr = rules.constraint_json(ConstraintInput("remoteAddress", "IN_CIDR", ("10.0.0.0/8", "::1")))
    assert cidr["values"] == ["10.0.0.0/8", "::1"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (ConstraintInput("x", "LIKE", ("1",)), "unknown constraint operator 'LIKE'"),
        (ConstraintInput("x", "IN", ()), "needs at least one value"),
        (ConstraintInput("", "IN", ("a",)), "needs a context name"),
        (ConstraintInput("age", "NUM_GT", ("1", "2")), "compares with one value"),
        (ConstraintInput("age", "NUM_LTE", ("many",)), "needs a number"),
        (ConstraintInput("age", "NUM_EQ", (" 4",)), "needs a number"),  # as the engine reads numbers
        (ConstraintInput("appVersion", "SEMVER_GT", ("notsemver",)), "SEMVER_GT needs a semantic version"),
        (ConstraintInput("appVersion", "SEMVER_EQ", ("v1.2.3",)), "needs a semantic version"),
        (ConstraintInput("currentTime", "DATE_AFTER", ("yesterday",)), "DATE_AFTER needs a date and time"),
        (ConstraintInput("currentTime", "DATE_BEFORE", ("2026-12-24T18:00:00",)), "with its offset"),
        (ConstraintInput("email", "REGEX", ("([",)), "REGEX needs a regular expression"),
        (ConstraintInput("remoteAddress", "IN_CIDR", ("10.0.0.0/8", "notcidr")), "'notcidr' is neither"),
    ],
)
def test_bad_constraints_are_refused(given: ConstraintInput, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        rules.constraint_json(given)


def test_variants_are_read_from_name_weight_pairs() -> None:
    variants = rules.parse_variants(["blue=1", "green=3"], stickiness="userId")
    assert [(v["name"], v["weight"], v["stickiness"]) for v in variants] == [
        ("blue", 1, "userId"),
        ("green", 3, "userId"),
    ]
    for bad, message in (
        (["blue"], "invalid variant"),
        (["a=1", "a=2"], "given twice"),
        (["a=0"], "add up to 0"),
    ):
        with pytest.raises(UsageError, match=message):
            rules.parse_variants(bad)


@pytest.mark.parametrize("name", ["a b", "-x", "", "é", "x" * 256, "a/b"])
def test_flag_names_are_checked(name: str) -> None:
    with pytest.raises(UsageError):
        rules.check_flag_name(name)


def test_served_json_evaluates_in_the_engine() -> None:
    strategies = rules.with_rollout([rules.default_strategy()], 100, group_id="f")
    feature = rules.feature_json("f", "release", "", enabled=True, strategies=strategies, variants=[])
    engine = Evaluator(parse_snapshot({"version": 2, "features": [feature]}))
    assert engine.is_enabled("f", Context(user_id="1"))
    off = rules.with_rollout(strategies, 0, group_id="f")
    feature = rules.feature_json("f", "release", "", enabled=True, strategies=off, variants=[])
    assert not Evaluator(parse_snapshot({"features": [feature]})).is_enabled("f", Context(user_id="1"))


def test_fully_rolled_out_means_on_for_everyone() -> None:
    constrained = rules.with_constraint([], rules.constraint_json(ConstraintInput("a", "IN", ("b",))))
    assert rules.is_fully_rolled_out(True, [rules.default_strategy()])
    assert rules.is_fully_rolled_out(True, [])
    assert rules.is_fully_rolled_out(True, rules.with_rollout([], 100, group_id="g"))
    assert not rules.is_fully_rolled_out(True, rules.with_rollout([], 99, group_id="g"))
    assert not rules.is_fully_rolled_out(False, [rules.default_strategy()])
    assert not rules.is_fully_rolled_out(True, constrained)


def test_a_flag_is_stale_once_every_environment_is_fully_out_for_long_enough() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    month = timedelta(days=30)
    assert rules.is_stale([now - timedelta(days=40), now - timedelta(days=31)], now, month)
    assert not rules.is_stale([now - timedelta(days=40), now - timedelta(days=2)], now, month)
    assert not rules.is_stale([now - timedelta(days=40), None], now, month)
    assert not rules.is_stale([], now, month)
