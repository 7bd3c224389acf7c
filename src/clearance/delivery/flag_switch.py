"""The feature flag a `flag-rollout` deployment moves: its share of users set step by step in the
deployment's environment (each change audited with the deployment), and the kill switch.

"Set the rollout to N %" is idempotent and never lowers a higher share: a resumed step that finds the flag already there changes
nothing and audits nothing. The share the deployment has set is recorded in its row, so a driver
that takes over knows whether the kill switch has anything to switch off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clearance.flags import service as flags
from clearance.flags.release_links import share_of
from clearance.store import DeploymentStep

if TYPE_CHECKING:
    from clearance.workspace import Workspace


@dataclass
class FlagSwitch:
    ws: Workspace
    deployment_id: int
    flag: str
    environment: str
    on_line: Callable[[DeploymentStep, str], None]
    save: Callable[..., None]  # records progress in the deployment row (see Rollout.save)
    state: dict[str, Any]  # the rollout's recorded progress

    def _current(self) -> tuple[int | None, dict[str, Any]]:
        view = flags.show_flag(self.ws, self.flag).environments[self.environment]
        first = view.strategies[0] if view.strategies else {}
        params = first.get("parameters", {}) if first.get("name") == "flexibleRollout" else {}
        return share_of(view.enabled, view.strategies), params

    def set(self, step: DeploymentStep, percent: int) -> None:
        """The flag on for `percent` % of the users of this environment, bucketed as it was before.
        A share already higher stays (several services of one environment may share the flag: a
        later deployment never takes users away that an earlier one let in)."""
        share, params = self._current()
        if share is not None and share > percent:
            self.save(flag_percent=share)
            self.on_line(step, f"flag {self.flag}: already on for {share}% of users in {self.environment}")
            return
        if not (share == percent and params.get("rollout") == str(percent)):
            flags.set_rollout(
                self.ws,
                self.flag,
                self.environment,
                percent,
                stickiness=params.get("stickiness", "default"),
                group_id=params.get("groupId"),
                enable=True,
                context={"deployment_id": self.deployment_id, "step": step.name},
            )
        self.save(flag_percent=percent)
        self.on_line(step, f"flag {self.flag}: on for {percent}% of users in {self.environment}")

    def kill(self, reason: str, data: dict[str, Any]) -> bool:
        """Back to 0 % if this deployment let anyone in; True when it did (audited with `data`)."""
        if not self.state.get("flag_percent"):
            return False
        flags.kill_switch(
            self.ws,
            self.flag,
            self.environment,
            context={"deployment_id": self.deployment_id, "reason": reason, **data},
        )
        self.save(flag_percent=0)
        return True
