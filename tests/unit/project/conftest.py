"""A project directory with a clearance.yaml in it, as a user would have."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from clearance.errors import ConfigError
from clearance.project import load_config

WriteConfig = Callable[[str], Path]
Problems = Callable[[str], list[str]]


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteConfig:
    """Write clearance.yaml into a fresh project directory and work from there."""
    monkeypatch.chdir(tmp_path)

    def write(text: str) -> Path:
        path = tmp_path / "clearance.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def problems(write_config: WriteConfig) -> Problems:
    """The problem lines `clearance` would print for this clearance.yaml."""

    def collect(text: str) -> list[str]:
        path = write_config(text)
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        return caught.value.problems

    return collect
