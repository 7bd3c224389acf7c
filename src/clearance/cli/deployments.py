"""`clearance deploy`, `promote`, `rollback`, `status`, `history` and `deployment show`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from clearance.cli.options import Actor, ConfigPath, Json, Wait
from clearance.cli.output import age, emit_json, err, local_time, out, state_text
from clearance.cli.progress import ConsoleProgress
from clearance.delivery import interventions
from clearance.delivery import rollback as rollback_service
from clearance.delivery import service as delivery
from clearance.delivery.analysis.runs import readable
from clearance.delivery.views import (
    change_requests_of,
    deployment_detail,
    deployment_measurements,
    deployment_summary,
    flag_view,
    get_deployment,
    status_matrix,
    target_view,
)
from clearance.delivery.views import (
    history as deployment_history,
)
from clearance.errors import UsageError
from clearance.workspace import Workspace, open_workspace

deployment_app = typer.Typer(help="Inspect deployments.", no_args_is_help=True)

Services = Annotated[list[str] | None, typer.Option("--service", "-s", help="Only this service; repeatable.")]


def warn_refused(outcome: delivery.DeployOutcome) -> None:
    """Say which automatic follow-ups a rule refused: they did not happen, yet the command succeeded."""
    console = err()
    for refusal in outcome.refused:
        console.print(f"[yellow]automatic deployment refused:[/] {escape(refusal.message)}")
        if refusal.hint:
            console.print(f"[dim]hint:[/] {escape(refusal.hint)}")


def _finish(outcome: delivery.DeployOutcome, as_json: bool) -> None:
    warn_refused(outcome)
    if as_json:
        emit_json(
            {
                "ok": outcome.ok,
                "deployments": [deployment_summary(d) for d in outcome.deployments],
                "refused": [r.to_problem() for r in outcome.refused],
            }
        )
    if not outcome.ok:
        raise typer.Exit(1)


def deploy(
    release: Annotated[str, typer.Argument(help="The release's version.")],
    to: Annotated[str, typer.Option("--to", help="The environment.")],
    service: Services = None,
    wait: Wait = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Run it then, from `clearance serve`: 2027-03-28T22:00+02:00 (ISO 8601)."),
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="The IANA time zone of an --at without offset: Europe/Paris.")
    ] = None,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Deploy a release to an environment (every service unless --service), checking the lifecycle.

    With a `clearance serve` running, the deployment is queued for its workers (--wait follows it to
    the end); without one, it runs here and --wait queues behind a deployment already running.
    With --at it is scheduled: the rules are checked now as of that time, and again when it comes."""
    ws = open_workspace(config, actor=actor)
    if at is not None or tz is not None:
        if wait:
            raise UsageError(
                "--wait cannot be combined with --at", hint="follow it with `clearance deployment watch ID`"
            )
        from clearance.cli.scheduling import schedule

        schedule(ws, release, to, service, at=at, tz=tz, as_json=as_json)
        return
    _deploy(ws, release, to, service, wait=wait, as_json=as_json)


def retry(
    deployment_id: Annotated[int, typer.Argument(help="A failed, cancelled or rolled-back deployment.")],
    wait: Wait = False,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Deploy again the release, environment and service of a deployment that did not succeed."""
    ws = open_workspace(config, actor=actor)
    version, environment, service = interventions.retry_target(ws, deployment_id)
    _deploy(ws, version, environment, [service], wait=wait, as_json=as_json)


def _deploy(
    ws: Workspace, release: str, to: str, service: list[str] | None, *, wait: bool, as_json: bool
) -> None:
    from clearance.delivery.worker import live_server

    if live_server(ws) is None:
        outcome = delivery.deploy(ws, release, to, services=service, wait=wait, progress=ConsoleProgress())
        _finish(outcome, as_json)
        return
    queued = delivery.deploy(ws, release, to, services=service, wait=True, for_server=True)
    if wait:
        _finish(_follow(ws, [d.id for d in queued.deployments]), as_json)
        return
    if as_json:
        emit_json(
            {"ok": True, "queued": True, "deployments": [deployment_summary(d) for d in queued.deployments]}
        )
    else:
        ids = ", ".join(str(d.id) for d in queued.deployments)
        first = queued.deployments[0].id if queued.deployments else "ID"
        err().print(
            f"queued for clearance serve: deployment {ids} (follow: clearance deployment watch {first})"
        )


def _follow(ws: Workspace, ids: list[int]) -> delivery.DeployOutcome:
    """Wait until the server's workers have finished these deployments."""
    while True:
        rows = delivery.load_deployments(ws, ids)
        if all(d.state not in ("queued", "running") for d in rows):
            return delivery.DeployOutcome(rows)
        time.sleep(0.3)


def promote(
    target: Annotated[
        str, typer.Argument(help="A release version (next lifecycle phase) or a deployment id.")
    ],
    full: Annotated[
        bool, typer.Option("--full", help="Deployment: skip the remaining steps to 100 %.")
    ] = False,
    wait: Wait = False,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Promote a release to the next phase of its lifecycle, or a paused rollout to its next step."""
    ws = open_workspace(config, actor=actor)
    if target.isdigit():
        deployment = interventions.promote(ws, int(target), full=full)
        if as_json:
            emit_json({"deployment": deployment_summary(deployment), "requested": "promote", "full": full})
        else:
            err().print(f"promotion of deployment {deployment.id} requested{' (full)' if full else ''}")
        return
    _finish(delivery.promote(ws, target, wait=wait, progress=ConsoleProgress()), as_json)


def rollback(
    environment: Annotated[str, typer.Argument(help="The environment to roll back.")],
    service: Services = None,
    wait: Wait = False,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Redeploy the last release that succeeded in ENV before the current one."""
    ws = open_workspace(config, actor=actor)
    _finish(
        rollback_service.rollback(ws, environment, services=service, wait=wait, progress=ConsoleProgress()),
        as_json,
    )


def status(config: ConfigPath = None, as_json: Json = False) -> None:
    """The matrix: environments × services with version, state, age and actor."""
    ws = open_workspace(config)
    envs, services = ws.config.environment_names(), ws.config.service_names()
    with ws.store.transaction() as session:
        cells = status_matrix(session, ws.project_id, envs, services)
        documents = [c.to_json() for c in cells]
        changes = change_requests_of(session, [c.deployment for c in cells])
        for document in documents:
            if (shown := document["deployment"]) is not None and shown["change_request_id"] is not None:
                shown["change_request"] = changes[shown["change_request_id"]]
        by_key = {(c.environment, c.service): c for c in cells}
        table = Table(title=f"{ws.config.project} — environments × services")
        table.add_column("environment", style="bold")
        for svc in services:
            table.add_column(svc)
        for env in envs:
            production = ws.config.environment(env)
            label = f"{env}\n[red]production[/]" if production and production.production else env
            row = [label]
            for svc in services:
                cell = by_key[(env, svc)]
                d = cell.deployment
                if d is None:
                    row.append("[dim]—[/]")
                    continue
                text = (
                    f"[bold]{escape(d.release.version)}[/] {state_text(d.state, d.reason)}\n"
                    f"[dim]{age(d.finished_at or d.started_at or d.created_at)} · "
                    f"{escape(d.requested_by)}[/]"
                )
                if d.scheduled_at is not None and d.state == "queued":
                    text += f"\n[cyan]scheduled for {local_time(d.scheduled_at, zone=True)}[/]"
                if d.change_request_id is not None:
                    text += f"\n[dim]change #{d.change_request_id} {changes[d.change_request_id]['state']}[/]"
                if cell.current is not None and cell.current.id != d.id:
                    # The latest attempt did not stick: say what runs there now.
                    text += f"\n[green]running {escape(cell.current.release.version)}[/]"
                row.append(text)
            table.add_row(*row)
    if as_json:
        emit_json(
            {"project": ws.config.project, "environments": envs, "services": services, "matrix": documents}
        )
        return
    out().print(table)


def history(
    environment: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many, newest first.")] = 50,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Deployments, newest first."""
    ws = open_workspace(config)
    if environment is not None and ws.config.environment(environment) is None:
        raise delivery.unknown_error("environment", environment, ws.config.environment_names())
    with ws.store.transaction() as session:
        rows = deployment_history(session, ws.project_id, environment, limit)
        documents = [deployment_summary(d) for d in rows]
        table = Table(title="deployment history")
        for column in ("id", "version", "environment", "service", "kind", "state", "by", "started", "took"):
            table.add_column(column)
        for d in rows:
            took = (
                f"{(d.finished_at - d.started_at).total_seconds():.1f}s"
                if d.finished_at and d.started_at
                else "-"
            )
            table.add_row(
                str(d.id),
                d.release.version,
                d.environment,
                d.service,
                d.kind,
                state_text(d.state, d.reason) + (f"\n[dim]{escape(d.reason)}[/]" if d.reason else ""),
                d.requested_by,
                local_time(d.started_at),  # "-": never started (queued, scheduled, cancelled before)
                took,
            )
    if as_json:
        emit_json({"deployments": documents})
        return
    out().print(table)


def _document(ws: Workspace, deployment_id: int) -> dict[str, Any]:
    with ws.store.transaction() as session:
        deployment = get_deployment(session, ws.project_id, deployment_id)
        document = deployment_detail(deployment)
        document["change_request"] = change_requests_of(session, [deployment]).get(
            deployment.change_request_id or 0
        )
        document["measurements"] = deployment_measurements(session, deployment_id)
        document["flag"] = flag_view(session, deployment)
        document["target"] = (
            target_view(session, ws.project_id, deployment.environment, deployment.service)
            if deployment.strategy
            else None
        )
    return document


def _render(document: dict[str, Any], *, output_lines: int | None = None) -> Group:
    """The deployment as people read it: header, steps with output, traffic, measurements."""
    parts: list[Any] = [
        Text.from_markup(
            f"deployment {document['id']}: {escape(document['service'])} [bold]{document['version']}[/] "
            f"→ {escape(document['environment'])} ({document['kind']}"
            f"{', ' + document['strategy'] if document.get('strategy') else ''}) "
            f"{state_text(document['state'], document['reason'])}"
        )
    ]
    if document["reason"]:
        parts.append(Text(f"  reason: {document['reason']}"))
    if document.get("scheduled_at") and document["state"] == "queued":
        at = datetime.fromisoformat(document["scheduled_at"])
        parts.append(Text(f"  scheduled for {local_time(at, zone=True)} ({document['scheduled_at']})"))
    parts.append(Text(f"  requested by {document['requested_by']}"))
    if change := document.get("change_request"):
        why = f": {change['reason']}" if change["reason"] else ""
        parts.append(
            Text(f"  change request #{change['id']} ({change['kind']} change): {change['state']}{why}")
        )
    for step in document["steps"]:
        extra = f" — {escape(step['reason'])}" if step["reason"] else ""
        parts.append(Text.from_markup(f"  {state_text(step['state'])} {escape(step['name'])}{extra}"))
        lines = step["output"].splitlines()
        for line in lines[-output_lines:] if output_lines else lines:
            parts.append(Text.from_markup(f"    [dim]│[/] {escape(line)}"))
    flag = document.get("flag")
    if flag:
        parts.append(Text(f"  flag: {_flag_text(flag)}"))
    target = document.get("target")
    if target:
        weights = ", ".join(f"{v} {w}%" for v, w in sorted(target["weights"].items())) or "no route (503)"
        parts.append(Text(f"  traffic: {weights}   (observed {target['observed_at']})"))
        table = Table(
            "version", "port", "ready", "restarts", "last error", title=None, box=None, padding=(0, 2)
        )
        for r in target["replicas"]:
            table.add_row(
                str(r["version"]),
                str(r["port"]),
                "yes" if r["ready"] else "no",
                str(r["restarts"]),
                (r["last_error"] or "")[:80],
            )
        parts.append(table)
    if document.get("measurements"):
        table = Table("analysis", "metric", "value", "phase", "at", box=None, padding=(0, 2))
        for m in document["measurements"][-10:]:
            value = readable(m["value"]) if m["value"] is not None else m["error"]
            table.add_row(m["analysis"], m["metric"], value, m["phase"], (m["finished_at"] or "")[11:19])
        parts.append(Text("  measurements:"))
        parts.append(table)
    return Group(*parts)


def _flag_text(flag: dict[str, Any]) -> str:
    now = flag["rollout"]
    share = f"on for {now}% of users" if now is not None else "switched off"
    set_here = flag["set_by_deployment"]
    by = f" (this deployment set {set_here}%)" if set_here is not None else ""
    return f"{flag['name']} {share} in {flag['environment']}{by}"


@deployment_app.command("show")
def show(
    deployment_id: Annotated[int, typer.Argument(help="The deployment's id.")],
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """One deployment: steps with output, traffic weights, replicas and measurements."""
    ws = open_workspace(config)
    document = _document(ws, deployment_id)
    if as_json:
        emit_json({"deployment": document})
        return
    out().print(_render(document))


@deployment_app.command("cancel")
def cancel(
    deployment_id: Annotated[int, typer.Argument(help="A queued deployment, e.g. a scheduled one.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "",
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Cancel a deployment that waits for its time or for a server; a running one is aborted instead."""
    from clearance.delivery.scheduled import cancel as cancel_deployment

    deployment = cancel_deployment(open_workspace(config, actor=actor), deployment_id, reason=reason)
    if as_json:
        emit_json({"deployment": deployment_summary(deployment)})
        return
    err().print(f"deployment {deployment.id} cancelled: {escape(deployment.reason)}")


@deployment_app.command("watch")
def watch(
    deployment_id: Annotated[int, typer.Argument(help="The deployment's id.")],
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between refreshes.")] = 0.5,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Follow a deployment live until it ends: current step, weights, replicas, last measurements.
    Exits 0 when it succeeded and 1 otherwise (failed, rolled back, cancelled), like `deploy --wait`."""
    ws = open_workspace(config)
    document = _document(ws, deployment_id)
    # With --json, stdout holds only the final document; the live view goes to stderr.
    console = err() if as_json else out()
    with Live(_render(document, output_lines=3), console=console, refresh_per_second=4) as live:
        while document["state"] in ("queued", "running"):
            time.sleep(interval)
            document = _document(ws, deployment_id)
            live.update(_render(document, output_lines=3))
    if as_json:
        emit_json({"deployment": document})
    if document["state"] != "succeeded":
        raise typer.Exit(1)
