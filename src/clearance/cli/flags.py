"""`clearance flag …`: create, switch, roll out, constrain and archive feature flags; list and show
them with the metrics SDKs report; list the stale ones."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import ConfigPath, Json
from clearance.cli.output import age, emit_json, err, out
from clearance.flags import service
from clearance.flags.definitions import ConstraintInput, parse_percentage
from clearance.flags.service import FlagView
from clearance.workspace import open_workspace

flag_app = typer.Typer(
    help="Feature flags served to Unleash SDKs by `clearance serve`.", no_args_is_help=True
)

Name = Annotated[str, typer.Argument(help="The flag's name.")]
Env = Annotated[str, typer.Option("--env", help="The environment to change.")]


def _summary(flag: FlagView, environment: str) -> str:
    view = flag.environments[environment]
    if not view.enabled:
        return "[dim]off[/]"
    rollouts = [s["parameters"].get("rollout") for s in view.strategies if s.get("name") == "flexibleRollout"]
    constrained = any(s.get("constraints") for s in view.strategies)
    text = f"[green]on[/] {rollouts[0]}%" if rollouts else "[green]on[/]"
    return text + (" (constrained)" if constrained else "")


def _changed(flag: FlagView, message: str, as_json: bool) -> None:
    if as_json:
        emit_json({"flag": flag.to_json()})
        return
    err().print(f"[green]✔[/] {escape(message)}")


@flag_app.command("create")
def create(
    name: Name,
    kind: Annotated[
        str, typer.Option("--type", help="release, experiment, ops, kill-switch or permission.")
    ] = "release",
    description: Annotated[str, typer.Option("--description", help="What the flag is for.")] = "",
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Create a flag, off in every environment."""
    flag = service.create_flag(open_workspace(config), name, kind, description)
    _changed(flag, f"flag {name} created ({kind}), off everywhere", as_json)


@flag_app.command("enable")
def enable(name: Name, env: Env, config: ConfigPath = None, as_json: Json = False) -> None:
    """Switch the flag on in one environment (for everyone unless it has a rollout or constraints)."""
    flag = service.set_enabled(open_workspace(config), name, env, True)
    _changed(flag, f"flag {name} enabled in {env}", as_json)


@flag_app.command("disable")
def disable(name: Name, env: Env, config: ConfigPath = None, as_json: Json = False) -> None:
    """Switch the flag off in one environment."""
    flag = service.set_enabled(open_workspace(config), name, env, False)
    _changed(flag, f"flag {name} disabled in {env}", as_json)


@flag_app.command("rollout")
def rollout(
    name: Name,
    percentage: Annotated[str, typer.Argument(help="Share of users, 0–100, like 25%.")],
    env: Env,
    stickiness: Annotated[
        str, typer.Option("--stickiness", help="default, userId, sessionId, random or a context field.")
    ] = "default",
    group_id: Annotated[
        str | None, typer.Option("--group-id", help="Bucketing group (default: the flag's name).")
    ] = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Let a percentage of users in (a flexibleRollout strategy); the flag must be enabled too."""
    percent = parse_percentage(percentage)
    flag = service.set_rollout(
        open_workspace(config), name, env, percent, stickiness=stickiness, group_id=group_id
    )
    _changed(flag, f"flag {name} rolled out to {percent}% in {env}", as_json)
    state = flag.environments.get(env)
    if not as_json and (state is None or not state.enabled):
        err().print(
            f"[yellow]![/] flag {escape(name)} is still off in {escape(env)}: nobody gets it until "
            f"`clearance flag enable {escape(name)} --env {escape(env)}`"
        )


@flag_app.command("constrain")
def constrain(
    name: Name,
    env: Env,
    context_name: Annotated[str, typer.Option("--context-name", help="userId, appVersion, …")],
    operator: Annotated[str, typer.Option("--operator", help="IN, NOT_IN, SEMVER_GT, NUM_LT, …")],
    values: Annotated[list[str], typer.Option("--values", help="A value (repeat for several).")],
    inverted: Annotated[bool, typer.Option("--inverted", help="Negate the constraint.")] = False,
    case_insensitive: Annotated[bool, typer.Option("--case-insensitive")] = False,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Add a constraint to the flag's strategies in one environment."""
    given = ConstraintInput(context_name, operator, tuple(values), inverted, case_insensitive)
    flag = service.add_constraint(open_workspace(config), name, env, given)
    _changed(flag, f"flag {name} constrained in {env}: {context_name} {operator.upper()}", as_json)


@flag_app.command("variants")
def variants(
    name: Name,
    env: Env,
    weights: Annotated[list[str], typer.Argument(help="NAME=WEIGHT …, like control=50 treatment=50.")],
    stickiness: Annotated[str, typer.Option("--stickiness")] = "default",
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Set the flag's variants in one environment (weights relative to their sum)."""
    flag = service.set_variants(open_workspace(config), name, env, weights, stickiness=stickiness)
    count = f"{len(weights)} variant{'s' if len(weights) != 1 else ''}"
    _changed(flag, f"flag {name} has {count} in {env}", as_json)


@flag_app.command("archive")
def archive(name: Name, config: ConfigPath = None, as_json: Json = False) -> None:
    """Stop serving the flag (SDKs then see it as unknown: off)."""
    flag = service.archive_flag(open_workspace(config), name)
    _changed(flag, f"flag {name} archived", as_json)


@flag_app.command("revive")
def revive(name: Name, config: ConfigPath = None, as_json: Json = False) -> None:
    """Serve an archived flag again, as it was when archived."""
    flag = service.revive_flag(open_workspace(config), name)
    _changed(flag, f"flag {name} revived", as_json)


def _table(flags: list[FlagView], environments: list[str]) -> Table:
    table = Table(box=None)
    for column in ("flag", "type", *environments, "created"):
        table.add_column(column)
    for flag in flags:
        cells = [_summary(flag, env) for env in environments]
        shown = escape(flag.name) + (" [yellow](archived)[/]" if flag.archived_at else "")
        table.add_row(shown, flag.type, *cells, age(flag.created_at))
    return table


@flag_app.command("list")
def list_(
    archived: Annotated[bool, typer.Option("--archived", help="Include archived flags.")] = False,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Every flag of the project and its state in each environment."""
    ws = open_workspace(config)
    flags = service.list_flags(ws, archived=archived)
    if as_json:
        emit_json({"flags": [flag.to_json() for flag in flags]})
        return
    out().print(_table(flags, ws.config.environment_names()))


@flag_app.command("stale")
def stale(config: ConfigPath = None, as_json: Json = False) -> None:
    """Flags fully rolled out everywhere for longer than `flags.stale_after` (30d): time to remove them."""
    ws = open_workspace(config)
    flags = service.stale_flags(ws)
    if as_json:
        emit_json({"flags": [flag.to_json() for flag in flags]})
        return
    if not flags:
        err().print("no stale flags")
        return
    out().print(_table(flags, ws.config.environment_names()))


@flag_app.command("show")
def show(name: Name, config: ConfigPath = None, as_json: Json = False) -> None:
    """One flag: its configuration per environment and the yes/no and variant counts SDKs reported."""
    flag = service.show_flag(open_workspace(config), name)
    if as_json:
        emit_json({"flag": flag.to_json()})
        return
    console = out()
    state = " [yellow](archived)[/]" if flag.archived_at else ""
    console.print(f"[bold]{escape(flag.name)}[/] ({flag.type}){state} {escape(flag.description)}")
    table = Table(box=None)
    for column in ("environment", "state", "yes", "no", "variants"):
        table.add_column(column)
    for env in flag.environments:
        counts = flag.metrics.get(env, {})
        shown = ", ".join(f"{k}={v}" for k, v in sorted(counts.get("variants", {}).items()))
        table.add_row(
            env,
            _summary(flag, env),
            str(counts.get("yes", 0)),
            str(counts.get("no", 0)),
            escape(shown or "-"),
        )
    console.print(table)
