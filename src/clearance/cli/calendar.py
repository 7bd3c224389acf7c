"""`clearance calendar`: the freeze and change windows of every environment, ahead of time, as a
table, JSON, or an iCalendar file (`--ics FILE`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from clearance.cli.options import ConfigPath, Json
from clearance.cli.output import emit_json, err, out
from clearance.errors import UsageError
from clearance.planning.calendar import CalendarEntry, to_ics, upcoming_windows
from clearance.planning.windows import WindowsPolicy
from clearance.project import find_config, load_config


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
        Path | None, typer.Option("--ics", help="Write the windows as iCalendar (RFC 5545) to FILE.")
    ] = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """List the freeze and change windows of every environment between --from and --to."""
    loaded = load_config(config or find_config(Path.cwd()))
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
    if ics is not None:
        ics.write_bytes(to_ics(entries, project=loaded.config.project, stamp=now))
        err().print(f"wrote {len(entries)} window(s) to {escape(str(ics))}")
    if as_json:
        emit_json(
            {"from": since.isoformat(), "to": until.isoformat(), "windows": [e.to_json() for e in entries]}
        )
    elif ics is None:
        _print(entries, since, until)


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
