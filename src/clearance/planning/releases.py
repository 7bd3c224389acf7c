"""What kind of release a version is, and the work items a release carries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from clearance.errors import UsageError
from clearance.versioning.semver import Version


class ReleaseType(StrEnum):
    MAJOR = "major"
    MINOR = "minor"
    PATCH = "patch"
    HOTFIX = "hotfix"
    PRERELEASE = "prerelease"
    CONTINUOUS = "continuous"


def infer_release_type(version: Version, existing: Iterable[Version]) -> ReleaseType:
    """The release type `version` has among the project's `existing` versions.

    - A pre-release version (`2.0.0-rc.1`) is a `prerelease`.
    - Otherwise only the existing *stable* (non-pre-release) versions count:
      - none: the version's own first non-zero part decides — `major` for 1.0.0 or later,
        `minor` for 0.x.0 with x >= 1, `patch` for 0.0.x;
      - `version` has lower precedence than the highest of them: a fix on an older line
        (1.2.1 after 1.3.0) is a `hotfix`;
      - else the first part (major, minor, patch) in which `version` differs from the highest stable
        version below it decides. Versions of equal precedence (the same version, another build)
        are not "below"; if nothing is, the no-existing-versions rule applies.

    `continuous` is never inferred: a project asks for it explicitly.
    """
    if version.is_prerelease:
        return ReleaseType.PRERELEASE
    stable = [v for v in existing if not v.is_prerelease]
    if stable and version < max(stable):
        return ReleaseType.HOTFIX
    below = [v for v in stable if v < version]
    if not below:
        return _type_of_first_release(version)
    base = max(below)
    if version.major != base.major:
        return ReleaseType.MAJOR
    if version.minor != base.minor:
        return ReleaseType.MINOR
    return ReleaseType.PATCH


def _type_of_first_release(version: Version) -> ReleaseType:
    if version.major >= 1:
        return ReleaseType.MAJOR
    if version.minor >= 1:
        return ReleaseType.MINOR
    return ReleaseType.PATCH


@dataclass(frozen=True)
class WorkItem:
    """An issue, ticket or story a release delivers."""

    id: str
    title: str
    url: str | None = None


_WORK_ITEM_FORM = (
    "write a work item as ID:TITLE[:URL], e.g. PROJ-12:Fix login timeout:https://tracker.example.com/PROJ-12"
)
_URL_START = re.compile(r":https?://")
# Any "scheme://" after a colon: a URL the user meant, in a scheme we do not link to.
_OTHER_URL_START = re.compile(r":[A-Za-z][A-Za-z0-9+.-]*://")


def parse_work_item(text: str) -> WorkItem:
    """Read the CLI form `ID:TITLE[:URL]`.

    The id ends at the first ':'. Titles may hold colons and URLs always do, so the URL is the part
    that starts at the first ':http://' or ':https://'; without one, the rest is the title.
    """
    item_id, colon, rest = text.partition(":")
    item_id = item_id.strip()
    if not colon or not item_id:
        raise UsageError(f"work item {text!r} has no id before the first ':'", hint=_WORK_ITEM_FORM)
    url: str | None = None
    start = _URL_START.search(rest)
    if start is not None:
        title, url = rest[: start.start()], rest[start.start() + 1 :]
        _check_url(text, url)
    else:
        other = _OTHER_URL_START.search(rest)
        if other is not None:
            scheme = other.group()[1:-3]
            raise UsageError(
                f"work item {text!r} has a {scheme} URL; only http and https URLs are accepted",
                hint=_WORK_ITEM_FORM,
            )
        title = rest
    title = title.strip()
    if not title:
        raise UsageError(f"work item {text!r} has no title", hint=_WORK_ITEM_FORM)
    return WorkItem(id=item_id, title=title, url=url)


def _check_url(text: str, url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UsageError(f"work item {text!r} has a malformed URL: {exc}", hint=_WORK_ITEM_FORM) from exc
    if not parts.netloc or any(char.isspace() for char in url):
        raise UsageError(f"work item {text!r} has a malformed URL {url!r}", hint=_WORK_ITEM_FORM)


_COMMIT = re.compile(r"[0-9a-f]{7,64}")


def parse_commit(text: str, *, option: str = "--commit") -> str:
    """A git commit id as the CLI takes it: 7 to 64 hex digits (short ids allowed), lower-cased."""
    commit = text.strip().lower()
    if not _COMMIT.fullmatch(commit):
        raise UsageError(
            f"{option} {text!r} is not a commit id", hint="give a git commit SHA (at least 7 hex digits)"
        )
    return commit


def same_commit(a: str, b: str) -> bool:
    """Whether two commit ids name the same commit (one may be a short form of the other)."""
    return a.startswith(b) or b.startswith(a)
