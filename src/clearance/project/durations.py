"""Durations as people write them in clearance.yaml: seconds (`90`) or text (`250ms`, `5m`, `1h30m`)."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# "ms" must be tried before "m", hence the order inside the group.
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+")
_EXAMPLES = "use seconds (30) or a number with a unit: 250ms, 30s, 5m, 1h, 1h30m"


def parse_duration(value: object) -> float:
    """Return the duration in seconds; raise ValueError with a sentence a user can act on."""
    # bool is an int subclass, and `timeout: yes` is a typo, never a duration.
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {str(value).lower()}: {_EXAMPLES}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise ValueError(f"invalid duration '{value}': {_EXAMPLES}")
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))
    else:
        raise ValueError(f"invalid duration: {_EXAMPLES}")
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be more than zero")
    return seconds
