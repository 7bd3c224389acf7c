"""Durations in clearance.yaml: seconds or text such as 250ms, 30s, 5m, 1h30m."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.project.durations import parse_duration


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("250ms", 0.25),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        (" 2m ", 120.0),
    ],
)
def test_written_durations_become_seconds(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize("written", ["", "5", "5x", "m", "1h 30m", "-5s", True, None, [5]])
def test_anything_else_is_rejected_with_examples(written: object) -> None:
    with pytest.raises(ValueError, match="250ms, 30s, 5m, 1h, 1h30m"):
        parse_duration(written)


@given(hours=st.integers(0, 48), minutes=st.integers(0, 59), seconds=st.integers(1, 59))
def test_units_add_up(hours: int, minutes: int, seconds: int) -> None:
    assert parse_duration(f"{hours}h{minutes}m{seconds}s") == hours * 3600 + minutes * 60 + seconds
