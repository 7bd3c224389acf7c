"""The states a deployment and each of its steps go through, and the only changes allowed between them.

    queued    -> running | cancelled | failed
    running   -> succeeded | failed | cancelled
    succeeded -> rolled_back
    failed    -> rolled_back
    cancelled, rolled_back: final

The engine records every change through `advance`/`advance_step`, so a bug that would, say, revive
a cancelled deployment fails loudly instead of corrupting the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from clearance.errors import InvalidTransition


class DeploymentState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ROLLED_BACK = "rolled_back"


_DEPLOYMENT_TRANSITIONS: Mapping[DeploymentState, frozenset[DeploymentState]] = {
    # A queued deployment can fail before it runs, e.g. when its target cannot be reached.
    DeploymentState.QUEUED: frozenset(
        {DeploymentState.RUNNING, DeploymentState.CANCELLED, DeploymentState.FAILED}
    ),
    DeploymentState.RUNNING: frozenset(
        {DeploymentState.SUCCEEDED, DeploymentState.FAILED, DeploymentState.CANCELLED}
    ),
    # Rolling back restores the previous version after a finished deployment, good or bad.
    DeploymentState.SUCCEEDED: frozenset({DeploymentState.ROLLED_BACK}),
    DeploymentState.FAILED: frozenset({DeploymentState.ROLLED_BACK}),
    DeploymentState.CANCELLED: frozenset(),
    DeploymentState.ROLLED_BACK: frozenset(),
}

TERMINAL: frozenset[DeploymentState] = frozenset(
    {
        DeploymentState.SUCCEEDED,
        DeploymentState.FAILED,
        DeploymentState.CANCELLED,
        DeploymentState.ROLLED_BACK,
    }
)
"""States in which the deployment no longer runs (a rollback may still follow success or failure)."""

FINAL: frozenset[DeploymentState] = frozenset({DeploymentState.CANCELLED, DeploymentState.ROLLED_BACK})
"""States nothing can leave."""


def can_transition(current: DeploymentState, new: DeploymentState) -> bool:
    return new in _DEPLOYMENT_TRANSITIONS[current]


def advance(current: DeploymentState, new: DeploymentState) -> DeploymentState:
    """`new`, if a deployment in `current` may move to it; otherwise `InvalidTransition`."""
    if not can_transition(current, new):
        raise InvalidTransition(
            f"a deployment cannot go from {current} to {new}",
            hint=_allowed_hint("a deployment", current, _DEPLOYMENT_TRANSITIONS[current]),
            data={"from": str(current), "to": str(new)},
        )
    return new


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


_STEP_TRANSITIONS: Mapping[StepState, frozenset[StepState]] = {
    StepState.PENDING: frozenset({StepState.RUNNING, StepState.SKIPPED, StepState.CANCELLED}),
    StepState.RUNNING: frozenset({StepState.SUCCEEDED, StepState.FAILED, StepState.CANCELLED}),
    StepState.SUCCEEDED: frozenset(),
    StepState.FAILED: frozenset(),
    StepState.SKIPPED: frozenset(),
    StepState.CANCELLED: frozenset(),
}

STEP_TERMINAL: frozenset[StepState] = frozenset(
    {StepState.SUCCEEDED, StepState.FAILED, StepState.SKIPPED, StepState.CANCELLED}
)
"""Step states nothing can leave."""


def can_transition_step(current: StepState, new: StepState) -> bool:
    return new in _STEP_TRANSITIONS[current]


def advance_step(current: StepState, new: StepState) -> StepState:
    """`new`, if a step in `current` may move to it; otherwise `InvalidTransition`."""
    if not can_transition_step(current, new):
        raise InvalidTransition(
            f"a deployment step cannot go from {current} to {new}",
            hint=_allowed_hint("a step", current, _STEP_TRANSITIONS[current]),
            data={"from": str(current), "to": str(new)},
        )
    return new


def _allowed_hint(subject: str, current: StrEnum, allowed: frozenset[StrEnum]) -> str:
    if not allowed:
        return f"{current} is final: {subject} in it never changes state again"
    # Sorted by declaration order, so the hint reads in the order the states happen.
    order = list(type(current))
    names = ", ".join(str(state) for state in sorted(allowed, key=order.index))
    return f"from {current}, {subject} may only go to: {names}"
