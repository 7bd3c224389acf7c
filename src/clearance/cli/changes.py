"""`clearance change list|show|approve|reject|cancel`: the change requests of change-controlled environments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import Actor, ConfigPath, Json
from clearance.cli.output import emit_json, err, local_time, out
from clearance.errors import NotFound, UsageError
from clearance.gates.changes.cab import ChangeState
from clearance.gates.changes.review import change_json, decide_change, list_changes
from clearance.gates.changes.service import find_change
from clearance.workspace import open_workspace

change_app = typer.Typer(
    help="Change requests (ITIL mode): list, show, approve, reject, cancel.", no_args_is_help=True
)

ChangeId = Annotated[int, typer.Argument(help="The change request's number (as `change list` shows).")]
_STATES = tuple(s.value for s in ChangeState)
_STYLE = {
    "pending": "[yellow]… pending[/]",
    "approved": "[green]✔ approved[/]",
    "rejected": "[bold red]✘ rejected[/]",
    "implemented": "[green]✔ implemented[/]",
    "failed": "[red]✘ failed[/]",
    "cancelled": "[dim]– cancelled[/]",
}


@change_app.command("list")
def list_(
    env: Annotated[str | None, typer.Option("--env", help="Only this environment's.")] = None,
    state: Annotated[
        str | None, typer.Option("--state", help=f"Only in this state: {', '.join(_STATES)}.")
    ] = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Change requests, newest first."""
    if state is not None and state not in _STATES:
        raise UsageError(
            f"unknown state '{state}'", hint=f"one of: {', '.join(_STATES)}", code="state-unknown"
        )
    ws = open_workspace(config)
    if env is not None and ws.config.environment(env) is None:
        raise NotFound(
            f"unknown environment '{env}'", hint=f"known: {', '.join(ws.config.environment_names())}"
        )
    with ws.store.transaction() as session:
        documents = [
            change_json(ws, session, r)
            for r in list_changes(session, ws.project_id, environment=env, state=state)
        ]
    if as_json:
        emit_json({"change_requests": documents})
        return
    if not documents:
        out().print("[dim]no change requests[/]")
        return
    out().print(_table(documents))


def _table(documents: list[dict[str, Any]]) -> Table:
    table = Table(title="change requests")
    for column in (
        "id",
        "release",
        "environment",
        "kind",
        "risk",
        "state",
        "needs",
        "requested by",
        "created",
    ):
        table.add_column(column)
    for c in documents:
        needs = ", ".join((c["approval"] or {}).get("still_needed", [])) or "-"
        table.add_row(
            f"#{c['id']}",
            escape(c["version"]),
            escape(c["environment"]),
            c["kind"],
            f"{c['risk']['level']} ({c['risk']['score']})",
            _STYLE.get(c["state"], c["state"]),
            needs,
            escape(c["requested_by"]),
            local_time_of(c["created_at"]),
        )
    return table


def local_time_of(iso: str) -> str:
    return local_time(datetime.fromisoformat(iso))


@change_app.command("show")
def show(change_id: ChangeId, config: ConfigPath = None, as_json: Json = False) -> None:
    """One change request: risk and why, its rule, decisions and deployments."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        document = change_json(ws, session, find_change(session, ws.project_id, change_id))
    if as_json:
        emit_json({"change_request": document})
        return
    _print(document)


def _print(c: dict[str, Any]) -> None:
    console = out()
    console.print(
        f"[bold]change request #{c['id']}[/]: {escape(c['version'])} ({c['release_type']}) to "
        f"{escape(c['environment'])} ({', '.join(c['services'])}) — {c['kind']} change, "
        f"{_STYLE.get(c['state'], c['state'])}"
    )
    console.print(f"requested by {escape(c['requested_by'])} at {local_time_of(c['created_at'])}")
    if c["reason"]:
        console.print(f"  {escape(c['reason'])}")
    if c["implementation"]:
        console.print(f"  [yellow]{escape(c['implementation'])}[/]")
    console.print(f"risk: [bold]{c['risk']['level']}[/] (score {c['risk']['score']})")
    for f in c["risk"]["factors"]:
        console.print(f"  +{f['points']} {f['factor']}: {escape(f['detail'])}")
    console.print(f"rollback plan: {escape(c['rollback_plan']) or '[red]none[/]'}")
    approval = c["approval"]
    if approval is not None and approval["rule"]:
        rule = " and ".join(approval["rule"])
        label = "emergency approvers" if approval["emergency"] else "CAB rule"
        nobody = "nobody yet" if c["state"] == "pending" else "nobody"
        console.print(f"{label}: {rule}; approved by {', '.join(approval['approved_by']) or nobody}")
        if approval["still_needed"]:
            console.print(f"still needed: {', '.join(approval['still_needed'])}")
    for d in c["decisions"]:
        mark = "✔ approve" if d["decision"] == "approve" else "✘ reject"
        extra = " (emergency)" if d["emergency"] else ""
        note = f" — {d['state']}" + (f": {d['note']}" if d["note"] else "")
        comment = f" “{d['comment']}”" if d["comment"] else ""
        console.print(f"  {mark}{extra} by {escape(d['approver'])}{escape(comment)}{escape(note)}")
    if c["deployments"]:
        table = Table(title="deployments")
        for column in ("id", "service", "state", "by"):
            table.add_column(column)
        for d in c["deployments"]:
            table.add_row(str(d["id"]), d["service"], d["state"], escape(d["requested_by"]))
        console.print(table)


def _decide(
    change_id: int,
    approve: bool,
    comment: str,
    emergency: bool,
    actor: str | None,
    config: ConfigPath,
    as_json: bool,
) -> None:
    ws = open_workspace(config, actor=actor)
    decide_change(ws, change_id, approve=approve, comment=comment, emergency=emergency)
    with ws.store.transaction() as session:
        document = change_json(ws, session, find_change(session, ws.project_id, change_id))
    if as_json:
        emit_json({"change_request": document})
        return
    verb = "[green]✔ approved[/]" if approve else "[bold red]✘ rejected[/]"
    err().print(
        f"{verb}{' (emergency)' if emergency else ''} change request #{change_id} by {escape(ws.actor)}: "
        f"it is now {_STYLE.get(document['state'], document['state'])}"
        + (
            f", still needs {', '.join(document['approval']['still_needed'])}"
            if document["approval"] and document["approval"]["still_needed"]
            else ""
        )
    )


@change_app.command("approve")
def approve(
    change_id: ChangeId,
    comment: Annotated[str, typer.Option("--comment", help="What was reviewed.")] = "",
    emergency: Annotated[
        bool,
        typer.Option("--emergency", help="An emergency approval (emergency changes only): lifts freezes."),
    ] = False,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Approve a change request. Refused (exit 3) for unknown users, users without a role its rule
    names, the requester and the release's creator (separation of duties), and closed requests."""
    _decide(change_id, True, comment, emergency, actor, config, as_json)


@change_app.command("reject")
def reject(
    change_id: ChangeId,
    comment: Annotated[str, typer.Option("--comment", help="Why (required).")],
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Reject a change request: it is closed, and deploying the release again opens a new one, which
    the CAB reviews (never pre-approved)."""
    _decide(change_id, False, comment, False, actor, config, as_json)


@change_app.command("cancel")
def cancel(
    change_id: ChangeId,
    reason: Annotated[str, typer.Option("--reason", help="Why it is withdrawn (required, audited).")],
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Withdraw a pending or approved change request, and cancel its deployments still waiting
    (scheduled ones included). Only its requester or a release-manager may; refused (exit 3) while
    one of its deployments runs (`clearance abort` it first) and for closed requests."""
    from clearance.delivery.scheduled import cancel_change

    ws = open_workspace(config, actor=actor)
    cancelled = cancel_change(ws, change_id, reason=reason)
    with ws.store.transaction() as session:
        document = change_json(ws, session, find_change(session, ws.project_id, change_id))
    if as_json:
        emit_json({"change_request": document, "cancelled_deployments": cancelled})
        return
    also = f"; deployment(s) {', '.join(map(str, cancelled))} cancelled with it" if cancelled else ""
    err().print(f"change request #{change_id} [dim]– cancelled[/] by {escape(ws.actor)}{also}")
