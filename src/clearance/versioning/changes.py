"""Changes: what a commit means to a release. A commit is one change, a squash merge several.

`RawCommit` is what the history reader yields; `changes_of` reads its message(s) into `Change`s,
the unit that bumps, release notes and release scope are made of.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearance.versioning.conventional import BREAKING_KEYWORDS, CommitMessage, parse_message
from clearance.versioning.references import Reference, closed_issues, references
from clearance.versioning.squash import SQUASH_TITLES, split_squash


# Not frozen: tens of thousands are made per changelog, and a frozen dataclass pays for every
# field it sets. Nothing changes them after they are made.
@dataclass(slots=True)
class RawCommit:
    """A commit as git reports it; `message` is decoded, bytes that are not UTF-8 replaced."""

    hash: str
    author: str
    timestamp: int
    message: str
    merge: bool = False


@dataclass(slots=True)
class Change:
    """One message of one commit. `part` counts the messages of a squash merge from 0."""

    hash: str
    author: str
    timestamp: int
    message: CommitMessage
    part: int = 0

    @property
    def short(self) -> str:
        return self.hash[:7]

    @property
    def type(self) -> str | None:
        return self.message.type

    @property
    def ident(self) -> str:
        """Short hash, with the message's place in a squash merge when it has several."""
        return self.short if self.part == 0 else f"{self.short}.{self.part}"

    def references(self, tracker_keys: bool = False, projects: tuple[str, ...] = ()) -> list[Reference]:
        """Issues this change mentions (its pull request excluded) and those it closes."""
        message = self.message
        rest = message.rest
        if not (tracker_keys or "#" in message.subject or "#" in rest or ":" in rest):
            return []  # most messages of a long history name nothing
        found = references(message.subject + "\n" + rest, tracker_keys, projects)
        if ":" in rest:
            known = {reference.key for reference in found}
            for issue in closed_issues(rest):
                if issue not in known:
                    known.add(issue)
                    tracker_key = not issue.startswith("#")
                    found.append(
                        Reference(
                            issue=issue if tracker_key else issue[1:],
                            prefix="" if tracker_key else "#",
                            action="closes",
                        )
                    )
        if message.pull_request is not None and found:
            found = [reference for reference in found if reference.key != message.pull_request]
        return found


def changes_of(commit: RawCommit, note_keywords: tuple[str, ...] = BREAKING_KEYWORDS) -> list[Change]:
    """The changes a commit carries, in the order its message lists them."""
    text = commit.message
    if "\n* " not in text and not text.startswith(SQUASH_TITLES):
        return [Change(commit.hash, commit.author, commit.timestamp, parse_message(text, note_keywords))]
    texts = split_squash(text)
    messages = [parse_message(text, note_keywords) for text in texts]
    pull_request = messages[0].pull_request
    changes = []
    for part, message in enumerate(messages):
        if part and message.pull_request is None and pull_request is not None:
            # Messages listed in a squash merge belong to the merged pull request.
            message = message.with_pull_request(pull_request)
        changes.append(Change(commit.hash, commit.author, commit.timestamp, message, part))
    return changes
