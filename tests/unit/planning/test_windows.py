"""Freeze and change windows as pure rules: recurrence in a time zone, DST changes in Europe/Paris,
a yearly freeze across New Year, and the config errors a window definition can carry."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from clearance.planning.windows import WindowsPolicy, decide, occurrences, parse_span, resolve_local

PARIS = "Europe/Paris"
PARIS_ZONE = ZoneInfo(PARIS)


def policy(**windows: Any) -> WindowsPolicy:
    return WindowsPolicy.model_validate({"timezone": PARIS, **windows})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


WEEKEND = {"name": "weekend", "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16", "duration": "2d16h"}
YEAR_END = {"name": "year-end", "rrule": "RRULE:FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20", "duration": "14d"}
OFFICE = {"name": "office", "rrule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9", "duration": "8h"}
SUNDAY_0230 = {"name": "night", "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30", "duration": "1h"}


def test_a_weekend_freeze_refuses_from_friday_16h_to_monday_8h_paris_time() -> None:
    rules = policy(freeze=[WEEKEND])
    assert decide(rules, at("2026-06-05T15:59:59+02:00")).allowed  # Friday, just before
    refused = decide(rules, at("2026-06-05T16:00:00+02:00"))
    assert not refused.allowed
    assert refused.reason == "freeze 'weekend' is in force until 2026-06-08 08:00 CEST"
    assert not decide(rules, at("2026-06-08T07:59:59+02:00")).allowed
    assert decide(rules, at("2026-06-08T08:00:00+02:00")).allowed  # the end is not part of it
    assert decide(rules, at("2026-06-10T12:00:00+02:00")).reason == "no freeze in force"


def test_the_weekend_freeze_still_ends_monday_8h_local_across_both_dst_weekends() -> None:
    rules = policy(freeze=[WEEKEND])
    spring = decide(rules, at("2027-03-28T12:00:00+02:00"))  # clocks went forward that night
    assert spring.reason == "freeze 'weekend' is in force until 2027-03-29 08:00 CEST"
    assert spring.freezes[0].end - spring.freezes[0].start == timedelta(hours=63)
    autumn = decide(rules, at("2027-10-31T12:00:00+01:00"))  # clocks went back that night
    assert autumn.reason == "freeze 'weekend' is in force until 2027-11-01 08:00 CET"
    assert autumn.freezes[0].end - autumn.freezes[0].start == timedelta(hours=65)


def test_a_yearly_freeze_wraps_around_new_year() -> None:
    rules = policy(freeze=[YEAR_END])
    assert decide(rules, at("2026-12-19T23:59:59+01:00")).allowed
    for moment in ("2026-12-20T00:00:00+01:00", "2026-12-31T23:59:00+01:00", "2027-01-02T23:59:59+01:00"):
        decision = decide(rules, at(moment))
        assert not decision.allowed, moment
        assert decision.reason == "freeze 'year-end' is in force until 2027-01-03 00:00 CET"
    assert decide(rules, at("2027-01-03T00:00:00+01:00")).allowed
    [opening] = occurrences(rules, at("2027-06-01T00:00:00+02:00"), at("2028-06-01T00:00:00+02:00"))
    assert (opening.start, opening.end) == (at("2027-12-20T00:00+01:00"), at("2028-01-03T00:00+01:00"))


def test_nonexistent_local_times_move_forward_to_the_jump_on_the_last_sunday_of_march() -> None:
    # 02:00–03:00 does not exist in Paris on 2027-03-28: 02:30 becomes 03:00 CEST, the instant the
    # clocks jumped, and the window keeps what the clock shows of 02:30–03:30: 03:00–03:30 CEST.
    assert resolve_local(datetime(2027, 3, 28, 2, 30), PARIS_ZONE) == at("2027-03-28T03:00:00+02:00")
    rules = policy(freeze=[SUNDAY_0230])
    [night] = occurrences(rules, at("2027-03-28T00:00+01:00"), at("2027-03-29T00:00+02:00"))
    assert (night.start, night.end) == (at("2027-03-28T03:00+02:00"), at("2027-03-28T03:30+02:00"))
    assert decide(rules, at("2027-03-28T01:59:59+01:00")).allowed
    assert not decide(rules, at("2027-03-28T03:00:00+02:00")).allowed
    assert decide(rules, at("2027-03-28T03:30:00+02:00")).allowed
    # A normal Sunday: 02:30–03:30 CET, one hour.
    [week_before] = occurrences(rules, at("2027-03-21T00:00+01:00"), at("2027-03-22T00:00+01:00"))
    assert (week_before.start, week_before.end) == (
        at("2027-03-21T02:30+01:00"),
        at("2027-03-21T03:30+01:00"),
    )


def test_ambiguous_local_times_take_the_first_occurrence_on_the_last_sunday_of_october() -> None:
    # 02:00–03:00 happens twice in Paris on 2027-10-31: 02:30 means the first, in CEST (fold=0), and
    # the window lasts until 03:30 CET on the wall clock: two hours of real time.
    assert resolve_local(datetime(2027, 10, 31, 2, 30), PARIS_ZONE) == at("2027-10-31T02:30:00+02:00")
    rules = policy(freeze=[SUNDAY_0230])
    [night] = occurrences(rules, at("2027-10-31T00:00+02:00"), at("2027-11-01T00:00+01:00"))
    assert (night.start, night.end) == (at("2027-10-31T02:30+02:00"), at("2027-10-31T03:30+01:00"))
    assert decide(rules, at("2027-10-31T02:29:59+02:00")).allowed
    assert not decide(rules, at("2027-10-31T02:30:00+01:00")).allowed  # the second 02:30
    assert decide(rules, at("2027-10-31T03:30:00+01:00")).allowed


def test_change_windows_allow_only_inside_them_and_name_the_next_opening() -> None:
    rules = policy(change=[OFFICE])
    inside = decide(rules, at("2026-06-09T10:00+02:00"))  # Tuesday
    assert inside.allowed and inside.reason == "inside change window 'office' until 2026-06-09 17:00 CEST"
    evening = decide(rules, at("2026-06-09T17:00+02:00"))
    assert not evening.allowed
    assert evening.reason == (
        "outside every change window ('office'); next: 'office' opens 2026-06-10 09:00 CEST"
    )
    friday = decide(rules, at("2026-06-12T10:00+02:00"))
    assert friday.reason.endswith("next: 'office' opens 2026-06-15 09:00 CEST")
    assert friday.details()["change_window_is_next"] is True


def test_a_freeze_wins_over_an_open_change_window() -> None:
    rules = policy(freeze=[YEAR_END], change=[OFFICE])
    decision = decide(rules, at("2026-12-22T10:00+01:00"))  # Tuesday, in office hours
    assert not decision.allowed
    assert decision.reason.startswith("freeze 'year-end'")


def test_a_window_may_carry_its_own_time_zone() -> None:
    rules = policy(change=[{**OFFICE, "timezone": "America/New_York"}])
    assert decide(rules, at("2026-06-09T10:00-04:00")).allowed
    assert not decide(rules, at("2026-06-09T10:00+02:00")).allowed  # 04:00 in New York


def test_an_rrule_with_until_ends_the_window() -> None:
    rules = policy(freeze=[{**WEEKEND, "rrule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;UNTIL=20260601T000000"}])
    assert decide(rules, at("2026-06-06T12:00+02:00")).allowed
    assert not decide(rules, at("2026-05-30T12:00+02:00")).allowed


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"rrule": "FREQ=FORTNIGHTLY;BYDAY=FR"}, "invalid RRULE 'FREQ=FORTNIGHTLY;BYDAY=FR'"),
        ({"rrule": "BYDAY=XX"}, "invalid RRULE 'BYDAY=XX'"),
        ({"rrule": "FREQ=HOURLY"}, "a window recurs YEARLY, MONTHLY, WEEKLY or DAILY"),
        ({"timezone": "Europe/Pariss"}, "unknown time zone 'Europe/Pariss'"),
        ({"duration": "0h"}, "invalid duration '0h': must be more than zero"),
        ({"duration": "-1h"}, "invalid duration '-1h'"),
        ({"duration": "soon"}, "invalid duration 'soon'"),
        ({"start": "2026-01-01T00:00:00+01:00"}, "start is a local time"),
        ({"rrule": "FREQ=WEEKLY;INTERVAL=0"}, "INTERVAL must be 1 or more"),
        (
            {"rrule": "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4"},
            "never occurs (no date matches all of its parts)",
        ),
        (
            {"rrule": "FREQ=DAILY;UNTIL=20200101T000000", "start": "2021-01-01T00:00:00"},
            "never occurs (no date from the window's start 2021-01-01 00:00:00 matches all of its parts)",
        ),
        ({"start": "9999-12-31T00:00:00", "duration": "1d"}, "the window would end after the year 9999"),
        ({"duration": "1y"}, "invalid duration '1y': use seconds (30) or numbers with units ms, s, m, h, d"),
    ],
)
def test_a_bad_window_is_a_validation_error(window: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        policy(freeze=[{**WEEKEND, **window}])


def test_a_bad_policy_time_zone_or_no_window_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        WindowsPolicy.model_validate({"timezone": "Mars/Olympus", "freeze": [WEEKEND]})
    with pytest.raises(ValidationError, match="at least one window"):
        policy()


def test_spans_accept_weeks_days_hours_and_minutes() -> None:
    assert parse_span("1w") == timedelta(days=7)
    assert parse_span("2d16h") == timedelta(hours=64)
    assert parse_span(" 90m ") == timedelta(minutes=90)
    assert parse_span("1w2d") == timedelta(days=9)  # the same grammar as every duration of the file


def test_a_rule_dateutil_cannot_iterate_is_refused_whatever_its_text() -> None:
    # The text check names INTERVAL=0; iterating catches what no text check foresaw.
    from dateutil.rrule import WEEKLY, rrule

    from clearance.planning.windows import ANCHOR, _check_occurs

    with pytest.raises(
        ValueError, match=r"invalid RRULE 'r': its dates cannot be computed \(day is out of range"
    ):
        _check_occurs("r", rrule(WEEKLY, interval=0, dtstart=ANCHOR), ANCHOR)
