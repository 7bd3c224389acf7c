"""Progressive delivery on this machine: real replicas of the bundled sample service behind a real
Envoy, driven by the local agent, while a load generator keeps calling the stable port."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clearance.demo.loadgen import LoadGenerator
from support.cli import CliRunner
from support.prometheus import start_prometheus
from support.store import execute

from .conftest import Project

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(
    port: int,
    strategy: str,
    *,
    command: str = "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service",
    deadline: str = "20s",
) -> str:
    return f"""\
project: shop
services:
  - name: web
    run:
      command: {command}
      port: {port}
      replicas: 2
      health: {{path: /health, interval: 200ms, timeout: 1s}}
      drain_timeout: 2s
environments:
  - name: prod
    strategy:
{strategy}      progress_deadline: {deadline}
lifecycle:
  phases:
    - environments: [prod]
"""


CANARY = """\
      type: canary
      steps:
        - set_weight: 25
        - pause: {duration: 1s}
        - set_weight: 50
        - pause: {duration: 1s}
"""


@pytest.fixture
def agent_stopper(cli: CliRunner, project: Project) -> Iterator[None]:
    yield
    cli("agent", "--stop")


def _versions(port: int, n: int = 20) -> set[str]:
    with httpx.Client() as client:
        return {client.get(f"http://127.0.0.1:{port}/version").text.strip() for _ in range(n)}


def test_a_canary_shifts_traffic_step_by_step_without_failed_requests(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port = _free_port()
    project.write_config(_config(port, CANARY))
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0  # the first version goes straight in
    assert _versions(port) == {"1.0.0"}
    assert cli("release", "create", "1.1.0", "--no-deploy").exit_code == 0
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=40, connections=4) as load:
        result = cli("deploy", "1.1.0", "--to", "prod", "--json")
        report = load.stop()
    assert result.exit_code == 0, result
    assert report.failed == 0 and set(report.by_status) == {200}, report.render()
    assert set(report.by_version) == {"1.0.0", "1.1.0"}  # both served during the canary
    assert _versions(port) == {"1.1.0"}
    [deployment] = result.json()["deployments"]
    shown = cli("deployment", "show", str(deployment["id"]), "--json").json()["deployment"]
    assert [(s["name"], s["state"]) for s in shown["steps"]] == [
        ("set weight 25%", "succeeded"),
        ("pause 1s", "succeeded"),
        ("set weight 50%", "succeeded"),
        ("pause 1s", "succeeded"),
        ("finish: new version takes all traffic, stable retires", "succeeded"),
    ]
    assert "1.1.0: 1/1 ready, weight 25% (want 25%)" in shown["steps"][0]["output"]
    # The stable version's replicas are gone, not merely unrouted.
    observed = execute(project.database_url, "SELECT observed FROM target_observations")
    assert observed and "1.0.0" not in str(observed[0][0])


def test_a_version_that_never_gets_healthy_is_rolled_back_and_traffic_never_moves(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port = _free_port()
    command = (
        'if [ "$CLEARANCE_RELEASE_VERSION" = 2.0.0 ]; then export FAULT_FAIL_HEALTH=1; fi; '
        "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
    )
    project.write_config(_config(port, CANARY, command=f"'{command}'", deadline="4s"))
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert cli("release", "create", "2.0.0", "--no-deploy").exit_code == 0
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=40, connections=4) as load:
        result = cli("deploy", "2.0.0", "--to", "prod", "--json")
        report = load.stop()
    assert result.exit_code == 1, result
    [deployment] = result.json()["deployments"]
    assert deployment["state"] == "rolled_back"
    assert "progress deadline exceeded" in deployment["reason"]
    assert "503" in deployment["reason"]  # the health check's answer is in the reason
    assert report.failed == 0 and report.by_version == {"1.0.0": report.ok}, report.render()
    assert _versions(port) == {"1.0.0"}
    tags = [e["tag"] for e in cli("audit", "list", "--json").json()["entries"]]
    assert "deployment:rolled-back" in tags


def test_abort_sends_traffic_back_and_a_finished_deployment_cannot_be_steered(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port = _free_port()
    paused = "      type: canary\n      steps:\n        - set_weight: 50\n        - pause: {}\n"
    project.write_config(_config(port, paused, deadline="60s"))
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert cli("release", "create", "1.1.0", "--no-deploy").exit_code == 0
    deploying = project.start("deploy", "1.1.0", "--to", "prod")
    try:
        deadline = time.monotonic() + 30
        while _versions(port) != {"1.0.0", "1.1.0"}:
            assert time.monotonic() < deadline, "the canary never took traffic"
            time.sleep(0.2)
        assert cli("abort", "2", "--actor", "bob").exit_code == 0
        _, err = deploying.communicate(timeout=60)
    finally:
        if deploying.poll() is None:
            deploying.kill()
    assert deploying.returncode == 1, err
    assert "aborted by bob" in err
    assert _versions(port) == {"1.0.0"}
    refused = cli("promote", "2")
    assert refused.exit_code == 3
    assert "it is rolled back" in refused.stderr


ANALYSED = """\
      type: canary
      steps:
        - set_weight: 50
        - analysis: {template: errors}
"""
TEMPLATES = """\
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


def test_analysis_failing_on_the_canarys_5xx_rolls_back_automatically(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port = _free_port()
    command = (
        'if [ "$CLEARANCE_RELEASE_VERSION" = 1.2.0 ]; then export FAULT_ERROR_RATE=0.2; fi; '
        "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
    )
    project.write_config(_config(port, ANALYSED, command=f"'{command}'") + TEMPLATES)
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert cli("release", "create", "1.1.0", "--no-deploy").exit_code == 0
    assert cli("release", "create", "1.2.0", "--no-deploy").exit_code == 0
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=60, connections=4) as load:
        healthy = cli("deploy", "1.1.0", "--to", "prod", "--json")
        faulty = cli("deploy", "1.2.0", "--to", "prod", "--json")
        report = load.stop()
    assert healthy.exit_code == 0, healthy
    assert faulty.exit_code == 1, faulty
    [deployment] = faulty.json()["deployments"]
    assert deployment["state"] == "rolled_back"
    assert "analysis errors failed" in deployment["reason"]
    assert _versions(port) == {"1.1.0"}
    assert report.failed == 0, report.render()
    # Every measurement is stored, the failing ones with their values.
    rows = execute(
        project.database_url, "SELECT deployment_id, metric, phase, value FROM measurements ORDER BY id"
    )
    by_deployment = {d: [r for r in rows if r[0] == d] for d in {r[0] for r in rows}}
    healthy_id = healthy.json()["deployments"][0]["id"]
    assert [r[2] for r in by_deployment[healthy_id]] == ["successful"] * 3
    assert any(r[2] == "failed" for r in by_deployment[deployment["id"]])
    audit = cli("audit", "list", "--json", "--tag", "deployment:rolled-back").json()["entries"]
    assert audit and audit[0]["data"]["analysis"] == "errors"
    assert any(m["phase"] == "failed" and m["value"] > 0.05 for m in audit[0]["data"]["measurements"])
    # `deployment show` and `watch` tell the same story: measurements, traffic and replicas.
    shown = cli("deployment", "show", str(deployment["id"]), "--json").json()["deployment"]
    assert any(m["phase"] == "failed" for m in shown["measurements"])
    assert shown["target"]["weights"] == {"1.1.0": 100}
    assert {r["version"] for r in shown["target"]["replicas"]} == {"1.1.0"}
    watched = cli("deployment", "watch", str(deployment["id"]), "--json")
    assert watched.exit_code == 1 and watched.json()["deployment"]["state"] == "rolled_back"
    human = cli("deployment", "show", str(deployment["id"]))
    assert "traffic: 1.1.0 100%" in human.stdout and "measurements:" in human.stdout
    # 1.2.0 never took over: rolling prod back leaves it out and goes from 1.1.0 back to 1.0.0
    # (through the canary's steps and analysis, which needs traffic).
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=60, connections=4) as load:
        rolled = cli("rollback", "prod", "--json")
        load.stop()
    assert rolled.exit_code == 0, rolled
    [back] = rolled.json()["deployments"]
    assert (back["version"], back["kind"], back["state"]) == ("1.0.0", "rollback", "succeeded")
    assert _versions(port) == {"1.0.0"}
    replaced = cli("deployment", "show", str(healthy_id), "--json").json()["deployment"]
    assert (
        replaced["state"] == "rolled_back" and f"rolled back by deployment {back['id']}" in replaced["reason"]
    )


def test_blue_green_previews_then_switches_all_traffic_at_once(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port, preview = _free_port(), _free_port()
    strategy = (
        f"      type: blue-green\n      preview_port: {preview}\n      auto_promote: false\n"
        "      scale_down_delay: 1s\n"
    )
    project.write_config(_config(port, strategy, deadline="60s"))
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert cli("release", "create", "1.1.0", "--no-deploy").exit_code == 0
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=40, connections=4) as load:
        deploying = project.start("deploy", "1.1.0", "--to", "prod")
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if _versions(preview, 3) == {"1.1.0"}:
                        break
                assert time.monotonic() < deadline, "the preview never served the new version"
                time.sleep(0.2)
            assert _versions(port) == {"1.0.0"}  # users still see the old version only
            assert cli("promote", "2").exit_code == 0
            _, err = deploying.communicate(timeout=60)
        finally:
            if deploying.poll() is None:
                deploying.kill()
        report = load.stop()
    assert deploying.returncode == 0, err
    assert _versions(port) == {"1.1.0"}
    assert report.failed == 0 and set(report.by_status) == {200}, report.render()
    shown = cli("deployment", "show", "2", "--json").json()["deployment"]
    assert [s["name"] for s in shown["steps"]] == [
        f"preview: start the new version on port {preview}",
        "wait for `clearance promote`",
        "switch: 100% to the new version, old kept warm",
        "finish: old version retires after 1s",
    ]


def test_a_rolling_update_replaces_replicas_batch_by_batch_without_failed_requests(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port = _free_port()
    project.write_config(_config(port, "      type: rolling\n      max_surge: 1\n      max_unavailable: 0\n"))
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert cli("release", "create", "1.1.0", "--no-deploy").exit_code == 0
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=40, connections=4) as load:
        result = cli("deploy", "1.1.0", "--to", "prod", "--json")
        report = load.stop()
    assert result.exit_code == 0, result
    assert report.failed == 0 and set(report.by_status) == {200}, report.render()
    assert _versions(port) == {"1.1.0"}
    shown = cli("deployment", "show", str(result.json()["deployments"][0]["id"]), "--json").json()[
        "deployment"
    ]
    output = shown["steps"][0]["output"]
    assert "batch 1/4: 1 new, 2 old" in output and "batch 4/4: 2 new, 0 old" in output


def test_background_analysis_fails_a_canary_during_a_long_pause(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port = _free_port()
    command = (
        'if [ "$CLEARANCE_RELEASE_VERSION" = 1.2.0 ]; then export FAULT_ERROR_RATE=0.5; fi; '
        "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
    )
    strategy = (
        "      type: canary\n      background_analysis: {template: errors}\n      steps:\n"
        "        - set_weight: 50\n        - pause: {duration: 60s}\n"
    )
    templates = TEMPLATES.replace("        count: 3\n", "")  # no count: measured until the rollout ends
    project.write_config(_config(port, strategy, command=f"'{command}'") + templates)
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert cli("release", "create", "1.2.0", "--no-deploy").exit_code == 0
    started = time.monotonic()
    with LoadGenerator(f"http://127.0.0.1:{port}/", rate=60, connections=4) as load:
        result = cli("deploy", "1.2.0", "--to", "prod", "--json")
        load.stop()
    assert time.monotonic() - started < 40  # it did not sit out the 60 s pause
    assert result.exit_code == 1, result
    [deployment] = result.json()["deployments"]
    assert deployment["state"] == "rolled_back"
    assert deployment["reason"].startswith("background analysis errors failed")
    assert _versions(port) == {"1.0.0"}
    rows = execute(project.database_url, "SELECT step_id, phase FROM measurements")
    assert rows and all(r[0] is None for r in rows) and any(r[1] == "failed" for r in rows)


PROMETHEUS_TEMPLATE = """\
analysis_templates:
  - name: errors
    metrics:
      - name: error-rate
        provider:
          type: prometheus
          address: {address}
          query: >-
            (sum(rate(envoy_cluster_upstream_rq_xx{{envoy_cluster_name="{{{{cluster}}}}",envoy_response_code_class="5"}}[5s]))
            or vector(0))
            / sum(rate(envoy_cluster_upstream_rq_xx{{envoy_cluster_name="{{{{cluster}}}}"}}[5s]))
        initial_delay: 4s
        interval: 2s
        count: 3
        success_condition: result < 0.05
"""


def test_a_prometheus_analysis_over_envoys_metrics_promotes_or_rolls_back(
    project: Project, cli: CliRunner, agent_stopper: None, tmp_path: Path
) -> None:
    """Prometheus scrapes the agent's Envoy; PromQL templated per version decides the canary."""
    port = _free_port()
    command = (
        'if [ "$CLEARANCE_RELEASE_VERSION" = 1.2.0 ]; then export FAULT_ERROR_RATE=0.5; fi; '
        "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
    )
    project.write_config(_config(port, ANALYSED, command=f"'{command}'") + TEMPLATES)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        assert cli("release", "create", version, "--no-deploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    [(observed,)] = execute(project.database_url, "SELECT observed FROM target_observations")
    admin = (observed if isinstance(observed, dict) else json.loads(observed))["proxy_admin_url"]
    (tmp_path / "prometheus").mkdir()
    prometheus = start_prometheus(
        tmp_path / "prometheus", [admin.removeprefix("http://")], metrics_path="/stats/prometheus"
    )
    try:
        project.write_config(
            _config(port, ANALYSED, command=f"'{command}'")
            + PROMETHEUS_TEMPLATE.format(address=prometheus.url)
        )
        with LoadGenerator(f"http://127.0.0.1:{port}/", rate=60, connections=4) as load:
            healthy = cli("deploy", "1.1.0", "--to", "prod", "--json")
            faulty = cli("deploy", "1.2.0", "--to", "prod", "--json")
            load.stop()
    finally:
        prometheus.stop()
    assert healthy.exit_code == 0, healthy
    assert faulty.exit_code == 1, faulty
    assert "analysis errors failed" in faulty.json()["deployments"][0]["reason"]
    assert _versions(port) == {"1.1.0"}
    phases = execute(project.database_url, "SELECT deployment_id, phase FROM measurements ORDER BY id")
    healthy_phases = [p for d, p in phases if d == healthy.json()["deployments"][0]["id"]]
    # Before Prometheus has scraped the new cluster the query is empty: an error measurement that is
    # retried (Argo's rule), never a pass; three successful ones then complete the analysis.
    assert healthy_phases.count("successful") == 3 and set(healthy_phases) <= {"successful", "error"}


def _step_states(project: Project, deployment_id: int) -> dict[str, str]:
    rows = execute(
        project.database_url,
        "SELECT name, state FROM deployment_steps WHERE deployment_id = :id ORDER BY position",
        id=deployment_id,
    )
    return {str(name): str(state) for name, state in rows}


def test_pause_holds_a_rollout_before_its_next_step_and_resume_lets_it_go_on(
    project: Project, cli: CliRunner, agent_stopper: None
) -> None:
    port = _free_port()
    strategy = "      type: canary\n      steps:\n        - set_weight: 25\n        - pause: {duration: 1s}\n"
    strategy += "        - set_weight: 50\n"
    project.write_config(_config(port, strategy))
    assert cli("release", "create", "1.0.0").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert cli("release", "create", "1.1.0", "--no-deploy").exit_code == 0
    deploying = project.start("deploy", "1.1.0", "--to", "prod", "--json")
    try:
        deadline = time.monotonic() + 60
        while _step_states(project, 2).get("set weight 25%") != "running":
            assert deploying.poll() is None, deploying.communicate()
            assert time.monotonic() < deadline, "the canary did not start"
            time.sleep(0.1)
        not_paused = cli("resume", "2")
        assert (
            not_paused.exit_code == 3 and "cannot resume deployment 2: it is not paused" in not_paused.stderr
        )
        assert "clearance promote 2" in not_paused.stderr
        assert cli("pause", "2").exit_code == 0
        assert cli("pause", "2").exit_code == 0  # pausing twice is harmless
        time.sleep(4)  # well past the 1 s pause: held, it does not go on to 50 %
        steps = _step_states(project, 2)
        assert steps["set weight 50%"] == "pending", steps
        shown = cli("deployment", "show", "2", "--json").json()["deployment"]
        assert shown["state"] == "running" and shown["target"]["weights"] == {"1.0.0": 75, "1.1.0": 25}
        assert cli("resume", "2").exit_code == 0
        out, err = deploying.communicate(timeout=60)
    finally:
        if deploying.poll() is None:
            deploying.kill()
            deploying.communicate()
    assert deploying.returncode == 0, err
    assert json.loads(out)["deployments"][0]["state"] == "succeeded"
    tags = [e["tag"] for e in cli("audit", "list", "--json").json()["entries"]]
    assert tags.count("deployment:pause-requested") == 2 and tags.count("deployment:resume-requested") == 1
    finished = cli("pause", "2")
    assert finished.exit_code == 3 and "cannot pause deployment 2: it is succeeded" in finished.stderr
