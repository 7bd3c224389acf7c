"""The Target protocol and the state it carries: what should run (desired) and what runs (observed).

The engine never starts processes or edits proxies itself. It hands a target the desired state of one
service in one environment — which versions, how many replicas of each, what share of traffic each
gets — and reads back what is true. A local agent, a remote agent or Kubernetes can sit behind it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class HealthSpec:
    """Readiness: a replica is ready after `healthy_threshold` consecutive 2xx answers on `path`."""

    path: str = "/health"
    interval: float = 1.0
    timeout: float = 1.0
    healthy_threshold: int = 1
    unhealthy_threshold: int = 3


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service, taken from clearance.yaml when the deployment starts."""

    command: str  # a shell command; it must listen on $PORT
    port: int  # the stable port users call; the proxy listens here
    health: HealthSpec = field(default_factory=HealthSpec)
    preview_port: int | None = None  # blue-green: the new version alone, before the switch
    drain_timeout: float = 10.0  # after SIGTERM, how long a replica may take to finish its requests
    cwd: str = "."
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VersionSpec:
    """One version of the service: its replicas and its share of the stable port's traffic."""

    version: str
    replicas: int
    weight: int  # 0..100; the weights of all versions add up to 100 (or all are 0 while nothing is ready)
    env: tuple[tuple[str, str], ...] = ()  # e.g. CLEARANCE_RELEASE_VERSION, the release's variables


@dataclass(frozen=True)
class DesiredState:
    project: str
    environment: str
    service: str
    spec: ServiceSpec
    versions: tuple[VersionSpec, ...]
    preview_version: str | None = None  # served alone on spec.preview_port
    header_version: str | None = None  # served to requests with `x-canary: always`
    revision: int = 0  # increases with every change; observed state says which one it reflects

    def version(self, name: str) -> VersionSpec | None:
        return next((v for v in self.versions if v.version == name), None)


@dataclass(frozen=True)
class ReplicaStatus:
    version: str
    port: int
    pid: int | None
    ready: bool
    restarts: int = 0
    last_error: str = ""  # e.g. the last health-check answer or the exit status of a crash


@dataclass(frozen=True)
class ObservedState:
    revision: int  # the desired revision this observation reflects
    replicas: tuple[ReplicaStatus, ...] = ()
    weights: tuple[tuple[str, int], ...] = ()  # the weights the proxy really applies now
    proxy_admin_url: str | None = None  # where the proxy's stats can be read (the envoy metric provider)
    error: str = ""  # a problem the target cannot fix by itself (port in use, proxy missing, ...)

    def ready(self, version: str) -> int:
        return sum(1 for r in self.replicas if r.version == version and r.ready)

    def weight(self, version: str) -> int:
        return dict(self.weights).get(version, 0)


class Target(Protocol):
    """Where replicas run. `apply` must be idempotent; `observe` never raises for a missing service."""

    type: str

    def apply(self, desired: DesiredState) -> None: ...

    def desired(self, project: str, environment: str, service: str) -> DesiredState | None: ...

    def observe(self, project: str, environment: str, service: str) -> ObservedState | None: ...

    def remove(self, project: str, environment: str, service: str) -> None: ...


def desired_to_json(desired: DesiredState) -> dict[str, Any]:
    return asdict(desired)


def desired_from_json(data: dict[str, Any]) -> DesiredState:
    spec = dict(data["spec"])
    spec["health"] = HealthSpec(**spec["health"])
    spec["env"] = tuple(tuple(pair) for pair in spec.get("env", ()))
    versions = tuple(
        VersionSpec(**{**v, "env": tuple(tuple(pair) for pair in v.get("env", ()))}) for v in data["versions"]
    )
    return DesiredState(**{**data, "spec": ServiceSpec(**spec), "versions": versions})


def observed_to_json(observed: ObservedState) -> dict[str, Any]:
    return asdict(observed)


def observed_from_json(data: dict[str, Any]) -> ObservedState:
    return ObservedState(
        revision=data["revision"],
        replicas=tuple(ReplicaStatus(**r) for r in data.get("replicas", ())),
        weights=tuple((str(k), int(w)) for k, w in data.get("weights", ())),
        proxy_admin_url=data.get("proxy_admin_url"),
        error=data.get("error", ""),
    )
