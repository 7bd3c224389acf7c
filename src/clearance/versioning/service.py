"""The next version of a project or service, from its git history: the operation behind
`clearance version next`. Pure rules do the deciding; this module reads the commits and tags.
Release notes are `changelog.py`'s.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field

from clearance.errors import InvalidVersion, Refused, UsageError
from clearance.versioning.bumps import Decision, Level, decide
from clearance.versioning.changes import Change, changes_of
from clearance.versioning.history import Head, Repository
from clearance.versioning.next_version import ForcedVersion, Line, NextVersion, next_version
from clearance.versioning.semver import Version
from clearance.versioning.settings import VersioningSettings
from clearance.versioning.tags import ReleaseTag, TagFormat, TagIndex

SHALLOW_HINT = "run `git fetch --unshallow` (CI: fetch-depth: 0), or pass --allow-shallow to use the commits that are there"


@dataclass(frozen=True)
class Target:
    """What gets versioned: the whole project, or one service with its own path and tags."""

    service: str | None
    tags: TagFormat
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionOptions:
    channel: str | None = None
    from_tag: str | None = None
    allow_shallow: bool = False
    bump: Level | None = None
    release_as: str | None = None


@dataclass
class VersionReport:
    target: Target
    head: Head
    base: ReleaseTag | None  # the last final release the range starts after
    latest: ReleaseTag | None  # the highest release reachable (may be a pre-release)
    hotfix: bool
    decision: Decision
    next: NextVersion
    tag: str
    ignored_tags: list[str]
    warnings: list[str] = field(default_factory=list)


def targets(settings: VersioningSettings, service: str | None = None, every: bool = False) -> list[Target]:
    """The project, the service named, or (`every`) each service versioned on its own path."""
    if service is not None:
        chosen = [settings.service(service)]
    elif every or settings.versioned_services():
        chosen = settings.versioned_services()
        if not every and len(chosen) > 1:
            names = ", ".join(s.name for s in chosen)
            raise UsageError(
                f"this project versions its services separately ({names})",
                hint="name one with --service NAME, or list them all with --all",
            )
        if every and not chosen:
            raise UsageError(
                "no service has a `path:` in clearance.yaml, so the project has one version",
                hint="run without --all, or give services a path to version them separately",
            )
    else:
        return [Target(None, TagFormat(settings.tag_format))]
    for chosen_service in chosen:
        settings.check_path(chosen_service)
    return [Target(s.name, s.tags(), (s.path,) if s.path else ()) for s in chosen]


def plan_version(settings: VersioningSettings, target: Target, options: VersionOptions) -> VersionReport:
    """The next version of `target` from the commits since its last release."""
    repo = Repository(settings.root)
    head = repo.head()
    warnings = shallow_warnings(head, options.allow_shallow)
    every = TagIndex.build(repo.tags(), target.tags)
    base: ReleaseTag | None
    latest: ReleaseTag | None
    if options.from_tag is not None:
        base = latest = _release_tag(repo, every, options.from_tag, target.tags)
        hotfix = True
    else:
        base, latest = _last_releases(repo, every, head)
        hotfix = head.branch is not None and any(
            fnmatch.fnmatchcase(head.branch, pattern) for pattern in settings.maintenance_branches
        )
    changes = list(changes_in(repo, f"{base.commit}..{head.commit}" if base else head.commit, target.paths))
    decision = decide(changes, settings.rules)
    line = Line(
        base=base.version if base else None,
        latest=latest.version if latest else None,
        existing=every.versions(),
        hotfix=hotfix,
    )
    planned = next_version(
        line,
        decision.level,
        settings.rules,
        initial=settings.initial_version,
        channel=options.channel,
        forced=_forced(options, decision),
        bump_override=options.bump,
    )
    tag = target.tags.tag(planned.version)
    if planned.release_needed and any(t.name == tag for t in every.releases):
        raise Refused(
            f"{planned.version} is already released: tag {tag} exists (on another branch)",
            code="version-taken",
            hint="release from the branch that holds the tag, or use --from-tag for a maintenance line",
        )
    return VersionReport(target, head, base, latest, hotfix, decision, planned, tag, every.ignored, warnings)


def _last_releases(
    repo: Repository, every: TagIndex, head: Head
) -> tuple[ReleaseTag | None, ReleaseTag | None]:
    """The highest final release reachable from HEAD, and the highest release of any kind.

    Walking back from HEAD to the nearest final release is cheap (the commits since the last
    release are few); asking git which tags are reachable walks the whole history. So the walk
    comes first, and git is asked only if some release above what the walk found exists: one
    merged in from a maintenance line further back, or one on another branch."""
    tagged: dict[str, list[ReleaseTag]] = {}
    for release in every.releases:
        tagged.setdefault(release.commit, []).append(release)
    seen: list[ReleaseTag] = []
    for commit in repo.rev_list(head.commit):
        found = tagged.get(commit, [])
        seen += found
        if any(not release.version.is_prerelease for release in found):
            break
    known = {release.name for release in seen}
    top = max((release.version for release in seen), default=None)
    if any(
        release.name not in known and (top is None or release.version > top) for release in every.releases
    ):
        reachable = {name for name, _ in repo.tags(merged_into=head.commit)}
        seen = [release for release in every.releases if release.name in reachable]
    index = TagIndex(sorted(seen, key=lambda release: release.version.precedence_key(), reverse=True))
    return index.latest(stable=True), index.latest()


def changes_in(repo: Repository, revisions: str, paths: tuple[str, ...]) -> Iterator[Change]:
    for commit in repo.log([revisions], paths):
        yield from changes_of(commit)


def _release_tag(repo: Repository, index: TagIndex, name: str, tags: TagFormat) -> ReleaseTag:
    for tag in index.releases:
        if tag.name == name:
            return tag
    if tags.version_of(name) is None:
        raise UsageError(
            f"--from-tag {name} is not a release tag of the format {tags.tag(Version(1, 2, 3)).replace('1.2.3', '{version}')}"
        )
    repo.resolve(name)  # NotFound when there is no such tag
    raise UsageError(f"--from-tag {name}: no such tag")


def _forced(options: VersionOptions, decision: Decision) -> ForcedVersion | None:
    if options.release_as is not None:
        return ForcedVersion(Version.parse(options.release_as.removeprefix("v")), "--release-as")
    if decision.release_as is None:
        return None
    text, change = decision.release_as
    source = f"Release-As in {change.ident}"
    try:
        return ForcedVersion(Version.parse(text.strip().removeprefix("v")), source)
    except InvalidVersion as exc:
        raise InvalidVersion(f"{source}: {exc.message}", hint=exc.hint) from exc


def shallow_warnings(head: Head, allow_shallow: bool) -> list[str]:
    """Refused in a shallow clone (the history may be cut short) unless allowed; then a warning."""
    if not head.shallow:
        return []
    if not allow_shallow:
        raise Refused(
            "this is a shallow clone: the history since the last release may be incomplete",
            code="shallow-clone",
            hint=SHALLOW_HINT,
        )
    return ["shallow clone: using only the commits that were fetched; the version may be wrong"]
