"""Constraints compiled into predicates: every operand is parsed once, when a snapshot is loaded.

Semantics are Unleash's: a missing context value fails every operator except NOT_IN; `inverted`
negates the result afterwards; an unknown operator or an operand that cannot be read (a bad
number, date, version, CIDR or regex) makes the constraint false, inverted or not, and is reported
once through `warn` rather than at every evaluation.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from operator import ge, gt, le, lt

from clearance.errors import InvalidVersion
from clearance.flags import model
from clearance.flags.context import Context, field_getter, property_name
from clearance.flags.model import Constraint
from clearance.flags.regex_dialect import RegexRefused, compile_unleash_regex
from clearance.versioning.semver import PrecedenceKey, Version

Predicate = Callable[[Context], bool]
Warn = Callable[[str], None]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def never(_context: Context) -> bool:
    return False


def always(_context: Context) -> bool:
    return True


def compile_constraint(constraint: Constraint, warn: Warn) -> Predicate:
    """The predicate for one constraint; problems with its operands go to `warn`."""
    predicate = _operator_predicate(constraint, warn)
    if predicate is never or not constraint.inverted:
        return predicate

    def inverted(context: Context) -> bool:
        return not predicate(context)

    return inverted


def compile_all(constraints: tuple[Constraint, ...], warn: Warn) -> tuple[Predicate, ...]:
    return tuple(compile_constraint(constraint, warn) for constraint in constraints)


def _operator_predicate(constraint: Constraint, warn: Warn) -> Predicate:
    operator = constraint.operator
    if operator not in model.OPERATORS:
        warn(f"unknown constraint operator {operator!r} on {constraint.context_name!r}: it never matches")
        return never
    if operator in model.LIST_OPERATORS:
        return _LIST_COMPILERS[operator](constraint, warn)
    if constraint.value is None:
        warn(f"constraint {operator} on {constraint.context_name!r} has no value: it never matches")
        return never
    return _VALUE_COMPILERS[operator](constraint, constraint.value, warn)


# The hottest operators read properties inline: a getter call per constraint costs as much as the
# comparison itself.


def _membership(constraint: Constraint, _warn: Warn) -> Predicate:
    get = field_getter(constraint.context_name)
    values = frozenset(constraint.values)
    key = property_name(constraint.context_name)
    if key is not None:
        if constraint.operator == model.IN:

            def property_in(context: Context) -> bool:
                return context.properties.get(key) in values

            return property_in

        def property_not_in(context: Context) -> bool:
            return context.properties.get(key) not in values

        return property_not_in
    if constraint.operator == model.IN:

        def is_in(context: Context) -> bool:
            return get(context) in values

        return is_in

    def not_in(context: Context) -> bool:
        return get(context) not in values

    return not_in


def _string_match(constraint: Constraint, _warn: Warn) -> Predicate:
    get = field_getter(constraint.context_name)
    fold = constraint.case_insensitive
    values = tuple(value.lower() for value in constraint.values) if fold else constraint.values
    operator = constraint.operator

    def text(context: Context) -> str | None:
        value = get(context)
        return value.lower() if fold and value is not None else value

    key = property_name(constraint.context_name)
    if key is not None and not fold and operator != model.STR_CONTAINS:
        method = str.startswith if operator == model.STR_STARTS_WITH else str.endswith

        def property_affix(context: Context) -> bool:
            value = context.properties.get(key)
            return value is not None and method(value, values)

        return property_affix
    if operator == model.STR_STARTS_WITH:

        def starts_with(context: Context) -> bool:
            value = text(context)
            return value is not None and value.startswith(values)

        return starts_with
    if operator == model.STR_ENDS_WITH:

        def ends_with(context: Context) -> bool:
            value = text(context)
            return value is not None and value.endswith(values)

        return ends_with

    def contains(context: Context) -> bool:
        value = text(context)
        return value is not None and any(item in value for item in values)

    return contains


def _in_cidr(constraint: Constraint, warn: Warn) -> Predicate:
    get = field_getter(constraint.context_name)
    networks = parse_networks(constraint.values, warn)

    def in_cidr(context: Context) -> bool:
        address = parse_address(get(context))
        return address is not None and any(address in network for network in networks)

    return in_cidr


def _number(constraint: Constraint, value: str, warn: Warn) -> Predicate:
    target = parse_number(value)
    if target is None:
        warn(f"{constraint.operator} on {constraint.context_name!r}: {value!r} is not a number")
        return never
    get = field_getter(constraint.context_name)
    compare = _NUMBER_COMPARISONS[constraint.operator]

    def number(context: Context) -> bool:
        actual = parse_number(get(context))
        return actual is not None and compare(actual, target)

    return number


def _date(constraint: Constraint, value: str, warn: Warn) -> Predicate:
    target = parse_datetime(value)
    if target is None:
        warn(f"{constraint.operator} on {constraint.context_name!r}: {value!r} is not an RFC 3339 time")
        return never
    get = field_getter(constraint.context_name)
    after = constraint.operator == model.DATE_AFTER

    def date(context: Context) -> bool:
        actual = parse_datetime(get(context))
        if actual is None:
            return False
        return actual > target if after else actual < target

    return date


def _semver(constraint: Constraint, value: str, warn: Warn) -> Predicate:
    target = parse_version(value)
    if target is None:
        warn(f"{constraint.operator} on {constraint.context_name!r}: {value!r} is not a SemVer version")
        return never
    get = field_getter(constraint.context_name)
    operator = constraint.operator
    if operator == model.SEMVER_EQ:

        def equal(context: Context) -> bool:
            return parse_version(get(context)) == target

        return equal
    key = target.precedence_key()
    compare = _ORDERINGS[operator]

    prop = property_name(constraint.context_name)
    if prop is not None:

        def property_ordered(context: Context) -> bool:
            actual = version_key(context.properties.get(prop))
            return actual is not None and compare(actual, key)

        return property_ordered

    def ordered(context: Context) -> bool:
        actual = version_key(get(context))
        return actual is not None and compare(actual, key)

    return ordered


def _regex(constraint: Constraint, value: str, warn: Warn) -> Predicate:
    try:
        pattern = compile_unleash_regex(value, ignore_case=constraint.case_insensitive)
    except RegexRefused as exc:
        warn(f"REGEX on {constraint.context_name!r}: {exc}")
        return never
    get = field_getter(constraint.context_name)
    search = pattern.search

    def matches(context: Context) -> bool:
        text = get(context)
        return text is not None and search(text) is not None

    return matches


def _float_eq(a: float, b: float) -> bool:
    return abs(a - b) < sys.float_info.epsilon


_NUMBER_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    model.NUM_EQ: _float_eq,
    model.NUM_GT: gt,
    model.NUM_GTE: ge,
    model.NUM_LT: lt,
    model.NUM_LTE: le,
}
_ORDERINGS: dict[str, Callable[[PrecedenceKey, PrecedenceKey], bool]] = {
    model.SEMVER_GT: gt,
    model.SEMVER_GTE: ge,
    model.SEMVER_LT: lt,
    model.SEMVER_LTE: le,
}
_LIST_COMPILERS: dict[str, Callable[[Constraint, Warn], Predicate]] = {
    model.IN: _membership,
    model.NOT_IN: _membership,
    model.STR_STARTS_WITH: _string_match,
    model.STR_ENDS_WITH: _string_match,
    model.STR_CONTAINS: _string_match,
    model.IN_CIDR: _in_cidr,
}
_VALUE_COMPILERS: dict[str, Callable[[Constraint, str, Warn], Predicate]] = {
    **dict.fromkeys(_NUMBER_COMPARISONS, _number),
    model.DATE_AFTER: _date,
    model.DATE_BEFORE: _date,
    model.SEMVER_EQ: _semver,
    **dict.fromkeys(_ORDERINGS, _semver),
    model.REGEX: _regex,
}


def parse_number(text: str | None) -> float | None:
    """A number as Rust's `f64::from_str` reads it: no surrounding spaces, no `_` separators."""
    if text is None or "_" in text or text != text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def parse_datetime(text: str | None) -> datetime | None:
    """An RFC 3339 time with an offset; a time without one names no instant and is refused."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@lru_cache(maxsize=1024)
def parse_version(text: str | None) -> Version | None:
    # Unleash refuses a `v` prefix, as strict SemVer does; the cache holds a service's few versions.
    if not text:
        return None
    try:
        return Version.parse(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=1024)
def version_key(text: str | None) -> PrecedenceKey | None:
    version = parse_version(text)
    return None if version is None else version.precedence_key()


@lru_cache(maxsize=1024)
def parse_address(text: str | None) -> IpAddress | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_networks(texts: tuple[str, ...], warn: Warn) -> tuple[IpNetwork, ...]:
    """Addresses and CIDR ranges; unreadable entries are reported and skipped, not fatal."""
    networks = []
    for text in (text.strip() for text in texts):
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            warn(f"{text!r} is neither an IP address nor a CIDR range: skipped")
    return tuple(networks)
