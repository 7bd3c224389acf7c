"""Pure rules for changing one flag in one environment: the strategies, constraints and variants an
admin command asks for, written in Unleash's client-API JSON, and when a flag counts as fully out.

Everything here validates the user's input and returns new JSON lists; nothing is stored. The
JSON is the shape `GET /api/client/features` serves, so the server hands it out unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clearance.errors import UsageError
from clearance.flags.constraints import parse_datetime, parse_networks, parse_number, parse_version
from clearance.flags.model import IN_CIDR, LIST_OPERATORS, OPERATORS, REGEX
from clearance.flags.parsing import parse_feature
from clearance.flags.regex_dialect import RegexRefused, compile_unleash_regex

FLAG_TYPES = ("release", "experiment", "ops", "kill-switch", "permission")
FLAG_NAME_MAX = 255
_FLAG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_PERCENT = re.compile(r"(\d{1,3})\s*%?")
_NUMERIC = {"NUM_EQ", "NUM_GT", "NUM_GTE", "NUM_LT", "NUM_LTE"}


def default_strategy() -> dict[str, Any]:
    return {"name": "default", "parameters": {}, "constraints": []}


def check_flag_name(name: str) -> str:
    if len(name) > FLAG_NAME_MAX:
        raise UsageError(f"a flag name is at most {FLAG_NAME_MAX} characters; this one has {len(name)}")
    if not _FLAG_NAME.fullmatch(name):
        raise UsageError(
            f"invalid flag name {name!r}",
            hint="use letters, digits, '.', '_', ':' and '-', starting with a letter or digit",
        )
    return name


def check_flag_type(kind: str) -> str:
    if kind not in FLAG_TYPES:
        raise UsageError(f"unknown flag type {kind!r}", hint=f"use one of: {', '.join(FLAG_TYPES)}")
    return kind


def parse_percentage(text: str) -> int:
    """`25%` or `25` → 25; anything outside 0–100 is refused."""
    match = _PERCENT.fullmatch(text.strip())
    if match is None or int(match.group(1)) > 100:
        raise UsageError(
            f"invalid rollout percentage {text!r}", hint="give a whole number from 0 to 100, like 25%"
        )
    return int(match.group(1))


def with_rollout(
    strategies: list[Any], percent: int, *, stickiness: str = "default", group_id: str
) -> list[Any]:
    """Strategies with the first one turned into a flexibleRollout at `percent` (its constraints kept)."""
    first = dict(strategies[0]) if strategies else default_strategy()
    first["name"] = "flexibleRollout"
    first["parameters"] = {"rollout": str(percent), "stickiness": stickiness, "groupId": group_id}
    return [first, *strategies[1:]]


@dataclass(frozen=True)
class ConstraintInput:
    context_name: str
    operator: str
    values: tuple[str, ...]
    inverted: bool = False
    case_insensitive: bool = False


def constraint_json(given: ConstraintInput) -> dict[str, Any]:
    """One constraint as the client API spells it; an unknown operator or a bad value is refused."""
    operator = given.operator.upper()
    if operator not in OPERATORS:
        raise UsageError(
            f"unknown constraint operator {given.operator!r}",
            hint=f"use one of: {', '.join(sorted(OPERATORS))}",
        )
    if not given.context_name:
        raise UsageError("a constraint needs a context name (userId, environment, appVersion, …)")
    if not given.values:
        raise UsageError(
            f"{operator} needs at least one value", hint='--values on the command line, "values" in the API'
        )
    constraint: dict[str, Any] = {
        "contextName": given.context_name,
        "operator": operator,
        "inverted": given.inverted,
        "caseInsensitive": given.case_insensitive,
    }
    if operator in LIST_OPERATORS:
        if operator == IN_CIDR:
            _check_networks(given.values)
        constraint["values"] = list(given.values)
        return constraint
    if len(given.values) != 1:
        raise UsageError(f"{operator} compares with one value; got {len(given.values)}")
    value = given.values[0]
    _check_value(operator, value, given.case_insensitive)
    constraint["value"] = value
    return constraint


def _check_value(operator: str, value: str, case_insensitive: bool) -> None:
    """Refuse a value the engine could never compare with (it would turn the flag off for everyone),
    read with the engine's own parsers so that what passes here is what evaluates."""
    if operator in _NUMERIC and parse_number(value) is None:
        raise UsageError(f"{operator} needs a number; got {value!r}")
    if operator.startswith("DATE_") and parse_datetime(value) is None:
        raise UsageError(
            f"{operator} needs a date and time with its offset; got {value!r}",
            hint="write RFC 3339, like 2026-12-24T18:00:00Z",
        )
    if operator.startswith("SEMVER_") and parse_version(value) is None:
        raise UsageError(
            f"{operator} needs a semantic version; got {value!r}", hint="like 1.2.3 or 2.0.0-beta.1 (no 'v')"
        )
    if operator == REGEX:
        try:
            compile_unleash_regex(value, ignore_case=case_insensitive)
        except RegexRefused as exc:
            raise UsageError(f"REGEX needs a regular expression the engine can use: {exc}") from None


def _check_networks(values: tuple[str, ...]) -> None:
    unreadable: list[str] = []
    parse_networks(values, unreadable.append)
    if unreadable:
        raise UsageError(
            f"IN_CIDR: {unreadable[0]}", hint="give IP addresses or CIDR ranges, like 10.0.0.0/8"
        )


def with_constraint(strategies: list[Any], constraint: dict[str, Any]) -> list[Any]:
    """Every strategy (a default one when there is none) with `constraint` added."""
    result = []
    for strategy in strategies or [default_strategy()]:
        changed = dict(strategy)
        changed["constraints"] = [*strategy.get("constraints", []), constraint]
        result.append(changed)
    return result


def parse_variants(items: list[str], *, stickiness: str = "default") -> list[dict[str, Any]]:
    """`control=50 treatment=50` → the feature's variants (weights relative to their sum)."""
    variants: list[dict[str, Any]] = []
    for item in items:
        name, sep, weight = item.partition("=")
        if not sep or not name or not weight.strip().isdigit():
            raise UsageError(f"invalid variant {item!r}", hint="write NAME=WEIGHT, like control=50")
        if any(v["name"] == name for v in variants):
            raise UsageError(f"variant {name!r} is given twice")
        variants.append(
            {"name": name, "weight": int(weight), "weightType": "variable", "stickiness": stickiness}
        )
    if variants and sum(v["weight"] for v in variants) == 0:
        raise UsageError("the variants' weights add up to 0; give at least one a positive weight")
    return variants


def feature_json(
    name: str, kind: str, description: str, *, enabled: bool, strategies: list[Any], variants: list[Any]
) -> dict[str, Any]:
    """One feature of `GET /api/client/features`; checked by the engine's own parser."""
    feature = {
        "name": name,
        "type": kind,
        "description": description,
        "enabled": enabled,
        "strategies": strategies,
        "variants": variants,
        "impressionData": False,
    }
    parse_feature(feature, f"$.features[{name}]")
    return feature


def is_fully_rolled_out(enabled: bool, strategies: list[Any]) -> bool:
    """On for everyone: enabled, and some strategy without constraints lets every caller in."""
    if not enabled:
        return False
    if not strategies:
        return True
    for strategy in strategies:
        if strategy.get("constraints") or strategy.get("segments"):
            continue
        name = strategy.get("name")
        rollout = str(strategy.get("parameters", {}).get("rollout", ""))
        if name == "default" or (name == "flexibleRollout" and rollout == "100"):
            return True
    return False


def is_stale(full_since: list[datetime | None], now: datetime, stale_after: timedelta) -> bool:
    """Stale: fully rolled out in every environment, the latest of them for longer than `stale_after`."""
    if not full_since or any(since is None for since in full_since):
        return False
    return max(s for s in full_since if s is not None) + stale_after <= now
