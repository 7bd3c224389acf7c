"""Rendering for the CLI: tables and messages for people, one JSON document for programs."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from clearance.errors import ClearanceError

SCHEMA_VERSION = 1

STATE_STYLES = {
    "queued": "cyan",
    "running": "bold blue",
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "rolled_back": "magenta",
    "pending": "dim",
    "skipped": "dim",
}
STATE_MARKS = {
    "queued": "…",
    "running": "▶",
    "succeeded": "✔",
    "failed": "✘",
    "cancelled": "■",
    "rolled_back": "↺",
    "pending": "·",
    "skipped": "-",
}


# Piped or captured output has no terminal width; Rich would assume 80 columns and squeeze tables.
_PIPE_WIDTH = 160


def out() -> Console:
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = _PIPE_WIDTH
    return console


def err() -> Console:
    return Console(stderr=True, highlight=False)


def emit_json(document: dict[str, Any]) -> None:
    """Write the one JSON document of a `--json` command to stdout."""
    sys.stdout.write(json.dumps({"schema_version": SCHEMA_VERSION, **document}, indent=2, ensure_ascii=False))
    sys.stdout.write("\n")
    sys.stdout.flush()


def state_text(state: str, reason: str = "") -> str:
    style = STATE_STYLES.get(state, "")
    label = state.replace("_", " ")
    if state == "failed" and reason == "interrupted":
        label = "failed (interrupted)"
    return f"[{style}]{STATE_MARKS.get(state, '')} {escape(label)}[/]"


def age(at: datetime | None, now: datetime | None = None) -> str:
    if at is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - at).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def local_time(at: datetime | None, *, zone: bool = False) -> str:
    """Stored in UTC, shown in the viewer's local time; with `zone`, named (a time still to come is
    read against a wall clock, so which one matters)."""
    if at is None:
        return "-"
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z" if zone else "%Y-%m-%d %H:%M:%S")


def render_error(error: ClearanceError, *, as_json: bool) -> None:
    if as_json:
        emit_json({"error": error.to_problem()})
    # soft_wrap: Rich would break a long message at the terminal's (or a pipe's 80-column) width;
    # an error stays one line, so that people and scripts can grep for it.
    console = err()
    lines = error.message.splitlines() or [error.code]
    if len(lines) == 1:
        console.print(f"[bold red]error:[/] {escape(lines[0])}", soft_wrap=True)
    else:
        console.print(f"[bold red]error:[/] {len(lines)} problems ({escape(error.code)}):", soft_wrap=True)
        for line in lines:
            console.print(f"  {escape(line)}", soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(error.hint)}", soft_wrap=True)
