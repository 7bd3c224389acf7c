"""Release notes rendered through Jinja2 templates: the built-in ones, or the project's own.

A project overrides a template by putting a file of the same name (`markdown.md.j2`,
`keep-a-changelog.md.j2`) in the directory `versioning.notes.templates` names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jinja2

from clearance.errors import ConfigError, OperationFailed
from clearance.versioning.notes import Entry, ReleaseNotes

TEMPLATES = {"markdown": "markdown.md.j2", "keep-a-changelog": "keep-a-changelog.md.j2"}
CHANGELOG_TITLE = "# Changelog\n"
# Keep a Changelog's categories, by commit type; any other shown type is a change.
_CATEGORIES = {
    "feat": "Added",
    "deprecate": "Deprecated",
    "revert": "Removed",
    "fix": "Fixed",
    "security": "Security",
}
_CATEGORY_ORDER = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


class Renderer:
    def __init__(self, project_templates: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if project_templates is not None:
            if not project_templates.is_dir():
                raise ConfigError(
                    [f"versioning.notes.templates: '{project_templates}' is not a directory"],
                    hint="point it at a directory holding markdown.md.j2 or keep-a-changelog.md.j2",
                )
            loaders.append(jinja2.FileSystemLoader(project_templates))
        loaders.append(jinja2.PackageLoader("clearance.versioning", "templates"))
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # Markdown, not HTML
            undefined=jinja2.StrictUndefined,
        )
        # Filters, not globals: a template calls a filter directly, a global through its context,
        # and `line` runs once per entry of a whole changelog.
        self._env.filters.update(line=entry_line, link=_link)
        self._env.globals.update(categories=categories)

    def render(self, notes: ReleaseNotes, style: str) -> str:
        try:
            return self._env.get_template(TEMPLATES[style]).render(release=notes)
        except jinja2.TemplateError as exc:
            where = f" ({exc.filename}:{exc.lineno})" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
            raise OperationFailed(
                f"the {TEMPLATES[style]} template failed{where}: {exc.message or exc}",
                code="template-failed",
            ) from exc

    def changelog(self, releases: Iterator[ReleaseNotes], style: str) -> Iterator[str]:
        """A whole changelog, one release after the other, as text pieces to write out."""
        yield CHANGELOG_TITLE
        for notes in releases:
            yield "\n"
            yield self.render(notes, style)


def entry_line(entry: Entry) -> str:
    """`**scope:** subject ([#12](…)) ([abc1234](…)), refs [#5](…)`."""
    text = f"**{entry.scope}:** {entry.subject}" if entry.scope else entry.subject
    if entry.pull_request is not None:
        text += f" ({_link(entry.pull_request.text, entry.pull_request.url)})"
    text += f" ({_link(entry.short, entry.url)})"
    if entry.references:
        text += ", refs " + ", ".join(_link(r.text, r.url) for r in entry.references)
    return text


def categories(notes: ReleaseNotes) -> list[tuple[str, list[Entry]]]:
    found: dict[str, list[Entry]] = {}
    for section in notes.sections:
        found.setdefault(_CATEGORIES.get(section.type, "Changed"), []).extend(section.entries)
    return [(title, found[title]) for title in _CATEGORY_ORDER if title in found]


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text
