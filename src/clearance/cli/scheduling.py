"""`clearance deploy --at`: schedule a deployment for `clearance serve` to run at a given time."""

from __future__ import annotations

from rich.markup import escape

from clearance.cli.output import emit_json, err, out
from clearance.delivery import service as delivery
from clearance.delivery.schedule import scheduled_time, shown
from clearance.delivery.views import deployment_summary
from clearance.delivery.worker import live_server
from clearance.errors import UsageError
from clearance.store.tables import utcnow
from clearance.workspace import Workspace


def schedule(
    ws: Workspace,
    release: str,
    to: str,
    service: list[str] | None,
    *,
    at: str | None,
    tz: str | None,
    as_json: bool,
) -> None:
    """Queue the deployments for `clearance serve` to run at --at (read with --tz), and say when."""
    if at is None:
        raise UsageError("--tz needs --at: it is the zone of the time given there", code="schedule-invalid")
    when = scheduled_time(at, tz, now=utcnow())
    outcome = delivery.deploy(ws, release, to, services=service, at=when.at)
    server = live_server(ws) is not None
    if as_json:
        emit_json(
            {
                "ok": True,
                "scheduled": True,
                "scheduled_at": when.at.isoformat(),
                "local": when.at.astimezone(when.zone).isoformat(),
                "server_running": server,
                "deployments": [deployment_summary(d) for d in outcome.deployments],
            }
        )
        return
    ids = ", ".join(str(d.id) for d in outcome.deployments)
    out().print(
        f"scheduled deployment {ids}: {escape(release)} → {escape(to)} at {shown(when.at, when.zone)}"
    )
    if not server:
        err().print(
            "[yellow]no `clearance serve` is running now:[/] scheduled deployments run only from a server",
            soft_wrap=True,
        )
