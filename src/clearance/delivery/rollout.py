"""Rollouts: how a new version of a `run:` service replaces the stable one, as ordered steps over the
target's desired and observed state.

Each step is a reconcile function — "make the world match this step, record what you saw" — safe to
run again. Progress lives in the deployment row (`rollout`: weight, pause start, stable version), so
a rollout whose driver died resumes from its last recorded step, and `clearance promote|abort|pause|
resume` act by writing requests there that the loop reads. When a step fails (replicas never ready,
analysis failed, deadline passed, abort), traffic goes back 100 % to the stable version before the
new replicas are stopped.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clearance.delivery.outcomes import RolloutFailed
from clearance.delivery.routers.envoy import cluster_name
from clearance.delivery.steering import POLL_SECONDS, Steering
from clearance.delivery.strategies.plan import rolling_batches
from clearance.delivery.targets.base import (
    DesiredState,
    HealthSpec,
    ObservedState,
    ServiceSpec,
    Target,
    VersionSpec,
)
from clearance.project.rollout import Canary, Rolling, RunSpec
from clearance.store import DeploymentStep

if TYPE_CHECKING:
    from clearance.workspace import Workspace


def service_spec(ws: Workspace, run: RunSpec, environment: str, preview_port: int | None) -> ServiceSpec:
    port = run.port_for(environment)
    assert port is not None  # the config check requires a port per environment
    h = run.health
    return ServiceSpec(
        command=run.command,
        port=port,
        health=HealthSpec(h.path, h.interval, h.timeout, h.healthy_threshold, h.unhealthy_threshold),
        preview_port=preview_port,
        drain_timeout=run.drain_timeout,
        cwd=str(ws.root),
        # The Python clearance runs on, so `$CLEARANCE_PYTHON -m …` works without a PATH of its own.
        env=(("CLEARANCE_PYTHON", sys.executable),),
    )


@dataclass(kw_only=True)
class Rollout(Steering):
    """One deployment's rollout, driven step by step until it is done or has to go back."""

    target: Target
    spec: ServiceSpec
    replicas: int
    version_env: tuple[tuple[str, str], ...]
    stable: str | None = None
    stable_env: tuple[tuple[str, str], ...] = ()

    # -- desired state ------------------------------------------------------------------------
    def desired(self, weight: int, *, full_scale: bool = False) -> DesiredState:
        """Stable and new version at `weight` % for the new one; `full_scale` gives the new version
        all its replicas while the weights stay, so the final switch never lands on a cold fleet."""
        versions: list[VersionSpec] = []
        if self.stable is not None and self.stable != self.version and weight < 100:
            versions.append(VersionSpec(self.stable, self.replicas, 100 - weight, self.stable_env))
        scaled = full_scale or weight >= 100 or self.stable is None
        canary_replicas = self.replicas if scaled else max(1, math.ceil(self.replicas * weight / 100))
        new_weight = weight if versions else 100
        versions.append(VersionSpec(self.version, canary_replicas, new_weight, self.version_env))
        header = self.version if isinstance(self.strategy, Canary) and self.strategy.header_route else None
        return DesiredState(
            project=self.ws.config.project,
            environment=self.environment,
            service=self.service,
            spec=self.spec,
            versions=tuple(versions),
            header_version=header if self.stable else None,
        )

    def observe(self) -> ObservedState | None:
        return self.target.observe(self.ws.config.project, self.environment, self.service)

    # -- steps --------------------------------------------------------------------------------
    def set_weight(self, step: DeploymentStep, weight: int, deadline: float) -> None:
        """Give the new version `weight` % of the traffic once enough of its replicas are ready.

        Before taking all traffic, the new version is scaled to its full replica count at the
        current weights: a switch to 100 % never lands on a fleet that is still starting."""
        if weight >= 100 and self.stable is not None and self.stable != self.version:
            # The weight the target has now (a resumed step may find it further than recorded):
            # scaling up must never move traffic backwards.
            current = self.target.desired(self.ws.config.project, self.environment, self.service)
            now = next((v.weight for v in current.versions if v.version == self.version), 0) if current else 0
            if now < 100:
                self._converge(step, self.desired(now, full_scale=True), deadline)
        self._converge(step, self.desired(weight), deadline)
        self.save(weight=weight)

    def blue_green(self, *, switched: bool) -> DesiredState:
        """Both versions at full size; before the switch the new one is only on the preview port."""
        assert self.stable is not None
        stable_weight, new_weight = (0, 100) if switched else (100, 0)
        return DesiredState(
            project=self.ws.config.project,
            environment=self.environment,
            service=self.service,
            spec=self.spec,
            versions=(
                VersionSpec(self.stable, self.replicas, stable_weight, self.stable_env),
                VersionSpec(self.version, self.replicas, new_weight, self.version_env),
            ),
            preview_version=None if switched else self.version,
        )

    def rolling(self, step: DeploymentStep, strategy: Rolling, deadline: float) -> None:
        """Replace the replicas batch by batch; each version's traffic follows its replica count."""
        assert self.stable is not None
        batches = rolling_batches(self.replicas, strategy.max_surge, strategy.max_unavailable)
        for number, (new, old) in enumerate(batches, start=1):
            if number - 1 < self._rolling_resume_index(batches):
                continue
            versions = []
            if old:
                versions.append(
                    VersionSpec(self.stable, old, round(100 * old / (new + old)), self.stable_env)
                )
            weight = 100 - sum(v.weight for v in versions)
            versions.append(VersionSpec(self.version, new, weight, self.version_env))
            self.on_line(step, f"batch {number}/{len(batches)}: {new} new, {old} old")
            desired = DesiredState(
                project=self.ws.config.project,
                environment=self.environment,
                service=self.service,
                spec=self.spec,
                versions=tuple(versions),
            )
            self._converge(step, desired, deadline)
            self.save(weight=weight)
            if strategy.pause and number < len(batches):
                self.pause(step, strategy.pause, announce=False)

    def _rolling_resume_index(self, batches: list[tuple[int, int]]) -> int:
        """The first batch not behind what the target already wants: a resumed rolling update
        goes on from where it was instead of scaling back to its first batch."""
        current = self.target.desired(self.ws.config.project, self.environment, self.service)
        if current is None:
            return 0
        counts = {v.version: v.replicas for v in current.versions}
        new, old = counts.get(self.version, 0), counts.get(self.stable or "", self.replicas)
        return next((i for i, (n, o) in enumerate(batches) if n >= new and o <= old), 0)

    def converge(self, step: DeploymentStep, desired: DesiredState, deadline: float) -> None:
        self._converge(step, desired, deadline)

    def _converge(self, step: DeploymentStep, desired: DesiredState, deadline: float) -> None:
        self.target.apply(desired)
        new = next(v for v in desired.versions if v.version == self.version)
        others = {v.version for v in desired.versions} - {self.version}
        last = ""
        while True:
            observed = self.observe()
            if observed is not None:
                ready = observed.ready(self.version)
                applied = observed.weight(self.version)
                text = f"{self.version}: {ready}/{new.replicas} ready, weight {applied}% (want {new.weight}%)"
                if text != last:
                    self.on_line(step, text)
                    last = text
                # Done when the new version is ready and routed as wanted, and (after a switch)
                # no replica of a version that is no longer desired is still running.
                retired = all(r.version == self.version or r.version in others for r in observed.replicas)
                if ready >= new.replicas and applied == new.weight and retired:
                    return
            # One check with one reason: the target's own error (no Envoy, a port taken) says more
            # than a count of replicas that never became ready.
            if observed is not None and observed.error:
                reason = f"the target reports: {observed.error}"
            else:
                reason = self._not_ready_reason(observed, new.replicas)
            self._check_deadline(deadline, reason)
            self.sleep()

    def _not_ready_reason(self, observed: ObservedState | None, wanted: int) -> str:
        if observed is None:
            return "no agent reported on the target (is `clearance agent` running?)"
        errors = [r.last_error for r in observed.replicas if r.version == self.version and r.last_error]
        detail = f": {errors[-1]}" if errors else ""
        return f"{observed.ready(self.version)}/{wanted} replicas of {self.version} became ready{detail}"

    def _check_deadline(self, deadline: float, reason: str) -> None:
        if time.monotonic() > deadline:
            raise RolloutFailed(f"progress deadline exceeded: {reason}", {"reason": reason})
        self.check_flags()

    def analysis_variables(self) -> dict[str, str]:
        observed = self.observe()
        return {
            "project": self.ws.config.project,
            "service": self.service,
            "environment": self.environment,
            "version": self.version,
            "baseline_version": self.stable or "",
            "cluster": cluster_name(self.version),
            "baseline_cluster": cluster_name(self.stable) if self.stable else "",
            "proxy_admin_url": (observed.proxy_admin_url if observed else None) or "",
        }

    def rollback(self) -> None:
        """Traffic back to stable first (the agent stops the new replicas only after that)."""
        if self.stable is None or self.stable == self.version:
            self.target.remove(self.ws.config.project, self.environment, self.service)
            return
        self.target.apply(
            DesiredState(
                project=self.ws.config.project,
                environment=self.environment,
                service=self.service,
                spec=self.spec,
                versions=(VersionSpec(self.stable, self.replicas, 100, self.stable_env),),
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            observed = self.observe()
            if (
                observed is not None
                and observed.weight(self.stable) == 100
                and all(r.version == self.stable for r in observed.replicas)
            ):
                return
            time.sleep(POLL_SECONDS)
