"""The documents the agent hands Envoy: names safe for any version, routes in the right order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.agent import envoy_config as config
from clearance.agent.envoy import PortInUse, startup_error
from clearance.agent.envoy_config import InvalidRouting, Layout, cluster_name, routing

LAYOUT = Layout(Path("/srv/envoy"))


def _resource(document: dict[str, Any]) -> dict[str, Any]:
    [resource] = document["resources"]
    return dict(resource)


def _routes(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_resource(document)["virtual_hosts"][0]["routes"])


# -- cluster names -----------------------------------------------------------------------------


def test_a_semver_version_becomes_a_dot_free_cluster_name() -> None:
    assert cluster_name("v1.2.0-rc.1+b.7") == "v1_2_0-rc_1__b_7"
    assert cluster_name("1.0.0") == "1_0_0"


def test_versions_that_differ_only_in_separators_keep_distinct_names() -> None:
    # `+` and `.` would both become `_` in a naive sanitiser.
    assert cluster_name("1.0.0-x+a") != cluster_name("1.0.0-x.a")


def test_a_version_that_cannot_map_back_gets_a_hash_suffix() -> None:
    name = cluster_name("feature/login_v2")
    assert name.startswith("feature_login_v2_h")
    assert name != cluster_name("feature.login.v2")


_IDENTIFIER = st.from_regex(r"[0-9A-Za-z-]{1,6}", fullmatch=True)
_SEMVER = st.builds(
    lambda core, pre, build: (
        ".".join(core) + (f"-{'.'.join(pre)}" if pre else "") + (f"+{'.'.join(build)}" if build else "")
    ),
    st.lists(st.from_regex(r"0|[1-9][0-9]{0,3}", fullmatch=True), min_size=3, max_size=3),
    st.lists(_IDENTIFIER, max_size=3),
    st.lists(_IDENTIFIER, max_size=2),
)


@given(st.lists(_SEMVER, min_size=2, max_size=6, unique=True))
def test_distinct_semver_versions_never_share_a_cluster_name(versions: list[str]) -> None:
    names = [cluster_name(v) for v in versions]
    assert len(set(names)) == len(names)
    assert all("." not in n and "+" not in n for n in names)


# -- checking an update ------------------------------------------------------------------------


def test_weights_must_add_up_to_100_or_be_all_zero() -> None:
    assert routing({"1.0.0": [8001]}, {"1.0.0": 100}).weights == {"1.0.0": 100}
    assert routing({}, {"1.0.0": 0, "2.0.0": 0}).weights == {}
    with pytest.raises(InvalidRouting, match="add up to 90"):
        routing({}, {"1.0.0": 40, "2.0.0": 50})
    with pytest.raises(InvalidRouting, match=r"not within 0\.\.100"):
        routing({}, {"1.0.0": 150, "2.0.0": -50})


def test_an_invalid_port_is_refused() -> None:
    with pytest.raises(InvalidRouting, match=r"port 70000 of 1\.0\.0"):
        routing({"1.0.0": [70000]}, {"1.0.0": 100})


def test_every_routed_version_gets_a_cluster_even_without_replicas() -> None:
    plan = routing({"1.0.0": [8002, 8001, 8001]}, {"1.0.0": 90, "2.0.0": 10}, preview="3.0.0", header="2.0.0")
    assert plan.endpoints == {"1.0.0": (8001, 8002)}
    assert plan.clusters() == {"1_0_0": "1.0.0", "2_0_0": "2.0.0", "3_0_0": "3.0.0"}


# -- routes --------------------------------------------------------------------------------------


def test_the_weighted_route_carries_the_weights_by_cluster_name() -> None:
    document = config.route_document("web", config.STABLE, {"1.0.0-rc.1": 30, "2.0.0": 70})
    [route] = _routes(document)
    clusters = route["route"]["weighted_clusters"]["clusters"]
    assert clusters == [{"name": "1_0_0-rc_1", "weight": 30}, {"name": "2_0_0", "weight": 70}]
    assert sum(c["weight"] for c in clusters) == 100
    assert "retry_policy" not in route["route"]  # analysis must see the real errors


def test_the_header_route_comes_first() -> None:
    document = config.route_document("web", config.STABLE, {"1.0.0": 100}, header="2.0.0")
    header, weighted = _routes(document)
    assert header["match"]["headers"] == [{"name": "x-canary", "string_match": {"exact": "always"}}]
    assert header["route"]["cluster"] == "2_0_0"
    assert weighted["name"] == config.WEIGHTED_ROUTE


def test_no_routed_version_answers_503() -> None:
    [route] = _routes(config.route_document("web", config.STABLE, {}))
    assert route["direct_response"]["status"] == 503


def test_equal_documents_have_equal_versions_and_different_ones_do_not() -> None:
    first = config.route_document("web", config.STABLE, {"1.0.0": 100})
    assert (
        first["version_info"] == config.route_document("web", config.STABLE, {"1.0.0": 100})["version_info"]
    )
    assert (
        first["version_info"] != config.route_document("web", config.STABLE, {"2.0.0": 100})["version_info"]
    )


def test_endpoints_are_loopback_ports_of_one_cluster() -> None:
    resource = _resource(config.endpoints_document("1_0_0", [8001, 8002]))
    addresses = [e["endpoint"]["address"]["socket_address"] for e in resource["endpoints"][0]["lb_endpoints"]]
    assert resource["cluster_name"] == "1_0_0"
    assert addresses == [
        {"address": "127.0.0.1", "port_value": 8001},
        {"address": "127.0.0.1", "port_value": 8002},
    ]


def test_clusters_read_their_endpoints_from_a_watched_file() -> None:
    document = config.clusters_document({"1_0_0": LAYOUT.endpoints("1_0_0")})
    [cluster] = document["resources"]
    source = cluster["eds_cluster_config"]["eds_config"]["path_config_source"]
    assert cluster["type"] == "EDS"
    assert source == {
        "path": "/srv/envoy/xds/eds/1_0_0.json",
        "watched_directory": {"path": "/srv/envoy/xds/eds"},
    }
    assert "outlier_detection" not in cluster


# -- bootstrap -----------------------------------------------------------------------------------


def _listeners(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in document["static_resources"]["listeners"]}


def test_the_preview_listener_exists_only_with_a_preview_port() -> None:
    without = config.bootstrap_document(LAYOUT, name="web", port=8080, admin_port=0)
    with_preview = config.bootstrap_document(LAYOUT, name="web", port=8080, admin_port=0, preview_port=8081)
    assert set(_listeners(without)) == {"stable"}
    assert set(_listeners(with_preview)) == {"stable", "preview"}
    assert _listeners(with_preview)["preview"]["address"]["socket_address"]["port_value"] == 8081


def test_listeners_never_share_their_port_and_admin_stays_on_loopback() -> None:
    document = config.bootstrap_document(LAYOUT, name="web", port=8080, admin_port=9901, preview_port=8081)
    assert all(listener["enable_reuse_port"] is False for listener in _listeners(document).values())
    assert document["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9901}


def test_routes_come_from_a_watched_file_per_listener() -> None:
    document = config.bootstrap_document(LAYOUT, name="web", port=8080, admin_port=0, preview_port=8081)
    manager = _listeners(document)["preview"]["filter_chains"][0]["filters"][0]["typed_config"]
    assert manager["rds"]["route_config_name"] == "preview"
    assert manager["rds"]["config_source"]["path_config_source"]["path"] == "/srv/envoy/xds/rds/preview.json"


# -- reading Envoy's answers ---------------------------------------------------------------------


def test_applied_weights_are_read_from_the_route_dump() -> None:
    dump = {"configs": [{"version_info": "abc", "route_config": _resource(
        config.route_document("web", config.STABLE, {"1.0.0": 25, "2.0.0": 75}, header="2.0.0")
    )}]}  # fmt: skip
    names = {"1_0_0": "1.0.0"}
    assert config.applied_route_weights(dump, config.STABLE, names) == {"1.0.0": 25, "2_0_0": 75}
    assert config.applied_route_weights(dump, config.PREVIEW, names) is None
    assert config.route_version_info(dump, config.STABLE) == "abc"


def test_cluster_stats_are_read_per_version() -> None:
    values = {
        "stats": [
            {"name": "cluster.1_0_0.upstream_rq_total", "value": 10},
            {"name": "cluster.1_0_0.upstream_rq_2xx", "value": 9},
            {"name": "cluster.1_0_0.upstream_rq_5xx", "value": 1},
            {"histograms": {"supported_quantiles": [50, 90, 99], "computed_quantiles": [
                {"name": "cluster.1_0_0.upstream_rq_time", "values": [
                    {"cumulative": 1.5, "interval": None}, {"cumulative": 3, "interval": None},
                    {"cumulative": 9.5, "interval": None},
                ]},
            ]}},
        ]
    }  # fmt: skip
    buckets = {"stats": [{"histograms": [{"name": "cluster.1_0_0.upstream_rq_time", "buckets": [
        {"upper_bound": 1, "cumulative": 4}, {"upper_bound": 10, "cumulative": 10},
    ]}]}]}  # fmt: skip
    stats = config.read_cluster_stats(values, buckets, {"1_0_0": "1.0.0"})["1.0.0"]
    assert (stats.requests, stats.responses_2xx, stats.responses_5xx, stats.responses_4xx) == (10, 9, 1, 0)
    assert (stats.p50_ms, stats.p90_ms, stats.p99_ms) == (1.5, 3, 9.5)
    assert stats.latency_buckets == ((1.0, 4), (10.0, 10))


def test_a_failed_bind_in_the_log_names_the_port() -> None:
    log = "[critical][main] error `cannot bind '0.0.0.0:8080': Address already in use` initializing config"
    error = startup_error(log, 1)
    assert isinstance(error, PortInUse)
    assert error.port == 8080
    assert error.code == "port-in-use"
    other = startup_error("[critical] bad config", 1)
    assert other.code == "envoy-failed"
    assert "bad config" in other.message
