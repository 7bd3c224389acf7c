"""`flags: {stale_after: …}` in clearance.yaml: days as well as the usual durations, 30 days by default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from clearance.project.schema import FlagSettings


def test_stale_after_defaults_to_thirty_days() -> None:
    assert FlagSettings().stale_after == 30 * 86400


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("1d", 86400), ("12h", 43200), (90, 90)])
def test_stale_after_reads_days_and_durations(text: object, seconds: float) -> None:
    assert FlagSettings.model_validate({"stale_after": text}).stale_after == seconds


@pytest.mark.parametrize("text", ["0d", "soon", "-3d", True])
def test_a_bad_stale_after_is_refused(text: object) -> None:
    with pytest.raises(ValidationError):
        FlagSettings.model_validate({"stale_after": text})
