"""Durations as people write them in clearance.yaml: seconds (`90`) or text (`250ms`, `5m`, `1h30m`,
`7d`, `2d12h`, `1w`). Every duration in the file (timeouts, pauses, intervals, evidence ages, window
lengths) is read here, so they all accept the same units and fail with the same message."""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
# "ms" must be tried before "m", hence the order inside the group.
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")
_EXAMPLES = "use seconds (30) or numbers with units ms, s, m, h, d (days), w (weeks): 250ms, 30s, 5m, 1h30m, 2d12h, 1w"
# Longer than anything clearance waits for or looks back on, and far from where datetime overflows.
_LONGEST = 10 * 365 * 86400.0


def parse_duration(value: object) -> float:
    """Return the duration in seconds; raise ValueError with a sentence a user can act on."""
    # bool is an int subclass, and `timeout: yes` is a typo, never a duration.
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {str(value).lower()}: {_EXAMPLES}")
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"invalid duration {value}: {_EXAMPLES}")
    if isinstance(value, int | float):
        seconds = float(value) if value <= _LONGEST else math.inf  # float() overflows on huge ints
    elif isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise ValueError(f"invalid duration {_shown(value)}: {_EXAMPLES}")
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))
    else:
        raise ValueError(f"invalid duration: {_EXAMPLES}")
    if seconds <= 0:
        raise ValueError(f"invalid duration {_shown(value)}: must be more than zero")
    if seconds > _LONGEST:
        raise ValueError(f"invalid duration {_shown(value)}: must be at most 10 years (3650d)")
    return seconds


def _shown(value: int | float | str) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
