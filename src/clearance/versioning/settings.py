"""The versioning settings of a project, read straight from clearance.yaml without pydantic.

`clearance version next` must start in well under a second, and pydantic alone costs more than
its budget; so this light loader reads only what versioning uses (the `versioning:` section and
each service's `name`, `path` and `tag_format`) with the checks of `keys.py`, reporting problems
as `file:line: key: why` exactly like the full loader does for the same keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from clearance.errors import ConfigError, NotFound
from clearance.project.document import Document, InvalidYAML, KeyPath, format_path, read_document
from clearance.project.files import INIT_HINT, display_name
from clearance.versioning import keys
from clearance.versioning.bumps import DEFAULT_BUMPS, BumpRules, Level
from clearance.versioning.links import LinkSettings
from clearance.versioning.semver import Version
from clearance.versioning.tags import PROJECT_TAG_FORMAT, SERVICE_TAG_FORMAT, TagFormat


@dataclass(frozen=True)
class NotesSettings:
    show: tuple[str, ...] = keys.DEFAULT_SHOW
    titles: Mapping[str, str] = field(default_factory=lambda: keys.DEFAULT_TITLES)
    templates: str | None = None
    changelog: str = "CHANGELOG.md"


@dataclass(frozen=True)
class ServiceSettings:
    name: str
    path: str | None
    tag_format: str
    index: int  # its place in `services`, to point at it in messages

    def tags(self) -> TagFormat:
        return TagFormat(self.tag_format, self.name)


@dataclass(frozen=True)
class VersioningSettings:
    config_path: Path
    tag_format: str = PROJECT_TAG_FORMAT
    initial_version: Version = field(default_factory=lambda: Version(0, 1, 0))
    rules: BumpRules = field(default_factory=BumpRules)
    maintenance_branches: tuple[str, ...] = keys.DEFAULT_MAINTENANCE_BRANCHES
    notes: NotesSettings = field(default_factory=NotesSettings)
    links: LinkSettings = field(default_factory=LinkSettings)
    services: tuple[ServiceSettings, ...] = ()
    lines: Mapping[KeyPath, int] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.config_path.parent

    def versioned_services(self) -> list[ServiceSettings]:
        """Services versioned on their own: those with a `path`."""
        return [service for service in self.services if service.path is not None]

    def service(self, name: str) -> ServiceSettings:
        for service in self.services:
            if service.name == name:
                return service
        names = ", ".join(service.name for service in self.services) or "none"
        raise NotFound(f"no service {name!r} in {display_name(self.config_path)}", hint=f"services: {names}")

    def check_path(self, service: ServiceSettings) -> None:
        """ConfigError (naming file, line and key) when the service's `path` is not in the project."""
        if service.path is None or (self.root / service.path).exists():
            return
        where = ("services", service.index, "path")
        line = self.lines.get(where, 1)
        raise ConfigError(
            [
                f"{display_name(self.config_path)}:{line}: {format_path(where)}: '{service.path}' "
                "does not exist in the project"
            ],
            hint="paths are relative to the directory of clearance.yaml",
        )


def load_versioning(path: Path) -> VersioningSettings:
    """Read the versioning keys of the clearance.yaml at `path`; ConfigError if any is wrong."""
    path = path.resolve()
    shown = display_name(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError([f"{shown}: file not found"], hint=INIT_HINT) from exc
    except OSError as exc:
        raise ConfigError([f"{shown}: cannot read: {exc.strerror or exc}"], hint=INIT_HINT) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{shown}:1: not UTF-8 text"]) from exc
    try:
        document = read_document(text)
    except InvalidYAML as exc:
        raise ConfigError([f"{shown}:{exc.line}: invalid YAML: {exc.problem}"]) from exc
    reader = _Reader(document)
    data = document.data if isinstance(document.data, dict) else {}
    settings = reader.settings(path, data)
    problems = [
        (line, where, message) for line, where, message in document.problems if where[:1] == ("versioning",)
    ]
    problems += [(document.line_of(where), where, message) for where, message in reader.problems]
    if problems:
        lines: list[str] = []
        for number, where, message in sorted(problems, key=lambda problem: problem[0]):
            line = f"{shown}:{number}: {format_path(where)}: {message}"
            if line not in lines:
                lines.append(line)
        raise ConfigError(lines)
    return settings


class _Reader:
    """Checks values with `keys.py`, collecting (key path, problem) instead of stopping."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[tuple[KeyPath, str]] = []

    def settings(self, path: Path, data: dict[str, object]) -> VersioningSettings:
        section = self._section(data, ("versioning",), keys.VERSIONING_KEYS)
        at = ("versioning",)
        notes = self._section(section, (*at, "notes"), keys.NOTES_KEYS)
        major_zero = self._section(section, (*at, "major_zero"), keys.MAJOR_ZERO_KEYS)
        return VersioningSettings(
            config_path=path,
            tag_format=self._value(section, (*at, "tag_format"), keys.tag_format) or PROJECT_TAG_FORMAT,
            initial_version=Version.parse(
                self._value(section, (*at, "initial_version"), keys.version) or "0.1.0"
            ),
            rules=BumpRules(
                bumps=MappingProxyType({**DEFAULT_BUMPS, **self._bumps(section)}),
                other=Level.named(self._value(section, (*at, "other"), keys.level) or "none"),
                major_zero_breaking=Level.named(
                    self._value(major_zero, (*at, "major_zero", "breaking"), keys.level) or "minor"
                ),
                major_zero_minor=Level.named(
                    self._value(major_zero, (*at, "major_zero", "minor"), keys.level) or "minor"
                ),
            ),
            maintenance_branches=tuple(
                self._items(section, (*at, "maintenance_branches"), keys.text)
                or keys.DEFAULT_MAINTENANCE_BRANCHES
            ),
            notes=NotesSettings(
                show=tuple(self._items(notes, (*at, "notes", "show"), keys.commit_type) or keys.DEFAULT_SHOW),
                titles=MappingProxyType({**keys.DEFAULT_TITLES, **self._titles(notes)}),
                templates=self._value(notes, (*at, "notes", "templates"), keys.relative_path),
                changelog=self._value(notes, (*at, "notes", "changelog"), keys.relative_path)
                or "CHANGELOG.md",
            ),
            links=self._links(section),
            services=self._services(data),
            lines=self.document.lines,
        )

    def _section(
        self, parent: dict[str, object], where: KeyPath, allowed: tuple[str, ...]
    ) -> dict[str, object]:
        value = parent.get(str(where[-1]))
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.append((where, f"expected a mapping of keys, got {keys.describe(value)}"))
            return {}
        for key in value:
            if key not in allowed:
                from clearance.project.suggestions import did_you_mean  # difflib, only when needed

                self.problems.append(((*where, key), f"unknown key{did_you_mean(key, allowed)}"))
        return value

    def _value(self, parent: dict[str, object], where: KeyPath, check: Callable[[object], str]) -> str | None:
        value = parent.get(str(where[-1]))
        if value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            self.problems.append((where, str(exc)))
            return None

    def _items(self, parent: dict[str, object], where: KeyPath, check: Callable[[object], str]) -> list[str]:
        value = parent.get(str(where[-1]))
        if value is None:
            return []
        try:
            keys.sequence(value)
        except ValueError as exc:
            self.problems.append((where, str(exc)))
            return []
        assert isinstance(value, list)
        return [item for index, item in enumerate(value) if self._checked(item, (*where, index), check)]

    def _pairs(
        self, parent: dict[str, object], where: KeyPath, check: Callable[[object], str]
    ) -> dict[str, str]:
        value = parent.get(str(where[-1]))
        if value is None:
            return {}
        if not self._checked(value, where, keys.type_mapping):
            return {}
        assert isinstance(value, dict)
        return {key: item for key, item in value.items() if self._checked(item, (*where, key), check)}

    def _checked(self, value: object, where: KeyPath, check: Callable[[object], object]) -> bool:
        try:
            check(value)
        except ValueError as exc:
            self.problems.append((where, str(exc)))
            return False
        return True

    def _bumps(self, section: dict[str, object]) -> dict[str, Level]:
        pairs = self._pairs(section, ("versioning", "bumps"), keys.level)
        return {name: Level.named(value) for name, value in pairs.items()}

    def _titles(self, notes: dict[str, object]) -> dict[str, str]:
        return self._pairs(notes, ("versioning", "notes", "titles"), keys.text)

    def _links(self, section: dict[str, object]) -> LinkSettings:
        where = ("versioning", "links")
        links = self._section(section, where, keys.LINK_KEYS)
        templates = {}
        for name in keys.LINK_TEMPLATE_KEYS:
            template = self._value(links, (*where, name), keys.link_template(name))
            if template is not None:
                templates[name] = template
        return LinkSettings(
            forge=self._value(links, (*where, "forge"), keys.forge),
            repository=self._value(links, (*where, "repository"), keys.url),
            jira=self._value(links, (*where, "jira"), keys.url),
            jira_projects=tuple(self._items(links, (*where, "jira_projects"), keys.project_key)),
            templates=MappingProxyType(templates),
        )

    def _services(self, data: dict[str, object]) -> tuple[ServiceSettings, ...]:
        # Only what versioning reads; the rest of each service is the full loader's to check.
        services = data.get("services")
        if not isinstance(services, list):
            return ()
        found = []
        for index, service in enumerate(services):
            if not isinstance(service, dict) or not isinstance(service.get("name"), str):
                continue
            where: KeyPath = ("services", index)
            service_path = self._value(service, (*where, "path"), keys.relative_path)
            tag_format = self._value(service, (*where, "tag_format"), keys.tag_format)
            found.append(
                ServiceSettings(
                    name=str(service["name"]),
                    path=service_path,
                    tag_format=tag_format or SERVICE_TAG_FORMAT,
                    index=index,
                )
            )
        return tuple(found)
