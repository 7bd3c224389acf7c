"""The local agent: makes this machine match the desired state in the store and reports what it sees.

For every (environment, service) with a desired state it keeps one replica supervisor and one Envoy.
The order of a change is what keeps it safe: start new replicas first, route only to replicas that
are ready, and stop a version's replicas only after Envoy has stopped sending them traffic.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select

from clearance.agent.envoy import EnvoyProxy
from clearance.agent.replicas import ReplicaSupervisor
from clearance.delivery.leases import worker_id
from clearance.delivery.routers.base import RouterFactory, TrafficRouter
from clearance.delivery.targets.base import DesiredState, ObservedState, desired_from_json, observed_to_json
from clearance.errors import ClearanceError, StoreError
from clearance.store import Store
from clearance.store.tables import AgentRow, TargetObservation, TargetState, utcnow

log = logging.getLogger("clearance.agent")

Key = tuple[int, str, str]  # project id, environment, service
HEARTBEAT_SECONDS = 2.0
AGENT_TIMEOUT_SECONDS = 10.0  # an agent silent this long is gone


@dataclass
class _Unit:
    """What the agent runs for one service in one environment."""

    supervisor: ReplicaSupervisor
    proxy: TrafficRouter | None
    desired: DesiredState | None = None
    error: str = ""
    ports: tuple[int, int | None] = (0, None)


def effective_weights(desired: DesiredState, ready: dict[str, list[int]]) -> dict[str, int]:
    """The desired weights, with the share of a version that has no ready replica moved to the others.

    Traffic never points at nothing: if the canary's replicas are not ready yet, the stable version
    keeps its share; if no version is ready, every weight is 0 and Envoy answers 503."""
    wanted = {v.version: v.weight for v in desired.versions}
    serving = {v: w for v, w in wanted.items() if ready.get(v)}
    total = sum(serving.values())
    if not serving:
        return {v: 0 for v in wanted}
    if total == 0:
        # Ready versions all have weight 0 (e.g. a version still warming up at 0 %): keep 0s.
        return {v: 0 for v in wanted}
    lost = 100 - total
    result = {v: (serving.get(v, 0)) for v in wanted}
    if lost:
        # Give the lost share to the heaviest ready version (the stable one in a canary).
        heaviest = max(serving, key=lambda v: serving[v])
        result[heaviest] += lost
    return result


class LocalAgent:
    def __init__(
        self,
        store: Store,
        workdir: Path,
        *,
        project_id: int | None = None,
        interval: float = 0.25,
        envoy_binary: str | None = None,
        router: RouterFactory | None = None,
    ) -> None:
        self._store = store
        self._router = router or functools.partial(EnvoyProxy, envoy_binary=envoy_binary)
        self._workdir = workdir
        self._project_id = project_id
        self._interval = interval
        self._units: dict[Key, _Unit] = {}
        self.id = f"agent:{worker_id()}"
        self._last_beat = 0.0

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        self._register()
        try:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    self.reconcile_once()
                except StoreError as exc:
                    # The store is down or restarting: replicas and Envoy go on serving what they
                    # serve; the agent catches up with the store when it is back.
                    log.warning("cannot reach the store: %s", exc.message)
                stop.wait(max(0.0, self._interval - (time.monotonic() - started)))
        finally:
            self.shutdown()

    def reconcile_once(self) -> None:
        if time.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
            self._heartbeat()
        desired = self._read_desired()
        for key in list(self._units):
            if key not in desired:
                self._retire(key)
        for key, state in desired.items():
            unit = self._units.get(key) or self._new_unit(key, state)
            try:
                self._reconcile(unit, state)
                unit.error = ""
            except ClearanceError as exc:
                # The hint goes with it: "Envoy is missing" is only useful with how to install it.
                unit.error = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
                log.warning("%s/%s: %s", key[1], key[2], exc.message)
            self._report(key, unit, state)

    # -- one unit ---------------------------------------------------------------------------
    def _new_unit(self, key: Key, state: DesiredState) -> _Unit:
        base = self._workdir / state.project / state.environment / state.service
        unit = _Unit(supervisor=ReplicaSupervisor(base / "replicas"), proxy=None)
        self._units[key] = unit
        return unit

    def _reconcile(self, unit: _Unit, state: DesiredState) -> None:
        spec = state.spec
        ports = (spec.port, spec.preview_port)
        if unit.proxy is not None and unit.ports != ports:
            # Listeners are static: a new stable or preview port needs a new Envoy.
            unit.proxy.stop()
            unit.proxy = None
        if unit.proxy is None or not unit.proxy.alive():
            base = self._workdir / state.project / state.environment / state.service / "envoy"
            proxy = self._router(
                base,
                name=f"{state.environment}-{state.service}",
                port=spec.port,
                preview_port=spec.preview_port,
            )
            proxy.start()
            unit.proxy, unit.ports = proxy, ports
        wanted = {v.version for v in state.versions}
        for wanted_version in state.versions:
            env = {**dict(spec.env), **dict(wanted_version.env)}
            unit.supervisor.ensure(wanted_version.version, wanted_version.replicas, spec, env)
        unit.supervisor.poll()
        ready: dict[str, list[int]] = {}
        for replica in unit.supervisor.status():
            if replica.ready and replica.version in wanted:
                ready.setdefault(replica.version, []).append(replica.port)
        weights = effective_weights(state, ready)
        endpoints = {v: ready.get(v, []) for v in wanted}
        preview = state.preview_version if state.preview_version in ready else None
        header = state.header_version if state.header_version in ready else None
        unit.proxy.update(endpoints, weights, preview=preview, header=header)
        leaving = [v for v in unit.supervisor.versions() if v not in wanted]
        if leaving:
            # Stop old replicas only once Envoy really routes without them.
            unit.proxy.wait_applied(weights)
            for version in leaving:
                unit.supervisor.stop_version(version)
        unit.desired = state

    def _retire(self, key: Key) -> None:
        unit = self._units.pop(key)
        if unit.proxy is not None:
            unit.proxy.stop()
        unit.supervisor.stop_all()
        with self._store.transaction() as session:
            session.execute(
                delete(TargetObservation).where(
                    TargetObservation.project_id == key[0],
                    TargetObservation.environment == key[1],
                    TargetObservation.service == key[2],
                )
            )

    def shutdown(self) -> None:
        for key in list(self._units):
            unit = self._units.pop(key)
            if unit.proxy is not None:
                unit.proxy.stop()
            unit.supervisor.stop_all()
        with self._store.transaction() as session:
            session.execute(delete(AgentRow).where(AgentRow.id == self.id))

    # -- the store ----------------------------------------------------------------------------
    def _read_desired(self) -> dict[Key, DesiredState]:
        with self._store.transaction() as session:
            query = select(TargetState)
            if self._project_id is not None:
                query = query.where(TargetState.project_id == self._project_id)
            return {
                (r.project_id, r.environment, r.service): desired_from_json(r.desired)
                for r in session.scalars(query)
            }

    def _report(self, key: Key, unit: _Unit, state: DesiredState) -> None:
        observed = ObservedState(
            revision=state.revision,
            replicas=tuple(unit.supervisor.status()),
            weights=tuple(sorted((unit.proxy.applied_weights() if unit.proxy else {}).items())),
            proxy_admin_url=unit.proxy.admin_url if unit.proxy else None,
            error=unit.error,
        )
        with self._store.transaction() as session:
            row = session.get(TargetObservation, key, with_for_update=True)
            data = observed_to_json(observed)
            if row is None:
                session.add(
                    TargetObservation(
                        project_id=key[0],
                        environment=key[1],
                        service=key[2],
                        revision=observed.revision,
                        observed=data,
                        agent_id=self.id,
                    )
                )
            else:
                row.revision, row.observed, row.agent_id, row.observed_at = (
                    observed.revision,
                    data,
                    self.id,
                    utcnow(),
                )

    def _register(self) -> None:
        with self._store.transaction() as session:
            session.merge(
                AgentRow(
                    id=self.id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    project_id=self._project_id,
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                )
            )
        self._last_beat = time.monotonic()

    def _heartbeat(self) -> None:
        with self._store.transaction() as session:
            row = session.get(AgentRow, self.id)
            if row is None:
                session.add(
                    AgentRow(
                        id=self.id, host=socket.gethostname(), pid=os.getpid(), project_id=self._project_id
                    )
                )
            else:
                row.heartbeat_at = utcnow()
        self._last_beat = time.monotonic()


def live_agent(store: Store, project_id: int) -> AgentRow | None:
    """An agent serving this project (or every project) that renewed its heartbeat recently."""
    cutoff = utcnow() - timedelta(seconds=AGENT_TIMEOUT_SECONDS)
    with store.transaction() as session:
        rows = session.scalars(select(AgentRow).where(AgentRow.heartbeat_at >= cutoff))
        for row in rows:
            if row.project_id in (None, project_id):
                return row
    return None
