"""Semantic Versioning 2.0.0, exactly as semver.org writes it: parsing, printing and precedence.

Parsing follows the official semver.org regular expression (no `v` prefix, no leading zeros, no
empty identifiers, exactly three numeric parts). Precedence follows §11; build metadata never takes
part in it, but it does take part in `==` and `hash`, so two builds of one version stay distinct
records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from clearance.errors import InvalidVersion

# The official regex with `\d` spelt `[0-9]`: Python's `\d` also matches non-ASCII digits.
_NUMBER = r"0|[1-9][0-9]*"
_PRERELEASE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
_BUILD_ID = r"[0-9a-zA-Z-]+"
_SEMVER = re.compile(
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?"
)
_DIGITS = re.compile(r"[0-9]+")
_IDENTIFIER_CHARS = re.compile(r"[0-9a-zA-Z-]+")

_FORM_HINT = "a version looks like MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. 1.4.0 or 2.0.0-rc.1+build.5"

# One pre-release identifier as a sortable key: numeric identifiers sort before alphanumeric ones
# (§11.4.3), numbers by value and text by ASCII order.
_IdentifierKey = tuple[int, int, str]
PrecedenceKey = tuple[int, int, int, int, tuple[_IdentifierKey, ...]]


@dataclass(frozen=True)
class Version:
    """A SemVer 2.0.0 version. Numeric pre-release identifiers are ints, the others strs."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str | int, ...] = ()
    build: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Versions built in code must obey the same grammar as parsed ones, or str() and parse()
        # would stop being inverses.
        for name in ("major", "minor", "patch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidVersion(f"{name} must be a non-negative integer, got {value!r}")
        object.__setattr__(self, "prerelease", tuple(_checked_prerelease_id(i) for i in self.prerelease))
        object.__setattr__(self, "build", tuple(_checked_build_id(i) for i in self.build))

    @classmethod
    def parse(cls, text: str) -> Version:
        """Read `text` as a strict SemVer 2.0.0 version or raise `InvalidVersion` saying why."""
        match = _SEMVER.fullmatch(text)
        if match is None:
            reason, hint = _diagnose(text)
            raise InvalidVersion(
                f"{text!r} is not a SemVer 2.0.0 version: {reason}",
                hint=hint,
                data={"version": text, "reason": reason},
            )
        prerelease = match["prerelease"]
        build = match["build"]
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            tuple(_identifier(part) for part in prerelease.split(".")) if prerelease else (),
            tuple(build.split(".")) if build else (),
        )

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(part) for part in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def precedence_key(self) -> PrecedenceKey:
        """A key whose ordering is SemVer precedence (§11); equal keys mean equal precedence."""
        # A release sorts after every pre-release of the same MAJOR.MINOR.PATCH (§11.3).
        rank = 0 if self.prerelease else 1
        identifiers = tuple(
            (0, part, "") if isinstance(part, int) else (1, 0, part) for part in self.prerelease
        )
        return (self.major, self.minor, self.patch, rank, identifiers)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() < other.precedence_key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() <= other.precedence_key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() > other.precedence_key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.precedence_key() >= other.precedence_key()

    # Bumps follow npm's `semver.inc`: a pre-release of the target version is finished rather than
    # skipped, so 2.0.0-rc.1 bumped to major is 2.0.0, not 3.0.0.

    def bump_major(self) -> Version:
        if self.prerelease and self.minor == 0 and self.patch == 0:
            return Version(self.major, 0, 0)
        return Version(self.major + 1, 0, 0)

    def bump_minor(self) -> Version:
        if self.prerelease and self.patch == 0:
            return Version(self.major, self.minor, 0)
        return Version(self.major, self.minor + 1, 0)

    def bump_patch(self) -> Version:
        if self.prerelease:
            return Version(self.major, self.minor, self.patch)
        return Version(self.major, self.minor, self.patch + 1)


def compare(a: Version, b: Version) -> int:
    """-1, 0 or 1 as `a` has lower, equal or higher precedence than `b` (build metadata ignored)."""
    key_a, key_b = a.precedence_key(), b.precedence_key()
    return (key_a > key_b) - (key_a < key_b)


def _identifier(part: str) -> str | int:
    return int(part) if _DIGITS.fullmatch(part) else part


def _checked_prerelease_id(part: str | int) -> str | int:
    if isinstance(part, bool) or not isinstance(part, int | str):
        raise InvalidVersion(f"pre-release identifier {part!r} is neither a string nor an integer")
    if isinstance(part, int):
        if part < 0:
            raise InvalidVersion(f"pre-release identifier {part} is negative")
        return part
    problem = _prerelease_id_problem(part)
    if problem:
        raise InvalidVersion(f"cannot build a version: {problem}", hint=_FORM_HINT)
    # "7" and 7 are the same identifier; keep one spelling so equality and hashing agree.
    return _identifier(part)


def _checked_build_id(part: str) -> str:
    if not isinstance(part, str):
        raise InvalidVersion(f"build identifier {part!r} is not a string")
    problem = _build_id_problem(part)
    if problem:
        raise InvalidVersion(f"cannot build a version: {problem}", hint=_FORM_HINT)
    return part


def _prerelease_id_problem(part: str) -> str | None:
    if not part:
        return "it has an empty pre-release identifier"
    if not _IDENTIFIER_CHARS.fullmatch(part):
        return f"pre-release identifier {part!r} may only hold 0-9, A-Z, a-z and '-'"
    if _DIGITS.fullmatch(part) and len(part) > 1 and part.startswith("0"):
        return f"numeric pre-release identifier {part!r} has a leading zero"
    return None


def _build_id_problem(part: str) -> str | None:
    if not part:
        return "it has an empty build identifier"
    if not _IDENTIFIER_CHARS.fullmatch(part):
        return f"build identifier {part!r} may only hold 0-9, A-Z, a-z and '-'"
    return None


def _diagnose(text: str) -> tuple[str, str]:
    """Why `text` failed the grammar, and how to fix it: the first problem found, left to right."""
    if not text:
        return "it is empty", _FORM_HINT
    if text != text.strip():
        return "it has surrounding whitespace", "remove the spaces around the version"
    if text[0] in "vV" and _SEMVER.fullmatch(text[1:]):
        return f"it has a '{text[0]}' prefix", f"drop the '{text[0]}': write {text[1:]}"
    core, plus, build = text.partition("+")
    core, dash, prerelease = core.partition("-")
    parts = core.split(".")
    if len(parts) != 3:
        return f"it needs exactly three numeric parts MAJOR.MINOR.PATCH, it has {len(parts)}", _FORM_HINT
    for name, part in zip(("major", "minor", "patch"), parts, strict=True):
        if not _DIGITS.fullmatch(part):
            return f"the {name} part {part!r} is not a number", _FORM_HINT
        if len(part) > 1 and part.startswith("0"):
            return f"the {name} part {part!r} has a leading zero", f"write {int(part)} instead of {part}"
    if dash:
        for part in prerelease.split("."):
            problem = _prerelease_id_problem(part)
            if problem:
                return problem, _FORM_HINT
    if plus:
        for part in build.split("."):
            problem = _build_id_problem(part)
            if problem:
                return problem, _FORM_HINT
    return "it does not match MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]", _FORM_HINT
