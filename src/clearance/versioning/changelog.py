"""Release notes from the history: of a range, of the next release, of every release (a whole
changelog), and what `clearance release create --from-git` records and tags.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from clearance.errors import Refused
from clearance.versioning.bumps import cancelled_pairs
from clearance.versioning.changes import Change, changes_of
from clearance.versioning.history import Head, Repository
from clearance.versioning.links import Links
from clearance.versioning.notes import ReleaseNotes, build_notes, counting
from clearance.versioning.semver import Version
from clearance.versioning.service import (
    Target,
    VersionOptions,
    VersionReport,
    changes_in,
    plan_version,
    shallow_warnings,
    targets,
)
from clearance.versioning.settings import VersioningSettings
from clearance.versioning.tags import ReleaseTag, TagIndex


def release_notes(
    settings: VersioningSettings,
    target: Target,
    *,
    from_ref: str | None = None,
    to_ref: str | None = None,
    options: VersionOptions | None = None,
) -> ReleaseNotes:
    """Notes of the range `from_ref..to_ref`; without either, of the release `plan_version` plans."""
    links = Links(settings.links)
    if from_ref is None and to_ref is None:
        report = plan_version(settings, target, options or VersionOptions())
        if not report.next.release_needed:
            version, tag = None, None
        else:
            version, tag = str(report.next.version), report.tag
        previous = report.base or report.latest
        return build_notes(
            counting(report.decision.effects),
            settings.notes,
            links,
            version=version,
            tag=tag,
            previous_tag=previous.name if previous else None,
            date=date.today().isoformat(),
        )
    repo = Repository(settings.root)
    shallow_warnings(repo.head(), (options or VersionOptions()).allow_shallow)
    every = TagIndex.build(repo.tags(), target.tags)
    end = repo.resolve(to_ref or "HEAD")
    end_tag = next((t for t in every.releases if t.name == to_ref), None) if to_ref else None
    if from_ref is None:
        below = {name for name, _ in repo.tags(merged_into=end)}
        start_tag = next((t for t in every.releases if t.name in below and t.commit != end), None)
        start = start_tag.commit if start_tag else None
        from_ref = start_tag.name if start_tag else None
    else:
        start = repo.resolve(from_ref)
    changes = list(changes_in(repo, f"{start}..{end}" if start else end, target.paths))
    stamp = changes[0].timestamp if changes and end_tag else None
    return build_notes(
        _uncancelled(changes),
        settings.notes,
        links,
        version=str(end_tag.version) if end_tag else None,
        tag=end_tag.name if end_tag else None,
        previous_tag=from_ref,
        date=_day(stamp),
    )


def full_changelog(
    settings: VersioningSettings, target: Target, work_items: bool = False, allow_shallow: bool = False
) -> Iterator[ReleaseNotes]:
    """What is not released yet (if anything), then every release of the history, newest first."""
    repo = Repository(settings.root)
    head = repo.head()
    shallow_warnings(head, allow_shallow)
    links = Links(settings.links)
    if target.paths:
        every = TagIndex.build(repo.tags(merged_into=head.commit), target.tags)
        yield from _changelog_by_ranges(repo, every, target, settings, links, head, work_items)
        return
    # Tags off this history never meet the walk below, so every tag will do.
    every = TagIndex.build(repo.tags(), target.tags)
    tagged = every.by_commit()
    current: ReleaseTag | None = None  # None: the commits after the last release
    segment: list[Change] = []
    for commit in repo.log([head.commit], merges=True):  # a release may be tagged on a merge
        release = tagged.get(commit.hash)
        if release is not None:
            if current is not None or segment:
                yield _segment_notes((current, segment), release, settings, links, work_items)
            current, segment = release, []
        if not commit.merge:
            segment.extend(changes_of(commit))
    if current is not None or segment:
        yield _segment_notes((current, segment), None, settings, links, work_items)


def _changelog_by_ranges(
    repo: Repository,
    every: TagIndex,
    target: Target,
    settings: VersioningSettings,
    links: Links,
    head: Head,
    work_items: bool,
) -> Iterator[ReleaseNotes]:
    # A path-limited log skips tagged commits that do not touch the path: read each release's
    # range on its own instead (a service has far fewer releases than a repository has commits).
    releases = sorted(every.by_commit().values(), key=lambda t: t.version.precedence_key(), reverse=True)
    ends: list[tuple[ReleaseTag | None, str]] = [(None, head.commit)] + [(t, t.commit) for t in releases]
    for index, (release, end) in enumerate(ends):
        previous = releases[index] if index < len(releases) else None
        if release is None and previous is not None and previous.commit == head.commit:
            continue
        revisions = f"{previous.commit}..{end}" if previous else end
        changes = list(changes_in(repo, revisions, target.paths))
        if release is None and not changes:
            continue
        yield _segment_notes((release, changes), previous, settings, links, work_items)


def _segment_notes(
    segment: tuple[ReleaseTag | None, list[Change]],
    previous: ReleaseTag | None,
    settings: VersioningSettings,
    links: Links,
    work_items: bool,
) -> ReleaseNotes:
    release, changes = segment
    stamp = changes[0].timestamp if changes and release else None
    return build_notes(
        _uncancelled(changes),
        settings.notes,
        links,
        version=str(release.version) if release else None,
        tag=release.name if release else None,
        previous_tag=previous.name if previous else None,
        date=_day(stamp),
        work_items=work_items,
    )


def _uncancelled(changes: list[Change]) -> list[Change]:
    cancelled = cancelled_pairs(changes)
    return (
        [change for index, change in enumerate(changes) if index not in cancelled] if cancelled else changes
    )


def _day(timestamp: int | None) -> str:
    if timestamp is None:
        return date.today().isoformat()
    return datetime.fromtimestamp(timestamp, UTC).astimezone().date().isoformat()


def changelog_path(settings: VersioningSettings) -> Path:
    return settings.root / settings.notes.changelog


@dataclass(frozen=True)
class GitRelease:
    """What `clearance release create --from-git` records: the next version and its notes."""

    report: VersionReport
    notes: ReleaseNotes
    markdown: str
    existing: list[Version]  # every release version the tags name, to infer the release type

    @property
    def version(self) -> str:
        return str(self.report.next.version)


def release_from_git(settings: VersioningSettings, service: str | None, allow_shallow: bool) -> GitRelease:
    """The next release of the project (or `service`) with its Markdown notes; Refused when no
    change since the last release bumps the version."""
    from clearance.versioning.rendering import Renderer

    target = targets(settings, service)[0]
    report = plan_version(settings, target, VersionOptions(allow_shallow=allow_shallow))
    if not report.next.release_needed:
        since = report.latest.name if report.latest else "the first commit"
        raise Refused(
            f"nothing to release since {since}: no change bumps the version",
            code="nothing-to-release",
            hint="commit a feat or fix (or a Release-As: footer); to record a release tagged by hand: "
            f"clearance notes --to {since} > notes.md && clearance release create VERSION --notes-file notes.md"
            if report.latest
            else "commit a feat or fix (or a Release-As: footer), or give the version yourself",
        )
    previous = report.base or report.latest
    notes = build_notes(
        counting(report.decision.effects),
        settings.notes,
        Links(settings.links),
        version=str(report.next.version),
        tag=report.tag,
        previous_tag=previous.name if previous else None,
        date=date.today().isoformat(),
    )
    templates = settings.root / settings.notes.templates if settings.notes.templates else None
    markdown = Renderer(templates).render(notes, "markdown")
    existing = TagIndex.build(Repository(settings.root).tags(), target.tags).versions()
    return GitRelease(report, notes, markdown, existing)


def tag_release(settings: VersioningSettings, release: GitRelease) -> str:
    """Create the release's annotated tag on the commit it was computed from; never pushed."""
    repo = Repository(settings.root)
    repo.create_tag(
        release.report.tag, f"{release.report.tag}\n\n{release.markdown}", release.report.head.commit
    )
    return release.report.tag


def untag_release(settings: VersioningSettings, tag: str) -> None:
    """Delete a tag `tag_release` just made."""
    Repository(settings.root).delete_tag(tag)
