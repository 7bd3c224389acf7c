"""Feature toggles as Unleash's client API serves them (`GET /api/client/features`), as frozen data.

One `Snapshot` is the whole configuration of one environment: the flag server builds one per
environment and SDKs evaluate against it. Unknown operators and strategy names are kept verbatim
so that stored data from a newer server still loads; the engine evaluates them to false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_NO_PARAMETERS: Mapping[str, str] = MappingProxyType({})

# Operators of Unleash's constraint language, as the client API spells them.
IN = "IN"
NOT_IN = "NOT_IN"
STR_STARTS_WITH = "STR_STARTS_WITH"
STR_ENDS_WITH = "STR_ENDS_WITH"
STR_CONTAINS = "STR_CONTAINS"
NUM_EQ = "NUM_EQ"
NUM_GT = "NUM_GT"
NUM_GTE = "NUM_GTE"
NUM_LT = "NUM_LT"
NUM_LTE = "NUM_LTE"
DATE_AFTER = "DATE_AFTER"
DATE_BEFORE = "DATE_BEFORE"
SEMVER_EQ = "SEMVER_EQ"
SEMVER_GT = "SEMVER_GT"
SEMVER_GTE = "SEMVER_GTE"
SEMVER_LT = "SEMVER_LT"
SEMVER_LTE = "SEMVER_LTE"
IN_CIDR = "IN_CIDR"
REGEX = "REGEX"

# Operators whose operand is the list `values`; every other operator reads the single `value`.
LIST_OPERATORS = frozenset({IN, NOT_IN, STR_STARTS_WITH, STR_ENDS_WITH, STR_CONTAINS, IN_CIDR})
OPERATORS = LIST_OPERATORS | {
    NUM_EQ,
    NUM_GT,
    NUM_GTE,
    NUM_LT,
    NUM_LTE,
    DATE_AFTER,
    DATE_BEFORE,
    SEMVER_EQ,
    SEMVER_GT,
    SEMVER_GTE,
    SEMVER_LT,
    SEMVER_LTE,
    REGEX,
}

STRATEGIES = frozenset(
    {
        "default",
        "flexibleRollout",
        "userWithId",
        "remoteAddress",
        "applicationHostname",
        "gradualRolloutUserId",
        "gradualRolloutSessionId",
        "gradualRolloutRandom",
    }
)


@dataclass(frozen=True)
class Constraint:
    """`context_name OPERATOR value(s)`, optionally inverted; all constraints of a strategy must hold."""

    context_name: str
    operator: str
    values: tuple[str, ...] = ()
    value: str | None = None
    inverted: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True)
class Segment:
    """A named, reusable list of constraints that strategies refer to by id."""

    id: int
    constraints: tuple[Constraint, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class Payload:
    type: str
    value: str


@dataclass(frozen=True)
class Override:
    """Users whose `context_name` is one of `values` always get the variant that holds this."""

    context_name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class VariantDefinition:
    name: str
    weight: int
    payload: Payload | None = None
    stickiness: str | None = None
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Strategy:
    """One way a flag can be on. `variants is None` (absent) differs from `()` (present, empty)."""

    name: str
    parameters: Mapping[str, str] = field(default_factory=lambda: _NO_PARAMETERS)
    constraints: tuple[Constraint, ...] = ()
    segments: tuple[int, ...] = ()
    variants: tuple[VariantDefinition, ...] | None = None


@dataclass(frozen=True)
class Dependency:
    """The parent flag must be enabled (or disabled, with `enabled=False`), optionally on `variants`."""

    feature: str
    enabled: bool = True
    variants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feature:
    name: str
    enabled: bool
    strategies: tuple[Strategy, ...] = ()
    variants: tuple[VariantDefinition, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    type: str | None = None
    project: str = "default"
    description: str | None = None
    impression_data: bool = False
    stale: bool = False


@dataclass(frozen=True)
class Snapshot:
    """Everything one environment's SDKs need: its features and the segments they use."""

    features: tuple[Feature, ...] = ()
    segments: tuple[Segment, ...] = ()
    version: int = 2

    def feature(self, name: str) -> Feature | None:
        for feature in self.features:
            if feature.name == name:
                return feature
        return None
