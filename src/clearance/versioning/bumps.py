"""How much a range of changes bumps the version, and which changes decided it.

Each change has a level (major, minor, patch or none) from its type or breaking marks; a revert
and the change it reverts cancel each other when both are in the range; the range's level is the
highest that remains. `Release-As:` footers are collected here and applied in `next_version`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

from clearance.versioning.changes import Change


class Level(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, name: str) -> Level:
        return cls[name.upper()]


LEVEL_NAMES = ("major", "minor", "patch", "none")

DEFAULT_BUMPS: Mapping[str, Level] = MappingProxyType(
    {"feat": Level.MINOR, "fix": Level.PATCH, "perf": Level.PATCH, "revert": Level.PATCH}
)


@dataclass(frozen=True)
class BumpRules:
    """Bumps by type; `other` for commits that are not conventional; and what breaking and minor
    changes bump while the major version is 0 (SemVer §4: anything may change then)."""

    bumps: Mapping[str, Level] = field(default_factory=lambda: DEFAULT_BUMPS)
    other: Level = Level.NONE
    major_zero_breaking: Level = Level.MINOR
    major_zero_minor: Level = Level.MINOR

    def level_of(self, change: Change) -> tuple[Level, str]:
        message = change.message
        if message.breaking:
            titles = {note.title for note in message.notes}
            if message.type is None:
                return Level.MAJOR, "breaking: the header is a breaking-change note"
            if any(footer.token in titles for footer in message.footers):
                return Level.MAJOR, f"breaking: {message.notes[0].title} footer"
            return Level.MAJOR, "breaking: '!' after the type"
        if message.type is None:
            return self.other, "not a conventional commit"
        return self.bumps.get(message.type, Level.NONE), f"type {message.type}"

    def within_major_zero(self, level: Level) -> Level:
        """The level a change of `level` bumps while the major version is 0."""
        if level == Level.MAJOR:
            return self.major_zero_breaking
        if level == Level.MINOR:
            return self.major_zero_minor
        return level


@dataclass(frozen=True)
class Effect:
    """What one change does to the version; `cancelled_by` names the revert pairing that voids it."""

    change: Change
    level: Level
    reason: str
    cancelled_by: str | None = None

    @property
    def counts(self) -> bool:
        return self.cancelled_by is None


@dataclass(frozen=True)
class Decision:
    level: Level
    effects: list[Effect]
    release_as: tuple[str, Change] | None = None

    def decisive(self) -> list[Effect]:
        """The changes that set the level (none when nothing bumps)."""
        if self.level == Level.NONE:
            return []
        return [effect for effect in self.effects if effect.counts and effect.level == self.level]


def decide(changes: Sequence[Change], rules: BumpRules) -> Decision:
    """The bump of `changes` (newest first, as `git log` lists them)."""
    cancelled = cancelled_pairs(changes)
    effects = []
    for index, change in enumerate(changes):
        level, reason = rules.level_of(change)
        effects.append(Effect(change, level, reason, cancelled.get(index)))
    level = max((effect.level for effect in effects if effect.counts), default=Level.NONE)
    release_as = None
    for change in changes:  # the newest Release-As wins
        values = change.message.footer_values("Release-As")
        if values:
            release_as = (values[0], change)
            break
    return Decision(level, effects, release_as)


def cancelled_pairs(changes: Sequence[Change]) -> dict[int, str]:
    """index → why it does not count, for each revert whose reverted change is older in range.

    Newest first, so a revert of a revert cancels that revert and the original change stays."""
    cancelled: dict[int, str] = {}
    for index, change in enumerate(changes):
        message = change.message
        if index in cancelled or message.type != "revert":
            continue
        for older in range(index + 1, len(changes)):
            if older in cancelled:
                continue
            target = changes[older]
            by_hash = message.reverts is not None and target.hash.startswith(message.reverts)
            by_header = message.reverts is None and target.message.header == message.reverted_header
            if by_hash or by_header:
                cancelled[index] = f"reverts {target.ident}"
                cancelled[older] = f"reverted by {change.ident}"
                break
    return cancelled
