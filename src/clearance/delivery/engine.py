"""The engine: takes a queued deployment, holds its lease and lock, runs its steps one by one and
records every state change, so the store always tells what happened — even if this process dies."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from clearance.audit.service import record
from clearance.delivery.leases import Heartbeat, fall_back_to_stable, release_lock, try_lock
from clearance.delivery.scripts import ScriptResult, run_script
from clearance.delivery.states import DeploymentState, StepState, advance, advance_step
from clearance.delivery.views import identity
from clearance.errors import ConfigError, DeploymentBusy, Interrupted, OperationFailed
from clearance.gates.changes.outcome import settle_change
from clearance.store import Deployment, DeploymentStep
from clearance.store.tables import utcnow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

_WAIT_POLL_SECONDS = 0.5


class Progress(Protocol):
    """What a front door shows while a deployment runs (the CLI draws it on stderr)."""

    def waiting(self, deployment: Deployment, holder: Deployment) -> None: ...
    def started(self, deployment: Deployment) -> None: ...
    def step_started(self, deployment: Deployment, step: DeploymentStep) -> None: ...
    def output(self, deployment: Deployment, step: DeploymentStep, line: str) -> None: ...
    def step_finished(self, deployment: Deployment, step: DeploymentStep) -> None: ...
    def finished(self, deployment: Deployment) -> None: ...


class NullProgress:
    def waiting(self, deployment: Deployment, holder: Deployment) -> None: ...
    def started(self, deployment: Deployment) -> None: ...
    def step_started(self, deployment: Deployment, step: DeploymentStep) -> None: ...
    def output(self, deployment: Deployment, step: DeploymentStep, line: str) -> None: ...
    def step_finished(self, deployment: Deployment, step: DeploymentStep) -> None: ...
    def finished(self, deployment: Deployment) -> None: ...


@dataclass(frozen=True)
class StepEnvironment:
    variables: dict[str, str]
    secrets: list[str]


def step_environment(ws: Workspace, deployment: Deployment) -> StepEnvironment:
    """The variables a script sees: the deployment's identity plus the environment's scoped ones."""
    variables = {
        "CLEARANCE_PROJECT": ws.config.project,
        "CLEARANCE_RELEASE_VERSION": deployment.release.version,
        "CLEARANCE_ENVIRONMENT": deployment.environment,
        "CLEARANCE_SERVICE": deployment.service,
        "CLEARANCE_DEPLOYMENT_ID": str(deployment.id),
    }
    secrets: list[str] = []
    missing: list[str] = []
    for variable in ws.config.variables_for(deployment.environment):
        if variable.is_secret:
            assert variable.secret_env is not None
            value = os.environ.get(variable.secret_env)
            if value is None:
                missing.append(f"{variable.name} (from ${variable.secret_env})")
                continue
            secrets.append(value)
        else:
            value = variable.value or ""
        variables[variable.name] = value
    if missing:
        raise ConfigError(
            [f"secret variable {m} is not set for environment '{deployment.environment}'" for m in missing],
            hint="export the named environment variables before deploying",
        )
    return StepEnvironment(variables, secrets)


def execute(
    ws: Workspace,
    deployment_id: int,
    *,
    wait: bool,
    progress: Progress,
    resume: bool = False,
    stop: threading.Event | None = None,
) -> Deployment:
    """Run one queued deployment — or resume a running one whose driver died — to its end (or, when
    `stop` is set during its rollout, until it is suspended for another worker) and return it."""
    with Heartbeat(ws.store, deployment_id, ws.settings.lease_seconds) as beat:
        _take_lock(ws, deployment_id, wait=wait, progress=progress)
        try:
            deployment = (_resume if resume else _start)(ws, deployment_id, progress)
            _run_steps(ws, deployment, progress, beat, stop)
        except (Interrupted, KeyboardInterrupt) as exc:
            _finish(ws, deployment_id, DeploymentState.CANCELLED, "interrupted by the user", progress)
            raise Interrupted(f"deployment {deployment_id} cancelled: interrupted") from exc
        except Exception as exc:
            # Whatever went wrong, the record must not say "running" for a deployment nobody runs.
            _finish(ws, deployment_id, DeploymentState.FAILED, f"error: {exc}", progress)
            raise
    with ws.store.transaction() as session:
        final = session.get(Deployment, deployment_id)
        assert final is not None
        _ = final.release, final.steps  # load what callers will read after the session closes
        return final


def _take_lock(ws: Workspace, deployment_id: int, *, wait: bool, progress: Progress) -> None:
    while True:
        with ws.store.transaction() as session:
            deployment = session.get(Deployment, deployment_id)
            assert deployment is not None
            holder = try_lock(session, deployment, lease_seconds=ws.settings.lease_seconds, actor=ws.actor)
            if holder is None:
                return
            if not wait:
                deployment.state = advance(DeploymentState.QUEUED, DeploymentState.CANCELLED).value
                deployment.reason = f"busy: deployment {holder.id} is {holder.state}"
                deployment.finished_at = utcnow()
                record(
                    session,
                    actor=ws.actor,
                    tag="deployment:cancelled",
                    subject=f"deployment:{deployment.id}",
                    data={"deployment_id": deployment.id, "reason": deployment.reason},
                )
                busy = DeploymentBusy(
                    f"{deployment.service} in {deployment.environment} is being deployed by "
                    f"deployment {holder.id} ({holder.state})",
                    hint="add --wait to queue behind it",
                    data={"running_deployment_id": holder.id},
                )
        if not wait:
            raise busy
        progress.waiting(deployment, holder)
        try:
            time.sleep(_WAIT_POLL_SECONDS)
        except KeyboardInterrupt as exc:
            _finish(ws, deployment_id, DeploymentState.CANCELLED, "interrupted while waiting", NullProgress())
            raise Interrupted(f"deployment {deployment_id} cancelled while waiting") from exc


def _start(ws: Workspace, deployment_id: int, progress: Progress) -> Deployment:
    with ws.store.transaction() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        deployment.state = advance(DeploymentState(deployment.state), DeploymentState.RUNNING).value
        deployment.started_at = utcnow()
        record(
            session,
            actor=ws.actor,
            tag="deployment:started",
            subject=f"deployment:{deployment.id}",
            data=identity(deployment),
        )
        _ = deployment.steps
    progress.started(deployment)
    return deployment


def _resume(ws: Workspace, deployment_id: int, progress: Progress) -> Deployment:
    with ws.store.transaction() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        record(
            session,
            actor=ws.actor,
            tag="deployment:resumed",
            subject=f"deployment:{deployment.id}",
            data={
                **identity(deployment),
                "step": (deployment.rollout or {}).get("step", 0),
            },
        )
        _ = deployment.steps
    progress.started(deployment)
    return deployment


def _run_steps(
    ws: Workspace,
    deployment: Deployment,
    progress: Progress,
    beat: Heartbeat,
    stop: threading.Event | None = None,
) -> None:
    env = step_environment(ws, deployment)
    base_env = {**os.environ, **env.variables}
    pending = [s for s in deployment.steps if s.kind == "script" and s.state != StepState.SUCCEEDED.value]
    for step_row in pending:
        if beat.lost.is_set():
            # Our lease ran out (the process stalled) and another command failed the deployment as
            # interrupted: running more steps now would act on a deployment the record says is over.
            raise OperationFailed(
                f"deployment {deployment.id} lost its lease; stopped before '{step_row.name}'"
            )
        config_step = next(
            (
                s
                for s in ws.config.steps_for(deployment.environment, deployment.service)
                if s.name == step_row.name
            ),
            None,
        )
        if config_step is None:
            _finish(
                ws,
                deployment.id,
                DeploymentState.FAILED,
                f"step '{step_row.name}' is no longer in clearance.yaml",
                progress,
            )
            return
        step = _update_step(ws, step_row.id, StepState.RUNNING, started=True)
        progress.step_started(deployment, step)
        cwd = ws.root / config_step.working_dir if config_step.working_dir else ws.root
        result = run_script(
            config_step.script,
            cwd=cwd,
            env=base_env,
            timeout=config_step.timeout_seconds,
            secrets=env.secrets,
            output_limit=ws.settings.step_output_limit,
            on_line=_forward(progress, deployment, step),
        )
        step = _record_step(ws, step_row.id, result, config_step.timeout_seconds)
        progress.step_finished(deployment, step)
        if not result.ok:
            _skip_rest(ws, deployment.id)
            _finish(ws, deployment.id, DeploymentState.FAILED, f"step '{step.name}' {step.reason}", progress)
            return
    if deployment.strategy:
        _roll_out(ws, deployment, env.variables, progress, stop)
        return
    _finish(ws, deployment.id, DeploymentState.SUCCEEDED, "", progress)


def _roll_out(
    ws: Workspace,
    deployment: Deployment,
    variables: dict[str, str],
    progress: Progress,
    stop: threading.Event | None,
) -> None:
    """Replace the running version by the strategy's steps; on failure, end rolled back to stable."""
    from clearance.delivery.outcomes import RolloutSuspended
    from clearance.delivery.rollout_run import run_rollout
    from clearance.delivery.targets.local import local_target

    try:
        outcome = run_rollout(
            ws,
            deployment,
            lambda: local_target(ws),  # a flag-only service (no `run:`) needs no target
            env=variables,
            on_step=lambda step, done: (progress.step_finished if done else progress.step_started)(
                deployment, step
            ),
            on_line=lambda step, line: progress.output(deployment, step, line),
            stop=stop,
        )
    except RolloutSuspended:
        _suspend(ws, deployment.id)
        return
    if outcome.ok:
        _finish(ws, deployment.id, DeploymentState.SUCCEEDED, "", progress)
        return
    # Said once it is rolled back, so the command driving it ends as every view tells it.
    _finish(ws, deployment.id, DeploymentState.FAILED, outcome.reason, NullProgress())
    with ws.store.transaction() as session:
        row = session.get(Deployment, deployment.id)
        assert row is not None
        row.state = advance(DeploymentState(row.state), DeploymentState.ROLLED_BACK).value
        # A flag-only service ran nothing and restores nothing: its kill switch says it all.
        restored = f"; rolled back to {outcome.data.get('restored') or 'nothing'}"
        row.reason = outcome.reason + (restored if "restored" in outcome.data else "")
        record(
            session,
            actor=ws.actor,
            tag="deployment:rolled-back",
            subject=f"deployment:{row.id}",
            data={
                "deployment_id": row.id,
                "version": row.release.version,
                "environment": row.environment,
                "service": row.service,
                "automatic": True,
                "reason": outcome.reason,
                **outcome.data,
            },
        )
    progress.finished(row)


def _suspend(ws: Workspace, deployment_id: int) -> None:
    """Stop driving a rollout without ending it: the next free server worker resumes it."""
    with ws.store.transaction() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        deployment.lease_owner, deployment.lease_expires_at = None, None
        deployment.rollout = {**(deployment.rollout or {}), "server": True}
        record(
            session,
            actor=ws.actor,
            tag="deployment:suspended",
            subject=f"deployment:{deployment.id}",
            data={
                "deployment_id": deployment.id,
                "environment": deployment.environment,
                "service": deployment.service,
                "step": (deployment.rollout or {}).get("step", 0),
            },
        )


def _forward(progress: Progress, deployment: Deployment, step: DeploymentStep) -> Callable[[str], None]:
    return lambda line: progress.output(deployment, step, line)


def _update_step(ws: Workspace, step_id: int, state: StepState, *, started: bool = False) -> DeploymentStep:
    with ws.store.transaction() as session:
        step = session.get(DeploymentStep, step_id)
        assert step is not None
        step.state = advance_step(StepState(step.state), state).value
        if started:
            step.started_at = utcnow()
        return step


def _record_step(ws: Workspace, step_id: int, result: ScriptResult, timeout: float) -> DeploymentStep:
    with ws.store.transaction() as session:
        step = session.get(DeploymentStep, step_id)
        assert step is not None
        new = StepState.SUCCEEDED if result.ok else StepState.FAILED
        step.state = advance_step(StepState(step.state), new).value
        step.exit_code = result.exit_code
        step.output, step.output_truncated = result.output, result.truncated
        step.finished_at = utcnow()
        if result.start_error is not None:
            step.reason = f"could not start: {result.start_error}"
        elif result.timed_out:
            step.reason = f"timed out after {timeout:g}s"
        elif not result.ok:
            step.reason = f"exited with code {result.exit_code}"
        return step


def _skip_rest(ws: Workspace, deployment_id: int) -> None:
    with ws.store.transaction() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        for step in deployment.steps:
            if step.state == StepState.PENDING.value:
                step.state = advance_step(StepState.PENDING, StepState.SKIPPED).value
                step.reason = "an earlier step failed"


def _finish(
    ws: Workspace, deployment_id: int, state: DeploymentState, reason: str, progress: Progress
) -> None:
    with ws.store.transaction() as session:
        deployment = session.get(Deployment, deployment_id)
        assert deployment is not None
        if DeploymentState(deployment.state) in (DeploymentState.QUEUED, DeploymentState.RUNNING):
            deployment.state = advance(DeploymentState(deployment.state), state).value
            deployment.reason = reason
            deployment.finished_at = utcnow()
            for step in deployment.steps:
                if step.state == StepState.RUNNING.value:
                    step.state = advance_step(StepState.RUNNING, StepState.CANCELLED).value
                    step.reason, step.finished_at = reason, utcnow()
                elif step.state == StepState.PENDING.value:
                    step.state = advance_step(StepState.PENDING, StepState.CANCELLED).value
                    step.reason = reason
            if state != DeploymentState.SUCCEEDED and deployment.strategy:
                # Whoever stops a rollout early leaves no traffic split behind.
                fall_back_to_stable(session, deployment)
            tag = {
                "succeeded": "deployment:succeeded",
                "failed": "deployment:failed",
                "cancelled": "deployment:cancelled",
            }[state.value]
            record(
                session,
                actor=ws.actor,
                tag=tag,
                subject=f"deployment:{deployment.id}",
                data={
                    **identity(deployment),
                    "reason": reason,
                },
            )
            if deployment.change_request_id is not None:
                settle_change(session, ws.actor, deployment.change_request_id)
        deployment.lease_owner, deployment.lease_expires_at = None, None
        release_lock(session, deployment)
        _ = deployment.release, deployment.steps
    progress.finished(deployment)
