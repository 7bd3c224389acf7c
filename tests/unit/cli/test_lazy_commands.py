"""The `clearance` command loads a command's module only when that command runs: every command is
still listed and reachable, and a command that needs neither the store nor the web stack (here
`--version`) starts without them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from clearance import __version__
from clearance.cli.app import COMMANDS
from clearance.cli.main import main


def test_every_command_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    for name in COMMANDS:
        assert f" {name} " in listing, name


def test_a_misspelt_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["relase", "list"]) == 2
    assert "No such command 'relase'. Did you mean 'release'" in capsys.readouterr().err


def test_commands_loaded_on_demand_keep_their_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "Usage: clearance init" in help_text
    assert "--install-completion" not in help_text


def test_version_starts_without_the_store_or_rich() -> None:
    code = (
        "import sys; from clearance.cli.main import main; code = main(['--version']); "
        "print(sorted(m for m in ('sqlalchemy', 'rich', 'clearance.store', 'clearance.delivery') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [f"clearance {__version__}", "[]"]
