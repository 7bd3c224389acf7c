"""Analysis templates and judge specs in clearance.yaml: every mistake is reported at load time."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from clearance.delivery.analysis.templates import (
    AnalysisTemplate,
    JudgeSpec,
    Metric,
    check_template,
    template_problems,
)
from clearance.errors import ConfigError

PROMETHEUS = {
    "type": "prometheus",
    "address": "http://prom:9090",
    "query": 'rate(x{version="{{version}}"}[1m])',
}


def errors_of(model: type[Any], data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


def test_a_metric_reads_durations_and_defaults_to_argo_limits() -> None:
    metric = Metric.model_validate(
        {"name": "error-rate", "provider": PROMETHEUS, "interval": "30s", "count": 5, "initial_delay": "1m"}
    )

    assert (metric.interval, metric.initial_delay, metric.count) == (30.0, 60.0, 5)
    assert (metric.failure_limit, metric.inconclusive_limit, metric.consecutive_error_limit) == (0, 0, 4)
    assert metric.provider.type == "prometheus"
    assert metric.provider.settings == {"address": "http://prom:9090", "query": PROMETHEUS["query"]}


def test_a_forbidden_condition_is_reported_at_its_key() -> None:
    errors = errors_of(Metric, {"name": "m", "provider": PROMETHEUS, "success_condition": "result.real > 1"})

    assert errors == [
        (
            ("success_condition",),
            "Value error, invalid condition 'result.real > 1': not allowed: attribute access ('.')",
        )
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": 3}, "interval is needed when count is more than 1"),
        ({"count": 1, "failure_limit": 2}, "failure_limit (2) can never be passed with count 1"),
        ({"count": 1, "inconclusive_limit": 2}, "inconclusive_limit (2) can never be passed with count 1"),
        ({"interval": "soon"}, "invalid duration 'soon'"),
        ({"failure_limit": -1}, "greater than or equal to 0"),
        ({"dry_run": True}, "Extra inputs are not permitted"),
    ],
)
def test_metric_settings_that_cannot_work(fields: dict[str, Any], message: str) -> None:
    errors = errors_of(Metric, {"name": "m", "provider": PROMETHEUS, **fields})

    assert any(message in text for _, text in errors), errors


def test_metric_names_are_unique_in_a_template() -> None:
    metric = {"name": "m", "provider": PROMETHEUS}

    errors = errors_of(AnalysisTemplate, {"name": "t", "metrics": [metric, metric]})

    assert errors == [((), "Value error, two metrics are named 'm'")]


def test_provider_problems_point_into_the_template() -> None:
    template = AnalysisTemplate.model_validate(
        {
            "name": "t",
            "metrics": [
                {"name": "a", "provider": {"type": "prometheus", "query": "up{v='{{release}}'}"}},
                {"name": "b", "provider": {"type": "datadog"}},
                {"name": "c", "provider": {"type": "envoy", "metric": "error_rate", "colour": "red"}},
            ],
        }
    )

    problems = template_problems(template)

    assert problems[0] == (("metrics", 0, "provider"), "the prometheus provider needs 'address' (text)")
    assert problems[1][0] == ("metrics", 0, "provider")
    assert problems[1][1].startswith("query: unknown variable '{{release}}'; known: baseline_cluster, ")
    assert problems[2] == (
        ("metrics", 1, "provider", "type"),
        "unknown metric provider type 'datadog'; known: envoy, http, prometheus",
    )
    assert problems[3] == (
        ("metrics", 2, "provider"),
        "unknown setting 'colour' for the envoy provider; known: admin_url, cluster, metric, timeout",
    )
    assert len(problems) == 4


def test_judge_metrics_need_a_provider_with_history() -> None:
    spec = JudgeSpec.model_validate(
        {"metrics": [{"name": "e", "provider": {"type": "envoy", "metric": "error_rate"}}]}
    )

    with pytest.raises(ConfigError) as caught:
        check_template(spec)

    assert caught.value.problems == [
        "metrics.0.provider.type: 'envoy' cannot give samples over time for the judge"
    ]


def test_a_judge_spec_with_kayenta_defaults() -> None:
    spec = JudgeSpec.model_validate({"metrics": [{"name": "latency", "provider": PROMETHEUS}]})

    assert (spec.window, spec.confidence, spec.tolerance) == (300.0, 0.98, 0.25)
    assert (spec.thresholds.pass_score, spec.thresholds.marginal) == (95.0, 75.0)
    assert spec.metrics[0].direction == "either"
    check_template(spec)  # no ConfigError


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"groups": {"errors": 60, "latency": 40}}, "groups errors, latency have a weight but no metric"),
        ({"thresholds": {"pass": 70, "marginal": 80}}, "marginal (80) must not be above pass (70)"),
        ({"confidence": 1.5}, "less than 1"),
        ({"window": "0s"}, "must be more than zero"),
    ],
)
def test_judge_settings_that_cannot_work(fields: dict[str, Any], message: str) -> None:
    errors = errors_of(JudgeSpec, {"metrics": [{"name": "latency", "provider": PROMETHEUS}], **fields})

    assert any(message in text for _, text in errors), errors


def test_group_weights_must_add_up() -> None:
    def metrics(*groups: str) -> list[dict[str, Any]]:
        return [{"name": f"m{i}", "group": g, "provider": PROMETHEUS} for i, g in enumerate(groups)]

    short = errors_of(JudgeSpec, {"metrics": metrics("a", "b"), "groups": {"a": 50, "b": 30}})
    full = errors_of(JudgeSpec, {"metrics": metrics("a", "b", "c"), "groups": {"a": 50, "b": 50}})

    assert short == [((), "Value error, group weights add up to 80; they must add up to 100")]
    assert full == [((), "Value error, groups c have no weight left (the others take 100)")]
