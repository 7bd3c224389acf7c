"""The release calendar: the freeze and change windows of every environment between two instants,
the releases planned for those days and the deployments scheduled then, as rows for `clearance
calendar` and as RFC 5545 iCalendar that calendar apps import. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Calendar, Event

from clearance.planning.windows import Occurrence, WindowsPolicy, occurrences

__all__ = ["CalendarEntry", "PlannedRelease", "ScheduledDeployment", "on_days", "to_ics", "upcoming_windows"]

PRODID = "-//clearance//release calendar//EN"


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


@dataclass(frozen=True, kw_only=True)
class PlannedRelease:
    """A release with a planned date: an all-day event."""

    project: str
    version: str
    type: str
    planned: date

    def uid(self) -> str:
        return f"release-{self.project}-{self.version}@clearance"

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "type": self.type, "planned_date": self.planned.isoformat()}

    def event(self) -> Event:
        event = Event()
        event.add("dtstart", self.planned)  # a DATE: all day, wherever the reader is
        event.add("dtend", self.planned + timedelta(days=1))
        event.add("summary", f"release {self.version} ({self.type})")
        event.add("categories", ["release"])
        event.add("transp", "TRANSPARENT")
        return event


def on_days(planned: date, start: datetime, end: datetime) -> bool:
    """Whether the UTC day `planned` overlaps [start, end)."""
    day = datetime.combine(planned, time(), UTC)
    return day + timedelta(days=1) > start and day < end


@dataclass(frozen=True, kw_only=True)
class ScheduledDeployment:
    """A deployment queued to run at `at` (`deploy --at`): an event at that instant."""

    project: str
    deployment_id: int
    version: str
    environment: str
    service: str
    at: datetime
    requested_by: str

    def uid(self) -> str:
        return f"deployment-{self.project}-{self.deployment_id}@clearance"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.deployment_id,
            "version": self.version,
            "environment": self.environment,
            "service": self.service,
            "scheduled_at": self.at.astimezone(UTC).isoformat(),
            "requested_by": self.requested_by,
        }

    def event(self) -> Event:
        event = Event()
        event.add("dtstart", self.at.astimezone(UTC))  # no DTEND: it happens at that instant (RFC 5545)
        event.add("summary", f"deploy {self.service} {self.version} to {self.environment}")
        event.add("description", f"deployment {self.deployment_id}, scheduled by {self.requested_by}")
        event.add("categories", ["deployment"])
        return event


def to_ics(
    entries: Iterable[CalendarEntry],
    *,
    project: str,
    stamp: datetime,
    releases: Iterable[PlannedRelease] = (),
    deployments: Iterable[ScheduledDeployment] = (),
) -> bytes:
    """An iCalendar (RFC 5545) document: one VEVENT per window opening and per scheduled deployment,
    in UTC, and one all-day VEVENT per planned release."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{project} release calendar")
    items: list[PlannedRelease | ScheduledDeployment] = [*releases, *deployments]
    for item in items:
        event = item.event()
        event.add("uid", item.uid())
        event.add("dtstamp", stamp)
        calendar.add_component(event)
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
