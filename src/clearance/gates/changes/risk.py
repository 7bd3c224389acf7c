"""Scoring a change's risk and classifying it as standard, normal or emergency. Pure: the facts are
read by `changes.service`.

Each factor adds points, and says why:
- release type: major 3, hotfix 2, minor, prerelease and continuous 1, patch 0;
- size: the larger of the release's scope (work items) and its notes' entries (one per commit for
  `release create --from-git`): up to 5 adds 0, up to 15 adds 1, more adds 2; none at all adds 1,
  since nobody has said what the change contains;
- gates that did not pass (failed, missing or waived), windows and approvals aside: 1 each, at most 3;
- rollback plan: none adds 2;
- change failure rate of the services in the environment over their recent finished deployments
  (failed or rolled back out of all): none yet adds 1 (a first deployment), under 15% adds 0 when
  there was no failure and 1 otherwise, under 30% adds 2, more adds 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clearance.gates.changes.policy import ChangeControlPolicy, RiskLevel, RiskSettings

__all__ = ["Assessment", "ChangeKind", "RiskFactor", "RiskFacts", "assess", "classify", "notes_entries"]

TYPE_POINTS = {"major": 3, "hotfix": 2, "minor": 1, "prerelease": 1, "continuous": 1, "patch": 0}
FAILED_STATES = frozenset({"failed", "rolled_back"})
FINISHED_STATES = FAILED_STATES | {"succeeded"}
_ENTRY = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)


class ChangeKind(StrEnum):
    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


@dataclass(frozen=True, kw_only=True)
class RiskFacts:
    release_type: str
    work_items: int
    notes_entries: int
    rollback_plan: str
    unpassed_gates: tuple[str, ...]  # "coverage: fail", "vulnerabilities: waived"
    recent_states: tuple[str, ...]  # states of the recent finished deployments, newest first


@dataclass(frozen=True, kw_only=True)
class RiskFactor:
    factor: str  # type | size | gates | rollback_plan | change_failure_rate
    points: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"factor": self.factor, "points": self.points, "detail": self.detail}


@dataclass(frozen=True, kw_only=True)
class Assessment:
    score: int
    level: RiskLevel
    factors: tuple[RiskFactor, ...]


def notes_entries(notes: str) -> int:
    """The list items of release notes (Markdown `-`, `*`, `+` or `1.`)."""
    return len(_ENTRY.findall(notes))


def _size(facts: RiskFacts) -> RiskFactor:
    size = max(facts.work_items, facts.notes_entries)
    said = f"{facts.work_items} work item(s), {facts.notes_entries} entr(ies) in the notes"
    if size == 0:
        return RiskFactor(factor="size", points=1, detail="no scope and no notes entries: contents unknown")
    points = 0 if size <= 5 else 1 if size <= 15 else 2
    label = ("small", "medium", "large")[points]
    return RiskFactor(factor="size", points=points, detail=f"{label} change: {said}")


def _failure_rate(states: tuple[str, ...]) -> RiskFactor:
    if not states:
        return RiskFactor(
            factor="change_failure_rate", points=1, detail="no finished deployment here yet: a first change"
        )
    failed = sum(1 for s in states if s in FAILED_STATES)
    rate = failed / len(states)
    points = 3 if rate >= 0.30 else 2 if rate >= 0.15 else 1 if failed else 0
    detail = f"{rate:.0%} ({failed} of the last {len(states)} deployments failed or were rolled back)"
    return RiskFactor(factor="change_failure_rate", points=points, detail=detail)


def assess(facts: RiskFacts, settings: RiskSettings) -> Assessment:
    type_points = TYPE_POINTS.get(facts.release_type, 1)
    factors = [
        RiskFactor(factor="type", points=type_points, detail=f"{facts.release_type} release"),
        _size(facts),
    ]
    if facts.unpassed_gates:
        factors.append(
            RiskFactor(
                factor="gates",
                points=min(3, len(facts.unpassed_gates)),
                detail=f"gates not passed: {', '.join(facts.unpassed_gates)}",
            )
        )
    if not facts.rollback_plan.strip():
        factors.append(RiskFactor(factor="rollback_plan", points=2, detail="no rollback plan"))
    factors.append(_failure_rate(facts.recent_states))
    score = sum(f.points for f in factors)
    return Assessment(score=score, level=settings.level(score), factors=tuple(factors))


def classify(policy: ChangeControlPolicy, release_type: str, level: RiskLevel) -> ChangeKind:
    """Emergency by release type first (a hotfix is urgent whatever its risk); then standard when the
    type is pre-approved and the risk within bounds; everything else is normal."""
    if policy.emergency is not None and release_type in policy.emergency.types:
        return ChangeKind.EMERGENCY
    standard = policy.standard
    if standard is None or (standard.types is not None and release_type not in standard.types):
        return ChangeKind.NORMAL
    return ChangeKind.STANDARD if level.rank <= standard.max_risk.rank else ChangeKind.NORMAL
