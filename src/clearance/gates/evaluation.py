"""Judging a release for one environment: run each configured gate's check, then apply the newest
waiver of each gate while it is valid. Pure: the store is read by `gates.verdicts`, which hands the
facts in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from clearance.gates.base import GateCheck, GateFacts, GateResult, GateStatus
from clearance.gates.policies import GatesPolicy

__all__ = ["GateVerdict", "Waiver", "evaluate"]


@dataclass(frozen=True, kw_only=True)
class Waiver:
    gate: str
    reason: str
    until: date  # inclusive
    waived_by: str
    id: int = 0  # the store's: a higher id is a newer waiver

    def active_on(self, day: date) -> bool:
        return day <= self.until

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "gate": self.gate,
            "reason": self.reason,
            "until": self.until.isoformat(),
            "waived_by": self.waived_by,
        }


@dataclass(frozen=True, kw_only=True)
class GateVerdict:
    """One gate's result and the waiver that lets it through, if any."""

    result: GateResult
    waiver: Waiver | None = None

    @property
    def gate(self) -> str:
        return self.result.gate

    @property
    def status(self) -> str:
        """pass | fail | missing, or `waived` when a valid waiver lets a failing gate through."""
        if self.waiver is not None and not self.result.passed:
            return "waived"
        return self.result.status.value

    @property
    def blocks(self) -> bool:
        return self.status in (GateStatus.FAIL.value, GateStatus.MISSING.value)

    def to_json(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "status": self.status,
            "result": self.result.status.value,
            "reason": self.result.reason,
            "evidence": [e.to_json() for e in self.result.evidence],
            "details": dict(self.result.details),
            "waiver": self.waiver.to_json() if self.waiver else None,
        }


def evaluate(
    policy: GatesPolicy | None,
    facts: GateFacts,
    waivers: Sequence[Waiver],
    checks: Mapping[str, GateCheck],
) -> list[GateVerdict]:
    """Every configured gate, in the order clearance.yaml's schema lists them."""
    if policy is None:
        return []
    today = facts.now.date()
    verdicts = []
    for name, settings in policy.configured().items():
        result = checks[name].check(settings, facts)
        # The newest waiver of a gate replaces the earlier ones: waiving again may shorten one.
        newest = max((w for w in waivers if w.gate == name), key=lambda w: w.id, default=None)
        waiver = newest if newest is not None and newest.active_on(today) else None
        verdicts.append(GateVerdict(result=result, waiver=waiver))
    return verdicts


def blocking(verdicts: Sequence[GateVerdict]) -> list[GateVerdict]:
    return [v for v in verdicts if v.blocks]
