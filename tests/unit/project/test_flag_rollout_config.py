"""A user rolls a feature flag out step by step with the `flag-rollout` strategy in clearance.yaml."""

from __future__ import annotations

from clearance.project import load_config
from clearance.project.rollout import FlagRollout

HEAD = """\
project: shop
services:
  - name: web
    run:
      command: python -m clearance.demo.sample_service
      port: {dev: 18081, prod: 18080}
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


TEMPLATES = """\
analysis_templates:
  - name: errors
    metrics:
      - name: error-rate
        provider: {type: envoy, metric: error_rate}
        success_condition: result < 0.05
"""


def test_a_flag_rollout_is_read_with_its_flag_and_steps(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(
        _config("""\
    strategy:
      type: flag-rollout
      flag: new-checkout
      steps:
        - set_rollout: 5
        - pause: {duration: 30s}
        - analysis: {template: errors}
        - set_rollout: 50
        - pause: {}
      background_analysis: {template: errors}
""")
        + TEMPLATES
    )
    prod = load_config(path).config.environment("prod")
    assert prod is not None and isinstance(prod.strategy, FlagRollout)
    assert prod.strategy.flag == "new-checkout"
    assert prod.strategy.background_analysis is not None
    assert [s.describe() for s in prod.strategy.steps] == [
        "set flag rollout 5%",
        "pause 30s",
        "analysis errors",
        "set flag rollout 50%",
        "pause until promoted",
    ]


def test_the_flag_may_be_left_to_the_releases_link(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config(_config("    strategy: {type: flag-rollout, steps: [{set_rollout: 100}]}\n"))
    prod = load_config(path).config.environment("prod")
    assert prod is not None and isinstance(prod.strategy, FlagRollout) and prod.strategy.flag is None


def test_flag_rollout_mistakes_name_file_line_and_key(problems) -> None:  # type: ignore[no-untyped-def]
    found = problems(
        _config("""\
    strategy:
      type: flag-rollout
      steps:
        - set_rollout: 150
        - set_rollout: -1
        - set_rollout: 10
          pause: {}
        - set_weight: 20
        - analysis: {template: erors}
""")
        + TEMPLATES
    )
    assert found == [
        "clearance.yaml:14: environments[1].strategy.steps[0].set_rollout: must be at most 100, got 150",
        "clearance.yaml:15: environments[1].strategy.steps[1].set_rollout: must be at least 0, got -1",
        "clearance.yaml:16: environments[1].strategy.steps[2]: a flag-rollout step has exactly one of set_rollout, "
        "pause or analysis (found set_rollout, pause)",
        "clearance.yaml:18: environments[1].strategy.steps[3].set_weight: unknown key (expected one of: set_rollout, "
        "pause, analysis)",
        "clearance.yaml:19: environments[1].strategy.steps[4].analysis.template: unknown analysis template "
        "'erors' (did you mean 'errors'?)",
    ]


def test_a_flag_rollout_needs_steps(problems) -> None:  # type: ignore[no-untyped-def]
    found = problems(_config("    strategy: {type: flag-rollout, flag: x, steps: []}\n"))
    assert found == ["clearance.yaml:11: environments[1].strategy.steps: needs at least one item"]


def test_a_flag_only_service_cannot_measure_its_flag_through_envoy(problems, write_config) -> None:  # type: ignore[no-untyped-def]
    flag_only = HEAD.replace("services:\n", "services:\n  - name: checkout\n")  # no `run:`
    strategy = """\
    strategy:
      type: flag-rollout
      steps:
        - set_rollout: 10
        - analysis: {template: errors}
      background_analysis: {template: errors}
"""
    found = problems(flag_only + strategy + TAIL + TEMPLATES)
    why = (
        "analysis template 'errors' measures through Envoy, which service 'checkout' does not have "
        "(no `run:`): measure the flag's effect with a prometheus or http metric"
    )
    assert found == [
        f"clearance.yaml:16: environments[1].strategy.steps[1].analysis.template: {why}",
        f"clearance.yaml:17: environments[1].strategy.background_analysis.template: {why}",
    ]
    # Without a service lacking `run:`, the same environment is fine (see the first test), and an
    # http metric is fine for the flag-only service.
    http = TEMPLATES.replace(
        "{type: envoy, metric: error_rate}", "{type: http, url: 'http://x/m', json_path: '$.e'}"
    )
    assert (
        load_config(write_config(flag_only + strategy + TAIL + http)).config.service("checkout") is not None
    )
