"""`clearance keys generate`: an Ed25519 key pair for signing a release's artifacts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from clearance.cli.options import Json
from clearance.cli.output import emit_json, err, out
from clearance.errors import AlreadyExists, UsageError
from clearance.gates.artifacts.keys import generate_key_pair

keys_app = typer.Typer(help="Signing keys.", no_args_is_help=True)


@keys_app.command("generate")
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the two PEM files.")] = Path("."),
    name: Annotated[str, typer.Option("--name", help="File name stem.")] = "clearance-signing",
    as_json: Json = False,
) -> None:
    """Write NAME.key (private, mode 0600) and NAME.pub (public) and print the trusted_keys entry."""
    pair = generate_key_pair()
    private, public = out_dir / f"{name}.key", out_dir / f"{name}.pub"
    for path in (private, public):
        if path.exists():
            raise AlreadyExists(
                f"{path} exists", hint="keys are never overwritten: choose another --out or --name"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # Created 0600 from the start: the private key is never readable by others, not even briefly.
        descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(pair.private_pem)
        public.write_bytes(pair.public_pem)
    except OSError as exc:
        raise UsageError(f"cannot write keys to {out_dir}: {exc.strerror or exc}") from exc
    if as_json:
        emit_json({"private_key": str(private), "public_key": str(public), "keyid": pair.keyid})
        return
    err().print(f"[green]✔[/] wrote {escape(str(private))} (keep it secret) and {escape(str(public))}")
    err().print("trust it in an environment of clearance.yaml:")
    indented = "".join(f"          {line}\n" for line in pair.public_pem.decode().splitlines())
    out().print(
        f"    trusted_keys:\n      - name: {escape(name)}\n        public_key: |\n{escape(indented)}", end=""
    )
