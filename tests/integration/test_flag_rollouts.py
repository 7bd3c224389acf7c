"""Flag rollouts: a real `clearance serve` deploys the sample service all at once behind Envoy, then
raises a feature flag's share step by step. The service evaluates the flag through the server's own
flag API and fails the requests the flag is on for, so the analysis sees the flag's harm in Envoy's
5xx rate — and the kill switch puts the flag back to 0 %."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from clearance.demo.loadgen import LoadGenerator
from support.cli import CliRunner, clearance_command
from support.flag_cli import audit, ok, rollout, wait
from support.store import execute

from .conftest import Project
from .test_rollouts import _free_port, _versions

pytestmark = pytest.mark.slow

COMMAND = (
    'if [ "$CLEARANCE_RELEASE_VERSION" = 2.0.0 ]; then export SAMPLE_FAIL_WHEN_FLAG=new-checkout '
    "SAMPLE_FLAG_URL=http://127.0.0.1:@API@/api SAMPLE_FLAG_TOKEN=@TOKEN@; fi; "
    "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
)
CONFIG = """\
project: shop
services:
  - name: web
    run:
      command: '@COMMAND@'
      port: @PORT@
      replicas: 2
      health: {path: /health, interval: 200ms, timeout: 1s}
      drain_timeout: 1s
environments:
  - name: prod
    production: true
    strategy:
      type: flag-rollout
      steps:
        - set_rollout: 20
        - analysis: {template: errors}
        - set_rollout: 50
        - pause: {duration: 1s}
      progress_deadline: 30s
lifecycle:
  phases:
    - environments: [prod]
analysis_templates:
  - name: errors
    metrics:
      - name: error-rate
        provider: {type: envoy, metric: error_rate}
        interval: 1s
        count: 3
        initial_delay: 1s
        success_condition: result < 0.05
"""


def _start_serve(project: Project, port: int) -> subprocess.Popen[bytes]:
    """A real `clearance serve` (engine worker, agent and flag API) on `port`, once it answers."""
    log = (project.root.parent / "serve.log").open("ab")
    process = subprocess.Popen(
        [*clearance_command(), "serve", "--workers", "1", "--port", str(port)],
        cwd=project.root,
        # Short leases: a killed server's rollouts are taken over within seconds.
        env=project.process_env("server", CLEARANCE_LEASE_SECONDS="3"),
        stdout=log,
        stderr=log,
    )
    log.close()
    wait(lambda: _answers(process, project, port), "clearance serve to answer")
    return process


def _answers(process: subprocess.Popen[bytes], project: Project, port: int) -> bool:
    assert process.poll() is None, (project.root.parent / "serve.log").read_text()[-3000:]
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/client/features").status_code == 401
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def _serve(project: Project, cli: CliRunner, port: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Yields the running server in a list: a test that kills it puts the new one there."""
    running = [_start_serve(project, port)]
    try:
        yield running
    finally:
        running[0].send_signal(signal.SIGTERM)
        running[0].wait(timeout=60)
        cli("agent", "--stop")


def test_a_harmful_flag_is_switched_off_automatically_and_a_healthy_one_reaches_100_percent(
    project: Project, cli: CliRunner
) -> None:
    token = ok(cli, "token", "create", "--env", "prod", "--json").json()["token"]
    service_port, api_port = _free_port(), _free_port()
    command = COMMAND.replace("@API@", str(api_port)).replace("@TOKEN@", token)
    project.write_config(CONFIG.replace("@COMMAND@", command).replace("@PORT@", str(service_port)))
    for flag in ("search-v2", "new-checkout"):
        ok(cli, "flag", "create", flag)
    for version, flag in (("1.0.0", "search-v2"), ("2.0.0", "new-checkout")):
        ok(cli, "release", "create", version, "--no-deploy")
        ok(cli, "release", "flag", version, flag)
    with (
        _serve(project, cli, api_port),
        LoadGenerator(f"http://127.0.0.1:{service_port}/", rate=50, connections=4) as load,
    ):
        healthy = cli("deploy", "1.0.0", "--to", "prod", "--wait", "--json")
        faulty = cli("deploy", "2.0.0", "--to", "prod", "--wait", "--json")
        report = load.stop()
        served = _versions(service_port)

    # The healthy flag went 20 → 50 → 100 % with the deployment, and is proposed for clean-up.
    assert healthy.exit_code == 0, healthy
    [first] = healthy.json()["deployments"]
    assert first["state"] == "succeeded"
    assert rollout(cli, "search-v2") == (True, "100")
    sets = [e["data"] for e in reversed(audit(cli, "flag:rollout-set"))]
    assert [(d["percentage"], d["deployment_id"]) for d in sets if d["environment"] == "prod"][:3] == [
        (20, first["id"]),
        (50, first["id"]),
        (100, first["id"]),
    ]
    shown = ok(cli, "release", "show", "1.0.0", "--json").json()["release"]
    assert [(f["name"], f["rollout"], f["cleanup_proposed"]) for f in shown["flags"]] == [
        ("search-v2", {"prod": 100}, True)
    ]
    proposed = audit(cli, "release:flag-cleanup-proposed")
    assert [(e["data"]["version"], e["data"]["flag"]) for e in proposed] == [("1.0.0", "search-v2")]
    assert "proposed for clean-up" in ok(cli, "release", "show", "1.0.0").stdout

    # The harmful one got 20 % of the users, failed their requests, and was switched off.
    assert faulty.exit_code == 1, faulty
    [second] = faulty.json()["deployments"]
    assert second["state"] == "rolled_back"
    assert "analysis errors failed" in second["reason"], second
    assert "flag new-checkout switched off (0%)" in second["reason"], second
    assert rollout(cli, "new-checkout") == (True, "0")  # on, at 0 %: nobody gets it
    assert served == {"1.0.0"}
    assert report.by_status.get(500, 0) > 0, report.render()  # the flag really did harm
    new_checkout = [
        e["data"] for e in reversed(audit(cli, "flag:rollout-set")) if e["subject"] == "flag:new-checkout"
    ]
    assert [(d["percentage"], d["deployment_id"]) for d in new_checkout] == [(20, second["id"])]
    [killed] = audit(cli, "flag:kill-switch")
    assert killed["subject"] == "flag:new-checkout"
    assert killed["data"]["deployment_id"] == second["id"] and killed["data"]["percentage"] == 0
    failing = [m for m in killed["data"]["measurements"] if m["phase"] == "failed"]
    assert failing and all(m["value"] > 0.05 for m in failing), killed
    assert failing[0]["success_condition"] == "result < 0.05"
    [rolled_back] = audit(cli, "deployment:rolled-back")
    assert rolled_back["data"]["flag"] == "new-checkout" and rolled_back["data"]["flag_switched_off"] is True
    steps = ok(cli, "deployment", "show", str(second["id"]), "--json").json()["deployment"]["steps"]
    assert [(s["name"], s["state"]) for s in steps] == [
        ("deploy: new version takes all traffic, dark behind its flag", "succeeded"),
        ("set flag rollout 20%", "succeeded"),
        ("analysis errors", "failed"),
        ("set flag rollout 50%", "skipped"),
        ("pause 1s", "skipped"),
        ("finish: the flag reaches 100%", "skipped"),
    ]
    # Nothing proposes the switched-off flag for clean-up.
    assert not ok(cli, "release", "show", "2.0.0", "--json").json()["release"]["flags"][0]["cleanup_proposed"]


def test_a_flag_rollout_needs_exactly_one_flag_and_refuses_before_anything_is_queued(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(
        CONFIG.replace("@COMMAND@", "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service").replace(
            "@PORT@", str(_free_port())
        )
    )
    ok(cli, "release", "create", "1.0.0", "--no-deploy")
    none = cli("deploy", "1.0.0", "--to", "prod")
    assert none.exit_code == 2
    assert "release 1.0.0 has no linked flag" in none.stderr
    for flag in ("a", "b"):
        ok(cli, "flag", "create", flag)
        ok(cli, "release", "flag", "1.0.0", flag)
    two = cli("deploy", "1.0.0", "--to", "prod")
    assert two.exit_code == 2 and "has 2 linked flags (a, b)" in two.stderr
    assert execute(project.database_url, "SELECT count(*) FROM deployments") == [(0,)]
    assert cli("release", "flag", "1.0.0", "missing").exit_code == 4
    assert cli("release", "flag", "9.9.9", "a").exit_code == 4
    assert cli("release", "flag", "1.0.0", "missing", "--unlink").exit_code == 4
    linked = [e["data"]["flag"] for e in audit(cli, "release:flag-linked")]
    assert sorted(linked) == ["a", "b"]


PAUSED = """\
        - set_rollout: 30
        - pause: {}
"""
STEPS = """\
        - set_rollout: 20
        - analysis: {template: errors}
        - set_rollout: 50
        - pause: {duration: 1s}
"""


def _step_state(project: Project, deployment_id: int, name: str) -> str:
    rows = execute(
        project.database_url,
        "SELECT state FROM deployment_steps WHERE deployment_id = :d AND name = :n",
        d=deployment_id,
        n=name,
    )
    return str(rows[0][0]) if rows else ""


def _state(project: Project, deployment_id: int) -> str:
    return str(
        execute(project.database_url, "SELECT state FROM deployments WHERE id = :d", d=deployment_id)[0][0]
    )


def test_a_flag_rollout_survives_a_killed_server_and_obeys_promote_and_abort(
    project: Project, cli: CliRunner
) -> None:
    service_port, api_port = _free_port(), _free_port()
    command = "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
    text = CONFIG.replace("@COMMAND@", command).replace("@PORT@", str(service_port)).replace(STEPS, PAUSED)
    project.write_config(text)
    for version, flag in (("1.0.0", "search-v2"), ("1.1.0", "new-checkout")):
        ok(cli, "flag", "create", flag)
        ok(cli, "release", "create", version, "--no-deploy")
        ok(cli, "release", "flag", version, flag)
    with _serve(project, cli, api_port) as server:
        queued = ok(cli, "deploy", "1.0.0", "--to", "prod", "--json").json()
        assert queued["queued"] is True
        first = queued["deployments"][0]["id"]
        wait(lambda: _step_state(project, first, "pause until promoted") == "running", "the pause")
        assert rollout(cli, "search-v2") == (True, "30")
        server[0].send_signal(signal.SIGKILL)
        server[0].wait(timeout=10)
        server[0] = _start_serve(project, api_port)
        wait(lambda: bool(audit(cli, "deployment:resumed")), "the new server to resume the rollout")
        assert _step_state(project, first, "pause until promoted") == "running"
        ok(cli, "promote", str(first))
        wait(lambda: _state(project, first) != "running", "the promoted rollout to end")
        assert _state(project, first) == "succeeded"
        assert rollout(cli, "search-v2") == (True, "100")
        # Resuming set nothing twice: "30 %" is one change, made once.
        shares = [e["data"]["percentage"] for e in reversed(audit(cli, "flag:rollout-set"))]
        assert shares == [30, 100]

        second = ok(cli, "deploy", "1.1.0", "--to", "prod", "--json").json()["deployments"][0]["id"]
        wait(lambda: _step_state(project, second, "pause until promoted") == "running", "the pause")
        assert rollout(cli, "new-checkout") == (True, "30")
        ok(cli, "abort", str(second), "--actor", "bob")
        wait(lambda: _state(project, second) != "running", "the aborted rollout to end")
    assert _state(project, second) == "rolled_back"
    assert rollout(cli, "new-checkout") == (True, "0")
    [killed] = audit(cli, "flag:kill-switch")
    assert killed["data"]["deployment_id"] == second and "aborted by bob" in killed["data"]["reason"]


def test_a_flag_rollout_whose_deploy_command_dies_is_switched_off_when_found_interrupted(
    project: Project, cli: CliRunner
) -> None:
    command = "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
    text = CONFIG.replace("@COMMAND@", command).replace("@PORT@", str(_free_port())).replace(STEPS, PAUSED)
    project.write_config(text)
    ok(cli, "flag", "create", "new-checkout")
    ok(cli, "release", "create", "1.0.0", "--no-deploy")
    ok(cli, "release", "flag", "1.0.0", "new-checkout")
    deploying = project.start("deploy", "1.0.0", "--to", "prod", CLEARANCE_LEASE_SECONDS="2")
    try:
        wait(lambda: _step_state(project, 1, "pause until promoted") == "running", "the pause")
        assert rollout(cli, "new-checkout") == (True, "30")
        deploying.send_signal(signal.SIGKILL)  # no server to resume it: nobody can finish it
        deploying.communicate(timeout=10)
        time.sleep(2.5)  # its lease runs out
        # The next command that opens the project finds the orphan.
        wait(
            lambda: ok(cli, "deployment", "show", "1", "--json").json()["deployment"]["state"] != "running",
            "the deployment to be found interrupted",
        )
    finally:
        if deploying.poll() is None:
            deploying.kill()
            deploying.communicate(timeout=10)
        cli("agent", "--stop")
    assert _state(project, 1) == "failed"
    assert rollout(cli, "new-checkout") == (True, "0")
    [killed] = audit(cli, "flag:kill-switch")
    assert killed["data"]["deployment_id"] == 1 and killed["data"]["reason"] == "interrupted"
