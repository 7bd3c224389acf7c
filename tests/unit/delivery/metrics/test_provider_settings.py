"""What each built-in provider accepts in clearance.yaml, and the `{{variable}}` templates."""

from __future__ import annotations

from typing import Any

import pytest

from clearance.delivery.metrics.base import (
    STANDARD_VARIABLES,
    MetricQuery,
    SamplesNotSupported,
    placeholders,
    render,
)
from clearance.delivery.metrics.envoy import EnvoyProvider
from clearance.delivery.metrics.http import HttpProvider
from clearance.delivery.metrics.prometheus import PrometheusProvider


def test_placeholders_are_replaced_and_an_unknown_one_is_named() -> None:
    text = 'rate(x{service="{{service}}", version="{{ version }}"}[1m])'

    assert placeholders(text) == ["service", "version"]
    assert (
        render(text, {"service": "web", "version": "1.2.0"}) == 'rate(x{service="web", version="1.2.0"}[1m])'
    )
    with pytest.raises(KeyError, match="version"):
        render(text, {"service": "web"})


@pytest.mark.parametrize(
    ("provider", "settings", "problems"),
    [
        (PrometheusProvider(), {"address": "http://p:9090", "query": "up", "step": "5s"}, []),
        (
            PrometheusProvider(),
            {"address": "http://p:9090", "query": "up{v='{{versoin}}'}", "timeout": "fast"},
            [
                "timeout: invalid duration 'fast': use seconds (30) or numbers with units ms, s, m, h, d (days), w (weeks): 250ms, 30s, 5m, 1h30m, 2d12h, 1w",
                "query: unknown variable '{{versoin}}'; known: " + ", ".join(sorted(STANDARD_VARIABLES)),
            ],
        ),
        (PrometheusProvider(), {"query": "up"}, ["the prometheus provider needs 'address' (text)"]),
        (HttpProvider(), {"url": "http://x/{{service}}", "json_path": "$.a", "method": "post"}, []),
        (
            HttpProvider(),
            {"url": "http://x", "json_path": "$[[", "method": "DELETE"},
            [
                "json_path '$[[' is not a JSONPath: Parse error at 1:2 near token [ ([)",
                "method 'DELETE' is not supported: use GET or POST",
            ],
        ),
        (
            HttpProvider(),
            {"url": "http://x", "json_path": "$.a", "body": {"q": "{{nope}}"}},
            ["body: unknown variable '{{nope}}'; known: " + ", ".join(sorted(STANDARD_VARIABLES))],
        ),
        (EnvoyProvider(), {"metric": "latency_p99"}, []),
        (
            EnvoyProvider(),
            {"metric": "latency_p42"},
            [
                "the envoy provider needs 'metric', one of: request_count, error_rate, latency_p50, latency_p90, "
                "latency_p95, latency_p99"
            ],
        ),
    ],
)
def test_settings_are_checked_before_any_query(
    provider: Any, settings: dict[str, Any], problems: list[str]
) -> None:
    assert provider.check(settings, STANDARD_VARIABLES) == problems


def test_only_prometheus_gives_samples_for_the_judge() -> None:
    assert PrometheusProvider().supports_samples
    for provider in (HttpProvider(), EnvoyProvider()):
        assert not provider.supports_samples
        with pytest.raises(SamplesNotSupported):
            provider.samples(MetricQuery(provider.type, {}), 60)
