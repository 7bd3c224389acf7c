"""The `clearance` command: the Typer app and the one wrapper that turns errors into exit codes."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from types import FrameType

import typer
from typer.exceptions import Abort, Exit, TyperException

from clearance import __version__
from clearance.cli import agent, audit, demo, deployments, project, releases, rollouts, serve
from clearance.cli.output import render_error
from clearance.errors import ClearanceError, Interrupted

app = typer.Typer(
    name="clearance",
    help="Release management from plan to production: releases, lifecycles, deployments, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("init")(project.init)
app.add_typer(project.config_app, name="config")
app.add_typer(releases.release_app, name="release")
app.command("deploy")(deployments.deploy)
app.command("promote")(deployments.promote)
app.command("rollback")(deployments.rollback)
app.command("status")(deployments.status)
app.command("history")(deployments.history)
app.add_typer(deployments.deployment_app, name="deployment")
app.add_typer(audit.audit_app, name="audit")
app.command("demo")(demo.demo)
app.command("agent")(agent.agent)
app.command("serve")(serve.serve)
app.command("abort")(rollouts.abort)
app.command("pause")(rollouts.pause)
app.command("resume")(rollouts.resume)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clearance {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """clearance: plan, deploy, promote and roll back releases, with an audit trail that proves it."""


def _sigterm(signum: int, frame: FrameType | None) -> None:
    # Treat SIGTERM like Ctrl-C so a running deployment is recorded as cancelled, not left running.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (0 ok, 1 failed, 2 usage, 3 refused, 4 not found, 130)."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    try:
        result = app(args=args, prog_name="clearance", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except ClearanceError as error:
        render_error(error, as_json=as_json)
        return error.exit_code
    except Exit as done:
        return done.exit_code
    except Abort:
        render_error(Interrupted("interrupted"), as_json=as_json)
        return 130
    except TyperException as usage:
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            render_error(ClearanceError(usage.format_message(), code="usage"), as_json=as_json)
        return 2
    except KeyboardInterrupt:
        render_error(Interrupted("interrupted"), as_json=as_json)
        return 130


def run() -> None:
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _sigterm)
    sys.exit(main())
