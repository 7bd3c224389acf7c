"""`deploy --at` read as one UTC instant: offsets, IANA zones, the two DST changes of Europe/Paris in
2027 (28 March: 02:00–03:00 does not exist; 31 October: 02:00–03:00 happens twice), and bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clearance.delivery.schedule import scheduled_time
from clearance.errors import UsageError

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "tz", "instant", "local"),
    [
        # Around the March change: one hour of UTC between 01:30 CET and 03:30 CEST.
        (
            "2027-03-28T01:30",
            "Europe/Paris",
            "2027-03-28T00:30",
            "2027-03-28 01:30 CET (2027-03-28 00:30 UTC)",
        ),
        (
            "2027-03-28T03:30",
            "Europe/Paris",
            "2027-03-28T01:30",
            "2027-03-28 03:30 CEST (2027-03-28 01:30 UTC)",
        ),
        (
            "2027-03-28T01:30+01:00",
            None,
            "2027-03-28T00:30",
            "2027-03-28 01:30 UTC+01:00 (2027-03-28 00:30 UTC)",
        ),
        (
            "2027-03-28T03:30+02:00",
            "Europe/Paris",
            "2027-03-28T01:30",
            "2027-03-28 03:30 CEST (2027-03-28 01:30 UTC)",
        ),
        # The October change: the offset says which 02:30.
        (
            "2027-10-31T02:30+02:00",
            "Europe/Paris",
            "2027-10-31T00:30",
            "2027-10-31 02:30 CEST (2027-10-31 00:30 UTC)",
        ),
        (
            "2027-10-31T02:30+01:00",
            "Europe/Paris",
            "2027-10-31T01:30",
            "2027-10-31 02:30 CET (2027-10-31 01:30 UTC)",
        ),
        (
            "2027-10-31T03:30",
            "Europe/Paris",
            "2027-10-31T02:30",
            "2027-10-31 03:30 CET (2027-10-31 02:30 UTC)",
        ),
        ("2027-06-01T22:00Z", None, "2027-06-01T22:00", "2027-06-01 22:00 UTC (2027-06-01 22:00 UTC)"),
        (
            "2027-06-01T22:00",
            "America/New_York",
            "2027-06-02T02:00",
            "2027-06-01 22:00 EDT (2027-06-02 02:00 UTC)",
        ),
    ],
)
def test_a_time_is_read_as_one_utc_instant(at: str, tz: str | None, instant: str, local: str) -> None:
    when = scheduled_time(at, tz, now=NOW)
    assert when.at == utc(instant)
    assert when.local() == local


@pytest.mark.parametrize(
    ("at", "tz", "code", "message"),
    [
        (
            "2027-03-28T02:30",
            "Europe/Paris",
            "schedule-nonexistent",
            "2027-03-28 02:30 does not exist in Europe/Paris: the clocks skip it when they change from +01:00 to +02:00",
        ),
        (
            "2027-10-31T02:30",
            "Europe/Paris",
            "schedule-ambiguous",
            "2027-10-31 02:30 happens twice in Europe/Paris: first at +02:00, then at +01:00 after the clocks go back",
        ),
        (
            # An offset the zone does not have then: 02:30+01:00 is 03:30 CEST in Paris.
            "2027-03-28T02:30+01:00",
            "Europe/Paris",
            "schedule-invalid",
            "--at '2027-03-28T02:30+01:00' is not a Europe/Paris time: Europe/Paris is at +02:00 then (2027-03-28 03:30 CEST (2027-03-28 01:30 UTC))",
        ),
        (
            "2027-03-28T22:00",
            None,
            "schedule-invalid",
            "--at '2027-03-28T22:00' has no UTC offset and no --tz: the instant it means is unknown",
        ),
        (
            "2026-12-01T22:00+01:00",
            None,
            "schedule-past",
            "--at '2026-12-01T22:00+01:00' is in the past (2026-12-01 22:00 UTC+01:00 (2026-12-01 21:00 UTC); now is 2026-12-02 03:00 UTC)",
        ),
        ("2026-12-02T03:00Z", None, "schedule-past", "--at '2026-12-02T03:00Z' is in the past"),
        ("2027-01-01T10:00", "Europe/Lutece", "schedule-invalid", "unknown time zone 'Europe/Lutece'"),
        ("2027-01-01", "UTC", "schedule-invalid", "--at '2027-01-01' has no time of day"),
        ("next friday", None, "schedule-invalid", "--at 'next friday' is not a date and time"),
        ("2027-02-30T10:00Z", None, "schedule-invalid", "--at '2027-02-30T10:00Z' is not a date and time"),
    ],
)
def test_a_time_that_is_not_one_future_instant_is_refused_with_the_reason(
    at: str, tz: str | None, code: str, message: str
) -> None:
    with pytest.raises(UsageError) as raised:
        scheduled_time(at, tz, now=NOW)
    assert raised.value.code == code
    assert raised.value.exit_code == 2
    assert raised.value.message.startswith(message), raised.value.message
    assert "\n" not in raised.value.message


def test_an_ambiguous_time_names_both_offsets_to_choose_from() -> None:
    with pytest.raises(UsageError) as raised:
        scheduled_time("2027-10-31T02:45", "Europe/Paris", now=NOW)
    assert raised.value.hint == (
        "write the one you mean with its offset: --at 2027-10-31T02:45+02:00 or --at 2027-10-31T02:45+01:00"
    )
