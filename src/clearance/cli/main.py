"""The `clearance` command: the one wrapper that turns errors into exit codes.

Typer itself takes longer to start than `clearance version next` may take in all, so that
command goes through its own fast path (`cli/version_next.py`) and Typer loads only for the others.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from clearance.errors import ClearanceError, Interrupted


def _sigterm(signum: int, frame: FrameType | None) -> None:
    # Treat SIGTERM like Ctrl-C so a running deployment is recorded as cancelled, not left running.
    raise KeyboardInterrupt


def _render(error: ClearanceError, as_json: bool) -> None:
    # Rich loads only when there is an error to show.
    from clearance.cli.output import render_error

    render_error(error, as_json=as_json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (0 ok, 1 failed, 2 usage, 3 refused, 4 not found,
    130 interrupted, 141 its reader went away, as for any command killed by SIGPIPE)."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        done = _fast(args)
        return done if done is not None else _typer_main(args)
    except ClearanceError as error:
        _render(error, as_json)
        return error.exit_code
    except KeyboardInterrupt:
        _render(Interrupted("interrupted"), as_json)
        return 130
    except BrokenPipeError:
        # `clearance notes --full | head`: the reader has what it wanted. Stop quietly, as cat and git
        # do, and point stdout at /dev/null so that the flush at exit cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def _fast(args: list[str]) -> int | None:
    """Commands that start without Typer (see cli/fast.py); None when Typer must run it."""
    if args[:2] == ["version", "next"]:
        from clearance.cli import version_next

        return version_next.fast_path(args[2:])
    if args[:1] == ["notes"]:
        from clearance.cli import release_notes

        return release_notes.fast_path(args[1:])
    return None


def _typer_main(args: list[str]) -> int:
    from typer.exceptions import Abort, Exit, TyperException

    from clearance.cli.app import app

    try:
        result: Any = app(args=args, prog_name="clearance", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except Exit as done:
        return done.exit_code
    except Abort as abort:
        raise KeyboardInterrupt from abort
    except TyperException as usage:
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            _render(ClearanceError(usage.format_message(), code="usage"), "--json" in args)
        return 2


def run() -> None:
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _sigterm)
    sys.exit(main())
