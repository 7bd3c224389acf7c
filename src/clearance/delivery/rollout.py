"""Rollouts: how a new version of a `run:` service replaces the stable one, as ordered steps over the
target's desired and observed state.

Each step is a reconcile function — "make the world match this step, record what you saw" — run
until done. Progress lives in the deployment row (`rollout`), so the steps can be resumed, and
`clearance promote|abort|pause|resume` act by writing flags there that the loop reads.
When a step fails (replicas never ready, analysis failed, deadline passed, abort), traffic goes back
100 % to the stable version before the new replicas are stopped.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clearance.delivery.analysis.runs import AnalysisPhase, AnalysisRun, MetricMeasurement
from clearance.delivery.metrics.registry import ProviderPool
from clearance.delivery.routers.envoy import cluster_name
from clearance.delivery.states import StepState, advance_step
from clearance.delivery.targets.base import (
    DesiredState,
    HealthSpec,
    ObservedState,
    ServiceSpec,
    Target,
    VersionSpec,
)
from clearance.project.rollout import AllAtOnce, BlueGreen, Canary, Rolling, RunSpec, Strategy
from clearance.store import Deployment, DeploymentStep
from clearance.store.tables import MeasurementRow, utcnow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class PlannedStep:
    name: str
    kind: str  # set_weight | pause | analysis | finish


@dataclass(frozen=True)
class Action:
    """One rollout step to run: set_weight (arg: %), pause (arg: seconds or None = until promoted),
    analysis (arg: template), preview (blue-green: new version on the preview port), switch
    (blue-green: 100 % at once, old kept warm)."""

    kind: str
    name: str
    arg: Any = None


def actions(strategy: Strategy) -> list[Action]:
    if isinstance(strategy, Canary):
        result = []
        for step in strategy.steps:
            if step.set_weight is not None:
                result.append(Action("set_weight", step.describe(), step.set_weight))
            elif step.pause is not None:
                result.append(Action("pause", step.describe(), step.pause.duration))
            else:
                assert step.analysis is not None
                result.append(Action("analysis", step.describe(), step.analysis.template))
        return result
    if isinstance(strategy, AllAtOnce):
        return [Action("set_weight", "set weight 100%", 100)]
    if isinstance(strategy, BlueGreen):
        port = f" on port {strategy.preview_port}" if strategy.preview_port else ""
        result = [Action("preview", f"preview: start the new version{port}")]
        if strategy.pre_promotion_analysis:
            template = strategy.pre_promotion_analysis.template
            result.append(Action("analysis", f"analysis {template} (pre-promotion)", template))
        if not strategy.auto_promote:
            result.append(Action("pause", "wait for `clearance promote`", None))
        elif strategy.auto_promote_after:
            result.append(
                Action(
                    "pause",
                    f"auto-promote after {strategy.auto_promote_after:g}s",
                    strategy.auto_promote_after,
                )
            )
        result.append(Action("switch", "switch: 100% to the new version, old kept warm"))
        if strategy.post_promotion_analysis:
            template = strategy.post_promotion_analysis.template
            result.append(Action("analysis", f"analysis {template} (post-promotion)", template))
        return result
    assert isinstance(strategy, Rolling)
    pause = f", pause {strategy.pause:g}s between batches" if strategy.pause else ""
    return [
        Action(
            "rolling",
            f"rolling update: surge {strategy.max_surge}, unavailable {strategy.max_unavailable}{pause}",
        )
    ]


def rolling_batches(replicas: int, max_surge: int, max_unavailable: int) -> list[tuple[int, int]]:
    """The (new, old) replica counts a rolling update goes through, as Kubernetes bounds them:
    never more than replicas + max_surge in all, never fewer than replicas - max_unavailable ready."""
    new, old = 0, replicas
    batches: list[tuple[int, int]] = []
    while new < replicas or old > 0:
        grown = min(replicas, max(new, replicas + max_surge - old))
        if grown != new:
            new = grown
            batches.append((new, old))
        shrunk = max(0, replicas - new - max_unavailable)
        if shrunk != old:
            old = shrunk
            batches.append((new, old))
    return batches


def plan(strategy: Strategy) -> list[PlannedStep]:
    """The rollout steps a deployment records up front, so `deployment show` lists them all."""
    steps = [PlannedStep(a.name, a.kind) for a in actions(strategy)]
    finish = "finish: new version takes all traffic, stable retires"
    if isinstance(strategy, BlueGreen):
        finish = f"finish: old version retires after {strategy.scale_down_delay:g}s"
    steps.append(PlannedStep(finish, "finish"))
    return steps


class RolloutFailed(Exception):
    """A step could not complete: the rollout must go back to the stable version."""

    def __init__(self, reason: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data or {}


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


@dataclass
class Rollout:
    """One deployment's rollout, driven step by step until it is done or has to go back."""

    ws: Workspace
    deployment_id: int
    target: Target
    spec: ServiceSpec
    strategy: Strategy
    replicas: int
    version: str
    version_env: tuple[tuple[str, str], ...]
    environment: str
    service: str
    on_line: Callable[[DeploymentStep, str], None]
    stable: str | None = None
    stable_env: tuple[tuple[str, str], ...] = ()
    state: dict[str, Any] = field(default_factory=dict)
    # One pool per rollout: providers that remember counters between measurements (envoy) keep them.
    providers: ProviderPool = field(default_factory=ProviderPool)
    background: AnalysisRun | None = None
    current_step: DeploymentStep | None = None
    background_history: list[MetricMeasurement] = field(default_factory=list)

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
            self._converge(step, self.desired(int(self.state.get("weight", 0)), full_scale=True), deadline)
        self._converge(step, self.desired(weight), deadline)
        self.state["weight"] = weight

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
            self.state["weight"] = weight
            if strategy.pause and number < len(batches):
                self.pause(step, strategy.pause, announce=False)

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
                if observed.error:
                    self._check_deadline(deadline, f"the target reports: {observed.error}")
            self._check_deadline(deadline, self._not_ready_reason(observed, new.replicas))
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

    def check_flags(self) -> None:
        """Read abort / promote requests another command wrote into the deployment row."""
        with self.ws.store.transaction() as session:
            row = session.get(Deployment, self.deployment_id)
            assert row is not None
            flags = dict(row.rollout or {})
        if flags.get("abort"):
            raise RolloutFailed(f"aborted by {flags.get('abort_by', 'a user')}", {"aborted": True})
        self.state["promote"] = flags.get("promote", 0)
        self.state["full"] = bool(flags.get("full"))
        self.state["paused"] = bool(flags.get("paused"))
        self.tick_background()

    def pause(self, step: DeploymentStep, duration: float | None, *, announce: bool = True) -> None:
        started = time.monotonic()
        seen_promote = self.state.get("promote", 0)
        if announce:
            self.on_line(
                step,
                f"paused for {duration:g}s"
                if duration
                else f"paused: run `clearance promote {self.deployment_id}` to continue",
            )
        while True:
            self.check_flags()
            if self.state.get("promote", 0) > seen_promote or self.state.get("full"):
                self.on_line(step, "promoted")
                return
            if duration is not None and time.monotonic() - started >= duration and not self.state["paused"]:
                return
            self.sleep()

    def hold_if_paused(self, step: DeploymentStep) -> None:
        """`clearance pause` holds the rollout before its next step until `clearance resume`."""
        self.check_flags()
        if not self.state.get("paused"):
            return
        self.on_line(step, f"paused on request: `clearance resume {self.deployment_id}` continues")
        while self.state.get("paused"):
            self.sleep()
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

    def start_background(self, template_name: str) -> None:
        """Argo's background analysis: measured all along the rollout, failing it at any step."""
        template = self.ws.config.analysis_template(template_name)
        assert template is not None
        self.background = AnalysisRun(
            template, self.analysis_variables(), self.providers, started_at=utcnow()
        )

    def tick_background(self, *, terminate: bool = False) -> None:
        run = self.background
        if run is None:
            return
        tick = run.tick(self.background_history, terminate=terminate)
        if tick.taken:
            self._store_measurements(None, run.template.name, tick.taken)
            self.background_history += tick.taken
        if tick.completed:
            self.background = None
            if tick.phase not in (AnalysisPhase.SUCCESSFUL, AnalysisPhase.INCONCLUSIVE):
                raise RolloutFailed(
                    f"background analysis {run.template.name} {tick.phase.value}: {tick.summary()}",
                    {"analysis": run.template.name, "phase": tick.phase.value, "background": True},
                )

    def analyse(self, step: DeploymentStep, template_name: str) -> None:
        """Run an analysis template against the new version; fail the rollout unless it succeeds.

        Every measurement is stored. An inconclusive result waits for a person: promote goes on,
        abort goes back."""
        template = self.ws.config.analysis_template(template_name)
        assert template is not None  # the config check refuses unknown templates
        variables = self.analysis_variables()
        run = AnalysisRun(template, variables, self.providers, started_at=utcnow())
        history: list[MetricMeasurement] = []
        while True:
            self.check_flags()
            tick = run.tick(history)
            if tick.taken:
                self._store_measurements(step, template.name, tick.taken)
                history += tick.taken
            if tick.completed:
                break
            wait = (tick.next_due - utcnow()).total_seconds() if tick.next_due else POLL_SECONDS
            end = time.monotonic() + max(0.0, wait)
            while time.monotonic() < end:
                self.check_flags()
                time.sleep(min(POLL_SECONDS, max(0.0, end - time.monotonic())))
        if tick.phase == AnalysisPhase.SUCCESSFUL:
            self.on_line(step, f"analysis {template.name}: successful")
            return
        values = [
            {
                "metric": m.metric,
                "phase": m.phase.value,
                "value": m.to_record()["value"]["result"],
                "error": m.error,
            }
            for m in history
        ]
        reason = f"analysis {template.name} {tick.phase.value}: {tick.summary()}"
        failing = [m for m in history if m.phase != AnalysisPhase.SUCCESSFUL]
        if failing:
            last = failing[-1]
            metric = template.metric(last.metric)
            shown = last.to_record()["value"]["result"] if last.value is not None else last.error
            rule = metric.success_condition or (
                f"not {metric.failure_condition}" if metric.failure_condition else ""
            )
            reason += f"; last {last.metric} = {shown}" + (f" (needs {rule})" if rule else "")
        if tick.phase == AnalysisPhase.INCONCLUSIVE:
            self.on_line(
                step,
                f"{reason} — waiting for a decision: `clearance promote {self.deployment_id}` "
                f"or `clearance abort {self.deployment_id}`",
            )
            self.pause(step, None)
            return
        raise RolloutFailed(
            reason, {"analysis": template.name, "phase": tick.phase.value, "measurements": values}
        )

    def _store_measurements(
        self, step: DeploymentStep | None, template: str, taken: list[MetricMeasurement]
    ) -> None:
        with self.ws.store.transaction() as session:
            for m in taken:
                session.add(
                    MeasurementRow(
                        deployment_id=self.deployment_id,
                        step_id=step.id if step else None,
                        analysis=template,
                        **m.to_record(),
                    )
                )
        shown_on = step or self.current_step
        for m in taken:
            if shown_on is None:
                continue
            shown = m.to_record()["value"]["result"]
            prefix = "" if step else f"background {template}: "
            self.on_line(
                shown_on,
                f"{prefix}{m.metric} = {shown} → {m.phase.value}" + (f" ({m.error})" if m.error else ""),
            )

    def sleep(self) -> None:
        time.sleep(POLL_SECONDS)

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


def advance_step_state(step: DeploymentStep, new: StepState) -> None:
    step.state = advance_step(StepState(step.state), new).value


@dataclass(frozen=True)
class RolloutOutcome:
    ok: bool
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def _stable_of(desired: DesiredState | None, version: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The version serving most traffic now: the one a rollout replaces and falls back to."""
    if desired is None or not desired.versions:
        return None, ()
    top = max(desired.versions, key=lambda v: v.weight)
    return (top.version, top.env) if top.version != version else (None, ())


def _mark(ws: Workspace, step_id: int, state: StepState, reason: str = "") -> DeploymentStep:
    with ws.store.transaction() as session:
        step = session.get(DeploymentStep, step_id)
        assert step is not None
        advance_step_state(step, state)
        now = utcnow()
        if state == StepState.RUNNING:
            step.started_at = now
        elif state in (StepState.SUCCEEDED, StepState.FAILED, StepState.CANCELLED):
            step.finished_at = now
        if reason:
            step.reason = reason
        return step


def _append_output(ws: Workspace, step_id: int, line: str) -> None:
    with ws.store.transaction() as session:
        step = session.get(DeploymentStep, step_id)
        assert step is not None
        step.output = (step.output + line + "\n")[-ws.settings.step_output_limit :]


def _save_state(ws: Workspace, deployment_id: int, state: dict[str, Any]) -> None:
    with ws.store.transaction() as session:
        row = session.get(Deployment, deployment_id)
        assert row is not None
        # Flags written by other commands (promote, abort, pause) are kept; progress is ours.
        row.rollout = {
            **(row.rollout or {}),
            **{k: v for k, v in state.items() if k in ("step", "weight", "stable")},
        }


def run_rollout(
    ws: Workspace,
    deployment: Deployment,
    target: Target,
    *,
    env: dict[str, str],
    on_step: Callable[[DeploymentStep, bool], None],
    on_line: Callable[[DeploymentStep, str], None],
) -> RolloutOutcome:
    """Drive the deployment's rollout steps to the end, or back to the stable version."""
    service = ws.config.service(deployment.service)
    environment = ws.config.environment(deployment.environment)
    assert service is not None and service.run is not None and environment is not None
    strategy = environment.strategy
    preview_port = strategy.preview_port if isinstance(strategy, BlueGreen) else None
    spec = service_spec(ws, service.run, deployment.environment, preview_port)
    current = target.desired(ws.config.project, deployment.environment, deployment.service)
    version = deployment.release.version
    stable, stable_env = _stable_of(current, version)

    def line(step: DeploymentStep, text: str) -> None:
        _append_output(ws, step.id, text)
        on_line(step, text)

    rollout = Rollout(
        ws=ws,
        deployment_id=deployment.id,
        target=target,
        spec=spec,
        strategy=strategy,
        replicas=service.run.replicas_for(deployment.environment),
        version=version,
        version_env=tuple(sorted(env.items())),
        environment=deployment.environment,
        service=deployment.service,
        on_line=line,
        stable=stable,
        stable_env=stable_env,
    )
    _save_state(ws, deployment.id, {"stable": stable})
    rows = [s for s in deployment.steps if s.kind != "script"]
    deadline = time.monotonic() + strategy.progress_deadline
    current_row: DeploymentStep | None = None
    try:
        for position, (row, action) in enumerate(zip(rows[:-1], actions(strategy), strict=True)):
            rollout.check_flags()
            if rollout.state.get("full") or stable is None:
                # Like Argo Rollouts: with no stable version there is nothing to shift traffic from.
                why = (
                    "promoted in full" if stable is not None else "first version here: goes straight to 100%"
                )
                _mark(ws, row.id, StepState.SKIPPED, why)
                continue
            current_row = rollout.current_step = _mark(ws, row.id, StepState.RUNNING)
            on_step(current_row, False)
            if isinstance(strategy, Canary) and strategy.background_analysis and position == 0:
                rollout.start_background(strategy.background_analysis.template)
            rollout.hold_if_paused(current_row)
            if action.kind == "set_weight":
                rollout.set_weight(current_row, action.arg, deadline)
            elif action.kind == "pause":
                rollout.pause(current_row, action.arg)
            elif action.kind == "analysis":
                rollout.analyse(current_row, action.arg)
            elif action.kind == "rolling":
                assert isinstance(strategy, Rolling)
                rollout.rolling(current_row, strategy, deadline)
            elif action.kind == "preview":
                rollout.converge(current_row, rollout.blue_green(switched=False), deadline)
            else:
                rollout.converge(current_row, rollout.blue_green(switched=True), deadline)
                rollout.state["weight"] = 100
            current_row = _mark(ws, row.id, StepState.SUCCEEDED)
            on_step(current_row, True)
            _save_state(ws, deployment.id, {"step": position + 1})
        current_row = rollout.current_step = _mark(ws, rows[-1].id, StepState.RUNNING)
        on_step(current_row, False)
        rollout.tick_background(terminate=True)  # its metrics without a count end successful here
        if isinstance(strategy, BlueGreen) and stable is not None:
            # The old version stays warm for an instant way back, then retires.
            rollout.pause(current_row, strategy.scale_down_delay, announce=False)
        # The agent stops the stable replicas only once Envoy no longer routes to them.
        rollout.set_weight(current_row, 100, deadline)
        current_row = _mark(ws, rows[-1].id, StepState.SUCCEEDED)
        on_step(current_row, True)
        return RolloutOutcome(True)
    except RolloutFailed as failure:
        if current_row is not None and current_row.state == StepState.RUNNING.value:
            current_row = _mark(ws, current_row.id, StepState.FAILED, failure.reason)
            on_step(current_row, True)
        for row in rows:
            with ws.store.transaction() as session:
                fresh = session.get(DeploymentStep, row.id)
                assert fresh is not None
                if fresh.state == StepState.PENDING.value:
                    advance_step_state(fresh, StepState.SKIPPED)
                    fresh.reason = "the rollout went back to the stable version"
        rollout.rollback()
        return RolloutOutcome(False, failure.reason, {**failure.data, "restored": stable})
