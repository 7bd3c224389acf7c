"""`clearance demo`: a sample project in a temporary git repository, walked from dev to prod."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from clearance.cli import deployments
from clearance.cli.options import Json
from clearance.cli.output import err
from clearance.cli.progress import ConsoleProgress
from clearance.delivery import service as delivery
from clearance.errors import LifecycleViolation, UsageError
from clearance.planning.releases import WorkItem
from clearance.planning.service import NewRelease, create_release
from clearance.workspace import open_workspace

DEMO_CONFIG = """\
# A sample project made by `clearance demo`.
project: demo-shop
services:
  - name: web
  - name: api
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
lifecycle:
  phases:
    - environments: [dev]
      auto_deploy: true
    - environments: [staging]
    - environments: [prod]
process:
  - name: build-check
    script: echo "checking $CLEARANCE_SERVICE $CLEARANCE_RELEASE_VERSION for $CLEARANCE_ENVIRONMENT"
    timeout: 30s
  - name: migrate
    script: echo "migrating the $CLEARANCE_ENVIRONMENT database as $DB_USER" && sleep 0.2
    services: [api]
  - name: switch
    script: >-
      mkdir -p deployed/$CLEARANCE_ENVIRONMENT &&
      echo "$CLEARANCE_RELEASE_VERSION" > deployed/$CLEARANCE_ENVIRONMENT/$CLEARANCE_SERVICE &&
      echo "$CLEARANCE_SERVICE $CLEARANCE_RELEASE_VERSION is live in $CLEARANCE_ENVIRONMENT"
      "(log level $LOG_LEVEL)"
variables:
  - name: LOG_LEVEL
    value: debug
  - name: LOG_LEVEL
    value: warning
    environments: [prod]
  - name: DB_USER
    value: shop
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=clearance demo", "-c", "user.email=demo@clearance.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to create the sample project (default: a new temporary folder)."),
    ] = None,
    keep: Annotated[bool, typer.Option("--keep/--clean", help="Keep the sample project afterwards.")] = True,
    as_json: Json = False,
) -> None:
    """Create a sample project in a temporary git repository and walk release 1.0.0 to prod."""
    if shutil.which("git") is None:
        raise UsageError("the demo needs git on PATH", hint="install git (apt-get install git)")
    repo = directory or Path(tempfile.mkdtemp(prefix="clearance-demo-"))
    repo.mkdir(parents=True, exist_ok=True)
    if (repo / "clearance.yaml").exists():
        raise UsageError(f"{repo} already holds a clearance.yaml", hint="pick an empty --dir")
    console = err()
    console.rule("[bold]clearance demo")
    console.print(f"sample project: {escape(str(repo))}")
    (repo / "clearance.yaml").write_text(DEMO_CONFIG, encoding="utf-8")
    (repo / ".gitignore").write_text(".clearance/\ndeployed/\n", encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "feat: the demo shop")
    previous = Path.cwd()
    os.chdir(repo)
    try:
        _walk(console)
        deployments.status(config=None, as_json=as_json)
    finally:
        os.chdir(previous)
        if not keep:
            shutil.rmtree(repo, ignore_errors=True)
    console.print(f"[dim]explore it: cd {escape(str(repo))} && clearance history[/]")


def _walk(console: object) -> None:
    from rich.console import Console

    assert isinstance(console, Console)
    ws = open_workspace(None, actor=os.environ.get("CLEARANCE_ACTOR") or "demo")
    progress = ConsoleProgress()
    console.print("\n[bold]1.[/] create release 1.0.0 and deploy it to dev (auto-deploys the first phase)")
    create_release(
        ws,
        NewRelease(
            version="1.0.0",
            notes="First release of the demo shop.",
            scope=(WorkItem("SHOP-1", "Checkout page", None), WorkItem("SHOP-2", "Payments API", None)),
        ),
    )
    delivery.auto_deploy(ws, "1.0.0", progress=progress)
    console.print("\n[bold]2.[/] try to skip staging: the lifecycle refuses")
    try:
        delivery.deploy(ws, "1.0.0", "prod", progress=progress)
    except LifecycleViolation as refused:
        console.print(f"[yellow]refused (exit 3):[/] {escape(refused.message)}")
    console.print("\n[bold]3.[/] promote 1.0.0 to staging, then to prod")
    delivery.promote(ws, "1.0.0", progress=progress)
    delivery.promote(ws, "1.0.0", progress=progress)
    console.print("\n[bold]4.[/] the environment matrix")
