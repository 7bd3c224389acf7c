"""Driving a deployment's rollout steps to the end — or back to the stable version — and resuming a
rollout whose driver died, from the steps and progress recorded in the store. A flag-only service
(no `run:`) in a flag-rollout environment walks only its flag's steps; its way back is the kill switch.

A resumed rollout skips the steps that ended, runs again the one that was running (every step is an
idempotent reconcile), and goes back to stable when it cannot resume safely: clearance.yaml no
longer plans the same steps, or the driver died while going back already.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clearance.delivery.flag_switch import FlagSwitch
from clearance.delivery.outcomes import RolloutFailed, RolloutOutcome
from clearance.delivery.rollout import Rollout, service_spec
from clearance.delivery.states import StepState, advance_step
from clearance.delivery.steering import Steering
from clearance.delivery.strategies.plan import Action, actions
from clearance.delivery.targets.base import DesiredState, Target
from clearance.project.rollout import BlueGreen, Canary, FlagRollout, Rolling
from clearance.store import Deployment, DeploymentStep
from clearance.store.tables import utcnow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

_DONE = (StepState.SUCCEEDED.value, StepState.SKIPPED.value)


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
        if step.state != state.value:
            step.state = advance_step(StepState(step.state), state).value
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


def _skip_pending(ws: Workspace, rows: list[DeploymentStep]) -> None:
    with ws.store.transaction() as session:
        for row in rows:
            fresh = session.get(DeploymentStep, row.id)
            assert fresh is not None
            if fresh.state == StepState.PENDING.value:
                fresh.state = advance_step(StepState.PENDING, StepState.SKIPPED).value
                fresh.reason = "the rollout went back to the stable version"


def _check_plan(rows: list[DeploymentStep], planned: list[Action]) -> None:
    """A resumed rollout runs the steps the deployment recorded; if clearance.yaml now plans other
    ones, no step can be trusted to mean what it meant: go back."""
    names = [row.name for row in rows[:-1]]
    if names != [a.name for a in planned]:
        raise RolloutFailed(
            "cannot resume: clearance.yaml no longer plans the steps this rollout started with",
            {"recorded": names, "planned": [a.name for a in planned]},
        )


def _steering(
    ws: Workspace,
    deployment: Deployment,
    target: Callable[[], Target],
    env: dict[str, str],
    line: Callable[[DeploymentStep, str], None],
    stop: threading.Event | None,
) -> Steering:
    """A `run:` service's rollout moves traffic on its target; a flag-only one (no `run:`) moves
    only its flag, so it needs no target, no replicas and no stable version."""
    service = ws.config.service(deployment.service)
    environment = ws.config.environment(deployment.environment)
    assert service is not None and environment is not None
    strategy = environment.strategy
    saved: dict[str, Any] = dict(deployment.rollout or {})
    version = deployment.release.version
    state: dict[str, Any] = {
        k: saved[k] for k in ("weight", "pause", "analysis", "flag_percent") if k in saved
    }
    if service.run is None:
        return Steering(
            ws=ws,
            deployment_id=deployment.id,
            strategy=strategy,
            version=version,
            environment=deployment.environment,
            service=deployment.service,
            on_line=line,
            state=state,
            stop=stop,
        )
    traffic = target()
    if "stable" in saved:  # resumed: the stable version is the one recorded when it began
        stable, stable_env = saved["stable"], tuple((k, v) for k, v in saved.get("stable_env") or ())
    else:
        current = traffic.desired(ws.config.project, deployment.environment, deployment.service)
        stable, stable_env = _stable_of(current, version)
    preview_port = strategy.preview_port if isinstance(strategy, BlueGreen) else None
    rollout = Rollout(
        ws=ws,
        deployment_id=deployment.id,
        target=traffic,
        spec=service_spec(ws, service.run, deployment.environment, preview_port),
        strategy=strategy,
        replicas=service.run.replicas_for(deployment.environment),
        version=version,
        version_env=tuple(sorted(env.items())),
        environment=deployment.environment,
        service=deployment.service,
        on_line=line,
        stable=stable,
        stable_env=stable_env,
        state=state,
        stop=stop,
    )
    rollout.save(stable=stable, stable_env=[list(p) for p in stable_env])
    return rollout


def run_rollout(
    ws: Workspace,
    deployment: Deployment,
    target: Callable[[], Target],
    *,
    env: dict[str, str],
    on_step: Callable[[DeploymentStep, bool], None],
    on_line: Callable[[DeploymentStep, str], None],
    stop: threading.Event | None = None,
) -> RolloutOutcome:
    """Drive the deployment's rollout steps to the end, or back to the stable version. `target`
    gives the target the traffic moves on (only asked for when the service has `run:`)."""

    def line(step: DeploymentStep, text: str) -> None:
        _append_output(ws, step.id, text)
        on_line(step, text)

    rollout = _steering(ws, deployment, target, env, line, stop)
    runs = isinstance(rollout, Rollout)
    stable = rollout.stable if isinstance(rollout, Rollout) else None
    strategy = rollout.strategy
    switch = _flag_switch(ws, deployment, rollout)
    rows = [s for s in deployment.steps if s.kind != "script"]
    deadline = time.monotonic() + strategy.progress_deadline
    current_row: DeploymentStep | None = None
    try:
        saved = deployment.rollout or {}
        if saved.get("rolling_back"):
            raise RolloutFailed(saved["rolling_back"], saved.get("rolling_back_data") or {})
        planned = actions(strategy, runs=runs)
        _check_plan(rows, planned)
        for position, (row, action) in enumerate(zip(rows[:-1], planned, strict=True)):
            if row.state in _DONE:
                continue
            rollout.check_flags()
            why = _skipped_because(rollout, switch, stable, action)
            if why:
                _mark(ws, row.id, StepState.SKIPPED, why)
                continue
            resumed = row.state == StepState.RUNNING.value
            current_row = rollout.analysis.current_step = _mark(ws, row.id, StepState.RUNNING)
            on_step(current_row, False)
            if resumed:
                line(current_row, "resumed after the previous driver stopped")
            if (
                isinstance(strategy, Canary | FlagRollout)
                and strategy.background_analysis
                and rollout.analysis.background is None
            ):
                rollout.analysis.start_background(strategy.background_analysis.template)
            rollout.hold_if_paused(current_row)
            _run_action(rollout, switch, current_row, action, deadline)
            current_row = _mark(ws, row.id, StepState.SUCCEEDED)
            on_step(current_row, True)
            rollout.save(step=position + 1)
        if rows[-1].state == StepState.SUCCEEDED.value:
            return RolloutOutcome(True)  # the driver died after the last step, before recording the end
        current_row = rollout.analysis.current_step = _mark(ws, rows[-1].id, StepState.RUNNING)
        on_step(current_row, False)
        _finish(rollout, switch, current_row, deadline)
        current_row = _mark(ws, rows[-1].id, StepState.SUCCEEDED)
        on_step(current_row, True)
        return RolloutOutcome(True)
    except RolloutFailed as failure:
        # Recorded first: a driver that dies while going back leaves the next one going back too.
        rollout.save(rolling_back=failure.reason, rolling_back_data=failure.data)
        if current_row is not None and current_row.state == StepState.RUNNING.value:
            current_row = _mark(ws, current_row.id, StepState.FAILED, failure.reason)
            on_step(current_row, True)
        _skip_pending(ws, rows)
        return _go_back(rollout, switch, failure)


def _finish(rollout: Steering, switch: FlagSwitch | None, row: DeploymentStep, deadline: float) -> None:
    """The last step: the new version takes all traffic (if it runs here), the flag reaches 100 %."""
    rollout.analysis.tick_background(terminate=True)  # its metrics without a count end successful
    if isinstance(rollout, Rollout):
        if isinstance(rollout.strategy, BlueGreen) and rollout.stable is not None:
            # The old version stays warm for an instant way back, then retires.
            rollout.pause(row, rollout.strategy.scale_down_delay, announce=False)
        # The agent stops the stable replicas only once Envoy no longer routes to them.
        rollout.set_weight(row, 100, deadline)
    if switch is not None:
        switch.set(row, 100)


def _go_back(rollout: Steering, switch: FlagSwitch | None, failure: RolloutFailed) -> RolloutOutcome:
    """The kill switch first: users leave the new code path at the next SDK refresh, long before
    the old version's replicas take the traffic back. A flag-only service has nothing else to undo."""
    try:
        killed = switch is not None and switch.kill(failure.reason, failure.data)
    finally:
        rollout.rollback()  # even when the flag could not be changed
    reason, data = failure.reason, dict(failure.data)
    if switch is not None:
        data.update(flag=switch.flag, flag_switched_off=killed)
        reason += f"; flag {switch.flag} switched off (0%)" if killed else ""
    if isinstance(rollout, Rollout):
        data["restored"] = rollout.stable
    return RolloutOutcome(False, reason, data)


def _skipped_because(rollout: Steering, switch: FlagSwitch | None, stable: str | None, action: Action) -> str:
    if rollout.state.get("full"):
        return "promoted in full"
    if isinstance(rollout.strategy, FlagRollout):
        if switch is None and action.kind != "set_weight":
            return "a rollback redeploys the version and leaves flags alone"
        return ""  # the flag's steps run even for the first version here
    # Like Argo Rollouts: with no stable version there is nothing to shift traffic from.
    return "first version here: goes straight to 100%" if stable is None else ""


def _flag_switch(ws: Workspace, deployment: Deployment, rollout: Steering) -> FlagSwitch | None:
    """The flag of a flag-rollout deployment, chosen and recorded when it was queued."""
    if not isinstance(rollout.strategy, FlagRollout) or not (deployment.rollout or {}).get("flag"):
        return None
    return FlagSwitch(
        ws=ws,
        deployment_id=deployment.id,
        flag=str((deployment.rollout or {})["flag"]),
        environment=deployment.environment,
        on_line=rollout.on_line,
        save=rollout.save,
        state=rollout.state,
    )


def _run_action(
    rollout: Steering, switch: FlagSwitch | None, row: DeploymentStep, action: Action, deadline: float
) -> None:
    if action.kind == "set_rollout":
        assert switch is not None
        switch.set(row, action.arg)
    elif action.kind == "pause":
        rollout.pause(row, action.arg)
    elif action.kind == "analysis":
        rollout.analysis.run(row, action.arg)
    else:
        assert isinstance(rollout, Rollout)  # a flag-only rollout moves no traffic
        _move_traffic(rollout, row, action, deadline)


def _move_traffic(rollout: Rollout, row: DeploymentStep, action: Action, deadline: float) -> None:
    if action.kind == "set_weight":
        rollout.set_weight(row, action.arg, deadline)
    elif action.kind == "rolling":
        assert isinstance(rollout.strategy, Rolling)
        rollout.rolling(row, rollout.strategy, deadline)
    elif action.kind == "preview":
        rollout.converge(row, rollout.blue_green(switched=False), deadline)
    else:
        rollout.converge(row, rollout.blue_green(switched=True), deadline)
        rollout.save(weight=100)
