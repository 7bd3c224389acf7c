"""Roles and the approval rule an environment declares under `gates: approvals:` in clearance.yaml.

Syntax, one requirement per entry of `require` (every entry must be met, each by different people);
`and` joins requirements in one entry, as in `change_control: cab:`:

    gates:
      approvals:
        require: ["1 qa-lead", "1 release-manager"]   # N ROLE
        # require: "1 qa-lead and 1 release-manager"  # the same rule
        # require: ["2 of [security, devops]"]        # N of [ROLE, ROLE, …]: any of those roles
        separation_of_duties: true   # default: true when the environment is `production: true`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from clearance.project.suggestions import did_you_mean

__all__ = ["ApprovalPolicy", "Requirement", "Role", "parse_requirement", "parse_role"]


class Role(StrEnum):
    RELEASE_MANAGER = "release-manager"
    PRODUCT_OWNER = "product-owner"
    QA_LEAD = "qa-lead"
    DEVOPS = "devops"
    SECURITY = "security"
    VIEWER = "viewer"


ROLE_NAMES = tuple(r.value for r in Role)

_SINGLE = re.compile(r"(\d+)\s+(\S+)")
_ANY_OF = re.compile(r"(\d+)\s+of\s+\[([^\]]*)\]")
_AND = re.compile(r"\s+and\s+")


def parse_role(name: str) -> Role:
    """The role called `name`; a ValueError with a did-you-mean otherwise."""
    try:
        return Role(name.strip())
    except ValueError:
        raise ValueError(f"unknown role '{name}'{did_you_mean(name.strip(), ROLE_NAMES)}") from None


@dataclass(frozen=True)
class Requirement:
    """`count` different people, each holding one of `roles`."""

    count: int
    roles: tuple[Role, ...]

    def __str__(self) -> str:
        if len(self.roles) == 1:
            return f"{self.count} {self.roles[0]}"
        return f"{self.count} of [{', '.join(self.roles)}]"


def parse_requirement(text: str) -> Requirement:
    """`"1 qa-lead"` or `"2 of [security, devops]"`; a ValueError that says what is wrong otherwise."""
    spec = text.strip()
    if match := _ANY_OF.fullmatch(spec):
        names = [n for n in (part.strip() for part in match.group(2).split(",")) if n]
        if not names:
            raise ValueError(f"'{text}' names no role inside [ ]")
        roles = tuple(dict.fromkeys(parse_role(n) for n in names))
    elif match := _SINGLE.fullmatch(spec):
        roles = (parse_role(match.group(2)),)
    else:
        raise ValueError(f"'{text}' is not a requirement: write 'N ROLE' or 'N of [ROLE, ROLE]'")
    count = int(match.group(1))
    if count < 1:
        raise ValueError(f"'{text}' asks for {count} approvals: at least 1")
    if Role.VIEWER in roles:
        raise ValueError(f"'{text}': a viewer cannot approve")
    return Requirement(count=count, roles=roles)


def _requirements(value: object) -> object:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return value  # pydantic reports the wrong type
    entries = (_AND.split(v.strip()) if isinstance(v, str) else [v] for v in value)
    return tuple(parse_requirement(r) if isinstance(r, str) else r for entry in entries for r in entry)


class ApprovalPolicy(BaseModel):
    """The approvals an environment needs before a deployment."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    require: Annotated[tuple[Requirement, ...], BeforeValidator(_requirements), Field(min_length=1)]
    # None: on for production environments, off elsewhere (decided where `production` is known).
    separation_of_duties: bool | None = None

    def roles(self) -> tuple[Role, ...]:
        """Every role some requirement accepts: the roles that may approve or reject."""
        return tuple(dict.fromkeys(role for req in self.require for role in req.roles))

    def separated(self, production: bool) -> bool:
        return production if self.separation_of_duties is None else self.separation_of_duties
