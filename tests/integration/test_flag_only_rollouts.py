"""Flag-only releases: a service without `run:` is deployed by its script steps alone, and in a
flag-rollout environment it then walks its flag's steps — no agent, no Envoy, no version to roll
back. Its analyses read an `http` metric from a small endpoint in this test that evaluates the flag
through the server's client API with the OpenFeature provider: the error rate it reports is the share
of users the harmful flag is on for, so the metric really follows the flag."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext

from clearance.delivery.worker import claim_next
from clearance.flags.openfeature import ClearanceProvider
from clearance.workspace import open_workspace
from support.cli import CliRunner, clearance_command
from support.envoy import free_port
from support.flag_cli import audit, ok, rollout, show, wait
from support.store import execute

from .conftest import Project

pytestmark = pytest.mark.slow

USERS = 500
CONFIG = """\
project: shop
services:
  - name: checkout
process:
  - name: migrate
    script: echo migrated $CLEARANCE_RELEASE_VERSION
environments:
  - name: prod
    production: true
    strategy:
      type: flag-rollout
      steps:
@STEPS@
lifecycle:
  phases:
    - environments: [prod]
analysis_templates:
  - name: errors
    metrics:
      - name: error-rate
        provider: {type: http, url: "http://127.0.0.1:@METRICS@/errors", json_path: "$.error_rate"}
        interval: 300ms
        count: 2
        initial_delay: 1s
        success_condition: result < 0.4
  - name: guard
    metrics:
      - name: error-rate
        provider: {type: http, url: "http://127.0.0.1:@METRICS@/errors", json_path: "$.error_rate"}
        initial_delay: 1s
        success_condition: result < 0.1
        failure_condition: result > 0.5
"""
WALK = """\
        - set_rollout: 20
        - analysis: {template: errors}
        - set_rollout: 60
        - analysis: {template: errors}
"""
UNDECIDED = """\
        - set_rollout: 30
        - analysis: {template: guard}
"""


class ErrorRate:
    """`GET /errors`: {"error_rate": share of USERS the watched flag is on for} — every user the
    harmful code path is on for fails. The flag is evaluated like a service would, through the
    OpenFeature provider reading the server's client API."""

    def __init__(self) -> None:
        self.watched = "new-checkout"
        self._flags = api.get_client("metrics")
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"error_rate": owner.error_rate()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connect(self, api_url: str, token: str) -> None:
        api.set_provider_and_wait(ClearanceProvider.connect(api_url, token, refresh_interval=0.2), "metrics")

    def error_rate(self) -> float:
        on = sum(
            self._flags.get_boolean_value(self.watched, False, EvaluationContext(f"user-{i}"))
            for i in range(USERS)
        )
        return on / USERS

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        api.clear_providers()


@contextlib.contextmanager
def _serve(project: Project, cli: CliRunner, steps: str) -> Iterator[ErrorRate]:
    """A real `clearance serve --no-agent` (engine worker and flag API; nothing runs a service)
    and the error-rate endpoint reading its flags; clearance.yaml points the metric at it."""
    token = ok(cli, "token", "create", "--env", "prod", "--json").json()["token"]
    port = free_port()
    metrics = ErrorRate()
    project.write_config(CONFIG.replace("@STEPS@\n", steps).replace("@METRICS@", str(metrics.port)))
    log = (project.root.parent / "serve.log").open("ab")
    process = subprocess.Popen(
        [*clearance_command(), "serve", "--no-agent", "--workers", "1", "--port", str(port)],
        cwd=project.root,
        env=project.process_env("server"),
        stdout=log,
        stderr=log,
    )
    log.close()
    try:
        wait(lambda: _answers(process, project, port), "clearance serve to answer")
        metrics.connect(f"http://127.0.0.1:{port}/api", token)
        yield metrics
    finally:
        metrics.close()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def _answers(process: subprocess.Popen[bytes], project: Project, port: int) -> bool:
    assert process.poll() is None, (project.root.parent / "serve.log").read_text()[-3000:]
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/client/features").status_code == 401
    except httpx.TransportError:
        return False


def _release(cli: CliRunner, version: str, flag: str) -> None:
    ok(cli, "flag", "create", flag)
    ok(cli, "release", "create", version, "--no-deploy")
    ok(cli, "release", "flag", version, flag)


def test_a_flag_only_release_walks_its_flag_and_a_harmful_one_is_switched_off(
    project: Project, cli: CliRunner
) -> None:
    _release(cli, "1.0.0", "search-v2")
    _release(cli, "2.0.0", "new-checkout")
    with _serve(project, cli, WALK) as metrics:
        healthy = cli("deploy", "1.0.0", "--to", "prod", "--wait", "--json")
        harmful = cli("deploy", "2.0.0", "--to", "prod", "--wait", "--json")
        # The endpoint follows the flag: nobody gets new-checkout any more, so nobody fails.
        wait(lambda: metrics.error_rate() == 0.0, "the endpoint to see the flag switched off", 10)

    # The healthy flag went 20 → 60 → 100 % after the script step; nothing was deployed or measured
    # through Envoy, and the error rate stayed 0.
    assert healthy.exit_code == 0, healthy
    [first] = healthy.json()["deployments"]
    assert first["state"] == "succeeded"
    assert rollout(cli, "search-v2") == (True, "100")
    shown = show(cli, first["id"])
    assert [(s["name"], s["kind"], s["state"]) for s in shown["steps"]] == [
        ("migrate", "script", "succeeded"),
        ("set flag rollout 20%", "set_rollout", "succeeded"),
        ("analysis errors", "analysis", "succeeded"),
        ("set flag rollout 60%", "set_rollout", "succeeded"),
        ("analysis errors", "analysis", "succeeded"),
        ("finish: the flag reaches 100%", "finish", "succeeded"),
    ]
    assert shown["strategy"] == "flag-rollout" and shown["target"] is None
    assert [m["value"] for m in shown["measurements"]] == [0.0] * 4
    assert shown["flag"] == {
        "name": "search-v2",
        "environment": "prod",
        "rollout": 100,
        "set_by_deployment": 100,
    }

    # The harmful flag passed at 20 % (error rate about 0.2), failed at 60 %, and was switched off.
    assert harmful.exit_code == 1, harmful
    [second] = harmful.json()["deployments"]
    assert second["state"] == "rolled_back"
    assert "analysis errors failed" in second["reason"], second
    assert second["reason"].endswith("flag new-checkout switched off (0%)"), second  # no version to restore
    assert rollout(cli, "new-checkout") == (True, "0")
    shown = show(cli, second["id"])
    values = [(m["phase"], m["value"]) for m in shown["measurements"]]
    # The first failed measurement ends the analysis (failure_limit 0).
    assert [p for p, _ in values] == ["successful", "successful", "failed"], values
    assert all(0.1 < v < 0.4 for _, v in values[:2]) and values[2][1] > 0.4, values
    assert [s["state"] for s in shown["steps"]] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
        "skipped",
    ]
    assert shown["flag"] == {
        "name": "new-checkout",
        "environment": "prod",
        "rollout": 0,
        "set_by_deployment": 0,
    }
    [killed] = audit(cli, "flag:kill-switch")
    assert killed["subject"] == "flag:new-checkout" and killed["data"]["deployment_id"] == second["id"]
    failing = [m for m in killed["data"]["measurements"] if m["phase"] == "failed"]
    assert len(failing) == 1 and failing[0]["value"] > 0.4, killed
    assert failing[0]["success_condition"] == "result < 0.4"
    [rolled_back] = audit(cli, "deployment:rolled-back")
    assert rolled_back["data"]["flag_switched_off"] is True and "restored" not in rolled_back["data"]
    sets = [(e["subject"], e["data"]["percentage"]) for e in reversed(audit(cli, "flag:rollout-set"))]
    assert sets == [
        ("flag:search-v2", 20),
        ("flag:search-v2", 60),
        ("flag:search-v2", 100),
        ("flag:new-checkout", 20),
        ("flag:new-checkout", 60),
    ]
    human = ok(cli, "deployment", "show", str(second["id"])).stdout
    assert "flag: new-checkout on for 0% of users in prod (this deployment set 0%)" in human


def test_an_inconclusive_analysis_waits_for_promote_or_abort(project: Project, cli: CliRunner) -> None:
    _release(cli, "1.0.0", "new-checkout")
    _release(cli, "1.1.0", "dark-mode")
    with _serve(project, cli, UNDECIDED) as metrics:
        first = ok(cli, "deploy", "1.0.0", "--to", "prod", "--json").json()["deployments"][0]["id"]
        wait(lambda: "waiting for a decision" in _output(cli, first), "the inconclusive analysis")
        # 30 % of the users fail: neither under 0.1 (success) nor over 0.5 (failure).
        shown = show(cli, first)
        assert shown["state"] == "running" and shown["flag"]["rollout"] == 30
        assert [m["phase"] for m in shown["measurements"]] == ["inconclusive"]
        watching = project.start("deployment", "watch", str(first), "--interval", "0.2", "--json")
        ok(cli, "promote", str(first))
        wait(lambda: show(cli, first)["state"] != "running", "the promoted rollout to end")
        out, err = watching.communicate(timeout=30)
        assert watching.returncode == 0, err
        watched = json.loads(out)

        metrics.watched = "dark-mode"
        second = ok(cli, "deploy", "1.1.0", "--to", "prod", "--json").json()["deployments"][0]["id"]
        wait(lambda: "waiting for a decision" in _output(cli, second), "the inconclusive analysis")
        assert rollout(cli, "dark-mode") == (True, "30")
        ok(cli, "abort", str(second), "--actor", "bob")
        wait(lambda: show(cli, second)["state"] != "running", "the aborted rollout to end")

    # `deployment watch` followed the promoted one to its end, flag and all.
    assert watched["deployment"]["state"] == "succeeded"
    assert watched["deployment"]["flag"]["rollout"] == 100
    assert rollout(cli, "new-checkout") == (True, "100")
    assert show(cli, second)["state"] == "rolled_back"
    assert rollout(cli, "dark-mode") == (True, "0")
    [killed] = audit(cli, "flag:kill-switch")
    assert killed["data"]["deployment_id"] == second and "aborted by bob" in killed["data"]["reason"]


def _output(cli: CliRunner, deployment_id: int) -> str:
    return "".join(s["output"] for s in show(cli, deployment_id)["steps"])


TWO_SERVICES = """\
project: shop
services:
  - name: api
  - name: ui
environments:
  - name: prod
    strategy:
      type: flag-rollout
      steps:
        - set_rollout: 20
        - set_rollout: 60
lifecycle:
  phases:
    - environments: [prod]
"""


def test_services_sharing_a_flag_never_lower_it_and_need_no_server_or_agent(
    project: Project, cli: CliRunner
) -> None:
    project.write_config(TWO_SERVICES)
    _release(cli, "1.0.0", "new-checkout")
    result = ok(cli, "deploy", "1.0.0", "--to", "prod", "--json")  # runs here: no serve, no agent
    first, second = result.json()["deployments"]
    assert (first["service"], first["state"], second["service"], second["state"]) == (
        "api",
        "succeeded",
        "ui",
        "succeeded",
    )
    assert rollout(cli, "new-checkout") == (True, "100")
    # The second service found the flag at 100 % and left it there: three changes, not six.
    sets = [
        (e["data"]["percentage"], e["data"]["deployment_id"])
        for e in reversed(audit(cli, "flag:rollout-set"))
    ]
    assert sets == [(20, first["id"]), (60, first["id"]), (100, first["id"])]
    output = [s["output"] for s in show(cli, second["id"])["steps"]]
    assert output[0] == "flag new-checkout: already on for 100% of users in prod\n"
    assert show(cli, second["id"])["flag"]["set_by_deployment"] == 100
    assert execute(project.database_url, "SELECT count(*) FROM agents") == [(0,)]  # no agent was needed
    # A rollback redeploys the older release and leaves flags alone: no flag steps at all.
    _release(cli, "1.1.0", "dark-mode")
    ok(cli, "deploy", "1.1.0", "--to", "prod")
    back = ok(cli, "rollback", "prod", "--json").json()["deployments"]
    assert [(d["version"], d["kind"], d["state"]) for d in back] == [
        ("1.0.0", "rollback", "succeeded"),
        ("1.0.0", "rollback", "succeeded"),
    ]
    assert show(cli, back[0]["id"])["steps"] == [] and show(cli, back[0]["id"])["flag"] is None
    assert rollout(cli, "dark-mode") == (True, "100") and rollout(cli, "new-checkout") == (True, "100")


CODE_AND_FLAG = """\
project: shop
services:
  - name: ui            # only walks the flag, yet listed first
  - name: web
    run:
      command: "sleep 600"
      port: 18431
environments:
  - name: prod
    strategy:
      type: flag-rollout
      steps:
        - set_rollout: 50
lifecycle:
  phases:
    - environments: [prod]
"""


def test_a_flag_only_rollout_waits_for_the_code_that_reads_its_flag(project: Project, cli: CliRunner) -> None:
    project.write_config(CODE_AND_FLAG)
    _release(cli, "1.0.0", "new-checkout")
    due = datetime.now(UTC) + timedelta(seconds=2)
    queued = ok(cli, "deploy", "1.0.0", "--to", "prod", "--at", due.isoformat(), "--json")
    # The service that runs the code is queued first, whatever the config's order.
    web, ui = queued.json()["deployments"]
    assert (web["service"], ui["service"]) == ("web", "ui") and web["id"] < ui["id"]
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.2)
    ws = open_workspace()
    assert claim_next(ws) == (web["id"], False)
    # web is claimed (about to run) and then running: ui is not taken by any worker meanwhile.
    assert claim_next(ws) is None
    execute(project.database_url, f"UPDATE deployments SET state = 'running' WHERE id = {web['id']}")
    assert claim_next(ws) is None
    execute(project.database_url, f"UPDATE deployments SET state = 'succeeded' WHERE id = {web['id']}")
    assert claim_next(ws) == (ui["id"], False)
