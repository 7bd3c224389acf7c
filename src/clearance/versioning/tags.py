"""Release tags: the tag format (`v{version}`, `{service}-v{version}`) and which tags are releases.

A tag is a release of a format when the format's text matches around a strict SemVer 2.0 version;
every other tag is ignored (and listed by `--verbose`), never an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from clearance.errors import InvalidVersion
from clearance.versioning.semver import Version

PROJECT_TAG_FORMAT = "v{version}"
SERVICE_TAG_FORMAT = "{service}-v{version}"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def tag_format_problem(text: str) -> str | None:
    """Why `text` cannot be a tag format, or None."""
    names = _PLACEHOLDER.findall(text)
    if names.count("version") != 1:
        return (
            f"'{text}' must contain {{version}} exactly once, e.g. v{{version}} or {{service}}-v{{version}}"
        )
    unknown = sorted({name for name in names if name not in ("version", "service")})
    if unknown:
        return f"'{text}' has an unknown placeholder {{{unknown[0]}}}: use {{version}} and {{service}}"
    if any(char.isspace() or char in "~^:?*[\\" for char in text) or ".." in text:
        return f"'{text}' cannot be a git tag name: no spaces, '..', '~', '^', ':', '?', '*', '[' or '\\'"
    return None


@dataclass(frozen=True)
class TagFormat:
    """A tag format with its `{service}` filled in."""

    text: str
    service: str = ""
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        filled = self.text.replace("{service}", self.service)
        prefix, _, suffix = filled.partition("{version}")
        object.__setattr__(self, "_pattern", re.compile(re.escape(prefix) + "(.+)" + re.escape(suffix)))

    def tag(self, version: Version) -> str:
        return self.text.replace("{service}", self.service).replace("{version}", str(version))

    def version_of(self, tag: str) -> Version | None:
        """The version a tag of this format names, or None for any other tag."""
        match = self._pattern.fullmatch(tag)
        if match is None:
            return None
        try:
            return Version.parse(match.group(1))
        except InvalidVersion:
            return None


@dataclass(frozen=True)
class ReleaseTag:
    name: str
    commit: str
    version: Version


@dataclass
class TagIndex:
    """The release tags of one format, by commit, and the tags that were ignored."""

    releases: list[ReleaseTag] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, tags: Iterable[tuple[str, str]], tag_format: TagFormat) -> TagIndex:
        index = cls()
        for name, commit in tags:
            version = tag_format.version_of(name)
            if version is None:
                index.ignored.append(name)
            else:
                index.releases.append(ReleaseTag(name, commit, version))
        index.releases.sort(key=lambda tag: tag.version.precedence_key(), reverse=True)
        return index

    def versions(self) -> list[Version]:
        return [tag.version for tag in self.releases]

    def latest(self, stable: bool = False) -> ReleaseTag | None:
        """The highest release (only final versions when `stable`); of several tags of equal
        precedence on one commit (`v1.0.0` and `v1.0.0+build.2`) the first by name."""
        for tag in self.releases:
            if not stable or not tag.version.is_prerelease:
                return tag
        return None

    def by_commit(self) -> dict[str, ReleaseTag]:
        """For each tagged commit, its highest release tag (a commit may carry several)."""
        chosen: dict[str, ReleaseTag] = {}
        for tag in self.releases:  # highest first
            chosen.setdefault(tag.commit, tag)
        return chosen
