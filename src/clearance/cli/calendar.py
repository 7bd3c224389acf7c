"""`clearance calendar`: the freeze and change windows of every environment, the releases planned and
the deployments scheduled, ahead of time, as tables, JSON, or an iCalendar file (`--ics FILE`)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import ConfigPath, Json
from clearance.cli.output import emit_json, err, local_time, out
from clearance.delivery.scheduled import scheduled_between
from clearance.errors import UsageError
from clearance.planning.calendar import (
    CalendarEntry,
    PlannedRelease,
    ScheduledDeployment,
    on_days,
    to_ics,
    upcoming_windows,
)
from clearance.planning.service import planned_releases
from clearance.planning.windows import WindowsPolicy
from clearance.workspace import Workspace, open_workspace


def _instant(value: str | None, option: str, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(
            f"{option} {value!r} is not a date or time",
            hint="use ISO 8601: 2026-12-01 or 2026-12-01T22:00+01:00",
        ) from exc
    # A time without an offset is read in UTC: the store's time, the same for everyone.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def calendar(
    start: Annotated[str | None, typer.Option("--from", help="From (ISO 8601; default: now).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="To (ISO 8601; default: 30 days on).")] = None,
    ics: Annotated[
        Path | None,
        typer.Option(
            "--ics", help="Write the windows as iCalendar (RFC 5545) to FILE (- for standard output)."
        ),
    ] = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """List the windows of every environment, the releases planned and the deployments scheduled
    between --from and --to."""
    ws = open_workspace(config)
    loaded = ws.loaded
    now = datetime.now(UTC)
    since = _instant(start, "--from", now)
    until = _instant(end, "--to", since + timedelta(days=30))
    if until <= since:
        raise UsageError("--to must be after --from")
    policies: list[tuple[str, WindowsPolicy]] = [
        (env.name, env.gates.windows)
        for env in loaded.config.environments
        if env.gates is not None and env.gates.windows is not None
    ]
    entries = upcoming_windows(policies, since, until)
    releases, deployments = _records(ws, since, until)
    if ics is not None:
        document = to_ics(
            entries, project=loaded.config.project, stamp=now, releases=releases, deployments=deployments
        )
        if str(ics) == "-":  # as curl and tar read it: standard output
            if as_json:
                raise UsageError("--ics - and --json both write to standard output: give --ics a FILE")
            sys.stdout.buffer.write(document)
            sys.stdout.flush()
            return
        _write(ics, document)
        err().print(
            f"wrote {len(entries)} window(s), {len(releases)} release(s) and {len(deployments)} "
            f"scheduled deployment(s) to {escape(str(ics))}"
        )
    if as_json:
        emit_json(
            {
                "from": since.isoformat(),
                "to": until.isoformat(),
                "windows": [e.to_json() for e in entries],
                "releases": [r.to_json() for r in releases],
                "deployments": [d.to_json() for d in deployments],
            }
        )
    elif ics is None:
        _print(entries, since, until)
        _print_records(releases, deployments)


def _write(path: Path, document: bytes) -> None:
    try:
        path.write_bytes(document)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _records(
    ws: Workspace, since: datetime, until: datetime
) -> tuple[list[PlannedRelease], list[ScheduledDeployment]]:
    project = ws.config.project
    with ws.store.transaction() as session:
        rows = planned_releases(
            session, ws.project_id, since.astimezone(UTC).date(), until.astimezone(UTC).date()
        )
        releases = [
            PlannedRelease(project=project, version=r.version, type=r.type, planned=r.planned_date)
            for r in rows
            if r.planned_date is not None and on_days(r.planned_date, since, until)
        ]
    deployments = [
        ScheduledDeployment(
            project=project,
            deployment_id=d.id,
            version=d.release.version,
            environment=d.environment,
            service=d.service,
            at=d.scheduled_at,
            requested_by=d.requested_by,
        )
        for d in scheduled_between(ws, since, until)
        if d.scheduled_at is not None
    ]
    return releases, deployments


def _print_records(releases: list[PlannedRelease], deployments: list[ScheduledDeployment]) -> None:
    if releases:
        table = Table(title="planned releases")
        for column in ("date", "version", "type"):
            table.add_column(column)
        for r in releases:
            table.add_row(r.planned.isoformat(), escape(r.version), r.type)
        out().print(table)
    if deployments:
        table = Table(title="scheduled deployments")
        for column in ("id", "at (local)", "at (UTC)", "version", "environment", "service", "by"):
            table.add_column(column)
        for d in deployments:
            table.add_row(
                str(d.deployment_id),
                local_time(d.at, zone=True),
                f"{d.at.astimezone(UTC):%Y-%m-%d %H:%M}",
                escape(d.version),
                escape(d.environment),
                escape(d.service),
                escape(d.requested_by),
            )
        out().print(table)


def _print(entries: list[CalendarEntry], since: datetime, until: datetime) -> None:
    if not entries:
        out().print(f"[dim]no windows between {since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} UTC[/]")
        return
    table = Table(title="windows")
    for column in ("environment", "kind", "window", "from", "to"):
        table.add_column(column)
    for entry in entries:
        w = entry.window
        zone = ZoneInfo(w.timezone)
        shown = [f"{moment.astimezone(zone):%Y-%m-%d %H:%M %Z}" for moment in (w.start, w.end)]
        table.add_row(entry.environment, w.kind, escape(w.name), *shown)
    out().print(table)
