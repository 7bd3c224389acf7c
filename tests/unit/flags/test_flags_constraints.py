"""Each constraint operator at its edges: missing values, inversion, case folding, bad operands."""

from __future__ import annotations

from typing import Any

import pytest

from clearance.flags import Context, Evaluator, parse_snapshot


def _flag_with(constraint: dict[str, Any]) -> Evaluator:
    return Evaluator(
        parse_snapshot(
            {
                "features": [
                    {
                        "name": "f",
                        "enabled": True,
                        "strategies": [{"name": "default", "constraints": [constraint]}],
                    }
                ]
            }
        )
    )


def _check(constraint: dict[str, Any], **properties: str) -> bool:
    return _flag_with(constraint).is_enabled("f", Context(properties=properties))


@pytest.mark.parametrize(
    ("operator", "values", "actual", "expected"),
    [
        ("IN", ["a", "b"], "a", True),
        ("IN", ["a", "b"], "c", False),
        ("IN", ["a"], None, False),
        ("NOT_IN", ["a"], None, True),
        ("NOT_IN", ["a"], "a", False),
        ("IN", [], "a", False),
        ("NOT_IN", [], "a", True),
        ("STR_STARTS_WITH", ["pro", "ent"], "enterprise", True),
        ("STR_STARTS_WITH", ["pro"], "Pro", False),
        ("STR_ENDS_WITH", [".com"], "x.com", True),
        ("STR_ENDS_WITH", [".com"], None, False),
        ("STR_CONTAINS", ["an"], "banana", True),
        ("STR_CONTAINS", ["zz"], "banana", False),
        ("IN_CIDR", ["10.0.0.0/8", "junk"], "10.9.8.7", True),
        ("IN_CIDR", ["10.0.0.0/8"], "11.0.0.1", False),
        ("IN_CIDR", ["2001:db8::/32"], "10.0.0.1", False),
        ("IN_CIDR", ["10.0.0.0/8"], "not an ip", False),
    ],
)
def test_list_operators(operator: str, values: list[str], actual: str | None, expected: bool) -> None:
    properties = {} if actual is None else {"field": actual}
    assert _check({"contextName": "field", "operator": operator, "values": values}, **properties) is expected


@pytest.mark.parametrize(
    ("operator", "value", "actual", "expected"),
    [
        ("NUM_EQ", "3", "3.0", True),
        ("NUM_EQ", "3", "3.0001", False),
        ("NUM_GT", "5", "5.5", True),
        ("NUM_GT", "5", "5", False),
        ("NUM_GTE", "5", "5", True),
        ("NUM_LT", "-1", "-1.5", True),
        ("NUM_LTE", "2", "2", True),
        ("NUM_LT", "10", "1e0", True),
        ("NUM_LT", "10", " 1", False),  # Rust's f64 parser refuses spaces
        ("NUM_LT", "10", "1_0", False),
        ("NUM_LT", "10", "ten", False),
        ("NUM_LT", "10", "", False),
        ("NUM_LT", "ten", "1", False),  # a bad operand never matches
        ("DATE_AFTER", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", True),
        ("DATE_AFTER", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", False),
        ("DATE_BEFORE", "2024-01-01T00:00:00Z", "2023-12-31T23:00:00-02:00", False),
        ("DATE_BEFORE", "2024-01-01T00:00:00Z", "2023-12-31T23:00:00+02:00", True),
        ("DATE_BEFORE", "2024-01-01T00:00:00Z", "2023-12-31T23:00:00", False),  # no offset: no instant
        ("SEMVER_EQ", "1.2.3", "1.2.3", True),
        ("SEMVER_EQ", "1.2.3", "1.2.3+build.1", False),
        ("SEMVER_GT", "1.2.3", "1.10.0", True),
        ("SEMVER_GT", "1.2.3", "1.2.3-rc.1", False),
        ("SEMVER_LT", "2.0.0", "2.0.0-rc.1", True),
        ("SEMVER_GTE", "1.2.3", "1.2.3", True),
        ("SEMVER_LTE", "1.2.3", "1.2.4", False),
        ("SEMVER_GT", "1.0.0", "v2.0.0", False),
        ("SEMVER_GT", "v1.0.0", "2.0.0", False),
        ("SEMVER_GT", "1.0.0", "2.0", False),
        ("REGEX", "^a+$", "aaa", True),
        ("REGEX", "^a+$", "aab", False),
        ("REGEX", "b", "abc", True),  # unanchored search, as Rust's is_match
        ("REGEX", "^abc$", "abc\n", False),  # Rust's $ is the end of the text
        ("REGEX", "^[[:digit:]]{3}$", "123", True),
        ("REGEX", "^x(?i)abc$", "xABC", True),
        ("REGEX", "(a)\\1", "aa", False),  # back-references are refused
        ("REGEX", "(?=a)a", "a", False),  # look-arounds are refused
        ("REGEX", "(unclosed", "(unclosed", False),
    ],
)
def test_value_operators(operator: str, value: str, actual: str, expected: bool) -> None:
    assert _check({"contextName": "field", "operator": operator, "value": value}, field=actual) is expected


def test_inverted_negates_and_case_insensitive_folds() -> None:
    constraint = {
        "contextName": "plan",
        "operator": "STR_STARTS_WITH",
        "values": ["PRO"],
        "caseInsensitive": True,
    }
    assert _check(constraint, plan="professional")
    assert not _check({**constraint, "inverted": True}, plan="professional")
    assert _check({**constraint, "inverted": True})  # missing value: false, then inverted
    assert _check(
        {"contextName": "u", "operator": "REGEX", "value": "^abc$", "caseInsensitive": True}, u="ABC"
    )


def test_an_unknown_operator_never_matches_even_inverted_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    constraint = {"contextName": "x", "operator": "NOT_AN_OPERATOR", "values": ["1"], "inverted": True}
    flags = _flag_with(constraint)

    assert not flags.is_enabled("f", Context(properties={"x": "1"}))
    assert not flags.is_enabled("f", Context())
    assert flags.warnings == (
        "flag 'f': unknown constraint operator 'NOT_AN_OPERATOR' on 'x': it never matches",
    )


def test_a_value_operator_without_a_value_never_matches() -> None:
    flags = _flag_with({"contextName": "x", "operator": "NUM_EQ"})
    assert not flags.is_enabled("f", Context(properties={"x": "1"}))
    assert "has no value" in flags.warnings[0]


def test_built_in_fields_and_current_time() -> None:
    after = {"contextName": "currentTime", "operator": "DATE_AFTER", "value": "2000-01-01T00:00:00Z"}
    assert _flag_with(after).is_enabled("f", Context())  # absent currentTime is now
    assert not _flag_with(after).is_enabled("f", Context(current_time="1999-01-01T00:00:00Z"))
    by_user = {"contextName": "userId", "operator": "IN", "values": ["7"]}
    assert _flag_with(by_user).is_enabled("f", Context(user_id="7"))
    assert not _flag_with(by_user).is_enabled("f", Context(properties={"userId": "7"}))


def test_odd_context_values_are_coerced_or_dropped_never_raised() -> None:
    flags = _flag_with({"contextName": "n", "operator": "NUM_GT", "value": "1"})
    assert flags.is_enabled("f", {"properties": {"n": 5}})
    assert flags.is_enabled("f", {"n": 2.5})  # unknown top-level names are properties
    assert not flags.is_enabled("f", {"properties": {"n": [1, 2]}})
    assert flags.is_enabled("f", {"properties": {"n": "9" * 100_000}})  # cut to 4096 characters: still > 1
    assert not flags.is_enabled("f", {"userId": {"nested": True}})
