"""A deployment's life: queued, running, then an outcome, and perhaps a rollback — and nothing else."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from clearance.delivery.states import FINAL, TERMINAL, DeploymentState, advance, can_transition
from clearance.errors import InvalidTransition

S = DeploymentState
ALLOWED = {
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.CANCELLED),
    (S.QUEUED, S.FAILED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELLED),
    (S.SUCCEEDED, S.ROLLED_BACK),
    (S.FAILED, S.ROLLED_BACK),
}
ALL_PAIRS = list(itertools.product(DeploymentState, repeat=2))


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED))
def test_an_allowed_change_moves_the_deployment(current: DeploymentState, new: DeploymentState) -> None:
    assert can_transition(current, new)
    assert advance(current, new) is new


@pytest.mark.parametrize(("current", "new"), [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_every_other_change_is_refused_naming_both_states(
    current: DeploymentState, new: DeploymentState
) -> None:
    assert not can_transition(current, new)
    with pytest.raises(InvalidTransition) as caught:
        advance(current, new)
    assert caught.value.message == f"a deployment cannot go from {current} to {new}"
    assert caught.value.data == {"from": current.value, "to": new.value}
    assert caught.value.hint


def test_the_hint_says_where_the_deployment_could_go() -> None:
    with pytest.raises(InvalidTransition) as caught:
        advance(S.QUEUED, S.SUCCEEDED)
    assert caught.value.hint == "from queued, a deployment may only go to: running, failed, cancelled"
    with pytest.raises(InvalidTransition) as caught:
        advance(S.ROLLED_BACK, S.RUNNING)
    assert caught.value.hint is not None and "rolled_back is final" in caught.value.hint


def test_terminal_and_final_states() -> None:
    assert {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.ROLLED_BACK} == TERMINAL
    assert {S.CANCELLED, S.ROLLED_BACK} == FINAL
    for state in DeploymentState:
        leaves = [new for new in DeploymentState if can_transition(state, new)]
        assert (not leaves) == (state in FINAL)
        # Only a rollback follows a deployment that stopped running.
        if state in TERMINAL:
            assert set(leaves) <= {S.ROLLED_BACK}


def test_states_are_stored_as_their_names() -> None:
    assert [str(state) for state in DeploymentState] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "rolled_back",
    ]


class DeploymentLife(RuleBasedStateMachine):
    """Ask a deployment to change state at random; only the rules' changes may happen."""

    def __init__(self) -> None:
        super().__init__()
        self.state = S.QUEUED
        self.history = [S.QUEUED]

    @rule(new=st.sampled_from(DeploymentState))
    def request(self, new: DeploymentState) -> None:
        before = self.state
        if (before, new) in ALLOWED:
            self.state = advance(before, new)
            self.history.append(self.state)
            assert self.state is new
        else:
            with pytest.raises(InvalidTransition):
                self.state = advance(before, new)
            assert self.state is before

    @invariant()
    def history_follows_the_rules(self) -> None:
        assert all(pair in ALLOWED for pair in itertools.pairwise(self.history))
        assert len(set(self.history)) == len(self.history)  # no state is ever entered twice

    @invariant()
    def final_states_stay_final(self) -> None:
        for index, state in enumerate(self.history):
            if state in FINAL:
                assert index == len(self.history) - 1

    @invariant()
    def a_rollback_follows_a_finished_deployment(self) -> None:
        if S.ROLLED_BACK in self.history:
            assert self.history[-2] in {S.SUCCEEDED, S.FAILED}

    @invariant()
    def success_means_it_ran(self) -> None:
        if S.SUCCEEDED in self.history:
            assert self.history[:3] == [S.QUEUED, S.RUNNING, S.SUCCEEDED]


TestDeploymentLife = DeploymentLife.TestCase
