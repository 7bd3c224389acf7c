"""The `prometheus` metric provider: a PromQL query over Prometheus's HTTP API.

Settings: `address` (e.g. http://prometheus:9090), `query` (PromQL with `{{service}}`, `{{version}}`,
... placeholders), optional `timeout` (default 10s), `step` (spacing of judge samples, default 15s)
and `headers`. A scalar answer is a number; a vector of one series is a number, of several a list.
An empty vector is an error ("empty result"): no data must never pass a condition silently.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from clearance.delivery.metrics.base import (
    Measurement,
    MeasurementValue,
    MetricQuery,
    placeholder_problems,
    render,
    single_or_list,
    to_number,
    utc_now,
)
from clearance.delivery.metrics.http import (
    DEFAULT_TIMEOUT_SECONDS,
    FetchFailed,
    JsonAnswer,
    duration_setting,
    fetch_json,
    required_text,
    unknown_settings,
)

DEFAULT_STEP_SECONDS = 15.0
MAX_POINTS = 11_000  # Prometheus refuses range queries with more points per series than this


class PrometheusProvider:
    """Instant queries for analysis runs; range queries give the judge its samples."""

    type = "prometheus"
    supports_samples = True
    _SETTINGS = ("address", "query", "timeout", "step", "headers")

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utc_now,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._clock = clock
        self._transport = transport

    def check(self, settings: Mapping[str, Any], variables: Collection[str]) -> list[str]:
        problems = unknown_settings(settings, self._SETTINGS, "prometheus")
        problems += required_text(settings, "address", "prometheus")
        problems += required_text(settings, "query", "prometheus")
        for key, default in (("timeout", DEFAULT_TIMEOUT_SECONDS), ("step", DEFAULT_STEP_SECONDS)):
            try:
                duration_setting(settings, key, default)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
        for key in ("address", "query"):
            if isinstance(settings.get(key), str):
                problems += placeholder_problems(settings[key], variables, key)
        return problems

    def measure(self, query: MetricQuery) -> Measurement:
        started = self._clock()
        return self._run(query, started, "query", {})

    def samples(self, query: MetricQuery, window_seconds: float) -> Measurement:
        started = self._clock()
        try:
            step = duration_setting(query.settings, "step", DEFAULT_STEP_SECONDS)
        except ValueError as exc:
            return Measurement(started, self._clock(), error=f"step: {exc}")
        # Keep under Prometheus's point limit whatever window the judge asks for.
        step = max(step, window_seconds / MAX_POINTS)
        start = started - timedelta(seconds=window_seconds)
        params = {"start": _unix(start), "end": _unix(started), "step": f"{step:g}"}
        return self._run(query, started, "query_range", params)

    def _run(
        self, query: MetricQuery, started: datetime, endpoint: str, extra: dict[str, str]
    ) -> Measurement:
        settings = query.settings
        try:
            promql = render(str(settings["query"]), query.variables)
            address = render(str(settings["address"]), query.variables).rstrip("/")
            headers = {k: render(str(v), query.variables) for k, v in (settings.get("headers") or {}).items()}
            timeout = duration_setting(settings, "timeout", DEFAULT_TIMEOUT_SECONDS)
        except KeyError as exc:
            return Measurement(
                started,
                self._clock(),
                error=f"the query needs {{{{{exc.args[0]}}}}}, which has no value here",
            )
        except ValueError as exc:
            return Measurement(started, self._clock(), error=f"invalid prometheus settings: {exc}")
        metadata = {"query": promql, "address": address}
        try:
            answer = fetch_json(
                f"{address}/api/v1/{endpoint}",
                timeout=timeout,
                what="Prometheus",
                method="POST",  # form-encoded, so long queries do not hit URL length limits
                headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
                content=str(httpx.QueryParams({"query": promql, **extra})),
                transport=self._transport,
            )
            value = _value(answer, range_query=endpoint == "query_range")
        except (FetchFailed, _BadAnswer) as exc:
            return Measurement(started, self._clock(), error=str(exc), metadata=metadata)
        warnings = answer.document.get("warnings") if isinstance(answer.document, dict) else None
        if warnings:
            metadata["warnings"] = "; ".join(str(w) for w in warnings)
        return Measurement(started, self._clock(), value=value, metadata=metadata)


class _BadAnswer(Exception):
    pass


def _value(answer: JsonAnswer, *, range_query: bool) -> MeasurementValue:
    document = answer.document
    if not isinstance(document, dict):
        raise _BadAnswer(f"Prometheus answered HTTP {answer.status} without JSON: {answer.excerpt()}")
    if document.get("status") != "success":
        error_type = document.get("errorType") or f"HTTP {answer.status}"
        reason = document.get("error", answer.excerpt())
        raise _BadAnswer(f"Prometheus refused the query ({error_type}): {reason}")
    data: Any = document.get("data") or {}
    kind: Any = data.get("resultType")
    result: Any = data.get("result")
    try:
        if kind == "scalar":
            return to_number(result[1])
        if kind == "vector":
            if not result:
                raise _BadAnswer(
                    "empty result: the query matched no series (is there traffic, and the labels?)"
                )
            return single_or_list([to_number(sample["value"][1]) for sample in result])
        if kind == "matrix":
            if not range_query:
                raise _BadAnswer(
                    "the query gives a range vector: wrap it in a function such as rate(...[1m])"
                )
            return _one_series(result)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise _BadAnswer(f"Prometheus answered a {kind} this provider cannot read: {exc}") from None
    raise _BadAnswer(f"the query gives a {kind}, not a number")


def _one_series(result: list[Any]) -> list[float]:
    if not result:
        raise _BadAnswer("empty result: the query matched no series over the window")
    if len(result) > 1:
        raise _BadAnswer(
            f"the query gives {len(result)} series; the judge needs one per version: aggregate it, "
            "e.g. sum(...) or avg(...)"
        )
    return [to_number(point[1]) for point in result[0]["values"]]


def _unix(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"
