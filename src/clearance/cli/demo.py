"""`clearance demo`: a sample project in a temporary git repository, walked from dev to prod, then
progressive delivery in prod: a healthy canary promoted, a faulty one rolled back automatically,
while a load generator keeps calling prod."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from clearance.cli import deployments
from clearance.cli.options import Json
from clearance.cli.output import err
from clearance.cli.progress import ConsoleProgress
from clearance.delivery import service as delivery
from clearance.errors import LifecycleViolation, UsageError
from clearance.planning.releases import WorkItem
from clearance.planning.service import NewRelease, create_release
from clearance.workspace import Workspace, open_workspace

FAULTY = "1.2.0"  # the sample service answers 20 % of its requests with 500 in this version

DEMO_CONFIG = """\
# A sample project made by `clearance demo`.
project: demo-shop
services:
  - name: web
    run:
      # The bundled sample HTTP service; version {faulty} is given 20 % injected 5xx.
      command: >-
        if [ "$CLEARANCE_RELEASE_VERSION" = "{faulty}" ]; then export FAULT_ERROR_RATE=0.2; fi;
        exec "$CLEARANCE_PYTHON" -m clearance.demo.sample_service
      port: {{dev: {dev}, staging: {staging}, prod: {prod}}}
      replicas: {{prod: 2}}
      health: {{path: /health, interval: 200ms}}
      drain_timeout: 2s
environments:
  - name: dev
  - name: staging
  - name: prod
    production: true
    strategy:
      type: canary
      steps:
        - set_weight: 10
        - analysis: {{template: errors}}
        - set_weight: 50
        - analysis: {{template: errors}}
analysis_templates:
  - name: errors
    metrics:
      - name: error-rate
        provider: {{type: envoy, metric: error_rate}}   # from the agent's Envoy, zero setup
        initial_delay: 1s
        interval: 1s
        count: 3
        success_condition: result < 0.05
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
variables:
  - name: LOG_LEVEL
    value: debug
  - name: LOG_LEVEL
    value: warning
    environments: [prod]
  - name: DB_USER
    value: shop
"""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


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
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the services running behind Envoy afterwards.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Create a sample project in a temporary git repository, walk release 1.0.0 to prod, then roll
    out 1.1.0 (canary, promoted) and 1.2.0 (20 % errors, rolled back automatically) under load."""
    if shutil.which("git") is None:
        raise UsageError("the demo needs git on PATH", hint="install git (apt-get install git)")
    repo = directory or Path(tempfile.mkdtemp(prefix="clearance-demo-"))
    repo.mkdir(parents=True, exist_ok=True)
    if (repo / "clearance.yaml").exists():
        raise UsageError(f"{repo} already holds a clearance.yaml", hint="pick an empty --dir")
    console = err()
    console.rule("[bold]clearance demo")
    console.print(f"sample project: {escape(str(repo))}")
    dev, staging, prod = _free_ports(3)
    config = DEMO_CONFIG.format(dev=dev, staging=staging, prod=prod, faulty=FAULTY)
    (repo / "clearance.yaml").write_text(config, encoding="utf-8")
    (repo / ".gitignore").write_text(".clearance/\n", encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "feat: the demo shop")
    previous = Path.cwd()
    os.chdir(repo)
    ws = open_workspace(None, actor=os.environ.get("CLEARANCE_ACTOR") or "demo")
    try:
        _walk(console, ws)
        _progressive(console, ws, prod)
        console.print("\n[bold]7.[/] the environment matrix")
        deployments.status(config=None, as_json=as_json)
    finally:
        if not keep_running:
            from clearance.agent.control import stop_agent

            stop_agent(ws)
        os.chdir(previous)
    console.print(
        f"[dim]explore it: cd {escape(str(repo))} && clearance history, clearance deployment show ID, "
        "clearance audit list[/]"
    )
    if keep_running:
        console.print(
            f"[dim]prod answers on http://127.0.0.1:{prod}/ — stop it with `clearance agent --stop`[/]"
        )


def _walk(console: Console, ws: Workspace) -> None:
    progress = ConsoleProgress(show_output=False)
    console.print("\n[bold]1.[/] create release 1.0.0: it deploys to dev at once (an auto_deploy phase)")
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


def _progressive(console: Console, ws: Workspace, prod_port: int) -> None:
    from clearance.demo.loadgen import LoadGenerator

    progress = ConsoleProgress(show_output=True)
    url = f"http://127.0.0.1:{prod_port}/"
    console.print(f"\n[bold]4.[/] steady traffic on prod ({url}, 40 requests/s) while releases roll out")
    with LoadGenerator(url, rate=40, connections=4) as load:
        for version, story in (
            ("1.1.0", "a healthy release"),
            (FAULTY, "a release that fails 20 % of requests"),
        ):
            console.print(
                f"\n[bold]{5 if version == '1.1.0' else 6}.[/] {version}: {story} — dev, staging, "
                "then a canary in prod (10 % → analysis → 50 % → analysis → 100 %)"
            )
            create_release(ws, NewRelease(version=version))
            delivery.auto_deploy(ws, version, progress=ConsoleProgress(show_output=False))
            delivery.promote(ws, version, progress=ConsoleProgress(show_output=False))
            outcome = delivery.promote(ws, version, progress=progress)
            for d in outcome.deployments:
                if d.state == "rolled_back":
                    console.print(f"[magenta]↺ rolled back automatically:[/] {escape(d.reason)}")
        report = load.stop()
    errors = sum(n for code, n in report.by_status.items() if code >= 500)
    console.print(f"\nload on prod during the rollouts: {escape(report.render())}")
    console.print(
        f"[bold]{report.failed} requests dropped[/] while versions changed; {errors} answered 5xx — "
        f"the faulty {FAULTY} canary's own errors before the analysis rolled it back"
    )
