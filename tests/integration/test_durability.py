"""Durability: `clearance serve` killed with SIGKILL at random points while canaries roll out under
load, then started again. Every rollout caught in flight resumes from its last recorded step (or,
caught in a script step that cannot be repeated safely, fails as interrupted), no request through
Envoy fails while the control plane is down, and the audit chain still verifies."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from clearance.demo.loadgen import LoadGenerator
from support.cli import CliRunner, clearance_command
from support.store import execute

from .conftest import Project
from .test_rollouts import _free_port

pytestmark = pytest.mark.slow

KILLS_PER_BACKEND = 26  # two backends: 52 kill points in the suite

CONFIG = """\
project: shop
services:
  - name: web
    run:
      command: exec $CLEARANCE_PYTHON -m clearance.demo.sample_service
      port: {port}
      replicas: 2
      health: {{path: /health, interval: 200ms, timeout: 1s}}
      drain_timeout: 1s
environments:
  - name: prod
    strategy:
      type: canary
      steps:
        - set_weight: 20
        - pause: {{duration: 1s}}
        - analysis: {{template: errors}}
        - set_weight: 60
        - pause: {{duration: 1s}}
      progress_deadline: 60s
lifecycle:
  phases:
    - environments: [prod]
process:
  - name: migrate
    script: sleep 0.4
analysis_templates:
  - name: errors
    metrics:
      - name: error-rate
        provider: {{type: envoy, metric: error_rate}}
        interval: 500ms
        count: 2
        failure_condition: result > 0.05
"""


class Server:
    """One `clearance serve` at a time, killed and started again by the test."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.process: subprocess.Popen[bytes] | None = None
        self.log = (project.root / "serve.log").open("ab")

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*clearance_command(), "serve", "--workers", "1"],
            cwd=self.project.root,
            env=self.project.process_env("server"),
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        me = f"serve:%:{self.process.pid}:%"
        while not execute(self.project.database_url, f"SELECT id FROM agents WHERE id LIKE '{me}'"):
            assert self.process.poll() is None, (self.project.root / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "serve did not register"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        self.log.close()


@pytest.fixture
def server(project: Project, cli: CliRunner) -> Iterator[Server]:
    running = Server(project)
    yield running
    running.stop()
    cli("agent", "--stop")


def _active(project: Project) -> list[tuple[int, str]]:
    return [
        (int(i), str(s))
        for i, s in execute(
            project.database_url, "SELECT id, state FROM deployments WHERE state IN ('queued', 'running')"
        )
    ]


def _running_step(project: Project, deployment_id: int) -> str:
    rows = execute(
        project.database_url,
        "SELECT name FROM deployment_steps WHERE deployment_id = :d AND state = 'running'",
        d=deployment_id,
    )
    if rows:
        return str(rows[0][0])
    done = execute(
        project.database_url,
        "SELECT name FROM deployment_steps WHERE deployment_id = :d AND state IN ('succeeded', 'skipped') "
        "ORDER BY position DESC LIMIT 1",
        d=deployment_id,
    )
    return f"after {done[0][0]}" if done else "before the first step"


def test_killing_serve_at_random_points_resumes_every_rollout_without_a_failed_request(
    project: Project, cli: CliRunner, server: Server, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int(os.environ.get("CLEARANCE_KILL_SEED", "0")) or random.randrange(1, 10**6)
    rng = random.Random(seed)
    port = _free_port()
    project.write_config(CONFIG.format(port=port))
    assert cli("release", "create", "1.0.0", "--no-deploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0  # in-process; the agent starts
    server.start()
    kill_points: Counter[str] = Counter()
    minor = 0
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=40, connections=4, max_duration=900) as load:
        kills = rounds = 0
        while kills < KILLS_PER_BACKEND:
            rounds += 1
            assert rounds <= 3 * KILLS_PER_BACKEND, f"too few rounds had a rollout in flight: {kill_points}"
            if not _active(project):
                minor += 1
                version = f"1.{minor}.0"
                assert cli("release", "create", version, "--no-deploy").exit_code == 0
                queued = cli("deploy", version, "--to", "prod", "--json")
                assert queued.exit_code == 0 and queued.json()["queued"] is True, queued
            time.sleep(rng.uniform(0.5, 5.0))
            in_flight = _active(project)
            if not in_flight:
                continue  # it finished first: a kill now would hit nothing
            server.kill()
            kills += 1
            for deployment_id, state in in_flight:
                kill_points[_running_step(project, deployment_id) if state == "running" else "queued"] += 1
            server.start()
        deadline = time.monotonic() + 120
        while _active(project):
            assert time.monotonic() < deadline, f"still active after the last restart (seed {seed})"
            time.sleep(0.3)
        report = load.stop()

    with capsys.disabled():  # what the kills hit, for whoever reads the log of a run
        print(f"\n[{backend}] seed {seed}: kill points {dict(kill_points)}; {report.render()}")
    assert report.failed == 0 and set(report.by_status) == {200}, f"seed {seed}: {report.render()}"
    assert sum(kill_points.values()) >= KILLS_PER_BACKEND, kill_points
    assert len(kill_points) >= 3, f"kills landed in too few places (seed {seed}): {kill_points}"
    deployments = execute(
        project.database_url, "SELECT id, state, reason FROM deployments WHERE id > 1 ORDER BY id"
    )
    for deployment_id, state, reason in deployments:
        steps = execute(
            project.database_url,
            "SELECT name, state FROM deployment_steps WHERE deployment_id = :d ORDER BY position",
            d=deployment_id,
        )
        if state == "failed":
            # Only a kill inside the script step may end a deployment: scripts are not run twice.
            assert reason == "interrupted" and steps[0] == ("migrate", "failed"), (seed, steps)
            assert {s for _, s in steps[1:]} == {"cancelled"}, (seed, steps)
        else:
            assert state == "succeeded", (seed, deployment_id, state, reason, steps)
            assert {s for _, s in steps} == {"succeeded"}, (seed, steps)
    succeeded = [f"1.{i}.0" for i in range(1, minor + 1)]
    last = max(
        (v for (d, s, _), v in zip(deployments, succeeded, strict=True) if s == "succeeded"),
        key=lambda v: int(v.split(".")[1]),
        default="1.0.0",
    )
    with httpx.Client() as client:
        assert {client.get(f"http://127.0.0.1:{port}/version").text.strip() for _ in range(10)} == {last}
    resumed = cli("audit", "list", "--json", "--limit", "1000", "--tag", "deployment:resumed").json()
    assert resumed["entries"], f"no rollout was resumed (seed {seed}): {kill_points}"
    assert cli("audit", "verify").exit_code == 0


WAIT_FOR_PROMOTE = CONFIG.replace(
    """        - set_weight: 20
        - pause: {{duration: 1s}}
        - analysis: {{template: errors}}
        - set_weight: 60
        - pause: {{duration: 1s}}""",
    """        - set_weight: 30
        - pause: {{}}""",
).replace("    script: sleep 0.4", "    script: 'true'")


def _wait_for_step(project: Project, deployment_id: int, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _running_step(project, deployment_id) != name:
        assert time.monotonic() < deadline, f"deployment {deployment_id} never reached '{name}'"
        time.sleep(0.1)


def _served(port: int, n: int = 30) -> set[str]:
    with httpx.Client() as client:
        return {client.get(f"http://127.0.0.1:{port}/version").text.strip() for _ in range(n)}


def _state(project: Project, deployment_id: int) -> tuple[str, str]:
    [(state, reason)] = execute(
        project.database_url, "SELECT state, reason FROM deployments WHERE id = :d", d=deployment_id
    )
    return str(state), str(reason)


def _until_finished(project: Project, deployment_id: int, timeout: float = 60) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while (state := _state(project, deployment_id))[0] in ("queued", "running"):
        assert time.monotonic() < deadline, f"deployment {deployment_id} is still {state}"
        time.sleep(0.2)
    return state


def _first_version_then_queue(project: Project, cli: CliRunner, server: Server) -> tuple[int, int]:
    port = _free_port()
    project.write_config(WAIT_FOR_PROMOTE.format(port=port))
    for version in ("1.0.0", "1.1.0"):
        assert cli("release", "create", version, "--no-deploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    server.start()
    queued = cli("deploy", "1.1.0", "--to", "prod", "--json")
    assert queued.exit_code == 0 and queued.json()["queued"] is True, queued
    [deployment] = queued.json()["deployments"]
    _wait_for_step(project, deployment["id"], "pause until promoted")
    return port, int(deployment["id"])


def test_a_stopping_server_suspends_a_waiting_canary_and_the_next_server_resumes_it(
    project: Project, cli: CliRunner, server: Server
) -> None:
    port, deployment_id = _first_version_then_queue(project, cli, server)
    assert _served(port) == {"1.0.0", "1.1.0"}
    started = time.monotonic()
    server.stop()  # SIGTERM: a canary waiting for a person must not hold the shutdown
    assert time.monotonic() - started < 15
    assert _state(project, deployment_id)[0] == "running"
    assert _served(port) == {"1.0.0", "1.1.0"}  # the agent kept serving both versions
    suspended = cli("audit", "list", "--json", "--tag", "deployment:suspended").json()["entries"]
    assert [e["data"]["deployment_id"] for e in suspended] == [deployment_id]

    server.log = (project.root / "serve.log").open("ab")
    server.start()
    assert cli("promote", str(deployment_id)).exit_code == 0
    assert _until_finished(project, deployment_id) == ("succeeded", "")
    assert _served(port) == {"1.1.0"}


def test_a_rollout_whose_steps_changed_while_its_server_was_down_goes_back_to_stable(
    project: Project, cli: CliRunner, server: Server
) -> None:
    port, deployment_id = _first_version_then_queue(project, cli, server)
    server.kill()
    config = (project.root / "clearance.yaml").read_text()
    project.write_config(config.replace("- set_weight: 30", "- set_weight: 10\n        - set_weight: 30"))
    server.start()
    state, reason = _until_finished(project, deployment_id)
    assert state == "rolled_back"
    assert "cannot resume: clearance.yaml no longer plans the steps this rollout started with" in reason
    assert _served(port) == {"1.0.0"}


def test_an_in_process_rollout_killed_with_no_server_falls_back_to_stable_at_the_next_command(
    project: Project, cli: CliRunner, server: Server
) -> None:
    port = _free_port()
    project.write_config(WAIT_FOR_PROMOTE.format(port=port))
    for version in ("1.0.0", "1.1.0"):
        assert cli("release", "create", version, "--no-deploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    deploying = project.start("deploy", "1.1.0", "--to", "prod")
    _wait_for_step(project, 2, "pause until promoted")
    assert _served(port) == {"1.0.0", "1.1.0"}
    deploying.send_signal(signal.SIGKILL)
    deploying.communicate(timeout=10)
    assert cli("status").exit_code == 0  # any command notices the dead driver
    assert _state(project, 2) == ("failed", "interrupted")
    interrupted = cli("audit", "list", "--json", "--tag", "deployment:interrupted").json()["entries"]
    assert interrupted[0]["data"]["restored"] == "1.0.0"
    deadline = time.monotonic() + 30
    while _served(port) != {"1.0.0"}:
        assert time.monotonic() < deadline, "traffic did not go back to the stable version"
        time.sleep(0.2)


def test_an_in_process_rollout_killed_while_a_server_runs_is_handed_over_and_finished(
    project: Project, cli: CliRunner, server: Server
) -> None:
    port = _free_port()
    project.write_config(WAIT_FOR_PROMOTE.format(port=port))
    for version in ("1.0.0", "1.1.0"):
        assert cli("release", "create", version, "--no-deploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    deploying = project.start("deploy", "1.1.0", "--to", "prod")
    _wait_for_step(project, 2, "pause until promoted")
    server.start()  # started after the deploy: the deploy runs in its own process
    deploying.send_signal(signal.SIGKILL)
    deploying.communicate(timeout=10)
    deadline = time.monotonic() + 30
    while not cli("audit", "list", "--json", "--tag", "deployment:resumed").json()["entries"]:
        assert time.monotonic() < deadline, "the server did not take the rollout over"
        time.sleep(0.3)
    assert cli("audit", "list", "--json", "--tag", "deployment:handed-over").json()["entries"]
    assert _state(project, 2)[0] == "running"
    assert cli("promote", "2").exit_code == 0
    assert _until_finished(project, 2) == ("succeeded", "")
    assert _served(port) == {"1.1.0"}
