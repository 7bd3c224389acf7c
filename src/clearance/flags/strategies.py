"""Activation strategies compiled into predicates: who a strategy turns a flag on for.

A strategy holds when all its constraints (its own, then those of its segments) hold and its rule
does. The built-in rules are Unleash's; a strategy name clearance does not know is never on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import mmh3

from clearance.flags.bucketing import ROLLOUT_SEED, random_bucket, stickiness_resolver
from clearance.flags.constraints import (
    Predicate,
    Warn,
    always,
    compile_all,
    never,
    parse_address,
    parse_networks,
)
from clearance.flags.context import Context
from clearance.flags.model import Segment, Strategy

_hash = mmh3.hash


def compile_strategy(
    strategy: Strategy,
    feature_name: str,
    segments: Mapping[int, Segment],
    hostname: str | None,
    warn: Warn,
) -> Predicate:
    """The predicate for one strategy of `feature_name`."""
    rule = _rule(strategy, feature_name, hostname, warn)
    constraints = list(strategy.constraints)
    for segment_id in strategy.segments:
        segment = segments.get(segment_id)
        if segment is None:
            warn(f"strategy {strategy.name!r} uses segment {segment_id}, which does not exist: it is off")
            return never
        constraints.extend(segment.constraints)
    checks = compile_all(tuple(constraints), warn)
    if rule is never or never in checks:
        return never
    return _all_of(checks, rule)


def _all_of(checks: tuple[Predicate, ...], rule: Predicate) -> Predicate:
    # Constraints first: they are cheaper than hashing and usually decide. Short fixed arities are
    # unrolled because this runs on every evaluation.
    if not checks:
        return rule
    if len(checks) == 1:
        (first,) = checks

        def one(context: Context) -> bool:
            return first(context) and rule(context)

        return one
    if len(checks) == 2:
        first, second = checks

        def two(context: Context) -> bool:
            return first(context) and second(context) and rule(context)

        return two
    if len(checks) == 3:
        first, second, third = checks

        def three(context: Context) -> bool:
            return first(context) and second(context) and third(context) and rule(context)

        return three

    def every(context: Context) -> bool:
        for check in checks:
            if not check(context):
                return False
        return rule(context)

    return every


def _rule(strategy: Strategy, feature_name: str, hostname: str | None, warn: Warn) -> Predicate:
    compiler = _RULES.get(strategy.name)
    if compiler is None:
        warn(f"unknown strategy {strategy.name!r}: it is never on")
        return never
    return compiler(strategy.parameters, feature_name, hostname, warn)


def _default(_p: Mapping[str, str], _f: str, _h: str | None, _w: Warn) -> Predicate:
    return always


def _percentage(parameters: Mapping[str, str], name: str, warn: Warn) -> int | None:
    text = parameters.get(name)
    if text is None or not text.isascii() or not text.isdigit() or int(text) > 100:
        warn(f"{name} must be a whole percentage 0–100, got {text!r}: the strategy is off")
        return None
    return int(text)


def _sticky_rollout(percentage: int, group_id: str, stickiness: str | None) -> Predicate:
    if percentage == 0:
        return never
    resolve = stickiness_resolver(stickiness)
    anonymous_draws = stickiness in (None, "default", "random")
    if resolve is None or (percentage == 100 and anonymous_draws):
        return always if percentage == 100 else lambda _context: random_bucket() <= percentage
    prefix = f"{group_id}:"
    seed = ROLLOUT_SEED
    if stickiness in (None, "default"):

        def default_rollout(context: Context) -> bool:
            identifier = context.user_id
            if identifier is None:
                identifier = context.session_id
                if identifier is None:
                    return random_bucket() <= percentage
            return _hash(prefix + identifier, seed, False) % 100 + 1 <= percentage

        return default_rollout

    def rollout(context: Context) -> bool:
        identifier = resolve(context)
        if identifier is None:
            # Nothing identifies the caller: `default` stickiness draws, a named field says no.
            return anonymous_draws and random_bucket() <= percentage
        return _hash(prefix + identifier, seed, False) % 100 + 1 <= percentage

    return rollout


def _flexible_rollout(parameters: Mapping[str, str], feature: str, _h: str | None, warn: Warn) -> Predicate:
    percentage = _percentage(parameters, "rollout", warn)
    if percentage is None:
        return never
    return _sticky_rollout(percentage, parameters.get("groupId", feature), parameters.get("stickiness"))


def _gradual(stickiness: str) -> Callable[[Mapping[str, str], str, str | None, Warn], Predicate]:
    def compile_gradual(parameters: Mapping[str, str], _f: str, _h: str | None, warn: Warn) -> Predicate:
        percentage = _percentage(parameters, "percentage", warn)
        group_id = parameters.get("groupId")
        if percentage is None or group_id is None:
            return never
        return _sticky_rollout(percentage, group_id, stickiness)

    return compile_gradual


def _gradual_random(parameters: Mapping[str, str], _f: str, _h: str | None, warn: Warn) -> Predicate:
    percentage = _percentage(parameters, "percentage", warn)
    if percentage is None or percentage == 0:
        return never
    if percentage == 100:
        return always
    # Unleash draws 1–99 and compares with `<`, so 100 % is always on and 0 % never.
    return lambda _context: random_bucket(99) < percentage


def _user_with_id(parameters: Mapping[str, str], _f: str, _h: str | None, _w: Warn) -> Predicate:
    if "userIds" not in parameters:
        return never
    user_ids = frozenset(part.strip() for part in parameters["userIds"].split(","))

    def listed(context: Context) -> bool:
        return context.user_id in user_ids

    return listed


def _remote_address(parameters: Mapping[str, str], _f: str, _h: str | None, warn: Warn) -> Predicate:
    if "IPs" not in parameters:
        return never
    networks = parse_networks(tuple(parameters["IPs"].split(",")), warn)

    def from_network(context: Context) -> bool:
        address = parse_address(context.remote_address)
        return address is not None and any(address in network for network in networks)

    return from_network


def _application_hostname(
    parameters: Mapping[str, str], _f: str, hostname: str | None, _w: Warn
) -> Predicate:
    hosts = {part.strip().lower() for part in parameters.get("hostNames", "").split(",")}
    # The host is fixed for the life of the process, so the answer is known when compiling.
    return always if hostname is not None and hostname.lower() in hosts else never


_RULES: dict[str, Callable[[Mapping[str, str], str, str | None, Warn], Predicate]] = {
    "default": _default,
    "flexibleRollout": _flexible_rollout,
    "gradualRolloutUserId": _gradual("userId"),
    "gradualRolloutSessionId": _gradual("sessionId"),
    "gradualRolloutRandom": _gradual_random,
    "userWithId": _user_with_id,
    "remoteAddress": _remote_address,
    "applicationHostname": _application_hostname,
}
