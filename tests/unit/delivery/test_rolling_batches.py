"""A rolling update's batches keep Kubernetes' bounds: total ≤ replicas + surge, ready ≥ replicas − unavailable."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearance.delivery.strategies.plan import rolling_batches


def test_one_surge_replaces_one_replica_at_a_time() -> None:
    assert rolling_batches(3, 1, 0) == [(1, 3), (1, 2), (2, 2), (2, 1), (3, 1), (3, 0)]


def test_without_surge_it_first_makes_room() -> None:
    assert rolling_batches(3, 0, 1) == [(0, 2), (1, 2), (1, 1), (2, 1), (2, 0), (3, 0)]


@given(
    replicas=st.integers(1, 12),
    surge=st.integers(0, 5),
    unavailable=st.integers(0, 5),
)
def test_every_batch_respects_the_bounds_and_ends_fully_replaced(
    replicas: int, surge: int, unavailable: int
) -> None:
    if surge == 0 and unavailable == 0:
        return  # refused by the config schema: such an update could never move
    batches = rolling_batches(replicas, surge, unavailable)
    assert batches[-1] == (replicas, 0)
    for new, old in batches:
        assert new + old <= replicas + surge
        assert new + old >= replicas - unavailable or (old == 0 and new == replicas)
