"""`clearance approve RELEASE --env E` and `clearance reject RELEASE --env E --comment WHY`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from clearance.cli.options import Actor, ConfigPath, Json
from clearance.cli.output import emit_json, err
from clearance.gates.approvals.service import decide
from clearance.store.tables import ApprovalRow
from clearance.workspace import open_workspace

Version = Annotated[str, typer.Argument(help="The release's version.")]
Env = Annotated[str, typer.Option("--env", help="The environment the decision is for.")]


def _report(row: ApprovalRow, version: str, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "approval": {
                    "id": row.id,
                    "version": version,
                    "environment": row.environment,
                    "approver": row.approver,
                    "decision": row.decision,
                    "roles": row.roles,
                    "comment": row.comment,
                    "content_hash": row.content_hash,
                    "decided_at": row.decided_at.isoformat(),
                }
            }
        )
        return
    mark = "[green]✔ approved[/]" if row.decision == "approve" else "[bold red]✘ rejected[/]"
    err().print(
        f"{mark} {escape(version)} for {escape(row.environment)} by {escape(row.approver)} "
        f"({', '.join(row.roles)}); bound to content {row.content_hash[:12]}"
    )


def approve(
    version: Version,
    env: Env,
    comment: Annotated[str, typer.Option("--comment", help="Why, or what was checked.")] = "",
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Approve a release for an environment. It counts while the release's artifacts and evidence are
    unchanged. Refused (exit 3) for unknown users, users without a role the rule needs, and, under
    separation of duties, the release's creator."""
    ws = open_workspace(config, actor=actor)
    _report(decide(ws, version, env, approve=True, comment=comment), version, as_json)


def reject(
    version: Version,
    env: Env,
    comment: Annotated[str, typer.Option("--comment", help="Why (required).")],
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Reject a release for an environment: it blocks until a newer approval by someone holding one of
    the rejecting person's roles supersedes it."""
    ws = open_workspace(config, actor=actor)
    _report(decide(ws, version, env, approve=False, comment=comment), version, as_json)
