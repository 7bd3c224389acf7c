"""Release notes as data: breaking changes first (with their migration text), then a section per
shown type, the contributors, the work items referenced, and a summary line of counts by type.

Rendering (Markdown, Keep a Changelog, JSON) is `rendering.py`'s job; this module only decides
what the notes say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from clearance.versioning.bumps import Effect
from clearance.versioning.changes import Change
from clearance.versioning.links import Links
from clearance.versioning.settings import NotesSettings


# Entries and links are made by the ten thousand for a changelog: not frozen (it costs per field).
@dataclass(slots=True)
class Link:
    text: str
    url: str | None


@dataclass(slots=True)
class Entry:
    """One change as the notes list it."""

    type: str  # "other" for a commit that is not conventional
    scope: str | None
    subject: str
    hash: str
    short: str
    url: str | None
    author: str
    references: tuple[Link, ...]
    pull_request: Link | None
    breaking: bool
    breaking_text: str | None


@dataclass(frozen=True)
class Section:
    type: str
    title: str
    entries: list[Entry]


@dataclass(frozen=True)
class WorkItem:
    """An issue or ticket the release delivers: its key, the change that names it, a link."""

    id: str
    title: str
    url: str | None


@dataclass
class ReleaseNotes:
    version: str | None  # None: not released yet
    tag: str | None
    previous_tag: str | None
    date: str  # YYYY-MM-DD
    compare_url: str | None = None
    breaking: list[Entry] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    work_items: list[WorkItem] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(self.counts.values())

    @property
    def summary(self) -> str:
        """`7 changes by 2 contributors: 1 breaking, 3 feat, 2 fix, 2 other`."""
        if not self.counts:
            return "no changes"
        people = len(self.contributors)
        parts = [f"{len(self.breaking)} breaking"] if self.breaking else []
        parts += [f"{count} {kind}" for kind, count in self.counts.items()]
        changes = "change" if self.changes == 1 else "changes"
        contributors = "contributor" if people == 1 else "contributors"
        return f"{self.changes} {changes} by {people} {contributors}: {', '.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tag": self.tag,
            "previous_tag": self.previous_tag,
            "date": self.date,
            "compare_url": self.compare_url,
            "breaking": [_entry_json(entry) for entry in self.breaking],
            "sections": [
                {"type": s.type, "title": s.title, "entries": [_entry_json(e) for e in s.entries]}
                for s in self.sections
            ],
            "contributors": self.contributors,
            "counts": self.counts,
            "summary": self.summary,
            "work_items": [{"id": w.id, "title": w.title, "url": w.url} for w in self.work_items],
        }


def build_notes(
    changes: Iterable[Change],
    settings: NotesSettings,
    links: Links,
    *,
    version: str | None,
    tag: str | None,
    previous_tag: str | None,
    date: str,
    work_items: bool = True,
) -> ReleaseNotes:
    """Notes of `changes` (newest first; reverted pairs already left out, see `counting`).

    Issue references are read only where they are shown (or, with `work_items`, to list the
    release's scope): most changes of a long history are in no section."""
    shown: dict[str, list[Entry]] = {kind: [] for kind in settings.show}
    notes = ReleaseNotes(version=version, tag=tag, previous_tag=previous_tag, date=date)
    counts: dict[str, int] = {}
    authors: set[str] = set()
    items: dict[str, WorkItem] = {}
    tracker, projects = links.tracker_keys, links.settings.jira_projects
    breaking, commit_url, reference_url = notes.breaking, links.commit, links.reference
    for change in changes:  # the loop of a whole changelog: kept lean
        message = change.message
        kind = message.type or "other"
        counts[kind] = counts.get(kind, 0) + 1
        authors.add(change.author)
        listed = kind in shown or message.breaking
        if not (listed or work_items):
            continue
        references = change.references(tracker, projects)
        linked = tuple(Link(r.key, reference_url(r)) for r in references) if references else ()
        for link in linked:
            # Newest first: the last write is the oldest change naming the item, its best title.
            items[link.text] = WorkItem(link.text, message.subject, link.url)
        if not listed:
            continue
        pull_request = message.pull_request
        entry = Entry(
            kind,
            message.scope,
            message.subject,
            change.hash,
            change.hash[:7],
            commit_url(change.hash),
            change.author,
            linked,
            Link(pull_request, links.pull_request(pull_request)) if pull_request else None,
            message.breaking,
            message.breaking_description,
        )
        if entry.breaking:
            breaking.append(entry)
        if kind in shown:
            shown[kind].append(entry)
    notes.sections = [
        Section(kind, settings.titles.get(kind, kind), entries) for kind, entries in shown.items() if entries
    ]
    notes.contributors = sorted(authors, key=str.casefold)
    order = {kind: index for index, kind in enumerate(settings.show)}
    notes.counts = dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), -kv[1], kv[0])))
    notes.work_items = list(reversed(items.values())) if work_items else []
    if tag and previous_tag:
        notes.compare_url = links.compare(previous_tag, tag)
    return notes


def counting(effects: Iterable[Effect]) -> list[Change]:
    """The changes of `effects` that count: a revert and what it reverts, both in range, drop out."""
    return [effect.change for effect in effects if effect.counts]


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "type": entry.type,
        "scope": entry.scope,
        "subject": entry.subject,
        "hash": entry.hash,
        "url": entry.url,
        "author": entry.author,
        "references": [{"id": link.text, "url": link.url} for link in entry.references],
        "pull_request": {"id": entry.pull_request.text, "url": entry.pull_request.url}
        if entry.pull_request
        else None,
        "breaking": entry.breaking,
        "breaking_text": entry.breaking_text,
    }
