"""`clearance init` and `clearance config check`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from clearance.cli.options import ConfigPath, Json
from clearance.cli.output import emit_json, err, out
from clearance.errors import AlreadyExists, NotFound
from clearance.project import CONFIG_FILENAME, STARTER_CONFIG, find_config, load_config

config_app = typer.Typer(help="Check the deployment process as code (clearance.yaml).", no_args_is_help=True)


def init(
    directory: Annotated[Path, typer.Argument(help="Where to write clearance.yaml.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: Json = False,
) -> None:
    """Write a commented starter clearance.yaml."""
    path = directory / CONFIG_FILENAME
    if path.exists() and not force:
        raise AlreadyExists(f"{path} already exists", hint="use --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER_CONFIG, encoding="utf-8")
    if as_json:
        emit_json({"path": str(path.resolve())})
        return
    err().print(f"wrote {escape(str(path))} — edit it, then run `clearance config check`")
    err().print("[dim]tip: add .clearance/ (the embedded store) to .gitignore[/]")


@config_app.command("check")
def check(
    path: Annotated[
        Path | None, typer.Argument(help="The file (default: clearance.yaml found upwards).")
    ] = None,
    config: ConfigPath = None,
    as_json: Json = False,
) -> None:
    """Validate clearance.yaml; errors name file, line and key (exit 2)."""
    target = path or config or find_config(Path.cwd())
    if not target.exists():
        # Same answer as every other command given a --config that is not there: not found (4).
        raise NotFound(f"no config file at {target}", hint="run `clearance init` to write one")
    loaded = load_config(target)
    cfg = loaded.config
    phases = [p.display_name() for p in cfg.lifecycle.phases]
    hotfix = [p.display_name() for p in cfg.hotfix_lifecycle.phases] if cfg.hotfix_lifecycle else None
    steps = [s.name for s in cfg.process]
    summary: dict[str, Any] = {
        "path": str(loaded.path),
        "sha256": loaded.sha256,
        "project": cfg.project,
        "services": cfg.service_names(),
        "environments": cfg.environment_names(),
        "lifecycle": phases,
        "hotfix_lifecycle": hotfix,
        "steps": steps,
        "variables": sorted({v.name for v in cfg.variables}),
    }
    if as_json:
        emit_json({"valid": True, **summary})
        return
    console = out()
    console.print(f"[green]✔[/] {escape(str(target))} is valid (project [bold]{escape(cfg.project)}[/])")
    console.print(f"  services:     {escape(', '.join(cfg.service_names()))}")
    console.print(f"  environments: {escape(', '.join(cfg.environment_names()))}")
    console.print(f"  lifecycle:    {escape(' → '.join(phases))}")
    if hotfix:
        console.print(f"  hotfixes:     {escape(' → '.join(hotfix))}")
    console.print(f"  steps:        {escape(', '.join(steps) or '(none)')}")
