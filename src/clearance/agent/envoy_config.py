"""The documents one Envoy of the local agent reads: its bootstrap and its file-based xDS resources.

Pure functions only (no files, no processes): `clearance.agent.envoy` writes what these return and
reads Envoy's admin answers back through the parsers at the end of this module.

Shape of the configuration (`clearance.agent.envoy` says why), as files in the proxy's workdir:

    bootstrap.json         admin on 127.0.0.1, static listeners "stable" (the service port) and
                           "preview" (optional), each routing by RDS; clusters by CDS
    xds/rds/stable.json    the header route (x-canary: always) first, then the weighted route
    xds/rds/preview.json   the preview version alone
    xds/cds/clusters.json  one EDS cluster per version
    xds/eds/<cluster>.json that version's ready replicas on 127.0.0.1
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearance.delivery.routers.envoy import cluster_name
from clearance.errors import UsageError

STABLE = "stable"  # listener, HTTP stat prefix and route configuration of the service's port
PREVIEW = "preview"  # the same for the preview port
CANARY_HEADER = "x-canary"
CANARY_HEADER_VALUE = "always"
WEIGHTED_ROUTE = "weighted"
HEADER_ROUTE = "header"
UPSTREAM_HOST = "127.0.0.1"

_CONNECT_TIMEOUT = "1s"  # replicas are local: a connect that takes longer is a failure worth seeing
_ROUTE_TIMEOUT = "60s"  # a hung replica answers 504 after this, and analysis counts it
# Below the keep-alive timeout of common app servers (uvicorn, node: 5 s), so Envoy usually closes
# an idle upstream connection before the replica does, rather than send a request into a closing one.
_UPSTREAM_IDLE_TIMEOUT = "4s"
_MAX_DOWNSTREAM_CONNECTIONS = 50_000
# Upper bounds in ms for latency histograms (Envoy's quantiles are exact-ish either way; buckets
# shape what /stats/prometheus exports).
LATENCY_BUCKETS_MS = (0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)

_TYPE = "type.googleapis.com/envoy."
_CLUSTER_TYPE = _TYPE + "config.cluster.v3.Cluster"
_ROUTE_TYPE = _TYPE + "config.route.v3.RouteConfiguration"
_ENDPOINTS_TYPE = _TYPE + "config.endpoint.v3.ClusterLoadAssignment"
_HCM_TYPE = _TYPE + "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER_TYPE = _TYPE + "extensions.filters.http.router.v3.Router"
_HTTP_OPTIONS_TYPE = _TYPE + "extensions.upstreams.http.v3.HttpProtocolOptions"
_CONN_LIMIT_TYPE = (
    _TYPE + "extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig"
)


class InvalidRouting(UsageError):
    """The endpoints and weights handed to the proxy cannot describe a routing (a caller's bug)."""

    code = "routing-invalid"


@dataclass(frozen=True)
class Routing:
    """What one proxy should do: replicas per version, the stable port's split, preview and header."""

    endpoints: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    weights: Mapping[str, int] = field(default_factory=dict)  # only versions with weight > 0
    preview: str | None = None
    header: str | None = None

    def versions(self) -> list[str]:
        """Every version that needs a cluster: it has replicas, traffic, or a special route."""
        named = [*self.endpoints, *self.weights, self.preview, self.header]
        return sorted({v for v in named if v is not None})

    def clusters(self) -> dict[str, str]:
        """Cluster name → version."""
        return {cluster_name(v): v for v in self.versions()}


def routing(
    endpoints: Mapping[str, Iterable[int]],
    weights: Mapping[str, int],
    *,
    preview: str | None = None,
    header: str | None = None,
) -> Routing:
    """Check and normalise an update: weights 0..100 adding up to 100 (or all 0), valid ports."""
    problems: list[str] = []
    for version, weight in weights.items():
        if not 0 <= weight <= 100:
            problems.append(f"weight of {version} is {weight}, not within 0..100")
    total = sum(weights.values())
    if total not in (0, 100):
        problems.append(f"weights add up to {total}, not 100 (or 0 for no route)")
    ports: dict[str, tuple[int, ...]] = {}
    for version, version_ports in endpoints.items():
        ports[version] = tuple(sorted(set(version_ports)))
        problems += [
            f"port {p} of {version} is not within 1..65535" for p in ports[version] if not 0 < p < 65536
        ]
    names: dict[str, str] = {}
    for version in {*endpoints, *weights, *(v for v in (preview, header) if v is not None)}:
        if not version:
            problems.append("a version name is empty")
        other = names.setdefault(cluster_name(version), version)
        if other != version:
            problems.append(f"versions {other!r} and {version!r} map to the same cluster name")
    if problems:
        raise InvalidRouting("; ".join(sorted(problems)), hint="this is a bug in the caller of EnvoyProxy")
    return Routing(
        endpoints=ports,
        weights={v: w for v, w in sorted(weights.items()) if w > 0},
        preview=preview,
        header=header,
    )


def discovery_response(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The file form of an xDS answer; version_info is a digest so equal content means no change."""
    digest = hashlib.sha256(json.dumps(resources, sort_keys=True).encode()).hexdigest()[:16]
    return {"version_info": digest, "resources": resources}


def _config_source(path: Path) -> dict[str, Any]:
    # watched_directory: Envoy reloads `path` when any file is moved into its folder, and only
    # then; a rename is atomic, so it never reads a half-written file.
    return {
        "path_config_source": {"path": str(path), "watched_directory": {"path": str(path.parent)}},
        "resource_api_version": "V3",
    }


def endpoints_document(cluster: str, ports: Iterable[int]) -> dict[str, Any]:
    lb_endpoints = [
        {"endpoint": {"address": {"socket_address": {"address": UPSTREAM_HOST, "port_value": p}}}}
        for p in ports
    ]
    resource = {
        "@type": _ENDPOINTS_TYPE,
        "cluster_name": cluster,
        "endpoints": [{"lb_endpoints": lb_endpoints}],
    }
    return discovery_response([resource])


def clusters_document(eds_paths: Mapping[str, Path]) -> dict[str, Any]:
    """One EDS cluster per name, in name order; `eds_paths` maps cluster → its endpoints file."""
    return discovery_response([_cluster(name, eds_paths[name]) for name in sorted(eds_paths)])


def _cluster(name: str, eds_path: Path) -> dict[str, Any]:
    return {
        "@type": _CLUSTER_TYPE,
        "name": name,
        "type": "EDS",
        "eds_cluster_config": {"service_name": name, "eds_config": _config_source(eds_path)},
        "connect_timeout": _CONNECT_TIMEOUT,
        "lb_policy": "ROUND_ROBIN",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _HTTP_OPTIONS_TYPE,
                "common_http_protocol_options": {"idle_timeout": _UPSTREAM_IDLE_TIMEOUT},
                "explicit_http_config": {"http_protocol_options": {}},
            }
        },
        # No outlier detection and no retries: analysis must see the errors a version really makes.
    }


def _no_route(name: str) -> dict[str, Any]:
    body = f"clearance: no version of {name} is routed yet\n"
    return {"status": 503, "body": {"inline_string": body}}


def route_document(
    name: str, route_name: str, weights: Mapping[str, int], header: str | None = None
) -> dict[str, Any]:
    """A route configuration: the header route first (when set), then the weighted split.

    `weights` maps version → weight > 0; an empty mapping answers 503 until a version is routed.
    """
    routes: list[dict[str, Any]] = []
    if header is not None:
        routes.append(
            {
                "name": HEADER_ROUTE,
                "match": {
                    "prefix": "/",
                    "headers": [{"name": CANARY_HEADER, "string_match": {"exact": CANARY_HEADER_VALUE}}],
                },
                "route": {"cluster": cluster_name(header), "timeout": _ROUTE_TIMEOUT},
            }
        )
    weighted: dict[str, Any] = {"name": WEIGHTED_ROUTE, "match": {"prefix": "/"}}
    if weights:
        clusters = [{"name": cluster_name(v), "weight": w} for v, w in sorted(weights.items())]
        weighted["route"] = {"weighted_clusters": {"clusters": clusters}, "timeout": _ROUTE_TIMEOUT}
    else:
        weighted["direct_response"] = _no_route(name)
    routes.append(weighted)
    config = {
        "@type": _ROUTE_TYPE,
        "name": route_name,
        "virtual_hosts": [{"name": route_name, "domains": ["*"], "routes": routes}],
    }
    return discovery_response([config])


def _listener(route_name: str, address: str, port: int, rds_path: Path) -> dict[str, Any]:
    manager = {
        "@type": _HCM_TYPE,
        "stat_prefix": route_name,
        "codec_type": "AUTO",
        "use_remote_address": True,
        "request_headers_timeout": "10s",
        "upgrade_configs": [{"upgrade_type": "websocket"}],
        "rds": {"route_config_name": route_name, "config_source": _config_source(rds_path)},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER_TYPE}}],
    }
    return {
        "name": route_name,
        "address": {"socket_address": {"address": address, "port_value": port}},
        # Envoy enables SO_REUSEPORT by default on Linux, so a second Envoy on the same port would
        # start and silently take half the connections. Without it, the second one fails to bind.
        "enable_reuse_port": False,
        "filter_chains": [
            {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}
        ],
    }


@dataclass(frozen=True)
class Layout:
    """Where one proxy's files live inside its work directory."""

    workdir: Path

    @property
    def bootstrap(self) -> Path:
        return self.workdir / "bootstrap.json"

    @property
    def log(self) -> Path:
        return self.workdir / "envoy.log"

    @property
    def pid_file(self) -> Path:
        return self.workdir / "envoy.pid"

    @property
    def admin_address(self) -> Path:
        return self.workdir / "admin-address"

    @property
    def staging(self) -> Path:
        return self.workdir / "xds" / "staging"

    @property
    def clusters(self) -> Path:
        return self.workdir / "xds" / "cds" / "clusters.json"

    def endpoints(self, cluster: str) -> Path:
        return self.workdir / "xds" / "eds" / f"{cluster}.json"

    def routes(self, route_name: str) -> Path:
        return self.workdir / "xds" / "rds" / f"{route_name}.json"


def bootstrap_document(
    layout: Layout,
    *,
    name: str,
    port: int,
    admin_port: int,
    preview_port: int | None = None,
    listen_address: str = "0.0.0.0",
) -> dict[str, Any]:
    """Static part: admin on 127.0.0.1, listeners on the stable (and preview) port, CDS from a file."""
    listeners = [_listener(STABLE, listen_address, port, layout.routes(STABLE))]
    if preview_port is not None:
        listeners.append(_listener(PREVIEW, listen_address, preview_port, layout.routes(PREVIEW)))
    return {
        "node": {"id": name, "cluster": "clearance"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {"listeners": listeners},
        "dynamic_resources": {"cds_config": _config_source(layout.clusters)},
        # Histograms are merged at each flush; once a second keeps the latency quantiles that /stats
        # shows at most a second old (a flush on admin reads would show the previous read's).
        "stats_flush_interval": "1s",
        "stats_config": {
            "histogram_bucket_settings": [
                {"match": {"suffix": suffix}, "buckets": list(LATENCY_BUCKETS_MS)}
                for suffix in ("upstream_rq_time", "downstream_rq_time")
            ]
        },
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": _CONN_LIMIT_TYPE,
                        "max_active_downstream_connections": _MAX_DOWNSTREAM_CONNECTIONS,
                    },
                }
            ]
        },
    }


def applied_route_weights(
    config_dump: Mapping[str, Any], route_name: str, names: Mapping[str, str]
) -> dict[str, int] | None:
    """Version → weight of the weighted route in a `/config_dump?resource=dynamic_route_configs`.

    `names` maps cluster → version. None when Envoy has not loaded that route configuration; `{}`
    while it answers 503.
    """
    for entry in config_dump.get("configs", []):
        config = entry.get("route_config", {})
        if config.get("name") != route_name:
            continue
        for host in config.get("virtual_hosts", []):
            for route in host.get("routes", []):
                if route.get("name") != WEIGHTED_ROUTE:
                    continue
                action = route.get("route", {})
                clusters = action.get("weighted_clusters", {}).get("clusters", [])
                if "cluster" in action:
                    clusters = [{"name": action["cluster"], "weight": 100}]
                weights = {str(c["name"]): int(c.get("weight", 0)) for c in clusters}
                return {names.get(c, c): w for c, w in weights.items() if w > 0}
        return {}
    return None


def route_version_info(config_dump: Mapping[str, Any], route_name: str) -> str | None:
    for entry in config_dump.get("configs", []):
        if entry.get("route_config", {}).get("name") == route_name:
            return str(entry.get("version_info", ""))
    return None


@dataclass(frozen=True)
class ClusterStats:
    """What Envoy counted for one version since its cluster was created.

    Latency is `upstream_rq_time` (ms, whole milliseconds): quantiles are cumulative and at most a
    second old; `latency_buckets` holds (upper bound ms, cumulative count) so a reader can take the
    difference of two readings and get the percentiles of a window.
    """

    version: str
    cluster: str
    requests: int = 0
    responses_2xx: int = 0
    responses_4xx: int = 0
    responses_5xx: int = 0
    connect_failures: int = 0
    timeouts: int = 0
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    latency_buckets: tuple[tuple[float, int], ...] = ()


def read_cluster_stats(
    values: Mapping[str, Any], buckets: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, ClusterStats]:
    """Build ClusterStats from `/stats?format=json` (counters, quantiles) and its bucket form."""
    counters: dict[str, dict[str, int]] = {}
    quantiles: dict[str, dict[float, float | None]] = {}
    histograms: dict[str, tuple[tuple[float, int], ...]] = {}
    for entry in values.get("stats", []):
        if "name" in entry:
            cluster, _, stat = _split(entry["name"])
            counters.setdefault(cluster, {})[stat] = int(entry.get("value", 0))
        elif isinstance(entry.get("histograms"), dict):
            supported = [float(q) for q in entry["histograms"].get("supported_quantiles", [])]
            for histogram in entry["histograms"].get("computed_quantiles", []):
                cumulative = [v.get("cumulative") for v in histogram.get("values", [])]
                quantiles[_split(histogram["name"])[0]] = dict(zip(supported, cumulative, strict=False))
    for entry in buckets.get("stats", []):
        if isinstance(entry.get("histograms"), list):
            for histogram in entry["histograms"]:
                histograms[_split(histogram["name"])[0]] = tuple(
                    (float(b["upper_bound"]), int(b.get("cumulative") or 0))
                    for b in histogram.get("buckets", [])
                )
    result: dict[str, ClusterStats] = {}
    for cluster, counts in counters.items():
        version = names.get(cluster, cluster)
        q = quantiles.get(cluster, {})
        result[version] = ClusterStats(
            version=version,
            cluster=cluster,
            requests=counts.get("upstream_rq_total", 0),
            responses_2xx=counts.get("upstream_rq_2xx", 0),
            responses_4xx=counts.get("upstream_rq_4xx", 0),
            responses_5xx=counts.get("upstream_rq_5xx", 0),
            connect_failures=counts.get("upstream_cx_connect_fail", 0),
            timeouts=counts.get("upstream_rq_timeout", 0),
            p50_ms=q.get(50.0),
            p90_ms=q.get(90.0),
            p99_ms=q.get(99.0),
            latency_buckets=histograms.get(cluster, ()),
        )
    return result


def _split(stat_name: object) -> tuple[str, str, str]:
    """`cluster.<name>.<stat>` → (name, ".", stat); cluster names never hold a dot."""
    return str(stat_name).removeprefix("cluster.").partition(".")


def cluster_ports(clusters: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """Cluster → host ports, from `/clusters?format=json`: what Envoy routes to now."""
    return {
        str(status["name"]): tuple(
            sorted(int(h["address"]["socket_address"]["port_value"]) for h in status.get("host_statuses", []))
        )
        for status in clusters.get("cluster_statuses", [])
    }
