"""The http provider against a local JSON endpoint."""

from __future__ import annotations

import json

import pytest

from clearance.delivery.metrics.base import MetricQuery
from clearance.delivery.metrics.http import HttpProvider
from support.prometheus import free_port

from .conftest import JsonServer

VARIABLES = {"service": "web", "version": "1.1.0", "environment": "prod"}


def query(**settings: object) -> MetricQuery:
    return MetricQuery("http", settings, VARIABLES, name="health")


def test_a_value_is_read_with_a_json_path(json_server: JsonServer) -> None:
    json_server.answer("/stats/web/1.1.0", {"data": {"error_rate": 0.012, "p99": "180.5"}})

    measurement = HttpProvider().measure(
        query(url=f"{json_server.url}/stats/{{{{service}}}}/{{{{version}}}}", json_path="$.data.error_rate")
    )

    assert measurement.error is None
    assert measurement.value == pytest.approx(0.012)
    assert measurement.metadata["url"] == f"{json_server.url}/stats/web/1.1.0"


def test_numeric_text_and_arrays_are_numbers(json_server: JsonServer) -> None:
    json_server.answer("/s", {"p99": "180.5", "samples": [1, 2.5, "3"], "items": [{"v": 1}, {"v": 2}]})
    provider = HttpProvider()

    assert provider.measure(query(url=f"{json_server.url}/s", json_path="$.p99")).value == 180.5
    assert provider.measure(query(url=f"{json_server.url}/s", json_path="$.samples")).value == [1.0, 2.5, 3.0]
    assert provider.measure(query(url=f"{json_server.url}/s", json_path="$.items[*].v")).value == [1.0, 2.0]


def test_a_post_sends_the_templated_body(json_server: JsonServer) -> None:
    json_server.answer("/query", {"result": {"value": 7}})

    measurement = HttpProvider().measure(
        query(
            url=f"{json_server.url}/query",
            method="POST",
            body={"service": "{{service}}", "filters": ["version={{version}}"]},
            headers={"Authorization": "Bearer {{environment}}-token"},
            json_path="$.result.value",
        )
    )

    assert measurement.value == 7.0
    sent = json_server.requests[-1]
    assert sent.method == "POST"
    assert json.loads(sent.body) == {"service": "web", "filters": ["version=1.1.0"]}
    assert sent.headers["Authorization"] == "Bearer prod-token"
    assert sent.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("document", "path", "error"),
    [
        ({"data": {}}, "$.data.error_rate", "json_path '$.data.error_rate' found no value in the answer"),
        ({"ok": "yes"}, "$.ok", "the value at json_path '$.ok' is not a number: 'yes' is not a number"),
        ({"ok": True}, "$.ok", "the value at json_path '$.ok' is not a number: True is not a number"),
        ({"values": []}, "$.values", "json_path '$.values' found no value in the answer"),
    ],
)
def test_a_missing_or_non_numeric_value_is_an_error(
    json_server: JsonServer, document: object, path: str, error: str
) -> None:
    json_server.answer("/s", document)

    measurement = HttpProvider().measure(query(url=f"{json_server.url}/s", json_path=path))

    assert measurement.value is None
    assert measurement.error == error


def test_an_http_error_is_an_error_measurement(json_server: JsonServer) -> None:
    json_server.answer("/s", {"message": "down for maintenance"}, status=503)

    measurement = HttpProvider().measure(query(url=f"{json_server.url}/s", json_path="$.x"))

    assert measurement.error is not None
    assert measurement.error.startswith(f"HTTP 503 from {json_server.url}/s")
    assert "down for maintenance" in measurement.error


def test_an_answer_that_is_not_json_is_an_error(json_server: JsonServer) -> None:
    json_server.answer_text("/s", "<html>hello</html>")

    measurement = HttpProvider().measure(query(url=f"{json_server.url}/s", json_path="$.x"))

    assert measurement.error == f"the answer of {json_server.url}/s is not JSON: <html>hello</html>"


def test_an_unreachable_endpoint_is_an_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/s"

    measurement = HttpProvider().measure(query(url=url, json_path="$.x"))

    assert measurement.error is not None
    assert measurement.error.startswith(f"cannot reach the metric endpoint at {url}")


def test_a_variable_without_value_is_an_error_not_a_crash() -> None:
    measurement = HttpProvider().measure(query(url="http://127.0.0.1/{{cluster}}", json_path="$.x"))

    assert measurement.error == "the http metric needs {{cluster}}, which has no value here"
