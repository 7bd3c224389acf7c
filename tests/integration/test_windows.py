"""Freeze and change windows end to end, on both databases: a deployment inside a freeze is refused
(exit 3) with the window named and when it ends; outside it, or inside a change window, it goes
ahead; a bad window definition is a config error with its line. The windows are written so that
they cover (or miss) the test's real current time: no clock is faked."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

from icalendar import Calendar

from support.cli import CliRunner, clearance_command

from .conftest import Project

CONFIG = """\
project: shop
services:
  - name: web
environments:
  - name: dev
  - name: prod
    production: true
    gates:
      windows:
        timezone: Europe/Paris
{windows}
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
"""

# Opens every day at midnight for a whole day: always in force, whenever the test runs.
ALWAYS = "FREQ=DAILY;BYHOUR=0"
# Ended on 2001-01-01: never in force again.
ENDED = "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20;UNTIL=20010101T000000"


def windows(*lines: str) -> str:
    return "\n".join(f"        {line}" for line in lines)


def release(cli: CliRunner) -> None:
    assert cli("release", "create", "1.0.0", "--no-deploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0  # dev has no windows


def test_a_deployment_inside_a_freeze_is_refused_with_the_window_named(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(
        CONFIG.format(
            windows=windows(
                "freeze:",
                f"  - {{name: all-day-freeze, rrule: '{ALWAYS}', duration: 1d}}",
            )
        )
    )
    release(cli)
    refused = cli("deploy", "1.0.0", "--to", "prod")
    assert refused.exit_code == 3, refused
    assert (
        "1 gate(s) not passed: windows: fail — freeze 'all-day-freeze' is in force until " in refused.stderr
    )
    assert "CET" in refused.stderr or "CEST" in refused.stderr  # shown in the window's zone

    gates = cli("gates", "1.0.0", "--env", "prod", "--json")
    assert gates.exit_code == 3
    [verdict] = gates.json()["gates"]
    assert verdict["gate"] == "windows" and verdict["status"] == "fail"
    [freeze] = verdict["details"]["active_freezes"]
    assert freeze["name"] == "all-day-freeze" and freeze["timezone"] == "Europe/Paris"
    history = cli("history", "prod", "--json")
    assert history.json()["deployments"] == []  # nothing reached prod


def test_a_deployment_goes_ahead_when_no_freeze_is_in_force_and_a_change_window_is_open(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(
        CONFIG.format(
            windows=windows(
                "freeze:",
                f"  - {{name: old-year-end, rrule: '{ENDED}', duration: 14d}}",
                "change:",
                f"  - {{name: always-open, rrule: '{ALWAYS}', duration: 1d, timezone: UTC}}",
            )
        )
    )
    release(cli)
    deployed = cli("deploy", "1.0.0", "--to", "prod")
    assert deployed.exit_code == 0, deployed


def test_a_deployment_outside_every_change_window_is_refused(project: Project, cli: CliRunner) -> None:
    project.write_config(
        CONFIG.format(
            windows=windows("change:", f"  - {{name: retired-window, rrule: '{ENDED}', duration: 1d}}")
        )
    )
    release(cli)
    refused = cli("deploy", "1.0.0", "--to", "prod")
    assert refused.exit_code == 3, refused
    assert "outside every change window ('retired-window'), and none opens again" in refused.stderr


def test_a_bad_window_is_a_config_error_with_its_line(project: Project, cli: CliRunner) -> None:
    cases = {
        "freeze:\n  - {name: w, rrule: 'FREQ=SOMETIMES', duration: 1h}": (
            "clearance.yaml:12: environments[1].gates.windows.freeze[0].rrule: invalid RRULE 'FREQ=SOMETIMES'"
        ),
        "freeze:\n  - name: w\n    rrule: FREQ=HOURLY\n    duration: 1h": (
            "clearance.yaml:13: environments[1].gates.windows.freeze[0].rrule: invalid RRULE 'FREQ=HOURLY': a window recurs YEARLY, MONTHLY, WEEKLY or DAILY"
        ),
        "freeze:\n  - name: w\n    rrule: FREQ=DAILY\n    duration: 1h\n    timezone: Europe/Lutece": (
            "clearance.yaml:15: environments[1].gates.windows.freeze[0].timezone: unknown time zone 'Europe/Lutece'"
        ),
        "freeze:\n  - name: w\n    rrule: FREQ=DAILY\n    duration: 0m": (
            "clearance.yaml:14: environments[1].gates.windows.freeze[0].duration: invalid duration '0m': must be more than zero"
        ),
    }
    for text, expected in cases.items():
        project.write_config(CONFIG.format(windows=windows(*text.splitlines())))
        result = cli("config", "check")
        assert result.exit_code == 2, result
        assert expected in result.stderr, result.stderr
    project.write_config(CONFIG.replace("Europe/Paris", "Paris/Europe").format(windows=windows("freeze: []")))
    result = cli("config", "check")
    assert result.exit_code == 2
    assert (
        "clearance.yaml:10: environments[1].gates.windows.timezone: unknown time zone 'Paris/Europe'"
        in result.stderr
    )


def test_a_rule_that_cannot_be_iterated_or_never_occurs_is_a_config_error_not_a_crash(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(
        CONFIG.format(windows=windows("freeze:", f"  - {{name: w, rrule: '{ENDED}', duration: 1h}}"))
    )
    release(cli)
    where = "clearance.yaml:13: environments[1].gates.windows.freeze[0].rrule: invalid RRULE"
    cases = {
        # dateutil accepts it, then fails on its first step: gates, calendar and deploy crashed.
        "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;INTERVAL=0": "INTERVAL must be 1 or more",
        "garbage": "not an RRULE: expected KEY=VALUE parts like FREQ=WEEKLY;BYDAY=FR",
        "FREQ=WEEKLY;BYDAY=FR;": "an empty part (two ';' in a row, or one at the end) is not a KEY=VALUE part",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30": "never occurs (no date matches all of its parts)",
        "FREQ=DAILY;COUNT=0": "never occurs",
    }
    for rule, why in cases.items():
        project.write_config(
            CONFIG.format(
                windows=windows("freeze:", "  - name: w", f"    rrule: '{rule}'", "    duration: 1h")
            )
        )
        for command in (
            ("config", "check"),
            ("gates", "1.0.0", "--env", "prod"),
            ("calendar",),
            ("deploy", "1.0.0", "--to", "prod"),
        ):
            result = cli(*command)
            assert result.exit_code == 2, (command, result)
            assert f"{where} '{rule}': {why}" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr


def test_a_rule_whose_count_ended_long_ago_is_valid_and_never_in_force(
    project: Project, cli: CliRunner
) -> None:
    rule = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;COUNT=3"  # three Fridays in January 2000
    project.write_config(
        CONFIG.format(windows=windows("freeze:", f"  - {{name: w, rrule: '{rule}', duration: 1w}}"))
    )
    assert cli("config", "check").exit_code == 0
    release(cli)
    gates = cli("gates", "1.0.0", "--env", "prod", "--json")
    assert gates.exit_code == 0, gates
    assert gates.json()["gates"][0]["status"] == "pass"
    listed = cli("calendar", "--json")
    assert listed.exit_code == 0, listed
    assert listed.json()["windows"] == []
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0


def test_an_impossible_unquoted_date_is_a_config_error_with_its_line(
    project: Project, cli: CliRunner
) -> None:
    # YAML reads an unquoted 2026-02-30 as a timestamp, which Python's date() refuses.
    for until, why in (("2026-02-30", "day value"), ("2026-13-01", "month value")):
        ignore = f"[{{id: CVE-2019-14697, until: {until}, reason: x}}]"
        gates = f"gates:\n      vulnerabilities: {{max: {{critical: 0}}, ignore: {ignore}}}\n"
        project.write_config(CONFIG.split("gates:")[0] + gates + "lifecycle:" + CONFIG.split("lifecycle:")[1])
        for command in (("config", "check"), ("calendar",)):
            result = cli(*command)
            assert result.exit_code == 2, result
            assert (
                "clearance.yaml:9: environments[1].gates.vulnerabilities.ignore[0].until: "
                f"not a date: got '{until}' ({why}"
            ) in result.stderr
            assert "Traceback" not in result.stderr


CALENDAR = CONFIG.format(
    windows=windows(
        "freeze:",
        "  - {name: weekend, rrule: 'FREQ=WEEKLY;BYDAY=FR;BYHOUR=16', duration: 2d16h}",
        "  - {name: year-end, rrule: 'FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20', duration: 14d}",
        "change:",
        "  - {name: night, rrule: 'FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30', duration: 1h}",
    )
)


def test_the_calendar_lists_windows_across_dst_and_new_year(project: Project, cli: CliRunner) -> None:
    project.write_config(CALENDAR)
    listed = cli("calendar", "--from", "2027-03-26T00:00+01:00", "--to", "2027-03-29T00:00+02:00", "--json")
    assert listed.exit_code == 0, listed
    assert [(w["environment"], w["name"], w["start"], w["end"]) for w in listed.json()["windows"]] == [
        ("prod", "weekend", "2027-03-26T16:00:00+01:00", "2027-03-29T08:00:00+02:00"),
        # 02:30 does not exist that night: the window keeps 03:00–03:30, what the clock shows of it.
        ("prod", "night", "2027-03-28T03:00:00+02:00", "2027-03-28T03:30:00+02:00"),
    ]
    table = cli("calendar", "--from", "2026-12-19", "--to", "2026-12-21")
    assert table.exit_code == 0, table
    assert "year-end" in table.stdout and "2026-12-20 00:00" in table.stdout
    assert cli("calendar", "--from", "soon").exit_code == 2


def test_the_calendar_writes_icalendar_that_parses_back(project: Project, cli: CliRunner) -> None:
    project.write_config(CALENDAR)
    target = project.root / "windows.ics"
    written = cli(
        "calendar", "--from", "2026-12-01T00:00Z", "--to", "2027-01-01T00:00Z", "--ics", str(target)
    )
    assert written.exit_code == 0, written
    parsed = Calendar.from_ical(target.read_bytes())
    events = list(parsed.walk("VEVENT"))
    summaries = [str(e["SUMMARY"]) for e in events]
    assert "prod: freeze 'year-end'" in summaries
    assert summaries.count("prod: freeze 'weekend'") == 4  # Fridays 4, 11, 18 and 25 December
    year_end = next(e for e in events if str(e["SUMMARY"]) == "prod: freeze 'year-end'")
    assert year_end.decoded("DTSTART") == datetime(2026, 12, 19, 23, 0, tzinfo=UTC)
    assert year_end.decoded("DTEND") == datetime(2027, 1, 2, 23, 0, tzinfo=UTC)
    assert len({str(e["UID"]) for e in events}) == len(events)
    # `--ics -`: the same calendar on standard output, for a pipe.
    piped = subprocess.run(
        [
            *clearance_command(),
            "calendar",
            "--from",
            "2026-12-01T00:00Z",
            "--to",
            "2027-01-01T00:00Z",
            "--ics",
            "-",
        ],
        cwd=project.root,
        env=project.process_env("alice"),
        capture_output=True,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert [str(e["SUMMARY"]) for e in Calendar.from_ical(piped.stdout).walk("VEVENT")] == summaries
    assert not (project.root / "-").exists()
