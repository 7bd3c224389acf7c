"""Scheduled deployments (`deploy --at`) end to end, on both databases: a real `clearance serve` runs
one only once its time has come; one scheduled into a freeze is refused at once (exit 3), one whose
rules refuse it when its time comes fails with the reason; DST changes in Europe/Paris; bad times;
cancelling; and the calendar (table, JSON, iCalendar parsed back). No clock is faked: the dates are
computed from the real current time (next year's DST Sundays, next year's Christmas)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar

from support.cli import CliRunner, clearance_command
from support.store import execute

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
        freeze:
          - {{name: christmas, rrule: 'FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24', duration: 2d}}
{extra}
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
process:
  - name: hello
    script: echo "deploying $CLEARANCE_SERVICE $CLEARANCE_RELEASE_VERSION"
"""
# Opens every day at midnight for a whole day: in force whenever the test runs.
ALWAYS_FROZEN = "          - {name: all-day, rrule: 'FREQ=DAILY;BYHOUR=0', duration: 1d}"
NEXT_YEAR = datetime.now(UTC).year + 1


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def ready(project: Project, cli: CliRunner, extra: str = "") -> None:
    project.write_config(CONFIG.format(extra=extra))
    assert cli("release", "create", "1.0.0", "--no-deploy", "--planned", f"{NEXT_YEAR}-01-15").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0  # dev first: the lifecycle


def prod_rows(project: Project) -> list[tuple[str, str]]:
    rows = execute(project.database_url, "SELECT state, reason FROM deployments WHERE environment = 'prod'")
    return [(state, reason) for state, reason in rows]


def scheduled_at(project: Project, deployment_id: int) -> datetime:
    [(value,)] = execute(
        project.database_url, "SELECT scheduled_at FROM deployments WHERE id = :id", id=deployment_id
    )
    stored = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return stored.replace(tzinfo=UTC)  # stored as naive UTC


def tags(cli: CliRunner, tag: str) -> list[dict[str, object]]:
    entries = cli("audit", "list", "--json", "--limit", "500", "--tag", tag).json()["entries"]
    return [e["data"] for e in entries]


@pytest.fixture
def serve(project: Project) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    """Start one real `clearance serve` (after the test wrote its config); wait until it serves."""
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [*clearance_command(), "serve", "--workers", "1", "--no-agent", "--port", "0"],
            cwd=project.root,
            env=project.process_env("server"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(process)
        deadline = time.monotonic() + 30
        while not execute(project.database_url, "SELECT id FROM agents WHERE id LIKE 'serve:%'"):
            assert process.poll() is None, "clearance serve ended"
            assert time.monotonic() < deadline, "clearance serve did not register"
            time.sleep(0.2)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def wait_for(project: Project, deployment_id: int, states: set[str], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while True:
        [(state,)] = execute(
            project.database_url, "SELECT state FROM deployments WHERE id = :id", id=deployment_id
        )
        if state in states or time.monotonic() > deadline:
            return str(state)
        time.sleep(0.2)


def test_a_scheduled_deployment_runs_from_serve_once_its_time_has_come_and_not_before(
    project: Project, cli: CliRunner, serve: Callable[[], subprocess.Popen[str]]
) -> None:
    ready(project, cli)
    serve()
    when = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", when.isoformat(), "--json")
    assert scheduled.exit_code == 0, scheduled
    document = scheduled.json()
    assert document["scheduled"] is True and document["server_running"] is True
    [deployment] = document["deployments"]
    assert deployment["state"] == "queued" and deployment["scheduled_at"] == when.strftime(
        "%Y-%m-%dT%H:%M:%S.000000Z"
    )
    # The server is running and free, yet leaves it alone until its time.
    time.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds() - 1.5))
    assert prod_rows(project) == [("queued", "")]
    assert "scheduled for" in cli("status").stdout
    assert "scheduled for" in cli("deployment", "show", str(deployment["id"])).stdout
    assert wait_for(project, deployment["id"], {"succeeded", "failed"}, 30) == "succeeded"
    [(started,)] = execute(
        project.database_url, "SELECT started_at FROM deployments WHERE id = :id", id=deployment["id"]
    )
    started_at = started if isinstance(started, datetime) else datetime.fromisoformat(str(started))
    assert started_at.replace(tzinfo=UTC) >= when
    [entry] = tags(cli, "deployment:scheduled")
    assert entry["deployment_id"] == deployment["id"] and entry["scheduled_at"] == when.isoformat()


def test_a_deployment_refused_by_the_rules_when_its_time_comes_fails_with_the_reason(
    project: Project, cli: CliRunner, serve: Callable[[], subprocess.Popen[str]]
) -> None:
    ready(project, cli)
    serve()
    when = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", when.isoformat(), "--json")
    assert scheduled.exit_code == 0, scheduled
    deployment_id = scheduled.json()["deployments"][0]["id"]
    # A freeze is declared after it was scheduled, while the server (started before it) runs.
    project.write_config(CONFIG.format(extra=ALWAYS_FROZEN))
    assert wait_for(project, deployment_id, {"succeeded", "failed"}, 30) == "failed"
    [(state, reason)] = prod_rows(project)
    assert state == "failed"
    assert reason.startswith("refused at its scheduled time: release 1.0.0 may not be deployed to prod")
    assert "freeze 'all-day' is in force until" in reason
    [refused] = tags(cli, "deployment:refused")
    assert refused["deployment_id"] == deployment_id and refused["code"] == "gate-failed"
    assert [t["environment"] for t in tags(cli, "deployment:started")] == ["dev"]  # prod never started
    steps = execute(
        project.database_url, "SELECT state FROM deployment_steps WHERE deployment_id = :id", id=deployment_id
    )
    assert {s for (s,) in steps} == {"cancelled"}


def test_a_deployment_scheduled_into_a_freeze_is_refused_at_once(project: Project, cli: CliRunner) -> None:
    ready(project, cli)
    refused = cli(
        "deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-12-25T10:00", "--tz", "Europe/Paris"
    )
    assert refused.exit_code == 3, refused
    assert (
        f"release 1.0.0 may not be deployed to prod at {NEXT_YEAR}-12-25 09:00 UTC: 1 gate(s) not passed: "
        f"windows: fail — freeze 'christmas' is in force until {NEXT_YEAR}-12-26 00:00 CET"
    ) in refused.stderr
    assert prod_rows(project) == []  # nothing stored
    assert tags(cli, "promotion:refused")[0]["environment"] == "prod"
    # After the freeze it goes ahead, queued for a server, and says that none runs now.
    accepted = cli(
        "deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-12-28T10:00", "--tz", "Europe/Paris"
    )
    assert accepted.exit_code == 0, accepted
    assert (
        f"scheduled deployment 2: 1.0.0 → prod at {NEXT_YEAR}-12-28 10:00 CET ({NEXT_YEAR}-12-28 09:00 UTC)"
        in accepted.stdout
    )
    assert (
        "no `clearance serve` is running now: scheduled deployments run only from a server" in accepted.stderr
    )
    assert prod_rows(project) == [("queued", "")]


def test_dst_changes_in_paris_are_read_as_the_right_instants_or_refused(
    project: Project, cli: CliRunner
) -> None:
    ready(project, cli)
    spring, autumn = last_sunday(NEXT_YEAR, 3), last_sunday(NEXT_YEAR, 10)
    cases = [
        # March: 01:30 CET and 03:30 CEST are one hour apart in UTC.
        (["--at", f"{spring}T01:30", "--tz", "Europe/Paris"], f"{spring}T00:30"),
        (["--at", f"{spring}T03:30+02:00"], f"{spring}T01:30"),
        # October: the offset says which 02:30.
        (["--at", f"{autumn}T02:30+02:00", "--tz", "Europe/Paris"], f"{autumn}T00:30"),
        (["--at", f"{autumn}T02:30+01:00"], f"{autumn}T01:30"),
    ]
    for args, instant in cases:
        result = cli("deploy", "1.0.0", "--to", "prod", *args, "--json")
        assert result.exit_code == 0, result
        deployment_id = result.json()["deployments"][0]["id"]
        assert scheduled_at(project, deployment_id) == datetime.fromisoformat(instant).replace(tzinfo=UTC)
        assert cli("deployment", "cancel", str(deployment_id)).exit_code == 0  # one scheduled at a time
    skipped = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{spring}T02:30", "--tz", "Europe/Paris")
    assert skipped.exit_code == 2, skipped
    assert (
        f"error: {spring} 02:30 does not exist in Europe/Paris: the clocks skip it when they change from +01:00 to +02:00"
        in skipped.stderr
    )
    twice = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{autumn}T02:30", "--tz", "Europe/Paris")
    assert twice.exit_code == 2, twice
    assert f"error: {autumn} 02:30 happens twice in Europe/Paris" in twice.stderr
    assert f"--at {autumn}T02:30+02:00 or --at {autumn}T02:30+01:00" in twice.stderr
    assert len(prod_rows(project)) == len(cases)  # the refused ones stored nothing


def test_bad_times_are_refused_and_store_nothing(project: Project, cli: CliRunner) -> None:
    ready(project, cli)
    cases = {
        ("--at", "2020-01-01T00:00Z"): "error: --at '2020-01-01T00:00Z' is in the past",
        ("--at", f"{NEXT_YEAR}-06-01T22:00"): "has no UTC offset and no --tz",
        (
            "--at",
            f"{NEXT_YEAR}-06-01T22:00",
            "--tz",
            "Europe/Lutece",
        ): "error: unknown time zone 'Europe/Lutece'",
        ("--at", "tomorrow"): "error: --at 'tomorrow' is not a date and time",
        ("--tz", "Europe/Paris"): "error: --tz needs --at",
        ("--at", f"{NEXT_YEAR}-06-01T22:00Z", "--wait"): "error: --wait cannot be combined with --at",
        ("--at", f"{NEXT_YEAR}-06-01T22:00+01:00", "--tz", "Europe/Paris"): "is not a Europe/Paris time",
    }
    for args, message in cases.items():
        result = cli("deploy", "1.0.0", "--to", "prod", *args)
        assert result.exit_code == 2, result
        assert message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2  # the error and its hint
    assert prod_rows(project) == []
    assert tags(cli, "deployment:scheduled") == []


def test_a_scheduled_deployment_can_be_cancelled_before_it_runs(project: Project, cli: CliRunner) -> None:
    ready(project, cli)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-06-01T22:00Z", "--json")
    deployment_id = scheduled.json()["deployments"][0]["id"]
    cancelled = cli("deployment", "cancel", str(deployment_id), "--reason", "release slipped", "--json")
    assert cancelled.exit_code == 0, cancelled
    assert cancelled.json()["deployment"]["state"] == "cancelled"
    assert prod_rows(project) == [("cancelled", "release slipped")]
    [entry] = tags(cli, "deployment:cancelled")
    assert entry["deployment_id"] == deployment_id and entry["reason"] == "release slipped"
    again = cli("deployment", "cancel", str(deployment_id))
    assert (
        again.exit_code == 3 and f"cannot cancel deployment {deployment_id}: it is cancelled" in again.stderr
    )
    assert cli("deployment", "cancel", "999").exit_code == 4
    done = cli("deployment", "cancel", "1")  # the dev deployment, finished
    assert done.exit_code == 3 and "it is succeeded" in done.stderr
    listed = cli("calendar", "--from", f"{NEXT_YEAR}-01-01", "--to", f"{NEXT_YEAR}-12-31", "--json").json()
    assert listed["deployments"] == []  # a cancelled one is no longer to come


def test_a_release_is_scheduled_once_per_environment_and_moved_by_cancelling_it(
    project: Project, cli: CliRunner
) -> None:
    ready(project, cli)
    first = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-06-01T22:00Z", "--json")
    assert first.exit_code == 0, first
    deployment_id = first.json()["deployments"][0]["id"]
    twice = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-06-02T22:00Z")
    assert twice.exit_code == 3, twice
    assert (
        f"release 1.0.0 is already scheduled to prod (web) as deployment {deployment_id}, "
        f"at {NEXT_YEAR}-06-01T22:00:00+00:00" in twice.stderr
    )
    assert f"`clearance deployment cancel {deployment_id}` first" in twice.stderr
    assert prod_rows(project) == [("queued", "")]
    [refused] = tags(cli, "promotion:refused")
    assert refused["code"] == "already-scheduled"
    assert cli("deployment", "cancel", str(deployment_id)).exit_code == 0
    moved = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-06-02T22:00Z")
    assert moved.exit_code == 0, moved


def test_the_calendar_lists_planned_releases_and_scheduled_deployments_and_its_ics_parses_back(
    project: Project, cli: CliRunner
) -> None:
    ready(project, cli)
    scheduled = cli("deploy", "1.0.0", "--to", "prod", "--at", f"{NEXT_YEAR}-06-01T22:00+02:00", "--json")
    assert scheduled.exit_code == 0, scheduled
    deployment_id = scheduled.json()["deployments"][0]["id"]
    span = ("--from", f"{NEXT_YEAR}-01-01", "--to", f"{NEXT_YEAR + 1}-01-01")
    listed = cli("calendar", *span, "--json")
    assert listed.exit_code == 0, listed
    document = listed.json()
    assert document["releases"] == [
        {"version": "1.0.0", "type": "major", "planned_date": f"{NEXT_YEAR}-01-15"}
    ]
    [deployment] = document["deployments"]
    assert (
        deployment["id"] == deployment_id
        and deployment["scheduled_at"] == f"{NEXT_YEAR}-06-01T20:00:00+00:00"
    )
    assert [w["name"] for w in document["windows"]] == ["christmas"]
    table = cli("calendar", *span)
    assert "planned releases" in table.stdout and f"{NEXT_YEAR}-01-15" in table.stdout
    assert "scheduled deployments" in table.stdout and f"{NEXT_YEAR}-06-01 20:00" in table.stdout
    # Outside the span, neither shows.
    later = cli("calendar", "--from", f"{NEXT_YEAR}-07-01", "--to", f"{NEXT_YEAR}-08-01", "--json").json()
    assert later["releases"] == [] and later["deployments"] == []

    target = project.root / "calendar.ics"
    assert cli("calendar", *span, "--ics", str(target)).exit_code == 0
    events = {str(e["UID"]): e for e in Calendar.from_ical(target.read_bytes()).walk("VEVENT")}
    deploy_event = events[f"deployment-shop-{deployment_id}@clearance"]
    assert deploy_event.decoded("DTSTART") == datetime(NEXT_YEAR, 6, 1, 20, 0, tzinfo=UTC)
    assert str(deploy_event["SUMMARY"]) == "deploy web 1.0.0 to prod"
    release_event = events["release-shop-1.0.0@clearance"]
    assert release_event.decoded("DTSTART") == date(NEXT_YEAR, 1, 15)
    assert release_event.decoded("DTEND") == date(NEXT_YEAR, 1, 16)
    assert any(str(e["SUMMARY"]) == "prod: freeze 'christmas'" for e in events.values())
    assert len(events) == 3
