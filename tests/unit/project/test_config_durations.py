"""Durations in clearance.yaml: seconds or text such as 250ms, 30s, 5m, 1h30m, 2d12h, 1w; one grammar
for every duration in the file (timeouts, evidence ages, window lengths, stale flags)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.gates.policies import FreshnessPolicy
from clearance.planning.windows import parse_span
from clearance.project.durations import parse_duration
from clearance.project.schema import FlagSettings

Problems = Callable[[str], list[str]]


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
        ("7d", 7 * 86400.0),
        ("1.5d", 36 * 3600.0),
        ("2d12h", 60 * 3600.0),
        ("1w", 7 * 86400.0),
        ("1w2d", 9 * 86400.0),
    ],
)
def test_written_durations_become_seconds(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize("written", ["", "5", "5x", "m", "1h 30m", "-5s", "1y", True, None, [5], math.nan])
def test_anything_else_is_rejected_with_examples(written: object) -> None:
    with pytest.raises(
        ValueError, match=r"units ms, s, m, h, d \(days\), w \(weeks\): 250ms, 30s, 5m, 1h30m, 2d12h, 1w"
    ):
        parse_duration(written)


@given(hours=st.integers(0, 48), minutes=st.integers(0, 59), seconds=st.integers(1, 59))
def test_units_add_up(hours: int, minutes: int, seconds: int) -> None:
    assert parse_duration(f"{hours}h{minutes}m{seconds}s") == hours * 3600 + minutes * 60 + seconds


@pytest.mark.parametrize("written", [3651 * 86400, "3651d", "600w", math.inf, 10**400])
def test_durations_beyond_ten_years_are_refused(written: object) -> None:
    with pytest.raises(ValueError, match=r"must be at most 10 years \(3650d\)"):
        parse_duration(written)


@pytest.mark.parametrize("written", ["7d", "168h", "1w", "2d12h", "90m"])
def test_evidence_ages_window_lengths_and_stale_flags_read_durations_alike(written: str) -> None:
    seconds = parse_duration(written)
    assert FreshnessPolicy.model_validate({"max_age": written}).max_age == seconds
    assert parse_span(written) == timedelta(seconds=seconds)
    assert FlagSettings.model_validate({"stale_after": written}).stale_after == seconds


def test_a_bad_evidence_age_lists_the_units(problems: Problems) -> None:
    config = """
        project: shop
        services: [{name: web}]
        environments:
          - name: prod
            gates:
              evidence_fresh: {max_age: 1month}
        lifecycle: {phases: [{environments: [prod]}]}
        """
    assert problems(config) == [
        "clearance.yaml:6: environments[0].gates.evidence_fresh.max_age: invalid duration '1month': use seconds "
        "(30) or numbers with units ms, s, m, h, d (days), w (weeks): 250ms, 30s, 5m, 1h30m, 2d12h, 1w"
    ]
