"""Options shared by many commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Json = Annotated[bool, typer.Option("--json", help="Write one JSON document to stdout.")]
Actor = Annotated[
    str | None,
    typer.Option(
        "--actor", help="Who acts (default: $CLEARANCE_ACTOR, then the OS user).", show_default=False
    ),
]
ConfigPath = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Path to clearance.yaml (default: found from here upwards).",
        show_default=False,
    ),
]
Wait = Annotated[
    bool,
    typer.Option(
        "--wait", help="If the environment is busy, wait for the running deployment instead of refusing."
    ),
]
