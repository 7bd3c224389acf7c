"""clearance.yaml: the schema of a project's deployment process and the loader that checks it.

The names below load on first use: importing `clearance.project.document` or `.files` must not
pay for pydantic, so that commands which read only a few keys start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clearance.project.loader import (
        CONFIG_FILENAME,
        LoadedConfig,
        find_config,
        load_config,
        parse_config,
    )
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

_WHERE = {
    "CONFIG_FILENAME": "files",
    "find_config": "files",
    "LoadedConfig": "loader",
    "load_config": "loader",
    "parse_config": "loader",
    "Environment": "schema",
    "Lifecycle": "schema",
    "Phase": "schema",
    "ProjectConfig": "schema",
    "ScriptStep": "schema",
    "Service": "schema",
    "Variable": "schema",
    "STARTER_CONFIG": "starter",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
