"""The next version: the bump applied to the current release, on a channel or a maintenance line.

- No release yet: the configured initial version (0.1.0 unless set).
- Major 0: breaking changes bump minor and features bump minor unless configured otherwise.
- A pre-release channel (`beta`, `rc`, `alpha`) numbers `1.4.0-beta.N` after the existing tags;
  without a channel, pending pre-releases of a version are finished (`1.4.0-rc.2` → `1.4.0`).
- A maintenance (hotfix) line only takes patches: `1.2.4` even when main is at 1.5.
- `Release-As:` (or `--release-as`) names the version, which must be above the current one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from clearance.errors import Refused
from clearance.versioning.bumps import BumpRules, Level
from clearance.versioning.semver import Version

CHANNELS = ("alpha", "beta", "rc")


@dataclass(frozen=True)
class Line:
    """Where the next version starts from: the last final release reachable from HEAD, the
    highest release (final or pre-release) reachable, and every release version that exists."""

    base: Version | None
    latest: Version | None = None
    existing: Collection[Version] = ()
    hotfix: bool = False


@dataclass(frozen=True)
class ForcedVersion:
    """A version named by a `Release-As:` footer or by the command line, and where."""

    version: Version
    source: str


@dataclass(frozen=True)
class NextVersion:
    version: Version
    level: Level  # the bump applied, after the major-0 and maintenance-line rules
    release_needed: bool
    reasons: list[str] = field(default_factory=list)


def next_version(
    line: Line,
    level: Level,
    rules: BumpRules,
    *,
    initial: Version,
    channel: str | None = None,
    forced: ForcedVersion | None = None,
    bump_override: Level | None = None,
) -> NextVersion:
    """Apply `level` (or `bump_override`, which no rule adjusts) to `line`."""
    reasons: list[str] = []
    if forced is not None:
        _check_forced(forced, line)
        reasons.append(f"{forced.source} sets {forced.version}")
        stable = Version(forced.version.major, forced.version.minor, forced.version.patch)
        if forced.version.is_prerelease or channel is None:
            return NextVersion(forced.version, level, True, reasons)
        return NextVersion(_on_channel(stable, channel, line.existing), level, True, reasons)
    if line.base is None and line.latest is None:
        reasons.append(f"first release: the initial version {initial}")
        stable, applied = initial, level
    else:
        stable, applied = _bumped(line, level, rules, bump_override, reasons)
        if applied == Level.NONE:
            return NextVersion(line.latest or line.base or initial, Level.NONE, False, reasons)
    if channel is not None:
        return NextVersion(_on_channel(stable, channel, line.existing), applied, True, reasons)
    return NextVersion(stable, applied, True, reasons)


def _bumped(
    line: Line, level: Level, rules: BumpRules, bump_override: Level | None, reasons: list[str]
) -> tuple[Version, Level]:
    base = line.base if line.base is not None else Version(0, 0, 0)
    applied = level
    if bump_override is not None:
        applied = bump_override
        reasons.append(f"bump forced to {applied}")
    elif base.major == 0 and level in (Level.MAJOR, Level.MINOR):
        applied = rules.within_major_zero(level)
        if applied != level:
            reasons.append(f"major version 0: a {level} change bumps {applied}")
    if line.hotfix and applied > Level.PATCH:
        reasons.append(f"maintenance line: a {applied} change is released as a patch")
        applied = Level.PATCH
    pending = line.latest if line.latest is not None and line.latest.is_prerelease else None
    if applied == Level.NONE:
        if pending is not None and (line.base is None or pending > line.base):
            final = _core(pending)
            reasons.append(f"pre-release {pending} is finished as {final}")
            return final, Level.PATCH
        return base, Level.NONE
    stable = _apply(base, applied)
    if line.hotfix:
        while stable in line.existing:  # a patch of this line already released elsewhere
            stable = stable.bump_patch()
    if pending is not None and (line.base is None or pending > line.base) and _core(pending) > stable:
        reasons.append(f"pre-release {pending} is finished as {_core(pending)}")
        stable = _core(pending)
    return stable, applied


def _apply(base: Version, level: Level) -> Version:
    if level == Level.MAJOR:
        return base.bump_major()
    if level == Level.MINOR:
        return base.bump_minor()
    return base.bump_patch()


def _core(version: Version) -> Version:
    return Version(version.major, version.minor, version.patch)


def _on_channel(stable: Version, channel: str, existing: Collection[Version]) -> Version:
    """`stable-channel.N`, N one above the highest such tag."""
    numbers = [
        version.prerelease[1]
        for version in existing
        if _core(version) == stable
        and len(version.prerelease) == 2
        and version.prerelease[0] == channel
        and isinstance(version.prerelease[1], int)
    ]
    return Version(stable.major, stable.minor, stable.patch, (channel, max(numbers, default=0) + 1))


def _check_forced(forced: ForcedVersion, line: Line) -> None:
    current = line.latest or line.base
    if current is not None and forced.version <= current:
        raise Refused(
            f"{forced.source} asks for {forced.version}, which is not above the current version {current}",
            code="release-as-too-low",
            hint="versions only go up: give --release-as a higher version"
            if forced.source == "--release-as"
            else "versions only go up: a new commit with a Release-As: footer naming a higher version wins",
            data={"requested": str(forced.version), "current": str(current)},
        )
