"""When a scheduled deployment (`deploy --at`) runs: the time as written, read as one UTC instant.
Pure.

A time is either an instant (ISO 8601 with its UTC offset: `2027-10-31T02:30+01:00`) or a local
time with an IANA zone (`--at 2027-10-31T02:30 --tz Europe/Paris`). A local time the clocks skip
(02:30 on the last Sunday of March in Paris) or show twice (02:30 on the last Sunday of October) is
refused with the reason: a deployment runs at one instant, and guessing it would be a silent error
the person finds out about in production. The offset says which of the two times is meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clearance.errors import UsageError

__all__ = ["ScheduledTime", "parse_zone", "scheduled_time", "shown"]

_FORMATS_HINT = (
    "use ISO 8601 with a UTC offset (2027-03-28T22:00+02:00) or a local time with --tz Europe/Paris"
)


@dataclass(frozen=True)
class ScheduledTime:
    """The UTC instant a deployment runs at, and the zone the person wrote it in (for showing)."""

    at: datetime
    zone: tzinfo

    def local(self) -> str:
        return shown(self.at, self.zone)


def shown(at: datetime, zone: tzinfo) -> str:
    """`2027-03-28 03:30 CEST (01:30 UTC)`: the local time, then the instant in UTC."""
    local = at.astimezone(zone)
    name = local.tzname() or local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {name} ({at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"unknown time zone '{name}'",
            hint="use an IANA name such as Europe/Paris, America/New_York or UTC",
            code="schedule-invalid",
        ) from exc


def _offset(value: timedelta | None) -> str:
    minutes = int((value or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _parse(text: str) -> datetime:
    stripped = text.strip()
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError as exc:
        raise UsageError(
            f"--at {text!r} is not a date and time", hint=_FORMATS_HINT, code="schedule-invalid"
        ) from exc
    if len(stripped) <= 10:  # a date alone: midnight is rarely what is meant
        raise UsageError(f"--at {text!r} has no time of day", hint=_FORMATS_HINT, code="schedule-invalid")
    return moment


def _from_local(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant of a wall-clock time in `zone`; refused when the clocks skip it or show it twice."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    day = f"{local:%Y-%m-%d %H:%M}"
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise UsageError(
            f"{day} does not exist in {zone.key}: the clocks skip it when they change from "
            f"{_offset(first.utcoffset())} to {_offset(second.utcoffset())}",
            hint="choose a time the clocks show that day, e.g. one hour later",
            code="schedule-nonexistent",
        )
    if first.utcoffset() != second.utcoffset():
        earlier, later = _offset(first.utcoffset()), _offset(second.utcoffset())
        raise UsageError(
            f"{day} happens twice in {zone.key}: first at {earlier}, then at {later} after the clocks go back",
            hint=f"write the one you mean with its offset: --at {local:%Y-%m-%dT%H:%M}{earlier} "
            f"or --at {local:%Y-%m-%dT%H:%M}{later}",
            code="schedule-ambiguous",
        )
    return first.astimezone(UTC)


def scheduled_time(text: str, zone_name: str | None, *, now: datetime) -> ScheduledTime:
    """Read `--at` (and `--tz`) as a future UTC instant, or raise a UsageError saying why not."""
    moment = _parse(text)
    zone = parse_zone(zone_name) if zone_name is not None else None
    if moment.tzinfo is None:
        if zone is None:
            raise UsageError(
                f"--at {text!r} has no UTC offset and no --tz: the instant it means is unknown",
                hint="add the offset (2027-03-28T22:00+02:00) or the zone (--tz Europe/Paris)",
                code="schedule-invalid",
            )
        at = _from_local(moment, zone)
    else:
        at = moment.astimezone(UTC)
        if zone is not None and at.astimezone(zone).utcoffset() != moment.utcoffset():
            raise UsageError(
                f"--at {text!r} is not a {zone.key} time: {zone.key} is at "
                f"{_offset(at.astimezone(zone).utcoffset())} then ({shown(at, zone)})",
                hint=f"write the offset {zone.key} has at that time, or leave out --tz",
                code="schedule-invalid",
            )
    if at <= now:
        raise UsageError(
            f"--at {text!r} is in the past ({shown(at, zone or moment.tzinfo or UTC)}; now is "
            f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC)",
            hint="schedule a time to come, or deploy now without --at",
            code="schedule-past",
        )
    return ScheduledTime(at=at, zone=zone or moment.tzinfo or UTC)
