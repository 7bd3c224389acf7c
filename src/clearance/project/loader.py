"""Find, read and validate clearance.yaml, reporting every problem as `file:line: key: why`.

The pipeline: text → YAML nodes with lines (document.py) → pydantic (schema.py) and the
cross-reference rules (checks.py) → one ConfigError listing every problem in file order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from clearance.errors import ConfigError
from clearance.project.checks import cross_check
from clearance.project.document import (
    Document,
    InvalidYAML,
    KeyPath,
    LocatedProblem,
    format_path,
    read_document,
)
from clearance.project.error_messages import validation_problems
from clearance.project.files import CONFIG_FILENAME, INIT_HINT, display_name, find_config
from clearance.project.rollout import FlagRollout
from clearance.project.schema import ProjectConfig

__all__ = ["CONFIG_FILENAME", "LoadedConfig", "display_name", "find_config", "load_config", "parse_config"]

_TOP_LEVEL = "project, services, environments and lifecycle"


@dataclass(frozen=True)
class LoadedConfig:
    """A validated clearance.yaml and where it came from."""

    path: Path  # absolute
    root: Path  # the project root: the directory holding the file
    config: ProjectConfig
    sha256: str  # of the file's bytes, to record which configuration a deployment used


def load_config(path: Path) -> LoadedConfig:
    """Read and validate the file at `path`; raise ConfigError if it is missing or wrong."""
    path = path.resolve()
    shown = display_name(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError([f"{shown}: file not found"], hint=INIT_HINT) from exc
    except OSError as exc:
        raise ConfigError([f"{shown}: cannot read: {exc.strerror or exc}"], hint=INIT_HINT) from exc
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"{shown}:{line}: not UTF-8 text"]) from exc
    config = parse_config(text, shown)
    digest = hashlib.sha256(content).hexdigest()
    return LoadedConfig(path=path, root=path.parent, config=config, sha256=digest)


def parse_config(text: str, filename: str) -> ProjectConfig:
    """Validate clearance.yaml text; `filename` is only used to label the problems."""
    try:
        document = read_document(text)
    except InvalidYAML as exc:
        raise ConfigError([f"{filename}:{exc.line}: invalid YAML: {exc.problem}"]) from exc
    if not isinstance(document.data, dict):
        found = "the file is empty" if document.data is None else "the top level is not a mapping of keys"
        raise ConfigError([f"{filename}:1: {found}: expected {_TOP_LEVEL}"])
    data = document.data
    _keep_variable_text(data, document)
    problems = []
    config: ProjectConfig | None = None
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(exc)
    problems += cross_check(data, document.line_of)
    if config is not None:
        problems += _provider_problems(config) + _flag_only_problems(config)
    located = document.problems + [(document.line_of(path), path, message) for path, message in problems]
    if located or config is None:
        raise ConfigError(_format(located, filename))
    return config


def _provider_problems(config: ProjectConfig) -> list[tuple[KeyPath, str]]:
    """What only the metric providers can tell (unknown `type`, bad settings, unknown variables):
    found here, at load time, never in the middle of a deployment."""
    if not config.analysis_templates:
        return []
    from clearance.delivery.analysis.templates import template_problems  # the providers load lazily

    return [
        (("analysis_templates", index, *where), message)
        for index, template in enumerate(config.analysis_templates)
        for where, message in template_problems(template)
    ]


def _flag_only_problems(config: ProjectConfig) -> list[tuple[KeyPath, str]]:
    """A service without `run:` has no proxy: in a flag-rollout environment its analyses cannot
    measure through Envoy (it walks the flag's steps with prometheus or http metrics)."""
    flag_only = [s.name for s in config.services if s.run is None]
    problems: list[tuple[KeyPath, str]] = []
    for index, env in enumerate(config.environments):
        strategy = env.strategy
        if not flag_only or not isinstance(strategy, FlagRollout):
            continue
        base: KeyPath = ("environments", index, "strategy")
        refs = [((*base, "steps", i, "analysis"), s.analysis) for i, s in enumerate(strategy.steps)]
        refs.append(((*base, "background_analysis"), strategy.background_analysis))
        for path, ref in refs:
            template = config.analysis_template(ref.template) if ref else None
            if template is None:
                continue  # no analysis here, or an unknown template (reported by the checks)
            types = [m.provider.type for m in template.metrics]
            types += [m.provider.type for m in template.judge.metrics] if template.judge else []
            if "envoy" in types:
                problems.append(
                    (
                        (*path, "template"),
                        f"analysis template '{template.name}' measures through Envoy, which service "
                        f"'{flag_only[0]}' does not have (no `run:`): measure the flag's effect with a "
                        "prometheus or http metric",
                    )
                )
    return problems


def _keep_variable_text(data: dict[str, object], document: Document) -> None:
    # `value: 1.10` or `value: off` must reach the deployment as "1.10" and "off", not 1.1 and False.
    variables = data.get("variables")
    if not isinstance(variables, list):
        return
    for index, variable in enumerate(variables):
        raw = document.raw_text.get(("variables", index, "value"))
        if isinstance(variable, dict) and raw is not None:
            variable["value"] = raw


def _format(problems: list[LocatedProblem], filename: str) -> list[str]:
    lines: list[str] = []
    # sorted() is stable: problems on one line keep the order they were found in.
    for number, path, message in sorted(problems, key=lambda problem: problem[0]):
        where = f"{format_path(path)}: " if path else ""
        line = f"{filename}:{number}: {where}{message}"
        if line not in lines:
            lines.append(line)
    return lines
