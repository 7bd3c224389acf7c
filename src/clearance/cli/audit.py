"""`clearance audit verify|export|list`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from clearance.audit import service as audit
from clearance.cli.options import ConfigPath, Json
from clearance.cli.output import emit_json, err, local_time, out
from clearance.errors import AuditVerificationFailed, UsageError
from clearance.workspace import open_workspace

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def verify(config: ConfigPath = None, as_json: Json = False) -> None:
    """Recompute the chain; exit 1 naming the first edited, inserted or deleted entry."""
    ws = open_workspace(config)
    count, problem = audit.verify(ws.store)
    if problem is not None:
        raise AuditVerificationFailed(
            f"audit trail broken at entry {problem.seq}: {problem.why}",
            data={"entries_checked": count, "first_bad_entry": problem.seq},
            hint="the store was changed outside clearance; restore it from a backup and investigate",
        )
    if as_json:
        emit_json({"ok": True, "entries": count})
        return
    out().print(f"[green]✔[/] audit trail intact: {count} entries, every hash and link checks out")


@audit_app.command("export")
def export(
    format_: Annotated[str, typer.Option("--format", help="Only jsonl for now.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default stdout).")] = None,
    config: ConfigPath = None,
) -> None:
    """Write every entry, oldest first, one JSON object per line."""
    if format_ != "jsonl":
        raise UsageError(f"unknown export format '{format_}'", hint="use --format jsonl")
    ws = open_workspace(config)
    if output is None:
        count = audit.export_jsonl(ws.store, sys.stdout)
    else:
        with output.open("w", encoding="utf-8") as handle:
            count = audit.export_jsonl(ws.store, handle)
        err().print(f"wrote {count} entries to {escape(str(output))}")


@audit_app.command("list")
def list_(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 30,
    tag: Annotated[
        str | None, typer.Option("--tag", help="Only tags starting with this, e.g. deployment:")
    ] = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """The newest entries."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        entries = audit.recent(session, limit, tag)
    if as_json:
        emit_json({"entries": [e.to_json() for e in entries]})
        return
    table = Table(title="audit trail (newest first)")
    for column in ("seq", "time", "actor", "tag", "subject"):
        table.add_column(column)
    for e in entries:
        table.add_row(str(e.seq), local_time(e.at), e.actor, e.tag, e.subject)
    out().print(table)
