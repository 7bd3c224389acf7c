"""`clearance abort|pause|resume DEPLOYMENT`: steer a running rollout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from clearance.cli.options import Actor, ConfigPath, Json
from clearance.cli.output import emit_json, err
from clearance.delivery import interventions
from clearance.delivery.views import deployment_summary
from clearance.store import Deployment
from clearance.workspace import Workspace, open_workspace

DeploymentId = Annotated[int, typer.Argument(help="The deployment's id.")]


def _steer(
    action: str,
    call: Callable[[Workspace, int], Deployment],
    deployment_id: int,
    actor: str | None,
    config: object,
    as_json: bool,
) -> None:
    ws = open_workspace(config, actor=actor)  # type: ignore[arg-type]
    deployment = call(ws, deployment_id)
    if as_json:
        emit_json({"deployment": deployment_summary(deployment), "requested": action})
    else:
        err().print(f"{action} of deployment {deployment.id} requested")


def abort(
    deployment_id: DeploymentId, actor: Actor = None, config: ConfigPath = None, as_json: Json = False
) -> None:
    """Send all traffic back to the stable version and stop the new one."""
    _steer("abort", interventions.abort, deployment_id, actor, config, as_json)


def pause(
    deployment_id: DeploymentId, actor: Actor = None, config: ConfigPath = None, as_json: Json = False
) -> None:
    """Hold a rollout before its next step."""
    _steer("pause", interventions.pause, deployment_id, actor, config, as_json)


def resume(
    deployment_id: DeploymentId, actor: Actor = None, config: ConfigPath = None, as_json: Json = False
) -> None:
    """Let a paused rollout go on."""
    _steer("resume", interventions.resume, deployment_id, actor, config, as_json)
