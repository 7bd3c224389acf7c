"""clearance.yaml: the schema of a project's deployment process and the loader that checks it."""

from __future__ import annotations

from clearance.project.loader import CONFIG_FILENAME, LoadedConfig, find_config, load_config, parse_config
from clearance.project.schema import (
    Environment,
    Lifecycle,
    Phase,
    ProjectConfig,
    ScriptStep,
    Service,
    Variable,
)
from clearance.project.starter import STARTER_CONFIG

__all__ = [
    "CONFIG_FILENAME",
    "STARTER_CONFIG",
    "Environment",
    "Lifecycle",
    "LoadedConfig",
    "Phase",
    "ProjectConfig",
    "ScriptStep",
    "Service",
    "Variable",
    "find_config",
    "load_config",
    "parse_config",
]
