"""How a rollout ends, or why it stops early: the exceptions its steps raise and what the driver returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class RolloutFailed(Exception):
    """A step could not complete: the rollout must go back to the stable version."""

    def __init__(self, reason: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.data = data or {}


class RolloutSuspended(Exception):
    """The server driving the rollout is stopping: leave it as it is for the next one to resume."""


@dataclass(frozen=True)
class RolloutOutcome:
    ok: bool
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)
