"""Commands that start without Typer: the reading of their options, and their plain output.

Typer 0.29 builds a pydantic TypeAdapter for every option, which alone takes longer than
`clearance version next` may take in all. The commands that must be fast (`version next`, and
`notes`, which renders whole histories) declare their options for Typer as usual (help, usage
errors) and, here, as a table `parse` reads; `cli/main.py` tries `parse` first and falls back to
Typer for anything it does not understand (`--help`, a typo, a bad choice).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1  # the same document shape as cli.output.emit_json, which would load Rich


@dataclass(frozen=True)
class Options:
    """option → parameter; `choices` limits an option's values; `paths` are given as Path."""

    values: dict[str, str]
    flags: dict[str, str]
    choices: dict[str, tuple[str, ...]]
    paths: tuple[str, ...] = ("config",)

    def names(self) -> set[str]:
        return {*self.values, *self.flags}


def parse(args: Sequence[str], options: Options) -> dict[str, Any] | None:
    """The command's keyword arguments for `args`, or None when Typer should read them."""
    found: dict[str, Any] = {name: False for name in options.flags.values()}
    found.update({name: None for name in options.values.values()})
    index = 0
    while index < len(args):
        arg = args[index]
        option, equals, value = arg.partition("=")
        if arg in options.flags:
            found[options.flags[arg]] = True
        elif option in options.values:
            if not equals:
                index += 1
                if index == len(args):
                    return None
                value = args[index]
            name = options.values[option]
            if name in options.choices and value not in options.choices[name]:
                return None
            found[name] = value
        else:
            return None
        index += 1
    for name in options.paths:
        if found.get(name) is not None:
            found[name] = Path(found[name])
    return found


def out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def emit(document: dict[str, Any]) -> None:
    """The one JSON document of a `--json` command."""
    import json

    out(json.dumps({"schema_version": SCHEMA_VERSION, **document}, indent=2, ensure_ascii=False))
