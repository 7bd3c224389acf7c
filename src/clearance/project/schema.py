"""The clearance.yaml schema: pydantic models of the project and pure helpers to query them.

Rules that need only one value live here as validators; rules that compare parts of the file
(unknown references, duplicates, overlaps) live in `checks.py` so they can report every problem.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from clearance.delivery.analysis.templates import AnalysisTemplate
from clearance.gates.changes.policy import ChangeControlPolicy, change_control_value
from clearance.gates.policies import GatesPolicy, TrustedKey
from clearance.project.durations import parse_duration
from clearance.project.rollout import RunSpec, Strategy, default_strategy
from clearance.versioning import keys as versioning

DEFAULT_TIMEOUT_SECONDS = 600.0

VARIABLE_WITH_TWO_SOURCES = "set either value or secret_env, not both"
VARIABLE_WITHOUT_SOURCE = "set value (a literal) or secret_env (read from the environment at deploy time)"

_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")
_SLUG_MAX = 63
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_slug(value: str) -> str:
    # Project, service and environment names end up in URLs, Envoy cluster names and file names.
    if not value.strip():
        raise ValueError("must not be empty")
    if not _SLUG.fullmatch(value) or len(value) > _SLUG_MAX:
        raise ValueError(
            f"invalid name '{value}': use lowercase letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, at most {_SLUG_MAX} characters"
        )
    return value


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _check_variable_name(value: str) -> str:
    if not _VARIABLE.fullmatch(value):
        raise ValueError(
            f"invalid variable name '{value}': use letters, digits and '_', not starting with a digit"
        )
    return value


def _check_working_dir(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty (leave it out to run in the project root)")
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute():
        raise ValueError(f"'{value}' must be relative to the project root, not absolute")
    depth = 0
    for part in PurePosixPath(value).parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            raise ValueError(f"'{value}' leads outside the project root")
    return value


def _as_text(value: object) -> object:
    # YAML turns `value: 3` and `value: true` into int and bool; variables are always strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


Slug = Annotated[str, AfterValidator(_check_slug)]
Text = Annotated[str, AfterValidator(_check_text)]
VariableName = Annotated[str, AfterValidator(_check_variable_name)]
# Parsed to seconds at load time so a bad duration is a config error, not a failed deployment.
Duration = Annotated[float, BeforeValidator(parse_duration)]
EnvironmentScope = Annotated[tuple[str, ...], Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Versioning keys: their checks live in versioning/keys.py, shared with the light loader that
# `clearance version next` uses, so both report a wrong value in the same words.
TagFormat = Annotated[str, BeforeValidator(versioning.tag_format)]
RelativePath = Annotated[str, BeforeValidator(versioning.relative_path)]
BumpLevel = Annotated[str, BeforeValidator(versioning.level)]
CommitType = Annotated[str, BeforeValidator(versioning.commit_type)]
PlainText = Annotated[str, BeforeValidator(versioning.text)]
Url = Annotated[str, BeforeValidator(versioning.url)]


def _link(name: str) -> object:
    return BeforeValidator(versioning.link_template(name))


class Service(_Model):
    """A deployable unit of the project; with `run:` it is deployed as replicas behind a proxy."""

    name: Slug
    description: str | None = None
    run: RunSpec | None = None
    # Monorepos: the service's own directory (only commits touching it count for its version)
    # and the tags of its releases.
    path: RelativePath | None = None
    tag_format: TagFormat | None = None


class MajorZero(_Model):
    """What breaking and minor changes bump while the major version is 0."""

    breaking: BumpLevel | None = None
    minor: BumpLevel | None = None


class VersioningNotes(_Model):
    show: Annotated[tuple[CommitType, ...], BeforeValidator(versioning.sequence)] | None = None
    titles: Annotated[dict[str, PlainText], BeforeValidator(versioning.type_mapping)] | None = None
    templates: RelativePath | None = None
    changelog: RelativePath | None = None


class VersioningLinks(_Model):
    """Where release notes link commits, issues and pull requests to; nothing is linked without it."""

    forge: Annotated[str, BeforeValidator(versioning.forge)] | None = None
    repository: Url | None = None
    jira: Url | None = None
    jira_projects: (
        Annotated[
            tuple[Annotated[str, BeforeValidator(versioning.project_key)], ...],
            BeforeValidator(versioning.sequence),
        ]
        | None
    ) = None
    commit: Annotated[str, _link("commit")] | None = None
    issue: Annotated[str, _link("issue")] | None = None
    pull_request: Annotated[str, _link("pull_request")] | None = None
    compare: Annotated[str, _link("compare")] | None = None
    work_item: Annotated[str, _link("work_item")] | None = None


class Versioning(_Model):
    """Versions and release notes from the commit history (Conventional Commits)."""

    tag_format: TagFormat | None = None
    initial_version: Annotated[str, BeforeValidator(versioning.version)] | None = None
    bumps: Annotated[dict[str, BumpLevel], BeforeValidator(versioning.type_mapping)] | None = None
    other: BumpLevel | None = None
    major_zero: MajorZero | None = None
    maintenance_branches: Annotated[tuple[PlainText, ...], BeforeValidator(versioning.sequence)] | None = None
    notes: VersioningNotes | None = None
    links: VersioningLinks | None = None


class Environment(_Model):
    """A place releases are deployed to."""

    name: Slug
    production: bool = False
    allow_prerelease: bool | None = None
    # How a new version of a `run:` service replaces the old one here.
    strategy: Strategy = Field(default_factory=default_strategy)
    # What a release must show before it is deployed here (checked before every deployment), and
    # the public keys whose signatures over its artifacts this environment accepts.
    gates: GatesPolicy | None = None
    trusted_keys: tuple[TrustedKey, ...] = ()
    # ITIL mode: every deployment here implements a change request (`true` for the defaults).
    change_control: Annotated[ChangeControlPolicy | None, BeforeValidator(change_control_value)] = None

    def allows_prerelease(self) -> bool:
        """Prereleases stay out of production unless the file says otherwise."""
        if self.allow_prerelease is not None:
            return self.allow_prerelease
        return not self.production


class Phase(_Model):
    """One step of a lifecycle: a release must reach `required` of its environments to move on."""

    name: Text | None = None
    environments: Annotated[tuple[str, ...], Field(min_length=1)]
    required: Literal["all", "optional"] | int = "all"
    auto_deploy: bool = False

    @field_validator("required", mode="plain")
    @classmethod
    def _check_required(cls, value: object, info: ValidationInfo) -> Literal["all", "optional"] | int:
        if value == "all" or value == "optional":
            return "all" if value == "all" else "optional"
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("must be 'all', 'optional' or a number of environments")
        environments = info.data.get("environments")
        # When `environments` itself is invalid it has its own problem; nothing to compare with.
        if value < 1:
            raise ValueError(f"{value} is out of range: use 'optional' for a phase that may be skipped")
        if environments is not None and value > len(environments):
            count = len(environments)
            raise ValueError(f"{value} is out of range: this phase has only {count} environment(s)")
        return value

    def min_required(self) -> int:
        """How many of this phase's environments a release must reach before the next phase."""
        if self.required == "all":
            return len(self.environments)
        if self.required == "optional":
            return 0
        return self.required

    def display_name(self) -> str:
        return self.name if self.name is not None else "+".join(self.environments)


class Lifecycle(_Model):
    """The ordered phases a release is promoted through."""

    phases: Annotated[tuple[Phase, ...], Field(min_length=1)]

    def phase_of(self, environment: str) -> Phase | None:
        return next((phase for phase in self.phases if environment in phase.environments), None)


class ScriptStep(_Model):
    """A shell command run during a deployment, optionally only for some environments or services."""

    name: Text
    script: Text
    timeout: Duration = DEFAULT_TIMEOUT_SECONDS
    environments: EnvironmentScope | None = None
    services: Annotated[tuple[str, ...], Field(min_length=1)] | None = None
    working_dir: Annotated[str, AfterValidator(_check_working_dir)] | None = None

    @property
    def timeout_seconds(self) -> float:
        return self.timeout

    def applies_to(self, environment: str, service: str) -> bool:
        return (self.environments is None or environment in self.environments) and (
            self.services is None or service in self.services
        )


class Variable(_Model):
    """A deployment variable: a literal value, or a secret read from the process environment."""

    name: VariableName
    value: Annotated[str | None, BeforeValidator(_as_text)] = None
    secret_env: VariableName | None = None
    environments: EnvironmentScope | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Variable:
        # checks.py applies the same rule to the raw file, so it is reported even when other
        # keys of this variable are wrong; the messages match, so the loader shows it once.
        if self.value is not None and self.secret_env is not None:
            raise ValueError(VARIABLE_WITH_TWO_SOURCES)
        if self.value is None and self.secret_env is None:
            raise ValueError(VARIABLE_WITHOUT_SOURCE)
        return self

    @property
    def is_secret(self) -> bool:
        return self.secret_env is not None

    def applies_to(self, environment: str) -> bool:
        return self.environments is None or environment in self.environments


class FlagSettings(_Model):
    """Feature flags: a flag fully rolled out for longer than `stale_after` is listed as stale."""

    stale_after: Annotated[float, BeforeValidator(parse_duration)] = 30 * 86400.0


class ProjectConfig(_Model):
    """The whole clearance.yaml."""

    version: int = 1
    project: Slug
    services: Annotated[tuple[Service, ...], Field(min_length=1)]
    environments: Annotated[tuple[Environment, ...], Field(min_length=1)]
    lifecycle: Lifecycle
    hotfix_lifecycle: Lifecycle | None = None
    process: tuple[ScriptStep, ...] = ()
    variables: tuple[Variable, ...] = ()
    # Metrics checked during rollouts (Argo Rollouts' AnalysisTemplate, in clearance.yaml).
    analysis_templates: tuple[AnalysisTemplate, ...] = ()
    versioning: Versioning | None = None
    flags: FlagSettings = Field(default_factory=FlagSettings)

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: object) -> object:
        if value != 1 or isinstance(value, bool):
            raise ValueError(f"unsupported file version {value!r}: this clearance reads version 1")
        return value

    def environment(self, name: str) -> Environment | None:
        return next((env for env in self.environments if env.name == name), None)

    def analysis_template(self, name: str) -> AnalysisTemplate | None:
        return next((t for t in self.analysis_templates if t.name == name), None)

    def service(self, name: str) -> Service | None:
        return next((service for service in self.services if service.name == name), None)

    def environment_names(self) -> list[str]:
        return [env.name for env in self.environments]

    def service_names(self) -> list[str]:
        return [service.name for service in self.services]

    def lifecycle_for(self, hotfix: bool) -> Lifecycle:
        """Hotfixes follow their own (usually shorter) lifecycle when the file defines one."""
        if hotfix and self.hotfix_lifecycle is not None:
            return self.hotfix_lifecycle
        return self.lifecycle

    def steps_for(self, environment: str, service: str) -> list[ScriptStep]:
        return [step for step in self.process if step.applies_to(environment, service)]

    def variables_for(self, environment: str) -> list[Variable]:
        """One variable per name, in file order; one scoped to `environment` beats an unscoped one."""
        chosen: dict[str, Variable] = {}
        for variable in self.variables:
            if not variable.applies_to(environment):
                continue
            current = chosen.get(variable.name)
            if current is None or current.environments is None:
                chosen[variable.name] = variable
        return list(chosen.values())
