"""Live progress of deployments on stderr: one line per event, the scripts' output indented."""

from __future__ import annotations

import time

from rich.markup import escape

from clearance.cli.output import err, state_text
from clearance.store import Deployment, DeploymentStep


class ConsoleProgress:
    def __init__(self, *, show_output: bool = True) -> None:
        self._console = err()
        self._show_output = show_output
        self._waiting_on: int | None = None
        self._step_started = 0.0

    def waiting(self, deployment: Deployment, holder: Deployment) -> None:
        if self._waiting_on != holder.id:
            self._waiting_on = holder.id
            self._console.print(
                f"[cyan]…[/] deployment {deployment.id} waits for deployment {holder.id} "
                f"({holder.state}) on {escape(deployment.service)} in {escape(deployment.environment)}"
            )

    def started(self, deployment: Deployment) -> None:
        kind = "rollback" if deployment.kind == "rollback" else "deployment"
        self._console.print(
            f"[bold blue]▶[/] {kind} {deployment.id}: {escape(deployment.service)} "
            f"[bold]{escape(deployment.release.version)}[/] → {escape(deployment.environment)}"
        )
        if not deployment.steps:
            self._console.print("  [dim](no steps configured for this environment and service)[/]")

    def step_started(self, deployment: Deployment, step: DeploymentStep) -> None:
        self._step_started = time.monotonic()
        self._console.print(f"  [blue]▶[/] step {escape(step.name)}")

    def output(self, deployment: Deployment, step: DeploymentStep, line: str) -> None:
        if self._show_output:
            self._console.print(f"    [dim]│[/] {escape(line)}", soft_wrap=True)

    def step_finished(self, deployment: Deployment, step: DeploymentStep) -> None:
        took = time.monotonic() - self._step_started
        reason = f" — {escape(step.reason)}" if step.reason else ""
        self._console.print(f"  {state_text(step.state)} step {escape(step.name)} ({took:.1f}s){reason}")

    def finished(self, deployment: Deployment) -> None:
        reason = f" — {escape(deployment.reason)}" if deployment.reason else ""
        self._console.print(
            f"{state_text(deployment.state, deployment.reason)} deployment {deployment.id}{reason}"
        )
