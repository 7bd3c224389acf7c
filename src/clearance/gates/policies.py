"""The gate policies as written under an environment's `gates:` in clearance.yaml, and the public keys
it trusts (`trusted_keys:`). Validated at load time, so a wrong gate is a config error with its line."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from clearance.gates.approvals.rules import ApprovalPolicy
from clearance.gates.evidence import SarifLevel, Severity
from clearance.planning.windows import WindowsPolicy
from clearance.project.durations import parse_duration

__all__ = [
    "CoveragePolicy",
    "FreshnessPolicy",
    "GatesPolicy",
    "LicensesPolicy",
    "SastPolicy",
    "TestsPolicy",
    "TrustedKey",
    "VulnerabilityIgnore",
    "VulnerabilityPolicy",
]

SEVERITY_NAMES = tuple(s.value.lower() for s in Severity)


def _public_key(value: str) -> str:
    from clearance.gates.artifacts.keys import load_public_key  # cryptography loads only when used

    load_public_key(value)
    return value


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TestsPolicy(_Policy):
    __test__ = False  # not a pytest class, despite its name
    max_failed: Annotated[int, Field(ge=0)] = 0


class CoveragePolicy(_Policy):
    min_line: Annotated[float, Field(ge=0, le=100)] | None = None
    min_branch: Annotated[float, Field(ge=0, le=100)] | None = None


class VulnerabilityIgnore(_Policy):
    """One accepted vulnerability, until a day (inclusive); after it, the gate fails and says so."""

    id: Annotated[str, Field(min_length=1)]
    until: date
    reason: Annotated[str, Field(min_length=1)]


class VulnerabilityPolicy(_Policy):
    max: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    ignore: tuple[VulnerabilityIgnore, ...] = ()

    @field_validator("max")
    @classmethod
    def _known_severities(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            if name.lower() not in SEVERITY_NAMES:
                raise ValueError(f"unknown severity '{name}': use {', '.join(SEVERITY_NAMES)}")
        return {name.lower(): count for name, count in value.items()}


class SastPolicy(_Policy):
    max_level: SarifLevel = "warning"


class LicensesPolicy(_Policy):
    deny: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Field(min_length=1)]


class FreshnessPolicy(_Policy):
    max_age: Annotated[float, BeforeValidator(parse_duration)]  # `7d`, `168h`, `1w`


class GatesPolicy(_Policy):
    """The gates of one environment. A new kind of gate adds its key here and registers its check."""

    tests: TestsPolicy | None = None
    coverage: CoveragePolicy | None = None
    vulnerabilities: VulnerabilityPolicy | None = None
    sast: SastPolicy | None = None
    licenses: LicensesPolicy | None = None
    signature: Literal["required"] | None = None
    evidence_fresh: FreshnessPolicy | None = None
    approvals: ApprovalPolicy | None = None
    windows: WindowsPolicy | None = None

    def configured(self) -> dict[str, object]:
        """gate name -> policy, for the gates this environment sets, in file order of the schema."""
        return {
            name: getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None
        }


class TrustedKey(_Policy):
    """A public key whose signatures this environment accepts (Ed25519, PEM, as `keys generate` writes)."""

    name: Annotated[str, Field(min_length=1)]
    public_key: Annotated[str, AfterValidator(_public_key)]
