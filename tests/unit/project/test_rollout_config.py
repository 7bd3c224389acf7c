"""A user declares how services run (`run:`) and how each environment rolls out a new version."""

from __future__ import annotations

from pathlib import Path

from clearance.project import load_config
from clearance.project.rollout import Canary

HEAD = """\
project: shop
services:
  - name: web
    run:
      command: python -m clearance.demo.sample_service
      port: {dev: 18081, prod: 18080}
      replicas: {prod: 3}
      health: {path: /health, interval: 500ms}
environments:
  - name: dev
  - name: prod
    production: true
"""
TAIL = """\
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
"""


def _config(strategy: str) -> str:
    return HEAD + strategy + TAIL


def test_a_canary_rollout_is_read_with_its_steps(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        _config("""\
    strategy:
      type: canary
      header_route: true
      steps:
        - set_weight: 10
        - pause: {duration: 30s}
        - analysis: {template: errors}
        - set_weight: 50
        - pause: {}
""")
        + """\
analysis_templates:
  - name: errors
    metrics:
      - name: error-rate
        provider: {type: envoy, metric: error_rate}
        success_condition: result < 0.05
"""
    )
    config = load_config(path).config
    template = config.analysis_template("errors")
    assert template is not None and template.metrics[0].provider.type == "envoy"
    web = config.service("web")
    assert web is not None and web.run is not None
    assert (web.run.port_for("dev"), web.run.port_for("prod")) == (18081, 18080)
    assert (web.run.replicas_for("dev"), web.run.replicas_for("prod")) == (1, 3)
    assert web.run.health.interval == 0.5
    prod = config.environment("prod")
    assert prod is not None and isinstance(prod.strategy, Canary)
    assert [s.describe() for s in prod.strategy.steps] == [
        "set weight 10%",
        "pause 30s",
        "analysis errors",
        "set weight 50%",
        "pause until promoted",
    ]
    dev = config.environment("dev")
    assert dev is not None and dev.strategy.type == "all-at-once"


def test_strategy_mistakes_name_file_line_and_key(problems) -> None:  # type: ignore[no-untyped-def]
    found = problems(
        _config("""\
    strategy:
      type: canary
      steps:
        - set_weight: 150
        - set_weight: 10
          pause: {}
        - set_weigth: 20
""")
    )
    assert found == [
        "clearance.yaml:16: environments[1].strategy.steps[0].set_weight: must be at most 100, got 150",
        "clearance.yaml:17: environments[1].strategy.steps[1]: a canary step has exactly one of set_weight, pause "
        "or analysis (found set_weight, pause)",
        "clearance.yaml:19: environments[1].strategy.steps[2].set_weigth: unknown key (did you mean 'set_weight'?)",
    ]


def test_an_unknown_strategy_type_gets_a_suggestion(problems) -> None:  # type: ignore[no-untyped-def]
    found = problems(_config("    strategy: {type: blue-gren}\n"))
    assert found == [
        "clearance.yaml:13: environments[1].strategy.type: unknown type 'blue-gren' (did you mean 'blue-green'?)"
    ]


def test_a_rolling_update_must_be_able_to_move(problems) -> None:  # type: ignore[no-untyped-def]
    found = problems(_config("    strategy: {type: rolling, max_surge: 0, max_unavailable: 0}\n"))
    assert len(found) == 1 and "cannot both be 0" in found[0]


def test_ports_are_needed_per_environment_and_never_shared(problems) -> None:  # type: ignore[no-untyped-def]
    text = _config("    strategy: {type: blue-green, preview_port: 18081}\n").replace(
        "port: {dev: 18081, prod: 18080}", "port: {dev: 18081, stagin: 18082}"
    )
    assert problems(text) == [
        "clearance.yaml:6: services[0].run.port.stagin: unknown environment 'stagin' (expected one of: dev, prod)",
        "clearance.yaml:6: services[0].run.port: no port for environment 'prod'",
        "clearance.yaml:13: environments[1].strategy.preview_port: port 18081 is already used by service 'web' "
        "in dev (line 6)",
    ]


def test_one_port_for_several_environments_is_refused(problems) -> None:  # type: ignore[no-untyped-def]
    found = problems(HEAD.replace("port: {dev: 18081, prod: 18080}", "port: 8080") + TAIL)
    assert len(found) == 1
    assert found[0].startswith("clearance.yaml:6: services[0].run.port: one port for 2 environments")


def test_an_unknown_analysis_template_is_named_with_its_line(problems) -> None:  # type: ignore[no-untyped-def]
    strategy = "    strategy:\n      type: canary\n      steps:\n        - analysis: {template: erors}\n"
    templates = (
        "analysis_templates:\n  - name: errors\n    metrics:\n      - name: error-rate\n"
        "        provider: {type: envoy, metric: error_rate}\n"
    )
    found = problems(_config(strategy) + templates)
    assert found == [
        "clearance.yaml:16: environments[1].strategy.steps[0].analysis.template: unknown analysis template "
        "'erors' (did you mean 'errors'?)"
    ]
