"""`clearance user add|grant|revoke|list`: the people who approve, reject and waive, and their roles."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import Actor, ConfigPath, Json
from clearance.cli.output import emit_json, err, out
from clearance.errors import UsageError
from clearance.gates.approvals.rules import ROLE_NAMES, Role, parse_role
from clearance.gates.approvals.service import add_user, change_role, list_users
from clearance.store.tables import UserRow
from clearance.workspace import open_workspace

user_app = typer.Typer(
    help="Users and their roles (who may approve, reject and waive).", no_args_is_help=True
)

_ROLE_HELP = f"One of: {', '.join(ROLE_NAMES)}."


def _role(name: str) -> Role:
    try:
        return parse_role(name)
    except ValueError as exc:
        raise UsageError(str(exc), hint=_ROLE_HELP, code="role-unknown") from None


def user_json(user: UserRow) -> dict[str, Any]:
    return {
        "name": user.name,
        "email": user.email,
        "roles": [r.role for r in user.roles],
        "created_by": user.created_by,
        "created_at": user.created_at.isoformat(),
    }


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The name they act under (their --actor).")],
    email: Annotated[str | None, typer.Option("--email", help="Their e-mail address.")] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help=f"A role; repeatable. {_ROLE_HELP}")
    ] = None,
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Add a user, with roles."""
    roles = [_role(r) for r in role or []]
    ws = open_workspace(config, actor=actor)
    user = add_user(ws, name, email=email, roles=roles)
    if as_json:
        emit_json({"user": {"name": user.name, "email": user.email, "roles": [r.value for r in roles]}})
        return
    err().print(f"[green]✔[/] user {escape(name)} added ({', '.join(r.value for r in roles) or 'no role'})")


def _change(name: str, role: str, grant: bool, actor: str | None, config: ConfigPath, as_json: bool) -> None:
    wanted = _role(role)
    ws = open_workspace(config, actor=actor)
    changed = change_role(ws, name, wanted, grant=grant)
    if as_json:
        emit_json({"user": name, "role": wanted.value, "granted": grant, "changed": changed})
        return
    verb = "granted to" if grant else "revoked from"
    if changed:
        err().print(f"[green]✔[/] {wanted.value} {verb} {escape(name)}")
    else:
        err().print(f"[dim]{escape(name)} {'already holds' if grant else 'does not hold'} {wanted.value}[/]")


@user_app.command("grant")
def grant(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help=f"The role. {_ROLE_HELP}")],
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Give a user one more role."""
    _change(name, role, True, actor, config, as_json)


@user_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help=f"The role. {_ROLE_HELP}")],
    actor: Actor = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Take one role from a user (their earlier approvals as that role stop counting)."""
    _change(name, role, False, actor, config, as_json)


@user_app.command("list")
def list_(config: ConfigPath = None, as_json: Json = False) -> None:
    """Every user and their roles."""
    ws = open_workspace(config)
    with ws.store.transaction() as session:
        users = [user_json(u) for u in list_users(session)]
    if as_json:
        emit_json({"users": users})
        return
    if not users:
        out().print("[dim]no users yet: `clearance user add NAME --role ROLE`[/]")
        return
    table = Table(title="users")
    for column in ("name", "email", "roles"):
        table.add_column(column)
    for u in users:
        table.add_row(escape(u["name"]), escape(u["email"] or "-"), ", ".join(u["roles"]) or "-")
    out().print(table)
