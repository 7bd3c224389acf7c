"""Freeze windows and allowed change windows: recurring spans of local time (an RRULE start and a
duration, in an IANA time zone) and the rule that says whether a deployment may start now.

Time is wall-clock time in the window's zone: `FREQ=WEEKLY;BYDAY=FR;BYHOUR=16` with `duration:
2d16h` ends on Monday at 08:00 local even across a DST weekend. A local time that the zone skips
(02:30 on the last Sunday of March in Europe/Paris) moves forward to the instant the clocks jumped
(03:00 CEST), so a window keeps the part of it that the clock shows; a local time that happens twice
(02:30 on the last Sunday of October) means its first occurrence, as zoneinfo's fold=0 does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule as Recurrence
from dateutil.rrule import rrulestr
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from clearance.project.durations import parse_duration

__all__ = [
    "Occurrence",
    "Window",
    "WindowDecision",
    "WindowsPolicy",
    "decide",
    "occurrences",
    "parse_span",
    "resolve_local",
]

# Unspecified RRULE parts (hour, minute, weekday, month day) come from this anchor: midnight, Jan 1.
ANCHOR = datetime(2000, 1, 1)
_FREQUENCIES = {"YEARLY", "MONTHLY", "WEEKLY", "DAILY"}
_FREQ = re.compile(r"FREQ=([A-Z]+)")
_RRULE_EXAMPLE = "FREQ=WEEKLY;BYDAY=FR"
# dateutil accepts some rules it cannot iterate (INTERVAL=0 fails on the first step): computing
# this many openings at load time proves that gates and calendar can compute them later.
_PROBED_OPENINGS = 3
# Occurrences starting this long before a local time may still cover it once offsets are applied.
_SLACK = timedelta(hours=3)


def parse_span(value: object) -> timedelta:
    """A window's length as written in clearance.yaml (`8h`, `2d16h`, `1w`): any duration the rest of
    the file accepts; more than zero."""
    return timedelta(seconds=parse_duration(value))


def _zone(value: object) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a time zone is an IANA name such as Europe/Paris or UTC")
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long for a path
        raise ValueError(
            f"unknown time zone '{value}': use an IANA name such as Europe/Paris or UTC"
        ) from exc


def _rule_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"an RRULE is text such as {_RRULE_EXAMPLE};BYHOUR=16")
    text = value.strip().removeprefix("RRULE:").strip()
    _check_parts(text)
    # Fails here, at the rrule's own line, when the rule is wrong in itself.
    _check_occurs(text, _build(text, ANCHOR), ANCHOR)
    return text


def _check_parts(text: str) -> None:
    """dateutil's own message for a part without `=` is a Python unpacking error; say what is wrong."""
    if "=" not in text:
        raise ValueError(
            f"invalid RRULE '{text}': not an RRULE: expected KEY=VALUE parts like {_RRULE_EXAMPLE}"
        )
    settings: dict[str, str] = {}
    for part in text.split(";"):
        name, equals, setting = part.partition("=")
        if not equals or not name.strip():
            what = f"'{part}'" if part.strip() else "an empty part (two ';' in a row, or one at the end)"
            raise ValueError(
                f"invalid RRULE '{text}': {what} is not a KEY=VALUE part; write parts like {_RRULE_EXAMPLE}"
            )
        settings[name.strip().upper()] = setting.strip()
    # dateutil takes INTERVAL=0 and then cannot step from one opening to the next.
    interval = settings.get("INTERVAL", "1")
    if interval.lstrip("+-").isdigit() and int(interval) < 1:
        raise ValueError(f"invalid RRULE '{text}': INTERVAL must be 1 or more")


def _build(text: str, start: datetime) -> Recurrence:
    try:
        rule = rrulestr(text, dtstart=start, cache=True)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"invalid RRULE '{text}': {exc}") from exc
    if not isinstance(rule, Recurrence):
        raise ValueError(f"invalid RRULE '{text}': one rule, without DTSTART or EXDATE lines")
    frequency = _FREQ.search(text.upper())
    if frequency is None or frequency.group(1) not in _FREQUENCIES:
        raise ValueError(f"invalid RRULE '{text}': a window recurs YEARLY, MONTHLY, WEEKLY or DAILY")
    return rule


def _check_occurs(text: str, rule: Recurrence, start: datetime) -> datetime:
    """The first opening of `rule`, found by iterating it as gates and calendar will (dateutil
    accepts rules it then cannot iterate, and rules that match no date)."""
    try:
        openings = list(islice(rule, _PROBED_OPENINGS))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"invalid RRULE '{text}': its dates cannot be computed ({exc})") from exc
    if not openings:
        since = "" if start == ANCHOR else f" from the window's start {start.isoformat(sep=' ')}"
        raise ValueError(f"invalid RRULE '{text}': never occurs (no date{since} matches all of its parts)")
    return openings[0]


class Window(BaseModel):
    """One recurring window: it opens at each start of `rrule` and stays open for `duration`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: Annotated[str, Field(min_length=1)]
    rrule: Annotated[str, BeforeValidator(_rule_text)]
    duration: Annotated[timedelta, BeforeValidator(parse_span)]
    timezone: Annotated[ZoneInfo | None, BeforeValidator(lambda v: None if v is None else _zone(v))] = None
    # The rule's DTSTART, in local time: where INTERVAL counts from and unset parts come from.
    start: datetime = ANCHOR

    @model_validator(mode="after")
    def _valid_rule(self) -> Window:
        if self.start.tzinfo is not None:
            raise ValueError("start is a local time, without an offset: the window's time zone applies")
        if self.start == ANCHOR:
            return self  # the rrule's own check already iterated it from there
        # And from its start: UNTIL and DTSTART must agree, and the rule must occur after it.
        first = _check_occurs(self.rrule, _build(self.rrule, self.start), self.start)
        try:
            first + self.duration
        except OverflowError as exc:
            raise ValueError("start is too late: the window would end after the year 9999") from exc
        return self

    def rule(self) -> Recurrence:
        return _build(self.rrule, self.start)


class WindowsPolicy(BaseModel):
    """`windows:` under an environment's `gates:`: no deployment inside a freeze, and, when change
    windows are declared, none outside all of them."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    timezone: Annotated[ZoneInfo, BeforeValidator(_zone)]
    freeze: tuple[Window, ...] = ()
    change: tuple[Window, ...] = ()

    @model_validator(mode="after")
    def _some_window(self) -> WindowsPolicy:
        if not self.freeze and not self.change:
            raise ValueError("declare at least one window under freeze: or change:")
        return self

    def zone_of(self, window: Window) -> ZoneInfo:
        return window.timezone or self.timezone


def resolve_local(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive local time in `zone` (see the module's note on DST)."""
    utc = local.replace(tzinfo=zone).astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local:
        return utc
    # Skipped by the clocks: find the jump, between fold=1 (old offset) and fold=0 (new offset).
    low = int(local.replace(tzinfo=zone, fold=1).timestamp())
    high = int(utc.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) < local:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True, kw_only=True)
class Occurrence:
    """One opening of a window, as UTC instants [start, end), with its local zone for display."""

    name: str
    kind: Literal["freeze", "change"]
    start: datetime
    end: datetime
    timezone: str
    rrule: str

    def covers(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def to_json(self) -> dict[str, Any]:
        zone = ZoneInfo(self.timezone)
        return {
            "name": self.name,
            "kind": self.kind,
            "start": self.start.astimezone(zone).isoformat(),
            "end": self.end.astimezone(zone).isoformat(),
            "timezone": self.timezone,
            "rrule": self.rrule,
        }


def _occurrence(
    window: Window, kind: Literal["freeze", "change"], zone: ZoneInfo, local: datetime
) -> Occurrence:
    return Occurrence(
        name=window.name,
        kind=kind,
        start=resolve_local(local, zone),
        end=resolve_local(local + window.duration, zone),
        timezone=zone.key,
        rrule=window.rrule,
    )


def _window_occurrences(
    policy: WindowsPolicy, window: Window, kind: Literal["freeze", "change"], start: datetime, end: datetime
) -> Iterator[Occurrence]:
    zone = policy.zone_of(window)
    local_from = start.astimezone(zone).replace(tzinfo=None) - window.duration - _SLACK
    local_to = end.astimezone(zone).replace(tzinfo=None) + _SLACK
    for local in window.rule().between(max(local_from, window.start), local_to, inc=True):
        found = _occurrence(window, kind, zone, local)
        if found.end > start and found.start < end and found.end > found.start:
            yield found


def occurrences(policy: WindowsPolicy, start: datetime, end: datetime) -> list[Occurrence]:
    """Every opening of every window that overlaps [start, end) (aware datetimes), by start."""
    found = [o for w in policy.freeze for o in _window_occurrences(policy, w, "freeze", start, end)]
    found += [o for w in policy.change for o in _window_occurrences(policy, w, "change", start, end)]
    return sorted(found, key=lambda o: (o.start, o.kind, o.name))


def _next_opening(policy: WindowsPolicy, now: datetime) -> Occurrence | None:
    openings = []
    for window in policy.change:
        zone = policy.zone_of(window)
        local = now.astimezone(zone).replace(tzinfo=None) - _SLACK
        for _ in range(4):  # a few: the first ones may resolve to before `now` or be empty
            following = window.rule().after(local)
            if following is None:
                break
            found = _occurrence(window, "change", zone, following)
            if found.start > now and found.end > found.start:
                openings.append(found)
                break
            local = following
    return min(openings, key=lambda o: o.start, default=None)


@dataclass(frozen=True, kw_only=True)
class WindowDecision:
    """Whether a deployment may start at `now`, why, and the windows that decided it."""

    allowed: bool
    reason: str
    freezes: tuple[Occurrence, ...] = ()  # the freezes in force
    change: Occurrence | None = None  # the open change window, or the next one when none is
    next_opening: bool = False

    def details(self) -> dict[str, Any]:
        return {
            "active_freezes": [o.to_json() for o in self.freezes],
            "change_window": self.change.to_json() if self.change else None,
            "change_window_is_next": self.next_opening,
        }


def _local(instant: datetime, timezone: str) -> str:
    return instant.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def decide(policy: WindowsPolicy, now: datetime) -> WindowDecision:
    """A freeze in force refuses (naming it and when it ends); with change windows declared, so does
    being outside all of them (naming the next to open). `now` is an aware datetime."""
    current = occurrences(policy, now, now + timedelta(microseconds=1))
    freezes = tuple(o for o in current if o.kind == "freeze")
    open_change = next((o for o in current if o.kind == "change"), None)
    if freezes:
        reason = "; ".join(
            f"freeze '{o.name}' is in force until {_local(o.end, o.timezone)}" for o in freezes
        )
        return WindowDecision(allowed=False, reason=reason, freezes=freezes, change=open_change)
    if not policy.change:
        return WindowDecision(allowed=True, reason="no freeze in force")
    if open_change is not None:
        reason = (
            f"inside change window '{open_change.name}' until {_local(open_change.end, open_change.timezone)}"
        )
        return WindowDecision(allowed=True, reason=reason, change=open_change)
    upcoming = _next_opening(policy, now)
    names = ", ".join(f"'{w.name}'" for w in policy.change)
    if upcoming is None:
        reason = f"outside every change window ({names}), and none opens again"
    else:
        reason = (
            f"outside every change window ({names}); next: '{upcoming.name}' opens "
            f"{_local(upcoming.start, upcoming.timezone)}"
        )
    return WindowDecision(allowed=False, reason=reason, change=upcoming, next_opening=upcoming is not None)
