"""The prometheus provider against a real Prometheus scraping per-version counters every second."""

from __future__ import annotations

import pytest

from clearance.delivery.metrics.base import MetricQuery
from clearance.delivery.metrics.prometheus import PrometheusProvider
from support.prometheus import PrometheusServer, free_port

VARIABLES = {"service": "web", "environment": "prod", "version": "1.1.0", "baseline_version": "1.0.0"}
ERROR_RATE = (
    'sum(http_requests_total{service="{{service}}",version="{{version}}",code="500"})'
    ' / sum(http_requests_total{service="{{service}}",version="{{version}}"})'
)


def query(address: str, promql: str, **variables: str) -> MetricQuery:
    return MetricQuery("prometheus", {"address": address, "query": promql}, {**VARIABLES, **variables})


def test_an_instant_query_gives_a_number(prometheus: PrometheusServer) -> None:
    measurement = PrometheusProvider().measure(query(prometheus.url, "scalar(sum(error_ratio))"))

    assert measurement.error is None
    assert measurement.value == pytest.approx(2 / 1002 + 20 / 120)
    assert measurement.started_at <= measurement.finished_at


def test_the_query_is_templated_per_version(prometheus: PrometheusServer) -> None:
    provider = PrometheusProvider()

    canary = provider.measure(query(prometheus.url, ERROR_RATE))
    baseline = provider.measure(query(prometheus.url, ERROR_RATE, version="1.0.0"))

    assert canary.value == pytest.approx(20 / 120)
    assert baseline.value == pytest.approx(2 / 1002)
    assert canary.metadata["query"] == ERROR_RATE.replace("{{service}}", "web").replace(
        "{{version}}", "1.1.0"
    )


def test_a_vector_of_several_series_is_a_list(prometheus: PrometheusServer) -> None:
    measurement = PrometheusProvider().measure(
        query(prometheus.url, 'sort(error_ratio{service="{{service}}"})')
    )

    assert measurement.value == pytest.approx([2 / 1002, 20 / 120])


def test_an_empty_vector_is_an_error_never_a_pass(prometheus: PrometheusServer) -> None:
    measurement = PrometheusProvider().measure(query(prometheus.url, 'error_ratio{version="9.9.9"}'))

    assert measurement.value is None
    assert measurement.error is not None
    assert measurement.error.startswith("empty result")


def test_a_bad_query_is_an_error_with_prometheus_s_message(prometheus: PrometheusServer) -> None:
    measurement = PrometheusProvider().measure(query(prometheus.url, "sum(error_ratio"))

    assert measurement.error is not None
    assert "bad_data" in measurement.error
    assert "parse error" in measurement.error


def test_a_range_vector_is_refused_with_a_hint(prometheus: PrometheusServer) -> None:
    measurement = PrometheusProvider().measure(query(prometheus.url, "error_ratio[1m]"))

    assert measurement.error is not None
    assert "range vector" in measurement.error


def test_an_unreachable_prometheus_is_an_error_measurement() -> None:
    address = f"http://127.0.0.1:{free_port()}"

    measurement = PrometheusProvider().measure(query(address, "up"))

    assert measurement.value is None
    assert measurement.error is not None
    assert measurement.error.startswith(f"cannot reach Prometheus at {address}/api/v1/query")


def test_samples_come_from_a_range_query(prometheus: PrometheusServer) -> None:
    prometheus.wait_for_points("error_ratio[1m]", count=3)
    provider = PrometheusProvider()
    settings = {"address": prometheus.url, "query": 'error_ratio{version="{{version}}"}', "step": "1s"}

    canary = provider.samples(MetricQuery("prometheus", settings, VARIABLES), window_seconds=60)
    baseline = provider.samples(
        MetricQuery("prometheus", settings, {**VARIABLES, "version": "1.0.0"}), window_seconds=60
    )

    assert canary.error is None
    assert isinstance(canary.value, list) and len(canary.value) >= 3
    assert canary.value == pytest.approx([20 / 120] * len(canary.value))
    assert isinstance(baseline.value, list)
    assert baseline.value == pytest.approx([2 / 1002] * len(baseline.value))


def test_samples_of_several_series_ask_for_an_aggregation(prometheus: PrometheusServer) -> None:
    settings = {"address": prometheus.url, "query": "error_ratio", "step": "1s"}

    samples = PrometheusProvider().samples(MetricQuery("prometheus", settings, VARIABLES), 30)

    assert samples.error is not None
    assert "2 series" in samples.error
