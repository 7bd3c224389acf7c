"""The Envoy data plane of the local agent: one Envoy per (environment, service) on the stable port.

`EnvoyProxy` starts Envoy once and changes what it routes by rewriting file-based xDS resources;
it never restarts Envoy, so no in-flight or keep-alive request is dropped by a change.

Why the configuration is shaped this way (measured on Envoy 1.40, see /work/shared/BASELINES.md):

- Routes come from file-based RDS (`path_config_source` + `watched_directory`, file renamed in).
  Envoy applies them to every request, open keep-alive connections included, ~3 ms after the
  rename. Weights inline in a listener only reach new connections.
- Clusters come from file-based CDS, one per version, and each cluster's replicas from its own
  file-based EDS file. Replicas come and go much more often than versions: through EDS a replica
  change only edits the host set, connections to the other replicas stay open and requests in
  flight on a removed replica finish. A CDS update of a STATIC cluster rebuilds the cluster and
  closes all its connection pools (envoyproxy/envoy#16165), so CDS changes only when a version
  appears or leaves. (EDS also requires one resource per file, hence one file per cluster.)
- A route that names a cluster Envoy does not have answers 503, so an update goes endpoints →
  clusters (waiting until Envoy has them) → routes, and a cluster is removed only after the routes
  that named it are gone from Envoy.
- Listeners are static: the ports never change. `enable_reuse_port: false` makes a second Envoy
  on the same port fail instead of silently sharing it; `--disable-hot-restart` lets several
  Envoys run on one machine without sharing a shared-memory region.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from clearance.agent import envoy_config as config
from clearance.agent.envoy_config import ClusterStats, InvalidRouting, Layout, Routing
from clearance.agent.envoy_process import (
    INSTALL_HINT,
    TERM_GRACE_SECONDS,
    ConfigNotApplied,
    EnvoyFailed,
    EnvoyMissing,
    PortInUse,
    check_port_free,
    find_envoy,
    log_tail,
    resolve_binary,
    startup_error,
    stop_orphan,
)

__all__ = [
    "ClusterStats",
    "ConfigNotApplied",
    "EnvoyFailed",
    "EnvoyMissing",
    "EnvoyProxy",
    "InvalidRouting",
    "PortInUse",
    "find_envoy",
]

_POLL_SECONDS = 0.002
_APPLY_TIMEOUT = 5.0
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_CLUSTER_STATS = r"^cluster\.[^.]+\.(upstream_rq_(total|2xx|4xx|5xx|timeout|time)|upstream_cx_connect_fail)$"


class EnvoyProxy:
    """One Envoy in front of the replicas of one service in one environment."""

    def __init__(
        self,
        workdir: Path,
        *,
        name: str,
        port: int,
        preview_port: int | None = None,
        admin_port: int | None = None,
        envoy_binary: str | None = None,
        listen_address: str = "0.0.0.0",
    ) -> None:
        self.layout = Layout(Path(workdir))
        self.name = name
        self.port = port
        self.preview_port = preview_port
        self.listen_address = listen_address
        self._admin_port = admin_port
        self._binary = envoy_binary
        self._routing = Routing()
        self._names: dict[str, str] = {}  # cluster → version, every one ever routed
        self._written: dict[Path, bytes] = {}  # what each xDS file holds, so unchanged means no write
        self._cds_clusters: set[str] = set()  # the clusters in the CDS file now
        self._route_versions_written: dict[str, str] = {}  # route configuration → version_info
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: httpx.Client | None = None
        self._admin_url = ""
        self._lock = threading.RLock()

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def admin_url(self) -> str:
        """Where Envoy's admin API answers (127.0.0.1 only); "" until started."""
        return self._admin_url

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        """Write the bootstrap and current routing, start Envoy and wait until it is LIVE."""
        with self._lock:
            if self.alive():
                return
            binary = resolve_binary(self._binary)
            stop_orphan(self.layout)
            for port in (self.port, self.preview_port, self._admin_port):
                if port is not None:
                    check_port_free(self.listen_address if port != self._admin_port else "127.0.0.1", port)
            self._prepare_files()
            command = [
                binary, "-c", str(self.layout.bootstrap), "--disable-hot-restart",
                "--log-level", "info", "--concurrency", str(min(os.cpu_count() or 1, 2)),
                "--drain-strategy", "immediate", "--admin-address-path", str(self.layout.admin_address),
            ]  # fmt: skip
            with self.layout.log.open("ab") as log:
                try:
                    # Own session: a Ctrl-C in the agent's terminal must not kill the proxy first.
                    self._process = subprocess.Popen(
                        command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )  # fmt: skip
                except OSError as exc:
                    raise EnvoyMissing(f"cannot run Envoy at {binary}: {exc}", hint=INSTALL_HINT) from exc
            self.layout.pid_file.write_text(str(self._process.pid), encoding="utf-8")
            try:
                self._wait_ready(timeout)
            except BaseException:
                self._terminate(grace=1.0)
                raise

    def _prepare_files(self) -> None:
        self.layout.workdir.mkdir(parents=True, exist_ok=True)
        if self.layout.log.exists() and self.layout.log.stat().st_size > _LOG_ROTATE_BYTES:
            os.replace(self.layout.log, self.layout.log.with_suffix(".log.1"))
        shutil.rmtree(self.layout.workdir / "xds", ignore_errors=True)
        self.layout.admin_address.unlink(missing_ok=True)
        self._written.clear()
        self._cds_clusters.clear()
        self._route_versions_written.clear()
        self._apply(self._routing, running=False)
        bootstrap = config.bootstrap_document(
            self.layout, name=self.name, port=self.port, admin_port=self._admin_port or 0,
            preview_port=self.preview_port, listen_address=self.listen_address,
        )  # fmt: skip
        self.layout.bootstrap.write_text(json.dumps(bootstrap, indent=1), encoding="utf-8")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self._process
            assert process is not None
            if process.poll() is not None:
                raise startup_error(log_tail(self.layout.log), process.returncode)
            if self._admin is None:
                self._connect_admin()
            if self._admin is not None:
                try:
                    answer = self._admin.get("/ready")
                    if answer.status_code == 200 and answer.text.strip() == "LIVE":
                        return
                except httpx.HTTPError:
                    pass  # the admin listener is not up yet
            time.sleep(0.01)
        raise startup_error(log_tail(self.layout.log), None)

    def _connect_admin(self) -> None:
        try:
            address = self.layout.admin_address.read_text(encoding="utf-8").strip()
        except OSError:
            return
        if re.fullmatch(r"127\.0\.0\.1:\d+", address):
            self._admin_url = f"http://{address}"
            # trust_env=False: an HTTP(S)_PROXY in the environment must not capture loopback calls.
            self._admin = httpx.Client(base_url=self._admin_url, timeout=5.0, trust_env=False)

    def stop(self, drain_seconds: float = 1.0) -> None:
        """Let open requests finish (up to `drain_seconds`), then SIGTERM, then SIGKILL."""
        with self._lock:
            if self.alive() and drain_seconds > 0:
                with contextlib.suppress(EnvoyFailed):  # it is going away anyway
                    self._drain(drain_seconds)
            self._terminate(grace=TERM_GRACE_SECONDS)

    def _drain(self, seconds: float) -> None:
        # With --drain-strategy immediate every answer from now on carries `connection: close`.
        self._admin_call("POST", "/drain_listeners", params={"graceful": "", "skip_exit": ""})
        deadline = time.monotonic() + seconds
        pattern = r"^http\.(stable|preview)\.downstream_cx_active$"
        while time.monotonic() < deadline:
            stats = self._admin_json("/stats", {"format": "json", "filter": pattern})
            if not any(s.get("value") for s in stats.get("stats", [])):
                return
            time.sleep(0.02)

    def _terminate(self, grace: float) -> None:
        process, self._process = self._process, None
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        self._admin_url = ""
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
            try:
                os.killpg(process.pid, sig)  # the whole group: nothing of this Envoy stays behind
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> EnvoyProxy:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- routing ---------------------------------------------------------------------------------

    def update(
        self,
        endpoints: Mapping[str, Iterable[int]],
        weights: Mapping[str, int],
        *,
        preview: str | None = None,
        header: str | None = None,
    ) -> None:
        """Route the stable port by `weights` (sum 100, or all 0: answer 503) to these replicas.

        `preview` is served alone on the preview port (ignored when there is none); `header` gets the
        requests carrying `x-canary: always`. Returns once Envoy has every cluster it needs; the new
        weights follow within milliseconds (`wait_applied` waits for them).
        """
        if self.preview_port is None:
            preview = None  # nowhere to serve it; a cluster for it would only cost memory
        routing = config.routing(endpoints, weights, preview=preview, header=header)
        with self._lock:
            self._names.update(routing.clusters())
            self._apply(routing, running=self.alive())
            self._routing = routing

    def _apply(self, new: Routing, *, running: bool) -> None:
        clusters = new.clusters()
        changed = False
        for cluster, version in clusters.items():
            document = config.endpoints_document(cluster, new.endpoints.get(version, ()))
            changed |= self._write(self.layout.endpoints(cluster), document)
        stale = self._cds_clusters - set(clusters)
        changed |= self._write_clusters(self._cds_clusters | set(clusters))
        if running and changed:
            expected = {c: tuple(new.endpoints.get(v, ())) for c, v in clusters.items()}
            self._wait(
                lambda: self._active_clusters().items() >= expected.items(), "the clusters and endpoints"
            )
        for route_name, document in self._route_documents(new).items():
            self._write(self.layout.routes(route_name), document)
            self._route_versions_written[route_name] = document["version_info"]
        if not stale:
            return
        if running:
            self._wait(lambda: self._applied(None, self._route_versions_written), "the routes")
        self._write_clusters(set(clusters))
        if running:
            self._wait(lambda: not stale & set(self._active_clusters()), "the removal of old clusters")
        for cluster in stale:
            self.layout.endpoints(cluster).unlink(missing_ok=True)
            self._written.pop(self.layout.endpoints(cluster), None)

    def _route_documents(self, routing: Routing) -> dict[str, dict[str, Any]]:
        documents = {
            config.STABLE: config.route_document(self.name, config.STABLE, routing.weights, routing.header)
        }
        if self.preview_port is not None:
            preview = {routing.preview: 100} if routing.preview is not None else {}
            documents[config.PREVIEW] = config.route_document(self.name, config.PREVIEW, preview)
        return documents

    def _write_clusters(self, clusters: set[str]) -> bool:
        self._cds_clusters = set(clusters)
        paths = {c: self.layout.endpoints(c) for c in clusters}
        return self._write(self.layout.clusters, config.clusters_document(paths))

    def _write(self, path: Path, document: dict[str, Any]) -> bool:
        """Atomically replace `path` (Envoy reloads only on a rename); False when unchanged."""
        content = json.dumps(document, indent=1).encode()
        if self._written.get(path) == content:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        self.layout.staging.mkdir(parents=True, exist_ok=True)
        staged = self.layout.staging / f"{path.parent.name}-{path.name}"
        staged.write_bytes(content)
        os.replace(staged, path)
        self._written[path] = content
        return True

    def _wait(self, done: Callable[[], bool], what: str, timeout: float = _APPLY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise ConfigNotApplied(
                    f"Envoy of {self.name} did not apply {what} within {timeout:g} s",
                    hint=f"it may have rejected them; see {self.layout.log}",
                )
            if not self.alive():
                raise EnvoyFailed(f"Envoy of {self.name} exited:\n{log_tail(self.layout.log)}")
            time.sleep(_POLL_SECONDS)

    # -- reading Envoy's truth -------------------------------------------------------------------

    def _admin_call(self, method: str, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        admin = self._admin  # stop() may close it from another thread meanwhile
        if admin is None:
            raise EnvoyFailed(f"the proxy of {self.name} is not running")
        try:
            answer = admin.request(method, path, params=params)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise EnvoyFailed(f"Envoy admin {path} of {self.name} failed: {exc}") from exc
        return answer

    def _admin_json(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        answer = self._admin_call("GET", path, params)
        try:
            document = answer.json()
        except ValueError as exc:
            raise EnvoyFailed(f"Envoy admin {path} of {self.name} answered no JSON") from exc
        return document if isinstance(document, dict) else {}

    def _routes_dump(self) -> dict[str, Any]:
        return self._admin_json("/config_dump", {"resource": "dynamic_route_configs"})

    def _active_clusters(self) -> dict[str, tuple[int, ...]]:
        return config.cluster_ports(self._admin_json("/clusters", {"format": "json"}))

    def _applied(self, weights: Mapping[str, int] | None, routes: Mapping[str, str]) -> bool:
        """Envoy routes by these weights (None: any) and has these route configuration versions."""
        dump = self._routes_dump()
        if weights is not None and config.applied_route_weights(dump, config.STABLE, self._names) != weights:
            return False
        return all(config.route_version_info(dump, name) == v for name, v in routes.items())

    def applied_weights(self) -> dict[str, int]:
        """Version → weight (> 0) of the stable port as Envoy applies it now.

        `{}` while Envoy answers 503 (no version routed) and when it is not running.
        """
        if not self.alive():
            return {}
        return config.applied_route_weights(self._routes_dump(), config.STABLE, self._names) or {}

    def wait_applied(self, weights: Mapping[str, int], timeout: float = 5.0) -> None:
        """Return once Envoy routes by `weights` (zero weights mean no route), else ConfigNotApplied.

        When `weights` are those of the last update, its preview and header routes are waited for too.
        """
        expected = {v: w for v, w in weights.items() if w > 0}
        with self._lock:
            routes = dict(self._route_versions_written) if expected == self._routing.weights else {}
        self._wait(lambda: self._applied(expected, routes), f"the weights {expected}", timeout)

    def cluster_stats(self) -> dict[str, ClusterStats]:
        """Version → what Envoy counted for it (only versions whose cluster exists now)."""
        values = self._admin_json("/stats", {"format": "json", "filter": _CLUSTER_STATS})
        buckets = self._admin_json(
            "/stats", {"format": "json", "filter": _CLUSTER_STATS, "histogram_buckets": "cumulative"}
        )
        return config.read_cluster_stats(values, buckets, self._names)
