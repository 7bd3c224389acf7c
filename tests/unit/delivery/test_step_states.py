"""Each step of a deployment: pending, then run or skipped, then an outcome that never changes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from clearance.delivery.states import STEP_TERMINAL, StepState, advance_step, can_transition_step
from clearance.errors import InvalidTransition

S = StepState
ALLOWED = {
    (S.PENDING, S.RUNNING),
    (S.PENDING, S.SKIPPED),
    (S.PENDING, S.CANCELLED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELLED),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(StepState, repeat=2)))
def test_only_the_listed_step_changes_are_allowed(current: StepState, new: StepState) -> None:
    if (current, new) in ALLOWED:
        assert can_transition_step(current, new)
        assert advance_step(current, new) is new
    else:
        assert not can_transition_step(current, new)
        with pytest.raises(InvalidTransition) as caught:
            advance_step(current, new)
        assert caught.value.message == f"a deployment step cannot go from {current} to {new}"


def test_a_finished_step_never_changes_again() -> None:
    assert {S.SUCCEEDED, S.FAILED, S.SKIPPED, S.CANCELLED} == STEP_TERMINAL
    for state, new in itertools.product(STEP_TERMINAL, StepState):
        assert not can_transition_step(state, new)


class StepLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.history = [S.PENDING]

    @rule(new=st.sampled_from(StepState))
    def request(self, new: StepState) -> None:
        before = self.history[-1]
        if (before, new) in ALLOWED:
            self.history.append(advance_step(before, new))
        else:
            with pytest.raises(InvalidTransition):
                advance_step(before, new)

    @invariant()
    def a_step_changes_at_most_twice_and_only_by_the_rules(self) -> None:
        assert len(self.history) <= 3
        assert all(pair in ALLOWED for pair in itertools.pairwise(self.history))


TestStepLife = StepLife.TestCase
