"""Suggestions ("did you mean …?") for misspelt keys and names in clearance.yaml."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """` (did you mean 'x'?)` for the closest choice, else a list of what is allowed, else ''."""
    matches = difflib.get_close_matches(word, list(choices), n=1)
    if matches:
        return f" (did you mean '{matches[0]}'?)"
    if choices:
        return f" (expected one of: {', '.join(choices)})"
    return ""
