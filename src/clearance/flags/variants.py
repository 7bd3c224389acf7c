"""Variants: which of a flag's named values a caller gets, and the `Variant` answer itself.

Overrides win first (a listed user always gets that variant); otherwise the caller's sticky
identifier is hashed with seed 86028157 into 1 … total weight and the variants are walked in order,
accumulating weight, until the running total reaches that bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clearance.flags.bucketing import VARIANT_SEED, normalized_hash, random_bucket, stickiness_resolver
from clearance.flags.context import Context, field_getter
from clearance.flags.model import Payload, VariantDefinition


@dataclass(frozen=True, slots=True)
class Variant:
    """What `get_variant` answers; `enabled` is False for the `disabled` placeholder."""

    name: str
    enabled: bool
    feature_enabled: bool
    payload: Payload | None = None

    def to_dict(self) -> dict[str, object]:
        """The shape of Unleash's client specification (`feature_enabled` in snake case)."""
        result: dict[str, object] = {
            "name": self.name,
            "enabled": self.enabled,
            "feature_enabled": self.feature_enabled,
        }
        if self.payload is not None:
            result["payload"] = {"type": self.payload.type, "value": self.payload.value}
        return result


DISABLED = Variant("disabled", enabled=False, feature_enabled=False)
NO_VARIANT = Variant("disabled", enabled=False, feature_enabled=True)

VariantPicker = Callable[[Context], "Variant | None"]


def compile_variants(
    definitions: tuple[VariantDefinition, ...], group_id: str, stickiness: str | None
) -> VariantPicker:
    """A picker for these variants (None when there are none to pick from)."""
    answers = tuple(Variant(d.name, True, True, d.payload) for d in definitions)
    total = sum(d.weight for d in definitions)
    overrides = tuple(
        (_override_getter(override.context_name), frozenset(override.values), answer)
        for definition, answer in zip(definitions, answers, strict=True)
        for override in definition.overrides
    )
    cumulative: list[tuple[int, Variant]] = []
    running = 0
    for definition, answer in zip(definitions, answers, strict=True):
        running += definition.weight
        cumulative.append((running, answer))
    resolve = stickiness_resolver(stickiness)

    def pick(context: Context) -> Variant | None:
        if not answers or total == 0:
            return None
        for get, values, answer in overrides:
            if get(context) in values:
                return answer
        identifier = resolve(context) if resolve is not None else None
        if identifier is None:
            target = random_bucket(total) - 1
        else:
            target = normalized_hash(group_id, identifier, total, VARIANT_SEED)
        for reached, answer in cumulative:
            if reached >= target:
                return answer
        return None

    return pick


def _override_getter(context_name: str) -> Callable[[Context], str | None]:
    if context_name == "currentTime":
        # An override names exact times; an absent time is not "now" here.
        def current_time(context: Context) -> str | None:
            return context.current_time

        return current_time
    return field_getter(context_name)
