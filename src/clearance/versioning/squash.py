"""Squash merges that carry several commit messages in one: each listed message counts on its own.

Three layouts are recognised:

- GitHub's default squash message: the pull request's title and body, then each squashed
  commit's message as a `* type(scope): subject` bullet followed by its own paragraphs;
- Bitbucket's: "Merged in BRANCH (pull request #N)", then each message as paragraphs, the first
  line of each a conventional header;
- `git merge --squash`: "Squashed commit of the following:" then, per commit, a `commit <hash>`
  block whose message is indented by four spaces.

A bullet that is not a conventional header is text of the message before it, not a commit of its
own: a body may hold an ordinary list. Nor is a footer that looks like a header (`Resolves: #12`,
`Signed-off-by: …`): a listed message starts with a lowercase type that is no closing keyword.
"""

from __future__ import annotations

import re

from clearance.versioning.conventional import parse_header
from clearance.versioning.references import CLOSING_KEYWORDS

_GIT_SQUASH_TITLE = "Squashed commit of the following:"
_BITBUCKET_START = "Merged in "
# How the messages that can be squash merges without a "\n* " list begin.
SQUASH_TITLES = (_GIT_SQUASH_TITLE, _BITBUCKET_START)
_GIT_SQUASH_COMMIT = re.compile(r"^commit [0-9a-f]{7,64}$", re.MULTILINE)
_BITBUCKET_TITLE = re.compile(r"Merged in \S+.*\(pull request #[0-9]+\)\s*")


def _starts_message(line: str) -> bool:
    parsed = parse_header(line)
    if parsed is None:
        return False
    written_type = line.split(":", 1)[0].split("(", 1)[0].rstrip("!")
    # "fix" is both the commonest type and a closing keyword; as a header it is the type.
    return written_type.islower() and (parsed[0] == "fix" or parsed[0] not in CLOSING_KEYWORDS)


def split_squash(message: str) -> list[str]:
    """The messages a commit message holds: itself alone unless it is a squash of several."""
    if "\n* " in message:
        return _github_squash(message)
    if message.startswith(_GIT_SQUASH_TITLE):
        return _git_squash(message)
    if message.startswith(_BITBUCKET_START) and _BITBUCKET_TITLE.fullmatch(message.split("\n", 1)[0]):
        return _bitbucket_squash(message)
    return [message]


def _github_squash(message: str) -> list[str]:
    messages: list[list[str]] = [[]]
    for line in message.split("\n"):
        if line.startswith("* ") and _starts_message(line[2:].strip()):
            messages.append([line[2:].strip()])
        else:
            messages[-1].append(line)
    if len(messages) == 1:
        return [message]
    return ["\n".join(lines).strip("\n") for lines in messages if any(line.strip() for line in lines)]


def _bitbucket_squash(message: str) -> list[str]:
    messages: list[list[str]] = [[]]
    previous_blank = True
    for line in message.split("\n"):
        if previous_blank and messages[-1] and _starts_message(line.strip()):
            messages.append([])
        messages[-1].append(line)
        previous_blank = not line.strip()
    return ["\n".join(lines).strip("\n") for lines in messages if any(line.strip() for line in lines)]


def _git_squash(message: str) -> list[str]:
    blocks = _GIT_SQUASH_COMMIT.split(message)[1:]
    messages = []
    for block in blocks:
        # Author:/Date: lines, a blank line, then the message indented by four spaces.
        _, _, indented = block.partition("\n\n")
        lines = [line[4:] if line.startswith("    ") else line.strip() for line in indented.split("\n")]
        text = "\n".join(lines).strip("\n")
        if text:
            messages.append(text)
    return messages or [message]
