"""`change_control:` of an environment in clearance.yaml: the CAB rule a normal change needs, which
changes are standard (pre-approved) and who approves an emergency change.

    change_control:
      cab: "1 release-manager and 1 qa-lead"     # the `approvals:` rule language; `and` joins requirements
      standard: {types: [patch], max_risk: low}  # pre-approved: these release types at most this risk
      emergency: {types: [hotfix], approvers: "1 release-manager"}
      separation_of_duties: true                 # the requester and the release's creator may not decide
      risk: {medium: 3, high: 6, recent_deployments: 20}

`change_control: true` means exactly the values above; a key left out takes its value from there.
`standard: null` makes no change standard, `emergency: null` no change an emergency.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from clearance.gates.approvals.rules import Requirement, Role, parse_requirement
from clearance.planning.releases import ReleaseType

__all__ = [
    "ChangeControlPolicy",
    "EmergencyPolicy",
    "RiskLevel",
    "RiskSettings",
    "StandardPolicy",
    "change_control_value",
    "parse_rule",
]

_AND = re.compile(r"\s+and\s+")


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return tuple(RiskLevel).index(self)


def parse_rule(text: str) -> tuple[Requirement, ...]:
    """`"1 release-manager and 1 qa-lead"` or `"2 of [security, devops]"`: each part as in `approvals:`."""
    return tuple(parse_requirement(part) for part in _AND.split(text.strip()))


def _rule(value: object) -> object:
    if isinstance(value, str):
        return parse_rule(value)
    if isinstance(value, list | tuple):
        return tuple(r for v in value for r in (parse_rule(v) if isinstance(v, str) else (v,)))
    return value  # pydantic reports the wrong type


Rule = Annotated[tuple[Requirement, ...], BeforeValidator(_rule), Field(min_length=1)]


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _roles(rule: tuple[Requirement, ...]) -> tuple[Role, ...]:
    return tuple(dict.fromkeys(role for req in rule for role in req.roles))


class StandardPolicy(_Policy):
    """Pre-approved changes: of one of `types` (any type when left out) and at most `max_risk`."""

    types: tuple[ReleaseType, ...] | None = (ReleaseType.PATCH,)
    max_risk: RiskLevel = RiskLevel.LOW


class EmergencyPolicy(_Policy):
    """Changes of these release types are emergencies: `approvers` approve them (`--emergency`), and an
    approved emergency change may be deployed inside a freeze window."""

    types: Annotated[tuple[ReleaseType, ...], Field(min_length=1)] = (ReleaseType.HOTFIX,)
    approvers: Rule = parse_rule("1 release-manager")

    def roles(self) -> tuple[Role, ...]:
        return _roles(self.approvers)


class RiskSettings(_Policy):
    """Score thresholds of the risk levels, and how many recent deployments the failure rate reads."""

    medium: Annotated[int, Field(ge=1)] = 3
    high: Annotated[int, Field(ge=2)] = 6
    recent_deployments: Annotated[int, Field(ge=1, le=1000)] = 20

    @model_validator(mode="after")
    def _ordered(self) -> RiskSettings:
        if self.high <= self.medium:
            raise ValueError(f"high ({self.high}) must be above medium ({self.medium})")
        return self

    def level(self, score: int) -> RiskLevel:
        if score >= self.high:
            return RiskLevel.HIGH
        return RiskLevel.MEDIUM if score >= self.medium else RiskLevel.LOW


class ChangeControlPolicy(_Policy):
    """ITIL mode for one environment: every deployment there implements a change request."""

    cab: Rule = parse_rule("1 release-manager")
    standard: StandardPolicy | None = Field(default_factory=StandardPolicy)
    emergency: EmergencyPolicy | None = Field(default_factory=EmergencyPolicy)
    separation_of_duties: bool = True
    risk: RiskSettings = Field(default_factory=RiskSettings)

    @model_validator(mode="after")
    def _no_type_twice(self) -> ChangeControlPolicy:
        if self.standard is not None and self.standard.types and self.emergency is not None:
            both = [t.value for t in self.standard.types if t in self.emergency.types]
            if both:
                raise ValueError(
                    f"release type {', '.join(repr(t) for t in both)} is both standard and emergency"
                )
        return self

    def cab_roles(self) -> tuple[Role, ...]:
        return _roles(self.cab)


def change_control_value(value: Any) -> Any:
    """`change_control: true` turns ITIL mode on with the defaults, `false` off."""
    if value is True:
        return {}
    if value is False:
        return None
    return value
