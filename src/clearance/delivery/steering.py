"""Steering a rollout: what every rollout does whatever it moves (traffic or a feature flag) —
record its progress in the deployment row, read the promote / abort / pause requests other commands
write there, pause, wait for a person's decision, and run its analyses.

`Rollout` (rollout.py) adds the traffic of a `run:` service; a flag-only service (no `run:`) is
steered by this class alone: nothing runs, so nothing is rolled back but its flag.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clearance.delivery.analysis.rollout_analysis import RolloutAnalysis
from clearance.delivery.outcomes import RolloutFailed, RolloutSuspended
from clearance.project.rollout import Strategy
from clearance.store import Deployment, DeploymentStep

if TYPE_CHECKING:
    from clearance.workspace import Workspace

POLL_SECONDS = 0.2


@dataclass(kw_only=True)
class Steering:
    """One deployment's rollout steps, steered by the requests recorded in its row."""

    ws: Workspace
    deployment_id: int
    strategy: Strategy
    version: str
    environment: str
    service: str
    on_line: Callable[[DeploymentStep, str], None]
    state: dict[str, Any] = field(default_factory=dict)
    stop: threading.Event | None = None  # set when the server stops: suspend, another resumes
    analysis: RolloutAnalysis = field(init=False)

    def __post_init__(self) -> None:
        self.analysis = RolloutAnalysis(
            ws=self.ws,
            deployment_id=self.deployment_id,
            variables=self.analysis_variables,
            on_line=self.on_line,
            check=self.check_flags,
            decide=self.wait_for_decision,
            save=self.save,
            state=self.state,
        )

    def check_flags(self) -> None:
        """Read abort / promote requests another command wrote into the deployment row."""
        with self.ws.store.transaction() as session:
            row = session.get(Deployment, self.deployment_id)
            assert row is not None
            flags = dict(row.rollout or {})
        if flags.get("abort"):
            raise RolloutFailed(f"aborted by {flags.get('abort_by', 'a user')}", {"aborted": True})
        if self.stop is not None and self.stop.is_set():
            raise RolloutSuspended()
        self.state["promote"] = flags.get("promote", 0)
        self.state["full"] = bool(flags.get("full"))
        self.state["paused"] = bool(flags.get("paused"))
        self.analysis.tick_background()

    def pause(self, step: DeploymentStep, duration: float | None, *, announce: bool = True) -> None:
        """Wait `duration` seconds (None: until promoted). When it began is recorded, so a resumed
        rollout waits only for what is left, and a promote given meanwhile still counts."""
        self.check_flags()
        began = self.state.get("pause") or {}
        if began.get("step") != step.id:
            began = {"step": step.id, "at": time.time(), "promote": self.state.get("promote", 0)}
            self.save(pause=began)
            if announce:
                self.on_line(
                    step,
                    f"paused for {duration:g}s"
                    if duration
                    else f"paused: run `clearance promote {self.deployment_id}` to continue",
                )
        while True:
            self.check_flags()
            if self.state.get("promote", 0) > began["promote"] or self.state.get("full"):
                self.on_line(step, "promoted")
                break
            if duration is not None and time.time() - began["at"] >= duration and not self.state["paused"]:
                break
            self.sleep()
        self.save(pause=None)

    def wait_for_decision(self, step: DeploymentStep, reason: str) -> None:
        self.on_line(
            step,
            f"{reason} — waiting for a decision: `clearance promote {self.deployment_id}` "
            f"or `clearance abort {self.deployment_id}`",
        )
        self.pause(step, None, announce=False)

    def save(self, **progress: Any) -> None:
        """Record progress in the deployment row; requests other commands wrote there are kept."""
        self.state.update(progress)
        with self.ws.store.transaction() as session:
            row = session.get(Deployment, self.deployment_id)
            assert row is not None
            row.rollout = {**(row.rollout or {}), **progress}

    def hold_if_paused(self, step: DeploymentStep) -> None:
        """`clearance pause` holds the rollout before its next step until `clearance resume`."""
        self.check_flags()
        if not self.state.get("paused"):
            return
        self.on_line(step, f"paused on request: `clearance resume {self.deployment_id}` continues")
        while self.state.get("paused"):
            self.sleep()
            self.check_flags()

    def sleep(self) -> None:
        time.sleep(POLL_SECONDS)

    def analysis_variables(self) -> dict[str, str]:
        """Nothing runs here: no proxy, no clusters, no stable version to compare with."""
        return {
            "project": self.ws.config.project,
            "service": self.service,
            "environment": self.environment,
            "version": self.version,
            "baseline_version": "",
            "cluster": "",
            "baseline_cluster": "",
            "proxy_admin_url": "",
        }

    def rollback(self) -> None:
        """Nothing runs, so nothing goes back: the flag's kill switch is the whole way back."""
