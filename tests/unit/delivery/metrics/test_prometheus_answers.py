"""How the prometheus provider reads every kind of answer (the real server is in the integration tests)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from clearance.delivery.metrics.base import MetricQuery
from clearance.delivery.metrics.prometheus import PrometheusProvider

QUERY = MetricQuery("prometheus", {"address": "http://prom:9090/", "query": "up"}, {})


def answering(status: int, body: Any) -> PrometheusProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(status, text=text)

    return PrometheusProvider(transport=httpx.MockTransport(handler))


def success(kind: str, result: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": kind, "result": result}}


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (success("scalar", [1700000000.0, "0.5"]), 0.5),
        (success("vector", [{"metric": {}, "value": [1700000000.0, "3"]}]), 3.0),
        (
            success(
                "vector",
                [{"metric": {"a": "1"}, "value": [1, "1"]}, {"metric": {"a": "2"}, "value": [1, "2"]}],
            ),
            [1.0, 2.0],
        ),
    ],
)
def test_numbers_come_from_scalars_and_vectors(body: dict[str, Any], value: object) -> None:
    assert answering(200, body).measure(QUERY).value == value


def test_nan_from_prometheus_stays_nan_for_the_conditions() -> None:
    measurement = answering(200, success("scalar", [1, "NaN"])).measure(QUERY)

    assert measurement.error is None
    assert isinstance(measurement.value, float) and measurement.value != measurement.value


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, success("vector", []), "empty result: the query matched no series"),
        (200, success("string", [1, "hello"]), "the query gives a string, not a number"),
        (
            422,
            {"status": "error", "errorType": "execution", "error": "query timed out"},
            "Prometheus refused the query (execution): query timed out",
        ),
        (
            502,
            "<html>Bad Gateway</html>",
            "Prometheus answered HTTP 502 without JSON: <html>Bad Gateway</html>",
        ),
        (200, success("vector", [{"metric": {}}]), "Prometheus answered a vector this provider cannot read"),
    ],
)
def test_answers_without_a_number_are_errors(status: int, body: Any, error: str) -> None:
    measurement = answering(status, body).measure(QUERY)

    assert measurement.value is None
    assert measurement.error is not None and measurement.error.startswith(error)
    assert measurement.metadata["query"] == "up"


def test_the_query_is_posted_as_a_form() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=success("scalar", [1, "1"]))

    provider = PrometheusProvider(transport=httpx.MockTransport(handler))
    provider.measure(
        MetricQuery("prometheus", {**QUERY.settings, "query": 'x{v="{{version}}"}'}, {"version": "2"})
    )

    assert str(seen[0].url) == "http://prom:9090/api/v1/query"
    assert seen[0].content == b"query=x%7Bv%3D%222%22%7D"


def test_a_timeout_is_an_error_with_the_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    provider = PrometheusProvider(transport=httpx.MockTransport(handler))
    measurement = provider.measure(MetricQuery("prometheus", {**QUERY.settings, "timeout": "2s"}, {}))

    assert measurement.error == "Prometheus at http://prom:9090/api/v1/query did not answer within 2s"
