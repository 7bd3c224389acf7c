"""The statistical judge as a canary step: Prometheus scrapes the agent's Envoy, and the judge
compares the canary's per-second error ratio with the stable version's over the last seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearance.demo.loadgen import LoadGenerator
from support.cli import CliRunner
from support.prometheus import start_prometheus
from support.store import execute

from .conftest import Project
from .test_rollouts import _config, _free_port, _versions

pytestmark = pytest.mark.slow

JUDGED = """\
      type: canary
      steps:
        - set_weight: 50
        - pause: {duration: 10s}
        - analysis: {template: judge}
"""

JUDGE_TEMPLATE = """\
analysis_templates:
  - name: judge
    judge:
      window: 8s
      confidence: 0.95
      thresholds: {{pass: 90, marginal: 50}}
      metrics:
        - name: error-ratio
          direction: increase
          critical: true
          provider:
            type: prometheus
            address: {address}
            step: 1s
            query: >-
              (sum(rate(envoy_cluster_upstream_rq_xx{{envoy_cluster_name="{{{{cluster}}}}",envoy_response_code_class="5"}}[3s]))
              or vector(0))
              / sum(rate(envoy_cluster_upstream_rq_xx{{envoy_cluster_name="{{{{cluster}}}}"}}[3s]))
"""


def test_the_judge_passes_a_healthy_canary_and_fails_one_with_more_errors_than_stable(
    project: Project, cli: CliRunner, tmp_path: Path
) -> None:
    port = _free_port()
    command = (
        'if [ "$CLEARANCE_RELEASE_VERSION" = 1.2.0 ]; then export FAULT_ERROR_RATE=0.3; fi; '
        "exec $CLEARANCE_PYTHON -m clearance.demo.sample_service"
    )
    config = _config(port, JUDGED, command=f"'{command}'")
    # Prometheus can only be told where Envoy's admin is once the first version runs.
    project.write_config(config + JUDGE_TEMPLATE.format(address="http://127.0.0.1:9"))
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        assert cli("release", "create", version, "--no-deploy").exit_code == 0
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    try:
        [(observed,)] = execute(project.database_url, "SELECT observed FROM target_observations")
        admin = (observed if isinstance(observed, dict) else json.loads(observed))["proxy_admin_url"]
        (tmp_path / "prometheus").mkdir()
        prometheus = start_prometheus(
            tmp_path / "prometheus", [admin.removeprefix("http://")], metrics_path="/stats/prometheus"
        )
        try:
            project.write_config(config + JUDGE_TEMPLATE.format(address=prometheus.url))
            with LoadGenerator(f"http://127.0.0.1:{port}/", rate=60, connections=4) as load:
                healthy = cli("deploy", "1.1.0", "--to", "prod", "--json")
                faulty = cli("deploy", "1.2.0", "--to", "prod", "--json")
                load.stop()
        finally:
            prometheus.stop()
        assert healthy.exit_code == 0, healthy
        assert faulty.exit_code == 1, faulty
        [rolled_back] = faulty.json()["deployments"]
        assert rolled_back["state"] == "rolled_back"
        assert rolled_back["reason"].startswith("judge judge: score 0 → fail")
        assert _versions(port) == {"1.1.0"}

        rows = execute(
            project.database_url,
            "SELECT deployment_id, metric, phase, value FROM measurements ORDER BY id",
        )
        by_deployment: dict[int, dict[str, tuple[str, dict[str, object]]]] = {}
        for deployment_id, metric, phase, value in rows:
            value = value if isinstance(value, dict) else json.loads(value)
            by_deployment.setdefault(deployment_id, {})[metric] = (phase, value)
        good = by_deployment[healthy.json()["deployments"][0]["id"]]
        bad = by_deployment[rolled_back["id"]]
        assert good["score"] == ("successful", {"result": 100.0, "judgement": "pass"})
        assert good["error-ratio"][1]["classification"] == "Pass"
        assert bad["error-ratio"][0] == "failed" and bad["error-ratio"][1]["classification"] == "High"
        assert float(bad["error-ratio"][1]["result"]) > 0.1  # type: ignore[arg-type]
        assert bad["score"][1]["judgement"] == "fail"
        shown = cli("deployment", "show", str(rolled_back["id"]), "--json").json()["deployment"]
        judged = next(s for s in shown["steps"] if s["name"] == "analysis judge")
        assert "error-ratio: High" in judged["output"]
    finally:
        cli("agent", "--stop")
