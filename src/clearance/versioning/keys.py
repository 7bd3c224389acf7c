"""The versioning keys of clearance.yaml: their names, defaults, and the checks of their values.

Two loaders read these keys: the full one (pydantic, `project/schema.py`) and the light one that
`clearance version next` uses to start fast (`versioning/settings.py`). Both call the checks here,
so a wrong value gets the same `file:line: key: why` whichever command reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath, PureWindowsPath
from types import MappingProxyType
from urllib.parse import urlsplit

from clearance.errors import InvalidVersion
from clearance.versioning.bumps import LEVEL_NAMES
from clearance.versioning.semver import Version
from clearance.versioning.tags import tag_format_problem

# Field order is the order "expected one of" lists them in; schema.py declares them the same way.
VERSIONING_KEYS = (
    "tag_format",
    "initial_version",
    "bumps",
    "other",
    "major_zero",
    "maintenance_branches",
    "notes",
    "links",
)
MAJOR_ZERO_KEYS = ("breaking", "minor")
NOTES_KEYS = ("show", "titles", "templates", "changelog")
LINK_KEYS = (
    "forge",
    "repository",
    "jira",
    "jira_projects",
    "commit",
    "issue",
    "pull_request",
    "compare",
    "work_item",
)
LINK_TEMPLATE_KEYS = ("commit", "issue", "pull_request", "compare", "work_item")
FORGES = ("github", "gitlab", "gitea", "forgejo")

DEFAULT_MAINTENANCE_BRANCHES = ("release/*", "releases/*", "maintenance/*", "hotfix/*", "support/*", "*.x")
DEFAULT_SHOW = ("feat", "fix", "perf", "revert")
# Section titles as conventional-changelog and python-semantic-release name them.
DEFAULT_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "feat": "Features",
        "fix": "Bug Fixes",
        "perf": "Performance Improvements",
        "revert": "Reverts",
        "docs": "Documentation",
        "style": "Code Style",
        "refactor": "Refactoring",
        "test": "Testing",
        "build": "Build System",
        "ci": "Continuous Integration",
        "chore": "Chores",
        "other": "Other Changes",
    }
)
# What each link template may use.
TEMPLATE_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "commit": ("repository", "host", "hash", "short"),
        "issue": ("repository", "host", "owner", "repo", "number"),
        "pull_request": ("repository", "host", "number"),
        "compare": ("repository", "host", "from", "to"),
        "work_item": ("jira", "key", "project", "number"),
    }
)

_TYPE = re.compile(r"\w[\w-]*")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9_]+")


def describe(value: object) -> str:
    """Name a YAML value the way the user wrote it (as the full loader's messages do)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 40 else f"'{value[:37]}...'"
    return str(value)


def text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {describe(value)}")
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def mapping(value: object) -> object:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of keys, got {describe(value)}")
    return value


def type_mapping(value: object) -> object:
    """A mapping keyed by commit types (`bumps`, `titles`); its values are checked one by one."""
    mapping(value)
    assert isinstance(value, dict)
    for key in value:
        commit_type(key)
    return value


def sequence(value: object) -> object:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {describe(value)}")
    return value


def tag_format(value: object) -> str:
    problem = tag_format_problem(text(value))
    if problem:
        raise ValueError(problem)
    return str(value)


def version(value: object) -> str:
    try:
        return str(Version.parse(text(value)))
    except InvalidVersion as exc:
        raise ValueError(exc.message) from exc


def level(value: object) -> str:
    if value not in LEVEL_NAMES:
        raise ValueError(f"{describe(value)} is not a bump: use {', '.join(LEVEL_NAMES)}")
    return str(value)


def commit_type(value: object) -> str:
    if not isinstance(value, str) or not _TYPE.fullmatch(value) or value != value.lower():
        raise ValueError(f"{describe(value)} is not a commit type: use lowercase words like feat or fix")
    return value


def forge(value: object) -> str:
    if value not in FORGES:
        raise ValueError(f"unknown forge {describe(value)}: use {', '.join(FORGES)}")
    return str(value)


def url(value: object) -> str:
    parts = urlsplit(text(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{describe(value)} is not an http(s) URL")
    return str(value).rstrip("/")


def project_key(value: object) -> str:
    if not isinstance(value, str) or not _PROJECT_KEY.fullmatch(value):
        raise ValueError(f"{describe(value)} is not a tracker project key like ABC")
    return value


def relative_path(value: object) -> str:
    path = text(value)
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute():
        raise ValueError(f"'{path}' must be relative to the project root, not absolute")
    depth = 0
    for part in PurePosixPath(path).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            raise ValueError(f"'{path}' leads outside the project root")
    return path


def link_template(name: str) -> Callable[[object], str]:
    """The check of the link template `name` (commit, issue, …): only its own placeholders."""

    def check(value: object) -> str:
        template = text(value)
        allowed = TEMPLATE_FIELDS[name]
        for field in _PLACEHOLDER.findall(template):
            if field not in allowed:
                placeholders = ", ".join("{" + a + "}" for a in allowed)
                raise ValueError(f"unknown placeholder {{{field}}} in the {name} link: use {placeholders}")
        return template

    return check
