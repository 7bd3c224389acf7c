"""The calendar of windows: the freeze and change windows of every environment between two instants,
as rows for `clearance calendar` and as RFC 5545 iCalendar that calendar apps import. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from icalendar import Calendar, Event

from clearance.planning.windows import Occurrence, WindowsPolicy, occurrences

__all__ = ["CalendarEntry", "to_ics", "upcoming_windows"]

PRODID = "-//clearance//windows calendar//EN"


@dataclass(frozen=True, kw_only=True)
class CalendarEntry:
    """One opening of one environment's window."""

    environment: str
    window: Occurrence

    def uid(self) -> str:
        # Stable across exports, so a re-imported calendar updates events instead of doubling them.
        return f"{self.window.kind}-{self.window.name}-{self.environment}-{self.window.start:%Y%m%dT%H%M%SZ}@clearance"

    def to_json(self) -> dict[str, Any]:
        return {"environment": self.environment, **self.window.to_json()}


def upcoming_windows(
    policies: Iterable[tuple[str, WindowsPolicy]], start: datetime, end: datetime
) -> list[CalendarEntry]:
    """Every window opening that overlaps [start, end), across environments, by start."""
    entries = [
        CalendarEntry(environment=environment, window=occurrence)
        for environment, policy in policies
        for occurrence in occurrences(policy, start, end)
    ]
    return sorted(entries, key=lambda e: (e.window.start, e.environment, e.window.kind, e.window.name))


def to_ics(entries: Iterable[CalendarEntry], *, project: str, stamp: datetime) -> bytes:
    """An iCalendar (RFC 5545) document with one VEVENT per opening, in UTC."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{project} windows")
    for entry in entries:
        window = entry.window
        event = Event()
        event.add("uid", entry.uid())
        event.add("dtstamp", stamp)
        event.add("dtstart", window.start)
        event.add("dtend", window.end)
        label = "freeze" if window.kind == "freeze" else "change window"
        event.add("summary", f"{entry.environment}: {label} '{window.name}'")
        event.add(
            "description",
            f"{label} of {entry.environment} ({window.rrule}, {window.timezone})",
        )
        event.add("categories", [window.kind])
        event.add("transp", "OPAQUE" if window.kind == "freeze" else "TRANSPARENT")
        calendar.add_component(event)
    return bytes(calendar.to_ical())
