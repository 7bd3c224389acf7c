"""`clearance token …`: API tokens for the flag server — client tokens (read one environment's flags)
and admin tokens (change flags over the API). A token is printed once; only its sha256 is kept."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import ConfigPath, Json
from clearance.cli.output import age, emit_json, err, out
from clearance.flags.client_service import create_token, list_tokens, revoke_token
from clearance.workspace import open_workspace

token_app = typer.Typer(help="API tokens of the flag server.", no_args_is_help=True)


@token_app.command("create")
def create(
    env: Annotated[str | None, typer.Option("--env", help="The environment a client token reads.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="An admin token (changes flags).")] = False,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Create a token and print it once: it cannot be shown again."""
    token, view = create_token(open_workspace(config), env, admin=admin)
    if as_json:
        emit_json({"token": token, **view.to_json()})
        return
    kind = "admin token" if admin else f"client token for {env}"
    err().print(f"[green]✔[/] {escape(kind)} created (id {view.id}); it is shown only now:")
    out().print(token)


@token_app.command("list")
def list_(config: ConfigPath = None, as_json: Json = False) -> None:
    """Every token: id, kind, environment and prefix (never the token)."""
    tokens = list_tokens(open_workspace(config))
    if as_json:
        emit_json({"tokens": [t.to_json() for t in tokens]})
        return
    table = Table(box=None)
    for column in ("id", "kind", "environment", "prefix", "created", "state"):
        table.add_column(column)
    for t in tokens:
        table.add_row(
            str(t.id),
            "admin" if t.admin else "client",
            escape(t.environment or "-"),
            escape(t.prefix + "…"),
            age(t.created_at),
            "[red]revoked[/]" if t.revoked_at else "active",
        )
    out().print(table)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (`clearance token list`).")],
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Revoke a token: the API refuses it from now on."""
    view = revoke_token(open_workspace(config), token_id)
    if as_json:
        emit_json({"token": view.to_json()})
        return
    err().print(f"[green]✔[/] token {view.id} revoked")
