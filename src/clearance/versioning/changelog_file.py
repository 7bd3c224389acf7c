"""CHANGELOG.md in the Keep a Changelog layout, updated in place: the new release goes on top,
under `## [Unreleased]`, and every older entry stays exactly as it was.

What was written by hand under `[Unreleased]` moves into the new release (that is what
"releasing" the unreleased changes means); the `[Unreleased]` heading stays, empty.
"""

from __future__ import annotations

import re

from clearance.errors import Refused

KEEP_A_CHANGELOG_HEADER = """\
# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).
"""

_RELEASE_HEADING = re.compile(r"^## \[?(?P<name>[^\]\s]+)\]?", re.MULTILINE)
_UNRELEASED = "unreleased"
_LINK_DEFINITION = re.compile(r"^\[(?P<name>[^\]]+)\]:\s*\S+\s*$", re.MULTILINE)


def insert_release(
    existing: str | None,
    section: str,
    version: str,
    *,
    link: str | None = None,
    unreleased_link: str | None = None,
) -> str:
    """`existing` (None: no file yet) with `section`, the release `version`, added on top.

    `link` is the URL `[version]:` points to (a comparison with the previous release) and
    `unreleased_link` the one of `[Unreleased]`; the link definitions at the end are updated."""
    text = existing if existing and existing.strip() else KEEP_A_CHANGELOG_HEADER + "\n## [Unreleased]\n"
    headings = list(_RELEASE_HEADING.finditer(text))
    for heading in headings:
        if heading["name"] == version:
            raise Refused(
                f"the changelog already has a section for {version}",
                code="already-in-changelog",
                hint="a released section is never rewritten; release the next version instead",
            )
    unreleased = next((h for h in headings if h["name"].lower() == _UNRELEASED), None)
    section = section.rstrip("\n") + "\n"
    if unreleased is not None:
        body_start = (
            text.index("\n", unreleased.start()) + 1 if "\n" in text[unreleased.start() :] else len(text)
        )
        following = next((h.start() for h in headings if h.start() > unreleased.start()), None)
        body_end = following if following is not None else _links_start(text, body_start)
        carried = text[body_start:body_end].strip("\n")
        if carried:
            section += "\n" + carried + "\n"
        text = text[:body_start] + "\n" + section + ("\n" + text[body_end:] if text[body_end:] else "")
    elif headings:
        first = headings[0].start()
        text = text[:first] + section + "\n" + text[first:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    return _update_links(text, version, link, unreleased_link)


def _links_start(text: str, after: int) -> int:
    """Where the trailing block of `[name]: url` definitions begins (or the end of the text)."""
    definitions = [m for m in _LINK_DEFINITION.finditer(text) if m.start() >= after]
    if not definitions:
        return len(text)
    start = definitions[-1].start()
    for definition in reversed(definitions[:-1]):
        between = text[definition.end() : start]
        if between.strip():
            break
        start = definition.start()
    return start


def _update_links(text: str, version: str, link: str | None, unreleased_link: str | None) -> str:
    if link is None and unreleased_link is None:
        return text
    lines = text.rstrip("\n").split("\n")
    names = {}
    for index, line in enumerate(lines):
        match = _LINK_DEFINITION.fullmatch(line)
        if match:
            names[match["name"].lower()] = index
    new_lines = []
    if unreleased_link is not None:
        if _UNRELEASED in names:
            lines[names[_UNRELEASED]] = f"[Unreleased]: {unreleased_link}"
        else:
            new_lines.append(f"[Unreleased]: {unreleased_link}")
    if link is not None:
        new_lines.append(f"[{version}]: {link}")
    if not new_lines:
        return "\n".join(lines) + "\n"
    after = names.get(_UNRELEASED)
    if after is not None:
        lines[after + 1 : after + 1] = new_lines
    elif names:
        first = min(names.values())
        lines[first:first] = new_lines
    else:
        lines += ["", *new_lines]
    return "\n".join(lines) + "\n"
