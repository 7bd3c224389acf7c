"""Issue references in commit messages: `#123`, `owner/repo#123`, tracker keys like `ABC-123`, and
the issues a commit closes (`Closes: #12, #13` footers).

Two readings, because tools differ on purpose: `references` finds every mention, with the action
word before it when there is one (conventional-changelog's reading); `closed_issues` reads only
`Closes:`-style footers (python-semantic-release's reading). Release scope uses both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ACTIONS = ("close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved")
_ISSUE = re.compile(r"(?<![\w/#])(?:(?P<owner>[\w.-]+)/(?P<repository>[\w.-]+))?#(?P<issue>[0-9]+)\b")
_ACTION_BEFORE = re.compile(r"(?i)\b(?P<action>" + "|".join(ACTIONS) + r"):?\s+$")
_SEPARATORS_ONLY = re.compile(r"(?i)^[\s,;&]*(?:and\s+)?$")
_KEY = re.compile(r"(?<![\w-])(?P<key>[A-Z][A-Z0-9_]+-[0-9]+)\b")
# The words of closing footers (python-semantic-release's list): `Closes: #12`, `Implements: ABC-3`.
CLOSING_KEYWORDS = tuple(
    f"{stem}{ending}"
    for stem, endings in (
        ("clos", ("e", "es", "ed", "ing")),
        ("fix", ("", "es", "ed", "ing")),
        ("resolv", ("e", "es", "ed", "ing")),
        ("implement", ("", "s", "ed", "ing")),
    )
    for ending in endings
)
_CLOSING = re.compile(r"(?im)^[ \t]*(?:" + "|".join(CLOSING_KEYWORDS) + r"):[ \t]+(?P<issues>.+?)[ \t]*$")
_CLOSING_SPLIT = re.compile(r"(?i),?[ \t]+and[ \t]+|[\s,;/&]+")


@dataclass(frozen=True, slots=True)
class Reference:
    """A mention of an issue or work item; `prefix` is '#' for forge issues, '' for tracker keys."""

    issue: str
    prefix: str = "#"
    action: str | None = None
    owner: str | None = None
    repository: str | None = None

    @property
    def key(self) -> str:
        """How the reference is written: `#12`, `acme/shop#12` or `ABC-12`."""
        if not self.prefix:
            return self.issue
        where = f"{self.owner}/{self.repository}" if self.owner else ""
        return f"{where}{self.prefix}{self.issue}"


def references(text: str, tracker_keys: bool = False, projects: Iterable[str] = ()) -> list[Reference]:
    """Every issue mentioned in `text`, in order, once each; with `tracker_keys`, `ABC-123`
    keys too (only of `projects` when it is not empty: `UTF-8` is no ticket)."""
    found: list[Reference] = []
    seen: set[str] = set()
    if "#" in text:
        for line in text.splitlines():
            if "#" in line:
                _issues_of_line(line, found, seen)
    if tracker_keys and "-" in text:
        _keys_of_line(text, set(projects), found, seen)
    return found


def _issues_of_line(line: str, found: list[Reference], seen: set[str]) -> None:
    previous_end = 0
    previous_action: str | None = None
    for match in _ISSUE.finditer(line):
        between = line[previous_end : match.start()]
        action_match = _ACTION_BEFORE.search(between)
        if action_match is not None:
            action: str | None = action_match["action"]
        elif previous_end and _SEPARATORS_ONLY.match(between):
            action = previous_action  # "Closes #1, #2 and #3": one action for the list
        else:
            action = None
        previous_end, previous_action = match.end(), action
        reference = Reference(
            issue=match["issue"], action=action, owner=match["owner"], repository=match["repository"]
        )
        if reference.key not in seen:
            seen.add(reference.key)
            found.append(reference)


def _keys_of_line(line: str, projects: set[str], found: list[Reference], seen: set[str]) -> None:
    for match in _KEY.finditer(line):
        key = match["key"]
        if projects and key.rsplit("-", 1)[0] not in projects:
            continue
        if key not in seen:
            seen.add(key)
            found.append(Reference(issue=key, prefix=""))


def closed_issues(text: str) -> tuple[str, ...]:
    """Issues named by closing footers (`Closes: #12`, `Fixes: ABC-3, ABC-4`), sorted, once each.

    A closing footer needs its colon: `Closes #12` in prose is a mention, not a footer."""
    issues: set[str] = set()
    for match in _CLOSING.finditer(text):
        for item in _CLOSING_SPLIT.split(match["issues"]):
            # What is left between the separators is an issue unless it is another footer's
            # token ("Closes: #1, Closes: #2") or a word without a number.
            if item and not item.endswith(":") and any(char.isdigit() for char in item):
                issues.add(item)
    return tuple(sorted(issues, key=lambda issue: (len(issue), issue)))
