"""The envoy provider against a local server answering `/stats?format=json` as Envoy's admin does."""

from __future__ import annotations

from typing import Any

import pytest

from clearance.delivery.metrics.base import MetricQuery
from clearance.delivery.metrics.envoy import EnvoyProvider
from support.prometheus import free_port

from .conftest import JsonServer

QUANTILES = [0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 100.0]


def envoy_stats(
    clusters: dict[str, tuple[int, int, int | None]],
    latencies: dict[str, list[tuple[float | None, float | None]]] | None = None,
) -> dict[str, Any]:
    """A stats document shaped as Envoy writes it: counters and gauges, then one histograms entry.

    `clusters` maps a cluster to (upstream_rq_total, upstream_rq_completed, upstream_rq_5xx or None
    when Envoy has not created that counter yet); `latencies` to (interval, cumulative) per quantile.
    """
    stats: list[dict[str, Any]] = [
        {"name": "server.uptime", "value": 1234},
        {"name": "server.version", "value": "1.36.2/Clean/RELEASE/BoringSSL"},  # a text readout
        {"name": "http.ingress.downstream_rq_total", "value": 99999},
    ]
    for cluster, (total, completed, errors) in clusters.items():
        stats += [
            {"name": f"cluster.{cluster}.upstream_cx_active", "value": 2},
            {"name": f"cluster.{cluster}.upstream_rq_total", "value": total},
            {"name": f"cluster.{cluster}.upstream_rq_completed", "value": completed},
            {"name": f"cluster.{cluster}.upstream_rq_2xx", "value": completed - (errors or 0)},
        ]
        if errors is not None:
            stats.append({"name": f"cluster.{cluster}.upstream_rq_5xx", "value": errors})
    computed = [
        {
            "name": f"cluster.{cluster}.upstream_rq_time",
            "values": [{"interval": interval, "cumulative": cumulative} for interval, cumulative in points],
        }
        for cluster, points in (latencies or {}).items()
    ]
    computed.append(
        {"name": "http.ingress.downstream_rq_time", "values": [{"interval": None, "cumulative": 1}] * 10}
    )
    stats.append({"histograms": {"supported_quantiles": QUANTILES, "computed_quantiles": computed}})
    return {"stats": stats}


def query(server: JsonServer, metric: str, cluster: str = "web_v2", name: str = "errors") -> MetricQuery:
    variables = {"proxy_admin_url": server.url, "cluster": cluster, "baseline_cluster": "web_v1"}
    return MetricQuery("envoy", {"metric": metric}, variables, name=name)


def test_the_error_rate_covers_the_interval_since_the_previous_measurement(json_server: JsonServer) -> None:
    provider = EnvoyProvider()
    # The stable cluster served a million good requests; the canary a hundred, two of them 5xx.
    json_server.answer("/stats", envoy_stats({"web_v1": (1_000_000, 1_000_000, 10), "web_v2": (100, 100, 2)}))
    first = provider.measure(query(json_server, "error_rate"))
    json_server.answer(
        "/stats", envoy_stats({"web_v1": (1_000_100, 1_000_100, 10), "web_v2": (150, 150, 12)})
    )
    second = provider.measure(query(json_server, "error_rate"))

    assert first.value == pytest.approx(0.02)
    assert first.metadata["window"] == "since the counters started"
    assert second.value == pytest.approx(10 / 50)
    assert second.metadata == {
        "cluster": "web_v2",
        "admin_url": json_server.url,
        "metric": "error_rate",
        "window": "since the previous measurement",
        "requests": "50",
        "errors": "10",
    }
    assert json_server.requests[-1].path == "/stats?format=json"


def test_a_long_running_stable_version_is_not_diluted(json_server: JsonServer) -> None:
    provider = EnvoyProvider()
    variables = {"proxy_admin_url": json_server.url, "cluster": "web_v2", "baseline_cluster": "web_v1"}
    baseline = MetricQuery("envoy", {"metric": "error_rate", "cluster": "{{baseline_cluster}}"}, variables)
    json_server.answer("/stats", envoy_stats({"web_v1": (1_000_000, 1_000_000, 0)}))
    provider.measure(baseline)
    json_server.answer("/stats", envoy_stats({"web_v1": (1_000_010, 1_000_010, 5)}))

    assert provider.measure(baseline).value == pytest.approx(0.5)


def test_request_count_and_a_missing_5xx_counter(json_server: JsonServer) -> None:
    provider = EnvoyProvider()
    json_server.answer("/stats", envoy_stats({"web_v2": (40, 38, None)}))

    count = provider.measure(query(json_server, "request_count", name="count"))
    rate = provider.measure(query(json_server, "error_rate", name="rate"))

    assert count.value == 38.0
    assert rate.value == 0.0


def test_no_request_since_the_previous_measurement_is_an_error(json_server: JsonServer) -> None:
    provider = EnvoyProvider()
    json_server.answer("/stats", envoy_stats({"web_v2": (40, 40, 1)}))
    provider.measure(query(json_server, "error_rate"))

    again = provider.measure(query(json_server, "error_rate"))

    assert again.error == "no requests reached cluster 'web_v2' since the previous measurement: no error rate"


def test_counters_that_went_down_mean_envoy_restarted(json_server: JsonServer) -> None:
    provider = EnvoyProvider()
    json_server.answer("/stats", envoy_stats({"web_v2": (500, 500, 50)}))
    provider.measure(query(json_server, "error_rate"))
    json_server.answer("/stats", envoy_stats({"web_v2": (10, 10, 1)}))

    after_restart = provider.measure(query(json_server, "error_rate"))

    assert after_restart.value == pytest.approx(0.1)
    assert after_restart.metadata["window"] == "since the counters started"


def test_latency_percentiles_prefer_the_recent_interval(json_server: JsonServer) -> None:
    Points = list[tuple[float | None, float | None]]
    recent: Points = [(q, q * 10) for q in QUANTILES]  # interval = q, cumulative = 10 q
    quiet: Points = [(None, q * 10) for q in QUANTILES]  # no request in the last flush interval
    json_server.answer(
        "/stats", envoy_stats({"web_v2": (9, 9, 0), "web_v1": (9, 9, 0)}, {"web_v2": recent, "web_v1": quiet})
    )
    provider = EnvoyProvider()

    p50 = provider.measure(query(json_server, "latency_p50"))
    p99 = provider.measure(query(json_server, "latency_p99"))
    p90_quiet = provider.measure(query(json_server, "latency_p90", cluster="web_v1"))

    assert (p50.value, p99.value) == (50.0, 99.0)
    assert p50.metadata["window"] == "Envoy's last stats interval"
    assert p90_quiet.value == 900.0
    assert p90_quiet.metadata["window"] == "since start"


def test_no_latency_recorded_is_an_error(json_server: JsonServer) -> None:
    json_server.answer("/stats", envoy_stats({"web_v2": (0, 0, None)}))

    measurement = EnvoyProvider().measure(query(json_server, "latency_p99"))

    assert (
        measurement.error
        == "no request latency recorded yet for cluster 'web_v2' (cluster.web_v2.upstream_rq_time)"
    )


def test_an_unknown_cluster_is_an_error(json_server: JsonServer) -> None:
    json_server.answer("/stats", envoy_stats({"web_v1": (1, 1, 0)}))

    measurement = EnvoyProvider().measure(query(json_server, "request_count"))

    assert measurement.error == "Envoy has no cluster 'web_v2' (no cluster.web_v2.upstream_rq_total stat)"


def test_an_unreachable_admin_interface_is_an_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    variables = {"proxy_admin_url": url, "cluster": "web_v2"}

    measurement = EnvoyProvider().measure(MetricQuery("envoy", {"metric": "error_rate"}, variables))

    assert measurement.error is not None
    assert measurement.error.startswith(f"cannot reach the Envoy admin interface at {url}/stats")


def test_an_answer_that_is_not_a_stats_document_is_an_error(json_server: JsonServer) -> None:
    json_server.answer("/stats", {"hello": "world"})

    measurement = EnvoyProvider().measure(query(json_server, "error_rate"))

    assert (
        measurement.error
        == f'Envoy admin at {json_server.url} did not answer a stats document: {{"hello": "world"}}'
    )
