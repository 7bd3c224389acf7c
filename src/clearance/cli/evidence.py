"""`clearance evidence add|list`: test, coverage and security reports a release carries."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import Actor, ConfigPath, Json
from clearance.cli.output import emit_json, err, local_time, out
from clearance.gates.evidence import KINDS, evidence_from_json
from clearance.gates.service import EvidenceInput, add_evidence, release_evidence
from clearance.planning.releases import parse_commit
from clearance.planning.service import find_release
from clearance.store.tables import EvidenceRow
from clearance.workspace import open_workspace

evidence_app = typer.Typer(
    help="Reports a release carries: tests, coverage, SAST, vulnerabilities, SBOM.", no_args_is_help=True
)


def evidence_json(row: EvidenceRow) -> dict[str, Any]:
    report = evidence_from_json(row.result)
    return {
        "id": row.id,
        "kind": row.kind,
        "source": row.source,
        "tool": row.tool,
        "sha256": row.file_sha256,
        "commit": row.commit,
        "forced": row.forced,
        "added_by": row.added_by,
        "added_at": row.added_at.isoformat(),
        # When the report says it was made; None when it does not (evidence_fresh then uses added_at).
        "produced_at": report.produced_at.isoformat() if report.produced_at else None,
        "summary": report.summary(),
    }


def produced_time(document: dict[str, Any]) -> str:
    """An `evidence_json` document's report time in local time, `-` when the report gives none."""
    produced = document.get("produced_at")
    return local_time(datetime.fromisoformat(produced) if produced else None)


@evidence_app.command("add")
def add(
    version: Annotated[str, typer.Argument(help="The release's version.")],
    file: Annotated[Path, typer.Argument(help="The report file.")],
    kind: Annotated[str, typer.Option("--kind", help=f"One of: {', '.join(KINDS)}.")],
    commit: Annotated[str | None, typer.Option("--commit", help="The commit the report is for.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Store a report for another commit (audited).")
    ] = False,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Parse a report and store its normalized result, the file's digest, the tool and the time."""
    new = EvidenceInput(kind=kind, path=file, commit=parse_commit(commit) if commit else None, force=force)
    ws = open_workspace(config, actor=actor)
    added = add_evidence(ws, version, new)
    row, document = added.row, evidence_json(added.row)
    if as_json:
        emit_json({"evidence": document, "unchanged": not added.stored})
        return
    if not added.stored:
        err().print(
            f"[dim]=[/] {escape(new.path.name)} is identical to {row.kind} evidence #{row.id} of "
            f"{escape(version)}: nothing changed"
        )
        return
    forced = " [yellow](forced: another commit than the release's)[/]" if row.forced else ""
    err().print(f"[green]✔[/] {row.kind} evidence {escape(row.source)} added to {escape(version)}{forced}")
    out().print(_summary_text(document["summary"]))


def _summary_text(summary: dict[str, Any]) -> str:
    # A value the report does not give (None) is left out: "max_level None" says nothing.
    return ", ".join(
        f"{key} {value}"
        for key, value in summary.items()
        if value is not None and not isinstance(value, dict | list)
    )


@evidence_app.command("list")
def list_(
    version: Annotated[str, typer.Argument(help="The release's version.")],
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """The release's evidence, oldest first."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        rows = [(evidence_json(r), local_time(r.added_at)) for r in release_evidence(session, release)]
    if as_json:
        emit_json({"version": version, "evidence": [r for r, _ in rows]})
        return
    table = Table(title=f"evidence of {version}")
    for column in ("id", "kind", "file", "tool", "summary", "commit", "ran", "added"):
        table.add_column(column)
    for r, when in rows:
        commit = (r["commit"] or "-")[:12] + (" (forced)" if r["forced"] else "")
        table.add_row(
            str(r["id"]),
            r["kind"],
            escape(r["source"]),
            escape(r["tool"] or "-"),
            escape(_summary_text(r["summary"])),
            commit,
            produced_time(r),
            when,
        )
    out().print(table if rows else "[dim]no evidence[/]")
