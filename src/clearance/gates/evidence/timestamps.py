"""The time a report says it was produced, as tools write it (ISO 8601, epoch milliseconds), read into
an aware UTC datetime — or None when it is missing, unreadable or not a time anybody could mean.

A report's own time is a hint for `evidence_fresh`, never a reason to refuse the report: whatever is
wrong with it gives None, and the gate falls back to when the report was added. Pure: the clock is
not read here; a time from the future is set aside by the gate, which knows what "now" is.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

__all__ = ["EARLIEST", "FUTURE_SLACK", "epoch_millis", "iso_time", "oldest"]

# Before 2000 is a placeholder (jest-junit stamps a suite that could not load 1970-01-01), not a run.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# Clocks of CI runners drift; a report more than a day ahead of ours is wrong, not early.
FUTURE_SLACK = timedelta(days=1)


def iso_time(value: object) -> datetime | None:
    """An ISO 8601 time (`2026-11-22T03:43:23Z`, `…+06:00`, nanoseconds truncated) in UTC.

    A time without a zone is read as UTC: jest-junit writes UTC without saying so (pytest adds its
    offset), and the JUnit console launcher and Surefire write the runner's local time, which on CI
    runners is almost always UTC too. A wrong guess moves the time by hours, never by days.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _plausible(parsed.astimezone(UTC))


def epoch_millis(value: object) -> datetime | None:
    """Milliseconds since 1970-01-01 UTC (Cobertura's and coverage.py's `timestamp`) in UTC."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        parsed = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return _plausible(parsed)


def oldest(times: Iterable[datetime | None]) -> datetime | None:
    """The earliest of the times that were read: a report merged from several runs is as old as its
    oldest part."""
    return min((time for time in times if time is not None), default=None)


def _plausible(time: datetime) -> datetime | None:
    return time if time >= EARLIEST else None
