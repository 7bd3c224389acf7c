"""The Typer app of `clearance`: every command, each module imported when its command runs.

`clearance version next` must not pay for SQLAlchemy, pydantic or the web stack that other
commands need, so `clearance --version` or `clearance status` load only what they use.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from typing import ClassVar

import typer
from typer import _click as click
from typer.core import TyperGroup

from clearance import __version__

# name → (module in clearance.cli, attribute): a Typer app becomes a group, a function a command.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("project", "init"),
    "config": ("project", "config_app"),
    "release": ("releases", "release_app"),
    "version": ("versions", "version_app"),
    "notes": ("notes", "notes"),
    "deploy": ("deployments", "deploy"),
    "promote": ("deployments", "promote"),
    "rollback": ("deployments", "rollback"),
    "status": ("deployments", "status"),
    "history": ("deployments", "history"),
    "deployment": ("deployments", "deployment_app"),
    "audit": ("audit", "audit_app"),
    "demo": ("demo", "demo"),
    "agent": ("agent", "agent"),
    "serve": ("serve", "serve"),
    "abort": ("rollouts", "abort"),
    "pause": ("rollouts", "pause"),
    "resume": ("rollouts", "resume"),
    "retry": ("deployments", "retry"),
    "artifact": ("artifacts", "artifact_app"),
    "keys": ("keys", "keys_app"),
    "evidence": ("evidence", "evidence_app"),
    "gates": ("gates", "gates"),
    "gate": ("gates", "gate_app"),
    "flag": ("flags", "flag_app"),
    "token": ("tokens", "token_app"),
    "user": ("users", "user_app"),
    "approve": ("approvals", "approve"),
    "reject": ("approvals", "reject"),
    "calendar": ("calendar", "calendar"),
    "change": ("changes", "change_app"),
}


class LazyGroup(TyperGroup):
    """A group whose subcommands are imported the first time they are asked for."""

    lazy_commands: ClassVar[dict[str, tuple[str, str]]] = COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *(name for name in self.lazy_commands if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy_commands:
            command = _load(cmd_name, *self.lazy_commands[cmd_name])
            self.commands[cmd_name] = command
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except click.exceptions.UsageError as error:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                error.message = f"{error.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise


def _load(name: str, module_name: str, attribute: str) -> click.Command:
    target = getattr(importlib.import_module(f"clearance.cli.{module_name}"), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer(add_completion=False)
    single.command(name)(target)
    return typer.main.get_command(single)


app = typer.Typer(
    name="clearance",
    cls=LazyGroup,
    help="Release management from plan to production: releases, lifecycles, deployments, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clearance {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """clearance: plan, deploy, promote and roll back releases, with an audit trail that proves it."""
