"""`clearance artifact add|list|remove|sign|verify`: a release's built artifacts and their signatures."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import Actor, ConfigPath, Json
from clearance.cli.output import emit_json, err, local_time, out
from clearance.errors import UsageError
from clearance.gates.artifacts.service import (
    DEFAULT_BUILDER_ID,
    ArtifactKind,
    NewArtifact,
    add_artifact,
    release_artifacts,
    release_signatures,
    remove_artifact,
    sign_release,
    verify_release,
)
from clearance.planning.releases import parse_commit
from clearance.planning.service import find_release
from clearance.store.tables import ArtifactRow
from clearance.workspace import open_workspace

artifact_app = typer.Typer(help="Record, sign and verify a release's artifacts.", no_args_is_help=True)

Version = Annotated[str, typer.Argument(help="The release's version.")]


def artifact_json(row: ArtifactRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "kind": row.kind,
        "digest": row.digest,
        "size": row.size,
        "build_url": row.build_url,
        "commit": row.commit,
        "added_by": row.added_by,
        "added_at": row.added_at.isoformat(),
    }


@artifact_app.command("add")
def add(
    version: Version,
    file: Annotated[
        Path | None, typer.Argument(help="The artifact file (hashed here).", show_default=False)
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The artifact's name.")] = "",
    digest: Annotated[str | None, typer.Option("--digest", help="sha256:… instead of a FILE.")] = None,
    kind: Annotated[ArtifactKind, typer.Option("--kind", help="wheel, image, tarball or other.")] = "other",
    build_url: Annotated[str | None, typer.Option("--build-url", help="The build that made it.")] = None,
    commit: Annotated[str | None, typer.Option("--commit", help="The commit it was built from.")] = None,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Record an artifact of a release: its name, sha256 digest, size, build and commit."""
    if file is None and digest is None:
        raise UsageError(
            "an artifact needs its FILE (hashed here) or --digest sha256:… (hashed by the build)",
            hint=f"clearance artifact add {version} dist/app.whl, or --digest sha256:HEX --name app.whl",
        )
    if not name:
        name = file.name if file is not None else ""
    new = NewArtifact(
        name=name,
        kind=kind,
        path=file,
        digest=digest,
        build_url=build_url,
        commit=parse_commit(commit) if commit else None,
    )
    ws = open_workspace(config, actor=actor)
    row = add_artifact(ws, version, new)
    if as_json:
        emit_json({"artifact": artifact_json(row)})
        return
    size = f", {row.size} bytes" if row.size is not None else ""
    err().print(
        f"[green]✔[/] artifact [bold]{escape(row.name)}[/] added to {escape(version)}: {row.digest}{size}"
    )


@artifact_app.command("list")
def list_(version: Version, config: ConfigPath = None, as_json: Json = False) -> None:
    """The release's artifacts and signatures."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        rows = [artifact_json(a) for a in release_artifacts(session, release)]
        signatures: list[dict[str, Any]] = [
            {"id": s.id, "keyid": s.keyid, "signed_by": s.signed_by, "signed_at": s.signed_at.isoformat()}
            for s in release_signatures(session, release)
        ]
    if as_json:
        emit_json({"version": version, "artifacts": rows, "signatures": signatures})
        return
    table = Table(title=f"artifacts of {version}")
    for column in ("name", "kind", "digest", "size", "commit", "build"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["name"],
            r["kind"],
            r["digest"],
            str(r["size"] or "-"),
            r["commit"] or "-",
            r["build_url"] or "-",
        )
    out().print(table if rows else "[dim]no artifacts[/]")
    for s in signatures:
        when = local_time(datetime.fromisoformat(s["signed_at"]))
        out().print(f"signed by key {s['keyid'][:12]} ({escape(s['signed_by'])}, {when})")


@artifact_app.command("remove")
def remove(
    version: Version,
    name: Annotated[str, typer.Argument(help="The artifact's name.")],
    actor: Actor = None,
    config: ConfigPath = None,
) -> None:
    """Remove an artifact (refused once the release has been deployed)."""
    ws = open_workspace(config, actor=actor)
    remove_artifact(ws, version, name)
    err().print(f"[green]✔[/] artifact [bold]{escape(name)}[/] removed from {escape(version)}")


@artifact_app.command("sign")
def sign(
    version: Version,
    key: Annotated[
        Path, typer.Option("--key", help="Ed25519 private key (PEM), from `clearance keys generate`.")
    ],
    builder_id: Annotated[
        str, typer.Option("--builder-id", help="The SLSA builder id.")
    ] = DEFAULT_BUILDER_ID,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Sign an in-toto statement (SLSA provenance) over every artifact's digest, in a DSSE envelope."""
    ws = open_workspace(config, actor=actor)
    row = sign_release(ws, version, key, builder_id=builder_id)
    if as_json:
        emit_json({"signature": {"id": row.id, "keyid": row.keyid, "envelope": row.envelope}})
        return
    err().print(f"[green]✔[/] release {escape(version)} signed with key {row.keyid[:12]}")


@artifact_app.command("verify")
def verify(
    version: Version,
    env: Annotated[
        str | None, typer.Option("--env", help="Check against this environment's trusted_keys.")
    ] = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Check the release's signatures against the trusted keys (exit 1 when none is valid)."""
    ws = open_workspace(config)
    checked = verify_release(ws, version, env)
    if as_json:
        emit_json(
            {
                "version": version,
                "environment": env,
                "signatures": [{"id": r.id, **v.to_json()} for r, v in checked],
            }
        )
        return
    for row, verification in checked:
        mark = "[green]✔[/]" if verification.valid else "[red]✘[/]"
        out().print(f"{mark} signature {row.id}: {escape(verification.reason)}")
