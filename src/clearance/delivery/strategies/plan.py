"""The ordered steps each strategy takes, as pure data: what a deployment records up front (so
`deployment show` lists them all) and what the rollout driver runs one by one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clearance.project.rollout import (
    AllAtOnce,
    BlueGreen,
    Canary,
    CanaryStep,
    FlagRollout,
    FlagRolloutStep,
    Rolling,
    Strategy,
)

FLAG_DEPLOY = "deploy: new version takes all traffic, dark behind its flag"
FLAG_FINISH = "finish: the flag reaches 100%"


@dataclass(frozen=True)
class PlannedStep:
    name: str
    kind: str  # set_weight | set_rollout | pause | analysis | finish


@dataclass(frozen=True)
class Action:
    """One rollout step to run: set_weight (arg: %), set_rollout (arg: the flag's %), pause (arg: seconds or None = until promoted),
    analysis (arg: template), preview (blue-green: new version on the preview port), switch
    (blue-green: 100 % at once, old kept warm)."""

    kind: str
    name: str
    arg: Any = None


def _step_action(step: CanaryStep | FlagRolloutStep) -> Action:
    if isinstance(step, CanaryStep) and step.set_weight is not None:
        return Action("set_weight", step.describe(), step.set_weight)
    if isinstance(step, FlagRolloutStep) and step.set_rollout is not None:
        return Action("set_rollout", step.describe(), step.set_rollout)
    if step.pause is not None:
        return Action("pause", step.describe(), step.pause.duration)
    assert step.analysis is not None
    return Action("analysis", step.describe(), step.analysis.template)


def actions(strategy: Strategy, *, runs: bool = True) -> list[Action]:
    """The steps to run; `runs` is False for a service without `run:` (only a flag-rollout has
    steps for it: the flag's, as nothing is deployed)."""
    if isinstance(strategy, Canary):
        return [_step_action(step) for step in strategy.steps]
    if isinstance(strategy, FlagRollout):
        flag_steps = [_step_action(step) for step in strategy.steps]
        # The code goes out first, all at once and dark; then the flag lets users in.
        return [Action("set_weight", FLAG_DEPLOY, 100), *flag_steps] if runs else flag_steps
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


def plan(strategy: Strategy, *, runs: bool = True) -> list[PlannedStep]:
    """The rollout steps a deployment records up front, so `deployment show` lists them all."""
    steps = [PlannedStep(a.name, a.kind) for a in actions(strategy, runs=runs)]
    finish = "finish: new version takes all traffic, stable retires"
    if isinstance(strategy, BlueGreen):
        finish = f"finish: old version retires after {strategy.scale_down_delay:g}s"
    elif isinstance(strategy, FlagRollout):
        finish = FLAG_FINISH
    steps.append(PlannedStep(finish, "finish"))
    return steps
