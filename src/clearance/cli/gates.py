"""`clearance gates RELEASE --env E` (judge a release now), `clearance gate waive` and `gate unwaive`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import Actor, ConfigPath, Json
from clearance.cli.output import emit_json, err, out
from clearance.errors import UsageError
from clearance.gates.changes.review import release_changes, summary
from clearance.gates.evaluation import GateVerdict
from clearance.gates.service import MAX_WAIVER_DAYS, evaluate_release, unwaive_gate, waive_gate
from clearance.planning.service import find_release
from clearance.workspace import open_workspace

gate_app = typer.Typer(
    help="Waive a gate for one release and environment, or withdraw its waiver.", no_args_is_help=True
)

_STYLE = {
    "pass": "[green]✔ pass[/]",
    "fail": "[bold red]✘ fail[/]",
    "missing": "[red]? missing[/]",
    "waived": "[yellow]~ waived[/]",
}


def gates(
    version: Annotated[str, typer.Argument(help="The release's version.")],
    env: Annotated[str, typer.Option("--env", help="The environment whose gates to check.")],
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Judge the release against the environment's gates: pass, fail or missing, with the reason and
    the evidence used. Exit 3 when any gate fails or lacks evidence."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        verdicts = evaluate_release(ws, session, release, env)
        # ITIL mode: the newest change request for this environment (its approval is not a gate).
        changes = [summary(c) for c in release_changes(session, release) if c.environment == env]
    change = changes[-1] if changes else None
    blocked = [v for v in verdicts if v.blocks]
    if as_json:
        emit_json(
            {
                "version": version,
                "environment": env,
                "passed": not blocked,
                "gates": [v.to_json() for v in verdicts],
                "change_request": change,
            }
        )
    else:
        _print(version, env, verdicts)
        if change is not None:
            out().print(
                f"change request #{change['id']}: {change['kind']}, risk {change['risk_level']}, "
                f"{change['state']} (`clearance change show {change['id']}`)"
            )
    if blocked:
        raise typer.Exit(3)


def _print(version: str, env: str, verdicts: list[GateVerdict]) -> None:
    if not verdicts:
        out().print(f"[dim]{escape(env)} has no gates[/]")
        return
    table = Table(title=f"gates of {version} for {env}")
    for column in ("gate", "status", "reason", "evidence"):
        table.add_column(column)
    for verdict in verdicts:
        reason = verdict.result.reason
        if verdict.waiver is not None and verdict.status == "waived":
            w = verdict.waiver
            reason += f"\nwaived by {w.waived_by} until {w.until.isoformat()}: {w.reason}"
        used = ", ".join(f"#{e.id} {e.kind} {e.source}" for e in verdict.result.evidence) or "-"
        table.add_row(verdict.gate, _STYLE[verdict.status], escape(reason), escape(used))
    out().print(table)


@gate_app.command("waive")
def waive(
    version: Annotated[str, typer.Argument(help="The release's version.")],
    env: Annotated[str, typer.Option("--env", help="The environment.")],
    gate: Annotated[str, typer.Option("--gate", help="The gate's name (e.g. vulnerabilities).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it may be skipped (required).")],
    until: Annotated[
        str,
        typer.Option(
            "--until", help=f"Last day the waiver holds, YYYY-MM-DD, at most {MAX_WAIVER_DAYS} days ahead."
        ),
    ],
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Let one failing gate through for one release and environment, with a reason, until a day.
    Waiving a gate again replaces its earlier waiver (to shorten or renew it)."""
    try:
        day = date.fromisoformat(until)
    except ValueError as exc:
        raise UsageError(f"--until '{until}' is not a date", hint="use YYYY-MM-DD") from exc
    ws = open_workspace(config, actor=actor)
    row, replaced = waive_gate(ws, version, env, gate, reason=reason, until=day)
    document: dict[str, Any] = {
        "id": row.id,
        "version": version,
        "environment": env,
        "gate": row.gate,
        "reason": row.reason,
        "until": row.until.isoformat(),
        "waived_by": row.waived_by,
    }
    if as_json:
        emit_json({"waiver": document, "replaced": replaced})
        return
    err().print(
        f"[yellow]~[/] gate {escape(gate)} waived for {escape(version)} in {escape(env)} until {row.until.isoformat()}"
    )
    for old in replaced:
        err().print(f"  replaces the waiver by {escape(old['waived_by'])} until {old['until']}")


@gate_app.command("unwaive")
def unwaive(
    version: Annotated[str, typer.Argument(help="The release's version.")],
    env: Annotated[str, typer.Option("--env", help="The environment.")],
    gate: Annotated[str, typer.Option("--gate", help="The gate whose waiver to withdraw.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it must be judged again (required).")],
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Withdraw a gate's waiver for one release and environment: the gate is judged again."""
    ws = open_workspace(config, actor=actor)
    withdrawn = unwaive_gate(ws, version, env, gate, reason=reason)
    if as_json:
        emit_json({"version": version, "environment": env, "gate": gate, "withdrawn": withdrawn})
        return
    err().print(
        f"[green]✔[/] waiver of {escape(gate)} for {escape(version)} in {escape(env)} withdrawn: "
        "the gate is judged again"
    )
