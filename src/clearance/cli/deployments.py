"""`clearance deploy`, `promote`, `rollback`, `status`, `history` and `deployment show`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import Actor, ConfigPath, Json, Wait
from clearance.cli.output import age, emit_json, err, local_time, out, state_text
from clearance.cli.progress import ConsoleProgress
from clearance.delivery import interventions
from clearance.delivery import rollback as rollback_service
from clearance.delivery import service as delivery
from clearance.delivery.views import (
    deployment_detail,
    deployment_summary,
    get_deployment,
    status_matrix,
)
from clearance.delivery.views import (
    history as deployment_history,
)
from clearance.workspace import open_workspace

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
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Deploy a release to an environment (every service unless --service), checking the lifecycle."""
    ws = open_workspace(config, actor=actor)
    _finish(
        delivery.deploy(ws, release, to, services=service, wait=wait, progress=ConsoleProgress()), as_json
    )


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
                local_time(d.started_at or d.created_at),
                took,
            )
    if as_json:
        emit_json({"deployments": documents})
        return
    out().print(table)


@deployment_app.command("show")
def show(
    deployment_id: Annotated[int, typer.Argument(help="The deployment's id.")],
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """One deployment: its steps, their state, timing and output."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        document = deployment_detail(get_deployment(session, ws.project_id, deployment_id))
    if as_json:
        emit_json({"deployment": document})
        return
    console = out()
    console.print(
        f"deployment {document['id']}: {escape(document['service'])} [bold]{document['version']}[/] "
        f"→ {escape(document['environment'])} ({document['kind']}) "
        f"{state_text(document['state'], document['reason'])}"
    )
    if document["reason"]:
        console.print(f"  reason: {escape(document['reason'])}")
    console.print(f"  requested by {escape(document['requested_by'])}")
    for step in document["steps"]:
        extra = f" — {escape(step['reason'])}" if step["reason"] else ""
        console.print(f"  {state_text(step['state'])} {escape(step['name'])}{extra}")
        for line in step["output"].splitlines():
            console.print(f"    [dim]│[/] {escape(line)}", soft_wrap=True)
