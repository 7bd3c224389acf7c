"""`clearance version next`: the next SemVer version from the commits since the last release.

This Typer command gives the help text and the usage errors; the run itself (and the fast path
that skips Typer on the way in) is `cli/version_next.py`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from clearance.cli.options import ConfigPath, Json
from clearance.cli.version_next import run_next

version_app = typer.Typer(
    help="Versions from the commit history (Conventional Commits).", no_args_is_help=True
)


class Channel(StrEnum):
    ALPHA = "alpha"
    BETA = "beta"
    RC = "rc"


class Bump(StrEnum):
    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"


Service = Annotated[
    str | None,
    typer.Option("--service", "-s", help="A service of clearance.yaml with its own path and tags."),
]
AllowShallow = Annotated[
    bool,
    typer.Option("--allow-shallow", help="In a shallow clone, use the commits there are (with a warning)."),
]


@version_app.command("next")
def next_(
    service: Service = None,
    every: Annotated[bool, typer.Option("--all", help="List every service that needs a release.")] = False,
    channel: Annotated[
        Channel | None, typer.Option("--channel", help="A pre-release, numbered after the existing tags.")
    ] = None,
    from_tag: Annotated[
        str | None, typer.Option("--from-tag", help="Release a patch of this tag's line (a hotfix).")
    ] = None,
    bump: Annotated[
        Bump | None, typer.Option("--bump", help="Bump this much, whatever the commits say.")
    ] = None,
    release_as: Annotated[str | None, typer.Option("--release-as", help="Release this version.")] = None,
    allow_shallow: AllowShallow = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show which commits decided the bump.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list the tags that were ignored.")
    ] = False,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Print the next SemVer version: feat → minor, fix/perf → patch, breaking → major (minor while
    the major version is 0), `Release-As:` footers, pre-release channels and maintenance lines."""
    run_next(
        service=service,
        every=every,
        channel=str(channel) if channel else None,
        from_tag=from_tag,
        bump=str(bump) if bump else None,
        release_as=release_as,
        allow_shallow=allow_shallow,
        explain=explain,
        verbose=verbose,
        config=config,
        as_json=as_json,
    )
