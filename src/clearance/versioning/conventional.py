"""Conventional Commits 1.0: one commit message read into header, body, footers and breaking notes.

The reading is lenient where real histories are: a message that is not conventional is still read
(its type is None: an "other" change), a `BREAKING CHANGE:` line starts the footers even without
the blank line before it, and a footer's value runs on over the lines that start no new footer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BREAKING_KEYWORDS = ("BREAKING CHANGE", "BREAKING-CHANGE")

# A type is a word (`feat`, `fix`, `build-deps`); the scope is taken lazily so that
# `fix(api): handle (x): y` has the scope `api`, yet `chore((p):rt): x` still has `(p):rt`.
_HEADER = re.compile(r"(?P<type>\w[\w-]*)(?:\((?P<scope>[^\n]*?)\))?(?P<bang>!)?: (?P<subject>.*\S.*)")
_GIT_REVERT = re.compile(r'Revert "(?P<header>.+)"\s*')
_REVERTED_HASH = re.compile(r"\bThis reverts commit ([0-9a-fA-F]{7,40})\b")
# GitHub appends "(#12)" to a squash merge's title; GitLab "(!12)"; some tools "(pull request #12)".
_PULL_REQUEST = re.compile(r"\s*\((?:pull request |merge request |PR )?(?P<ref>[#!][0-9]+)\)\s*$")
_FOOTER = re.compile(r"(?P<token>BREAKING CHANGE|[\w][\w-]*)(?P<separator>: | #)(?P<value>.*)")


@dataclass(frozen=True, slots=True)
class Footer:
    """`token: value` or `token #value` (the separator is ':' or ' #')."""

    token: str
    separator: str
    value: str


@dataclass(frozen=True, slots=True)
class Note:
    """A breaking-change note: the keyword it was written with and its (migration) text."""

    title: str
    text: str


class CommitMessage:
    """One commit message; `type` is None when the header is not conventional.

    The body and footers are read when first asked for: a long history is mostly headers, and
    whether a message is breaking is known without reading its footers unless it names a note
    keyword (`BREAKING CHANGE:`), in which case they are read at once."""

    __slots__ = (
        "_footers",
        "_keywords",
        "breaking",
        "header",
        "notes",
        "pull_request",
        "rest",
        "reverted_header",
        "reverts",
        "scope",
        "subject",
        "type",
    )

    def __init__(
        self,
        header: str,
        type: str | None,
        scope: str | None,
        subject: str,
        breaking: bool,
        rest: str = "",
        notes: tuple[Note, ...] = (),
        pull_request: str | None = None,
        reverts: str | None = None,
        reverted_header: str | None = None,
        note_keywords: tuple[str, ...] = BREAKING_KEYWORDS,
        footers: tuple[str, str, tuple[Footer, ...]] | None = None,
    ) -> None:
        self.header = header
        self.type = type
        self.scope = scope
        self.subject = subject
        self.breaking = breaking
        self.rest = rest  # everything after the header line, as written
        self.notes = notes
        self.pull_request = pull_request
        self.reverts = reverts  # the hash a revert names ("This reverts commit …")
        self.reverted_header = reverted_header
        self._keywords = note_keywords
        self._footers = footers

    def __repr__(self) -> str:
        return f"CommitMessage({self.header!r}, type={self.type!r}, breaking={self.breaking})"

    def _parts(self) -> tuple[str, str, tuple[Footer, ...]]:
        if self._footers is None:
            self._footers = _read_rest(self.rest, self._keywords) if self.rest.strip() else ("", "", ())
        return self._footers

    @property
    def body(self) -> str:
        return self._parts()[0]

    @property
    def footer(self) -> str:
        """The footers as written (from the first footer line to the end)."""
        return self._parts()[1]

    @property
    def footers(self) -> tuple[Footer, ...]:
        return self._parts()[2]

    @property
    def conventional(self) -> bool:
        return self.type is not None

    @property
    def breaking_description(self) -> str | None:
        """What breaks: the first note's text, else the subject of a `type!:` header."""
        if self.notes:
            return self.notes[0].text
        return self.subject if self.breaking else None

    def footer_values(self, token: str) -> list[str]:
        """Values of the footers named `token` (compared case-insensitively, as the spec says)."""
        wanted = token.lower()
        if wanted not in self.rest.lower():
            return []
        return [f.value for f in self.footers if f.token.lower() == wanted]

    def with_pull_request(self, pull_request: str) -> CommitMessage:
        return CommitMessage(
            self.header,
            self.type,
            self.scope,
            self.subject,
            self.breaking,
            rest=self.rest,
            notes=self.notes,
            pull_request=pull_request,
            reverts=self.reverts,
            reverted_header=self.reverted_header,
            note_keywords=self._keywords,
            footers=self._footers,
        )


def parse_message(message: str, note_keywords: tuple[str, ...] = BREAKING_KEYWORDS) -> CommitMessage:
    """Read `message`; never fails: a message that is not conventional has `type` None."""
    header, _, rest = message.partition("\n")
    header = header.rstrip("\r")
    pull_request = None
    found = _PULL_REQUEST.search(header) if header.rstrip().endswith(")") else None
    if found is not None:
        pull_request = found["ref"]
        header_text = header[: found.start()]
    else:
        header_text = header
    type_, scope, subject, bang = _read_header(header_text, note_keywords)
    footers = None
    notes: tuple[Note, ...] = ()
    if rest and (
        "BREAKING" in rest if note_keywords is BREAKING_KEYWORDS else any(k in rest for k in note_keywords)
    ):
        footers = _read_rest(rest, note_keywords)
        notes = tuple(Note(f.token, f.value) for f in footers[2] if f.token in note_keywords)
    if type_ == "" and subject:  # a header that is itself a breaking note: "BREAKING CHANGE: …"
        notes = (Note(header_text.split(":", 1)[0], subject), *notes)
        type_ = None
    elif bang and not notes:
        notes = (Note(BREAKING_KEYWORDS[0], subject),)
    reverted_header = None
    if type_ is None and header_text.startswith("Revert ") and (revert := _GIT_REVERT.fullmatch(header_text)):
        type_, reverted_header, subject = "revert", revert["header"], revert["header"]
    elif type_ == "revert":
        reverted_header = subject
    reverts = None
    if type_ == "revert" and (named := _REVERTED_HASH.search(rest)) is not None:
        reverts = named.group(1).lower()
    return CommitMessage(
        header,
        type_,
        scope,
        subject,
        bool(notes) or bang,
        rest,
        notes,
        pull_request,
        reverts,
        reverted_header,
        note_keywords,
        footers,
    )


def parse_header(header: str) -> tuple[str, str | None, str, bool] | None:
    """(type, scope, subject, `!`) of a conventional header line, or None."""
    match = _HEADER.fullmatch(header)
    if match is None:
        return None
    kind, scope, bang, subject = match.group(1, 2, 3, 4)
    return kind.lower(), scope, subject, bang is not None


def _read_header(header: str, note_keywords: tuple[str, ...]) -> tuple[str | None, str | None, str, bool]:
    if header.startswith(note_keywords):
        # Some histories (and commitizen) treat a title "BREAKING CHANGE: …" as a breaking change.
        for keyword in note_keywords:
            if header.startswith(keyword + ":"):
                return "", None, header[len(keyword) + 1 :].strip(), True
    parsed = parse_header(header)
    if parsed is None:
        return None, None, header.strip(), False
    return parsed


def _read_rest(rest: str, note_keywords: tuple[str, ...]) -> tuple[str, str, tuple[Footer, ...]]:
    text = rest.replace("\r\n", "\n") if "\r" in rest else rest
    lines = text.split("\n")
    # A footer needs "token: " or "token #": most bodies have neither and are read in one go.
    start = _footer_start(lines, note_keywords) if (":" in text or " #" in text) else len(lines)
    body = "\n".join(lines[:start]).strip("\n")
    if start == len(lines):
        return body, "", ()
    footer_lines = lines[start:]
    footers: list[list[str]] = []  # [token, separator, value lines...]
    for line in footer_lines:
        started = _footer_line(line, note_keywords)
        if started is not None:
            footers.append(list(started))
        elif footers:
            footers[-1].append(line)
    return (
        body,
        "\n".join(footer_lines).strip(),
        tuple(Footer(f[0], f[1], "\n".join(f[2:]).strip()) for f in footers),
    )


def _footer_line(line: str, note_keywords: tuple[str, ...]) -> tuple[str, str, str] | None:
    for keyword in note_keywords:
        if line.startswith(keyword) and line[len(keyword) : len(keyword) + 1] == ":":
            return keyword, ":", line[len(keyword) + 1 :].strip()
    match = _FOOTER.fullmatch(line.rstrip())
    if match is None:
        return None
    separator = ":" if match["separator"] == ": " else " #"
    return match["token"], separator, match["value"]


def _footer_start(lines: list[str], note_keywords: tuple[str, ...]) -> int:
    """Where the footers begin: at the first note keyword line, or at the run of trailing
    paragraphs that each start with a footer token (the spec's footers); len(lines) if none."""
    start = len(lines)
    prefixes = tuple(keyword + ":" for keyword in note_keywords)
    for index, line in enumerate(lines):
        if line.startswith(prefixes):
            start = index
            break
    index = len(lines) - 1
    while index >= 0:
        while index >= 0 and not lines[index].strip():
            index -= 1
        while index > 0 and lines[index - 1].strip():
            index -= 1  # to the first line of this paragraph
        if index < 0 or index >= start or _footer_line(lines[index], note_keywords) is None:
            break
        start = index
        index -= 1
    return start
