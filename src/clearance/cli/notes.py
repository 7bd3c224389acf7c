"""`clearance notes`: release notes from the commit history, as Markdown, JSON, or written into
CHANGELOG.md in the Keep a Changelog layout. This Typer command gives the help text and the usage
errors; the run itself (and the fast path that skips Typer) is `cli/release_notes.py`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from clearance.cli.options import ConfigPath, Json
from clearance.cli.release_notes import run_notes
from clearance.cli.versions import AllowShallow, Service


class Format(StrEnum):
    MARKDOWN = "markdown"
    KEEP_A_CHANGELOG = "keep-a-changelog"
    JSON = "json"


def notes(
    from_ref: Annotated[
        str | None, typer.Option("--from", help="Start after this tag or commit (default: the last release).")
    ] = None,
    to_ref: Annotated[
        str | None, typer.Option("--to", help="End at this tag or commit (default: HEAD).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Every release of the history: a whole changelog.")
    ] = False,
    style: Annotated[
        Format,
        typer.Option("--format", help="markdown; json; keep-a-changelog (updates CHANGELOG.md in place)."),
    ] = Format.MARKDOWN,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="keep-a-changelog: print the updated file instead of writing it."),
    ] = False,
    service: Service = None,
    allow_shallow: AllowShallow = False,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Release notes: breaking changes first, then a section per type, contributors and a summary;
    issue references linked through versioning.links in clearance.yaml."""
    run_notes(
        from_ref=from_ref,
        to_ref=to_ref,
        full=full,
        style=str(style),
        dry_run=dry_run,
        service=service,
        allow_shallow=allow_shallow,
        config=config,
        as_json=as_json,
    )
