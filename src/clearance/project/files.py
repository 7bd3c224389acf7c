"""Where clearance.yaml is: its name, how it is found from a directory, and how it is shown.

Kept apart from the loader (which needs pydantic) so that fast commands can find the file too.
"""

from __future__ import annotations

from pathlib import Path

from clearance.errors import NotFound

CONFIG_FILENAME = "clearance.yaml"
INIT_HINT = "run `clearance init` to create a commented clearance.yaml"


def find_config(start: Path) -> Path:
    """The clearance.yaml in `start` or the nearest parent directory that has one."""
    start = start.resolve()
    directory = start if start.is_dir() else start.parent
    for candidate in (directory, *directory.parents):
        path = candidate / CONFIG_FILENAME
        if path.is_file():
            return path
    raise NotFound(f"no {CONFIG_FILENAME} in {directory} or any parent directory", hint=INIT_HINT)


def display_name(path: Path) -> str:
    """`path` relative to the working directory when it is below it, else absolute."""
    path = path.absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
