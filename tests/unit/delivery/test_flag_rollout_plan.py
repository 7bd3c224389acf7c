"""The steps a flag-rollout deployment records up front and runs: the version goes in dark, then
the flag's share of users grows, and the finish takes the flag to 100 %."""

from __future__ import annotations

from clearance.delivery.strategies.plan import Action, PlannedStep, actions, plan
from clearance.project.rollout import AnalysisRef, FlagRollout, FlagRolloutStep, Pause


def _strategy() -> FlagRollout:
    return FlagRollout(
        type="flag-rollout",
        flag="new-checkout",
        steps=(
            FlagRolloutStep(set_rollout=5),
            FlagRolloutStep(pause=Pause(duration=30)),
            FlagRolloutStep(analysis=AnalysisRef(template="errors")),
            FlagRolloutStep(set_rollout=50),
            FlagRolloutStep(pause=Pause()),
        ),
    )


def test_the_version_goes_in_first_then_the_flag_moves_step_by_step() -> None:
    assert actions(_strategy()) == [
        Action("set_weight", "deploy: new version takes all traffic, dark behind its flag", 100),
        Action("set_rollout", "set flag rollout 5%", 5),
        Action("pause", "pause 30s", 30.0),
        Action("analysis", "analysis errors", "errors"),
        Action("set_rollout", "set flag rollout 50%", 50),
        Action("pause", "pause until promoted", None),
    ]


def test_the_plan_ends_with_the_flag_at_100_percent() -> None:
    steps = plan(_strategy())
    assert steps[-1] == PlannedStep("finish: the flag reaches 100%", "finish")
    assert [s.kind for s in steps] == [
        "set_weight",
        "set_rollout",
        "pause",
        "analysis",
        "set_rollout",
        "pause",
        "finish",
    ]


def test_a_service_without_run_walks_only_the_flag_steps() -> None:
    assert actions(_strategy(), runs=False) == actions(_strategy())[1:]
    steps = plan(_strategy(), runs=False)
    assert [s.kind for s in steps] == ["set_rollout", "pause", "analysis", "set_rollout", "pause", "finish"]
    assert steps[-1].name == "finish: the flag reaches 100%"
