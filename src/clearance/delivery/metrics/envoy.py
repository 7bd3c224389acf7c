"""The `envoy` metric provider: numbers from the proxy clearance already runs, with nothing to set up.

It reads `/stats?format=json` from the Envoy admin URL (variable `proxy_admin_url`) for one cluster
(variable `cluster`, one cluster per version). Settings: `metric` — `request_count`, `error_rate`
(share of 5xx answers, 0..1) or `latency_p50|p90|p95|p99` (milliseconds) — and optionally
`admin_url`, `cluster` (templates, e.g. "{{baseline_cluster}}") and `timeout`.

Counters only grow, so rates are taken over the interval since this provider's previous measurement
of the same query: a stable version that served millions of good requests yesterday does not
dilute the canary's errors of the last minute. The first measurement covers the counters' lifetime.
Latency comes from Envoy's own recent-interval histogram quantiles (its stats flush interval), and
from the lifetime ones when the recent interval saw no request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from clearance.delivery.metrics.base import (
    Measurement,
    MetricQuery,
    SamplesNotSupported,
    placeholder_problems,
    render,
    utc_now,
)
from clearance.delivery.metrics.http import (
    DEFAULT_TIMEOUT_SECONDS,
    FetchFailed,
    duration_setting,
    fetch_json,
    unknown_settings,
)

LATENCY_PERCENTILES = {"latency_p50": 50.0, "latency_p90": 90.0, "latency_p95": 95.0, "latency_p99": 99.0}
METRICS = ("request_count", "error_rate", *LATENCY_PERCENTILES)
DEFAULT_ADMIN_URL = "{{proxy_admin_url}}"
DEFAULT_CLUSTER = "{{cluster}}"


@dataclass(frozen=True)
class _Counters:
    requests: float  # upstream_rq_completed (answered), or upstream_rq_total when Envoy has no such stat
    errors: float  # upstream_rq_5xx


class _Unusable(Exception):
    """The stats document cannot give this metric; the text says why."""


class EnvoyProvider:
    """Per-cluster request count, 5xx rate and latency percentiles from Envoy's admin stats."""

    type = "envoy"
    supports_samples = False
    _SETTINGS = ("metric", "admin_url", "cluster", "timeout")

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utc_now,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._clock = clock
        self._transport = transport
        # The last counters seen per query; a worker may measure several deployments at once.
        self._previous: dict[tuple[str, ...], _Counters] = {}
        self._lock = threading.Lock()

    def check(self, settings: Mapping[str, Any], variables: Collection[str]) -> list[str]:
        problems = unknown_settings(settings, self._SETTINGS, "envoy")
        if settings.get("metric") not in METRICS:
            problems.append(f"the envoy provider needs 'metric', one of: {', '.join(METRICS)}")
        for key, default in (("admin_url", DEFAULT_ADMIN_URL), ("cluster", DEFAULT_CLUSTER)):
            problems += placeholder_problems(str(settings.get(key, default)), variables, key)
        try:
            duration_setting(settings, "timeout", DEFAULT_TIMEOUT_SECONDS)
        except ValueError as exc:
            problems.append(f"timeout: {exc}")
        return problems

    def measure(self, query: MetricQuery) -> Measurement:
        started = self._clock()
        metric = str(query.settings.get("metric", ""))
        try:
            admin_url = render(str(query.settings.get("admin_url", DEFAULT_ADMIN_URL)), query.variables)
            cluster = render(str(query.settings.get("cluster", DEFAULT_CLUSTER)), query.variables)
            timeout = duration_setting(query.settings, "timeout", DEFAULT_TIMEOUT_SECONDS)
        except KeyError as exc:
            return Measurement(
                started,
                self._clock(),
                error=f"the envoy metric needs {{{{{exc.args[0]}}}}}, which has no value here",
            )
        except ValueError as exc:
            return Measurement(started, self._clock(), error=f"invalid envoy settings: {exc}")
        metadata = {"cluster": cluster, "admin_url": admin_url, "metric": metric}
        try:
            stats = self._fetch(admin_url.rstrip("/"), timeout)
            if metric in LATENCY_PERCENTILES:
                value, window = _latency(stats, cluster, LATENCY_PERCENTILES[metric])
                metadata["window"] = window
            else:
                key = (query.name, admin_url, cluster, metric)
                value = self._rate(stats, cluster, metric, key, metadata)
        except (FetchFailed, _Unusable) as exc:
            return Measurement(started, self._clock(), error=str(exc), metadata=metadata)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            reason = f"Envoy's stats document has an unexpected shape ({type(exc).__name__}: {exc})"
            return Measurement(started, self._clock(), error=reason, metadata=metadata)
        return Measurement(started, self._clock(), value=value, metadata=metadata)

    def samples(self, query: MetricQuery, window_seconds: float) -> Measurement:
        raise SamplesNotSupported(self.type)

    def forget(self, name: str) -> None:
        """Drop the counters kept for metric `name` (e.g. when its analysis run ends)."""
        with self._lock:
            for key in [k for k in self._previous if k[0] == name]:
                del self._previous[key]

    def _fetch(self, admin_url: str, timeout: float) -> list[Any]:
        answer = fetch_json(
            f"{admin_url}/stats",
            timeout=timeout,
            what="the Envoy admin interface",
            params={"format": "json"},
            transport=self._transport,
        )
        if answer.status != 200:
            raise _Unusable(f"Envoy admin at {admin_url} answered HTTP {answer.status}: {answer.excerpt()}")
        document = answer.document
        if not isinstance(document, dict) or not isinstance(document.get("stats"), list):
            raise _Unusable(f"Envoy admin at {admin_url} did not answer a stats document: {answer.excerpt()}")
        return list(document["stats"])

    def _rate(
        self, stats: list[Any], cluster: str, metric: str, key: tuple[str, ...], metadata: dict[str, str]
    ) -> float:
        now = _counters(stats, cluster)
        with self._lock:
            before = self._previous.get(key)
            self._previous[key] = now
        # Counters that went down mean Envoy restarted: everything it has counted is new.
        if before is None or now.requests < before.requests or now.errors < before.errors:
            before = _Counters(0.0, 0.0)
            metadata["window"] = "since the counters started"
        else:
            metadata["window"] = "since the previous measurement"
        requests, errors = now.requests - before.requests, now.errors - before.errors
        metadata.update(requests=f"{requests:g}", errors=f"{errors:g}")
        if metric == "request_count":
            return requests
        if requests <= 0:
            raise _Unusable(f"no requests reached cluster '{cluster}' {metadata['window']}: no error rate")
        return errors / requests


def _counters(stats: list[Any], cluster: str) -> _Counters:
    prefix = f"cluster.{cluster}."
    values: dict[str, float] = {}
    for stat in stats:
        name, value = (stat.get("name"), stat.get("value")) if isinstance(stat, dict) else (None, None)
        if isinstance(name, str) and name.startswith(prefix) and isinstance(value, int | float):
            values[name[len(prefix) :]] = float(value)
    if "upstream_rq_total" not in values:
        raise _Unusable(f"Envoy has no cluster '{cluster}' (no cluster.{cluster}.upstream_rq_total stat)")
    # upstream_rq_5xx appears only after the first 5xx answer.
    requests = values.get("upstream_rq_completed", values["upstream_rq_total"])
    return _Counters(requests=requests, errors=values.get("upstream_rq_5xx", 0.0))


def _latency(stats: list[Any], cluster: str, percentile: float) -> tuple[float, str]:
    name = f"cluster.{cluster}.upstream_rq_time"
    for stat in stats:
        histograms = stat.get("histograms") if isinstance(stat, dict) else None
        if not isinstance(histograms, dict):
            continue
        supported = [float(q) for q in histograms.get("supported_quantiles", [])]
        if percentile not in supported:
            raise _Unusable(f"Envoy does not compute the {percentile:g}th percentile ({supported})")
        position = supported.index(percentile)
        for histogram in histograms.get("computed_quantiles", []):
            if histogram.get("name") != name:
                continue
            point = histogram["values"][position]
            for window, field in (("Envoy's last stats interval", "interval"), ("since start", "cumulative")):
                if isinstance(point.get(field), int | float):
                    return float(point[field]), window
            break
    raise _Unusable(f"no request latency recorded yet for cluster '{cluster}' ({name})")
