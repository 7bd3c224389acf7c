"""`clearance serve`: engine workers take queued deployments from the store; several servers share
the work without running one deployment twice."""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from support.cli import CliRunner, clearance_command
from support.store import execute

from .conftest import Project

CONFIG = """\
project: shop
services:
  - name: web
  - name: api
  - name: worker
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
process:
  - name: work
    script: echo "$CLEARANCE_SERVICE $CLEARANCE_RELEASE_VERSION" && sleep 0.3
"""


@pytest.fixture
def start_servers(project: Project) -> Iterator[Callable[[int], list[subprocess.Popen[str]]]]:
    """Start `clearance serve` processes (after the test wrote its config) and wait until they serve."""
    started: list[subprocess.Popen[str]] = []

    def start(count: int) -> list[subprocess.Popen[str]]:
        for _ in range(count):
            started.append(
                subprocess.Popen(
                    [*clearance_command(), "serve", "--workers", "2", "--no-agent"],
                    cwd=project.root,
                    env=project.process_env("server"),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        deadline = time.monotonic() + 30
        while (
            execute(project.database_url, "SELECT count(*) FROM agents WHERE id LIKE 'serve:%'")[0][0] < count
        ):
            assert time.monotonic() < deadline, "the servers did not register"
            time.sleep(0.2)
        return started[-count:]

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def test_two_servers_run_every_queued_deployment_exactly_once(
    project: Project, cli: CliRunner, start_servers: Callable[[int], list[subprocess.Popen[str]]]
) -> None:
    project.write_config(CONFIG)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        assert cli("release", "create", version).exit_code == 0
    start_servers(2)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        result = cli("deploy", version, "--to", "dev", "--json")
        assert result.exit_code == 0 and result.json()["queued"] is True, result
    waited = cli("deploy", "1.2.0", "--to", "dev", "--wait", "--json")
    assert waited.exit_code == 0, waited
    assert {d["state"] for d in waited.json()["deployments"]} == {"succeeded"}
    deadline = time.monotonic() + 60
    while execute(
        project.database_url, "SELECT count(*) FROM deployments WHERE state IN ('queued', 'running')"
    )[0][0]:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    states = execute(project.database_url, "SELECT state FROM deployments")
    assert {s for (s,) in states} == {"succeeded"} and len(states) == 12
    started = Counter(
        e["data"]["deployment_id"]
        for e in cli("audit", "list", "--json", "--limit", "500", "--tag", "deployment:started").json()[
            "entries"
        ]
    )
    assert len(started) == len(states) and set(started.values()) == {1}
    # Deployments of one environment and service never overlapped, whichever server ran them.
    rows = execute(
        project.database_url, "SELECT service, started_at, finished_at FROM deployments ORDER BY started_at"
    )
    for service in ("web", "api", "worker"):
        spans = [(str(s), str(f)) for svc, s, f in rows if svc == service]
        assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


def test_a_killed_server_leaves_its_deployment_interrupted(
    project: Project, cli: CliRunner, start_servers: Callable[[int], list[subprocess.Popen[str]]]
) -> None:
    project.write_config(CONFIG.replace("sleep 0.3", "sleep 30"))
    assert cli("release", "create", "1.0.0").exit_code == 0
    servers = start_servers(1)
    assert cli("deploy", "1.0.0", "--to", "dev", "--service", "web").exit_code == 0
    deadline = time.monotonic() + 30
    while not execute(project.database_url, "SELECT id FROM deployments WHERE state = 'running'"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    servers[0].send_signal(signal.SIGKILL)
    servers[0].wait(timeout=30)
    history = cli("history", "--json").json()["deployments"]
    assert ("failed", "interrupted") in {(d["state"], d["reason"]) for d in history}
