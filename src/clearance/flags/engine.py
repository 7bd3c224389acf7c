"""The evaluator: a snapshot compiled once into per-flag closures, then `is_enabled` / `get_variant`.

Compiling does all the parsing (numbers, dates, versions, CIDRs, regexes, rollout percentages) and
reports every problem once, as a warning; evaluating only reads the context and never raises into
the application: an unexpected failure logs once per flag and answers "off".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clearance.flags.constraints import Predicate, always, never
from clearance.flags.context import Context
from clearance.flags.model import Dependency, Feature, Snapshot
from clearance.flags.strategies import compile_strategy
from clearance.flags.variants import DISABLED, NO_VARIANT, Variant, VariantPicker, compile_variants

logger = logging.getLogger("clearance.flags")

_EMPTY_CONTEXT = Context()


@dataclass(frozen=True)
class _Compiled:
    rule: Predicate  # enabled flag and strategies, without dependencies
    pick: VariantPicker  # strategy variants, else the flag's own
    has_dependencies: bool


class Evaluator:
    """Answers flag questions for one environment's snapshot. Build one per snapshot; share it.

    `hostname` is the host `applicationHostname` strategies compare with (the flag service passes
    the machine's name; None means no host matches).
    """

    def __init__(self, snapshot: Snapshot, *, hostname: str | None = None) -> None:
        self.snapshot = snapshot
        warnings: list[str] = []
        segments = {segment.id: segment for segment in snapshot.segments}
        compiled: dict[str, _Compiled] = {}
        for feature in snapshot.features:

            def warn(message: str, flag: str = feature.name) -> None:
                warnings.append(f"flag {flag!r}: {message}")

            compiled[feature.name] = _compile_feature(feature, segments, hostname, warn)
        self._compiled = compiled
        self._enabled: dict[str, Predicate] = {
            feature.name: _with_dependencies(feature, compiled) for feature in snapshot.features
        }
        self._failed: set[str] = set()
        self.warnings: tuple[str, ...] = tuple(warnings)
        for message in self.warnings:
            logger.warning(message)

    def __contains__(self, name: object) -> bool:
        return name in self._enabled

    def is_enabled(self, name: str, context: Context | Mapping[str, Any] | None = None) -> bool:
        """Whether flag `name` is on for `context`; unknown flags are off."""
        enabled = self._enabled.get(name)
        if enabled is None:
            return False
        if type(context) is not Context:
            context = _as_context(context)
        try:
            return enabled(context)
        except Exception:
            self._report_failure(name)
            return False

    def get_variant(self, name: str, context: Context | Mapping[str, Any] | None = None) -> Variant:
        """The variant of flag `name` for `context`; `disabled` when the flag is off or has none."""
        enabled = self._enabled.get(name)
        if enabled is None:
            return DISABLED
        if type(context) is not Context:
            context = _as_context(context)
        try:
            if not enabled(context):
                return DISABLED
            return self._compiled[name].pick(context) or NO_VARIANT
        except Exception:
            self._report_failure(name)
            return DISABLED

    def _report_failure(self, name: str) -> None:
        if name not in self._failed:
            self._failed.add(name)
            logger.exception("flag %r failed to evaluate; answering off", name)


def _as_context(context: object) -> Context:
    if context is None:
        return _EMPTY_CONTEXT
    if isinstance(context, Context):
        return context
    if isinstance(context, Mapping):
        return Context.from_dict(context)
    raise TypeError(f"a flag context is a Context or a mapping, not {type(context).__name__}")


def _compile_feature(
    feature: Feature, segments: Mapping[int, Any], hostname: str | None, warn: Any
) -> _Compiled:
    if not feature.enabled:
        rule: Predicate = never
    elif not feature.strategies:
        rule = always
    else:
        rules = tuple(compile_strategy(s, feature.name, segments, hostname, warn) for s in feature.strategies)
        rule = _any_of(tuple(r for r in rules if r is not never))
    own_variants = feature.variants[0].stickiness if feature.variants else None
    fallback = compile_variants(feature.variants, feature.name, own_variants)
    # Only strategies that carry a variants list take part in choosing one (an empty list defers to
    # the flag's variants), in order, as in Unleash.
    strategy_variants = tuple(
        (
            compile_strategy(s, feature.name, segments, hostname, _ignore),
            compile_variants(
                s.variants, s.parameters.get("groupId", feature.name), s.parameters.get("stickiness")
            )
            if s.variants
            else fallback,
        )
        for s in feature.strategies
        if s.variants is not None
    )
    if not strategy_variants:
        pick = fallback
    else:

        def pick(context: Context) -> Variant | None:
            for applies, choose in strategy_variants:
                if applies(context):
                    return choose(context)
            return fallback(context)

    return _Compiled(rule=rule, pick=pick, has_dependencies=bool(feature.dependencies))


def _ignore(_message: str) -> None:
    """Strategies are compiled twice (for enabling and for variants); warn only the first time."""


def _any_of(rules: tuple[Predicate, ...]) -> Predicate:
    if not rules:
        return never
    if always in rules:
        return always
    if len(rules) == 1:
        return rules[0]

    def any_rule(context: Context) -> bool:
        for rule in rules:  # noqa: SIM110 - a generator would cost a frame per evaluation
            if rule(context):
                return True
        return False

    return any_rule


def _with_dependencies(feature: Feature, compiled: Mapping[str, _Compiled]) -> Predicate:
    rule = compiled[feature.name].rule
    if not feature.dependencies or rule is never:
        return rule
    checks = tuple(_dependency_check(dependency, compiled) for dependency in feature.dependencies)
    if never in checks:
        return never

    def enabled(context: Context) -> bool:
        for check in checks:
            if not check(context):
                return False
        return rule(context)

    return enabled


def _dependency_check(dependency: Dependency, compiled: Mapping[str, _Compiled]) -> Predicate:
    parent = compiled.get(dependency.feature)
    # Only one level of dependency is allowed: a parent that itself depends on a flag never satisfies.
    if parent is None or parent.has_dependencies:
        return never
    expected = dependency.enabled
    variants = frozenset(dependency.variants)
    parent_rule, parent_pick = parent.rule, parent.pick

    def satisfied(context: Context) -> bool:
        if variants:
            variant = parent_pick(context)
            if variant is not None and variant.name not in variants:
                return False
        return parent_rule(context) == expected

    return satisfied
