"""`clearance notes`, run: release notes from the commit history, as Markdown, JSON, or written
into CHANGELOG.md. It renders whole histories, so like `version next` it starts without Typer
(see `cli/fast.py`); `cli/notes.py` declares it for Typer."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from clearance.cli.fast import Options, emit, err, parse
from clearance.cli.version_next import load_settings
from clearance.errors import Refused, UsageError
from clearance.project.files import display_name
from clearance.versioning.changelog import changelog_path, full_changelog, release_notes
from clearance.versioning.changelog_file import KEEP_A_CHANGELOG_HEADER, insert_release
from clearance.versioning.links import Links
from clearance.versioning.notes import ReleaseNotes
from clearance.versioning.service import Target, VersionOptions, targets
from clearance.versioning.settings import VersioningSettings

FORMATS = ("markdown", "keep-a-changelog", "json")
OPTIONS = Options(
    values={
        "--from": "from_ref",
        "--to": "to_ref",
        "--format": "style",
        "--service": "service",
        "-s": "service",
        "--config": "config",
        "-c": "config",
    },
    flags={"--full": "full", "--dry-run": "dry_run", "--allow-shallow": "allow_shallow", "--json": "as_json"},
    choices={"style": FORMATS},
)


def fast_path(args: Sequence[str]) -> int | None:
    """Run `notes ARGS` without Typer; None when Typer has to (help, usage errors)."""
    options = parse(args, OPTIONS)
    if options is None:
        return None
    run_notes(**{**options, "style": options["style"] or "markdown"})
    return 0


def run_notes(
    *,
    from_ref: str | None,
    to_ref: str | None,
    full: bool,
    style: str,
    dry_run: bool,
    service: str | None,
    allow_shallow: bool,
    config: Path | None,
    as_json: bool,
) -> None:
    settings = load_settings(config)
    target = targets(settings, service)[0]
    if as_json:
        style = "json"
    if full and (from_ref or to_ref):
        raise UsageError("--full renders the whole history: leave out --from and --to")
    if full:
        _full(settings, target, style, allow_shallow)
        return
    release = release_notes(
        settings,
        target,
        from_ref=from_ref,
        to_ref=to_ref,
        options=VersionOptions(allow_shallow=allow_shallow),
    )
    if style == "json":
        emit({"release": release.to_json()})
        return
    from clearance.versioning.rendering import Renderer

    renderer = Renderer(_templates(settings))
    if style == "markdown":
        sys.stdout.write(renderer.render(release, "markdown"))
        return
    _update_changelog(settings, release, renderer.render(release, "keep-a-changelog"), dry_run)


def _full(settings: VersioningSettings, target: Target, style: str, allow_shallow: bool) -> None:
    releases = full_changelog(settings, target, work_items=style == "json", allow_shallow=allow_shallow)
    if style == "json":
        emit({"releases": [release.to_json() for release in releases]})
        return
    from clearance.versioning.rendering import Renderer

    renderer = Renderer(_templates(settings))
    write = sys.stdout.write
    if style == "keep-a-changelog":
        write(KEEP_A_CHANGELOG_HEADER)
        for release in releases:
            write("\n" + renderer.render(release, "keep-a-changelog"))
        return
    for piece in renderer.changelog(releases, "markdown"):
        write(piece)


def _update_changelog(
    settings: VersioningSettings, release: ReleaseNotes, section: str, dry_run: bool
) -> None:
    if release.version is None:
        raise Refused(
            "these notes are of no release: there is nothing to write into the changelog",
            code="nothing-to-release",
            hint="with --to, name a release tag; without it, commit a change that bumps the version",
        )
    path = changelog_path(settings)
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    links = Links(settings.links)
    updated = insert_release(
        existing,
        section,
        release.version,
        link=release.compare_url,
        unreleased_link=links.compare(release.tag, "HEAD") if release.tag else None,
    )
    if dry_run:
        sys.stdout.write(updated)
        return
    path.write_text(updated, encoding="utf-8")
    err(f"{display_name(path)}: added {release.version} ({release.summary})")


def _templates(settings: VersioningSettings) -> Path | None:
    if settings.notes.templates is None:
        return None
    return settings.root / settings.notes.templates
