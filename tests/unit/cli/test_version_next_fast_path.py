"""`clearance version next` skips Typer on the way in (Typer alone takes longer to start than the
command may take). The fast path must read exactly the options the Typer command declares, and
leave to Typer whatever it does not understand, so help and usage errors stay Typer's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from clearance.cli import main as cli_main
from clearance.cli import versions
from clearance.cli.fast import parse
from clearance.cli.version_next import OPTIONS


def parse_fast(argv: list[str]) -> dict[str, Any] | None:
    return parse(argv, OPTIONS)


def _typer_options() -> set[str]:
    command = typer.main.get_group(versions.version_app).commands["next"]
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def test_the_fast_path_knows_every_option_of_the_typer_command() -> None:
    assert _typer_options() == OPTIONS.names()


ARGVS = [
    [],
    ["--json"],
    ["--service", "api", "--explain", "-v"],
    ["-s", "web", "--channel=rc", "--allow-shallow"],
    ["--all", "--bump", "major", "--config", "sub/clearance.yaml"],
    ["--from-tag", "v1.2.3", "--release-as", "1.2.9", "-c", "x.yaml", "--verbose"],
    ["--channel", "beta", "--channel", "alpha"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=[" ".join(a) or "no options" for a in ARGVS])
def test_both_ways_in_call_the_command_with_the_same_arguments(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(versions, "run_next", lambda **kwargs: seen.append(kwargs))
    assert cli_main._typer_main(["version", "next", *argv]) == 0
    assert seen == [parse_fast(argv)]
    if "--config" in argv or "-c" in argv:
        assert isinstance(seen[0]["config"], Path)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--chanel", "beta"], "No such option: --chanel"),
        (["--channel", "gamma"], "'gamma' is not one of"),
        (["--bump"], "Option '--bump' requires an argument."),
        (["extra"], "Got unexpected extra argument(s) (extra)"),
    ],
)
def test_usage_errors_are_typer_s(argv: list[str], error: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_fast(argv) is None
    assert cli_main.main(["version", "next", *argv]) == 2
    assert error in capsys.readouterr().err


def test_help_and_combined_short_options_go_to_typer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse_fast(["--help"]) is None
    assert cli_main.main(["version", "next", "--help"]) == 0
    assert "Usage: clearance version next" in capsys.readouterr().out
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(versions, "run_next", lambda **kwargs: seen.append(kwargs))
    assert parse_fast(["-vs", "api"]) is None
    assert cli_main.main(["version", "next", "-vs", "api"]) == 0
    assert (seen[0]["verbose"], seen[0]["service"]) == (True, "api")


def test_notes_fast_path_knows_every_option_of_its_typer_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from clearance.cli import notes as notes_command
    from clearance.cli.release_notes import OPTIONS as NOTES_OPTIONS

    single = typer.Typer(add_completion=False)
    single.command("notes")(notes_command.notes)
    command = typer.main.get_command(single)
    assert {name for p in command.params for name in (*p.opts, *p.secondary_opts)} == NOTES_OPTIONS.names()
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(notes_command, "run_notes", lambda **kwargs: seen.append(kwargs))
    argv = [
        "--from",
        "v1.0.0",
        "--to",
        "v1.1.0",
        "--format",
        "json",
        "-s",
        "api",
        "--dry-run",
        "--config",
        "c.yaml",
    ]
    assert cli_main._typer_main(["notes", *argv]) == 0
    expected = parse(argv, NOTES_OPTIONS)
    assert expected is not None
    assert seen == [expected]
    assert parse(["--format", "html"], NOTES_OPTIONS) is None
