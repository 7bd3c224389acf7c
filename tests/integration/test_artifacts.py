"""Artifacts end to end: recorded with their digest, signed (DSSE + in-toto), verified against an
environment's trusted keys, required by a `signature` gate, and frozen once deployed — on both databases."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

from support.cli import CliRunner
from support.store import execute

from .conftest import Project

SIGNED = """\
project: shop
services:
  - name: web
environments:
  - name: dev
  - name: prod
    production: true
    gates:
      signature: required
    trusted_keys:
      - name: release-ci
        public_key: |
{key}
lifecycle:
  phases:
    - environments: [dev]
    - environments: [prod]
"""


def generate_key(cli: CliRunner, root: Path, name: str) -> tuple[Path, str]:
    result = cli("keys", "generate", "--out", root / "keys", "--name", name, "--json")
    assert result.exit_code == 0, result
    private = Path(result.json()["private_key"])
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    public = Path(result.json()["public_key"]).read_text()
    return private, "\n".join(f"          {line}" for line in public.splitlines())


def wheel(root: Path) -> tuple[Path, str]:
    path = root / "shop-1.0.0-py3-none-any.whl"
    path.write_bytes(b"PK\x03\x04 not really a wheel " * 50_000)
    return path, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_artifacts_are_recorded_with_digest_and_size(project: Project, cli: CliRunner) -> None:
    cli("release", "create", "1.0.0", "--commit", "abc1234", "--no-deploy")
    path, digest = wheel(project.root)
    added = cli(
        "artifact",
        "add",
        "1.0.0",
        path,
        "--name",
        "shop.whl",
        "--kind",
        "wheel",
        "--build-url",
        "https://ci/7",
        "--json",
    )
    assert added.exit_code == 0, added
    assert added.json()["artifact"]["digest"] == digest
    assert added.json()["artifact"]["size"] == path.stat().st_size
    image = "sha256:" + "0f" * 32
    assert (
        cli(
            "artifact", "add", "1.0.0", "--digest", image, "--name", "shop-image", "--kind", "image"
        ).exit_code
        == 0
    )
    listed = cli("artifact", "list", "1.0.0", "--json").json()["artifacts"]
    assert [(a["name"], a["kind"], a["digest"], a["commit"]) for a in listed] == [
        ("shop.whl", "wheel", digest, "abc1234"),
        ("shop-image", "image", image, "abc1234"),
    ]
    again = cli("artifact", "add", "1.0.0", "--digest", image, "--name", "shop-image")
    assert again.exit_code == 3 and "already has an artifact shop-image" in again.stderr
    bad = cli("artifact", "add", "1.0.0", "--digest", "md5:1234", "--name", "x")
    assert bad.exit_code == 2 and "is not a sha256 digest" in bad.stderr
    nothing = cli("artifact", "add", "1.0.0")
    assert nothing.exit_code == 2 and "an artifact needs its FILE (hashed here) or --digest" in nothing.stderr
    shown = cli("release", "show", "1.0.0", "--json").json()["release"]
    assert [a["name"] for a in shown["artifacts"]] == ["shop.whl", "shop-image"]
    assert [
        e["data"]["name"] for e in cli("audit", "list", "--tag", "artifact:added", "--json").json()["entries"]
    ] == [
        "shop-image",
        "shop.whl",
    ]


def test_a_signature_gate_refuses_until_signed_with_a_trusted_key(project: Project, cli: CliRunner) -> None:
    trusted_key, public = generate_key(cli, project.root, "release-ci")
    stranger_key, _ = generate_key(cli, project.root, "stranger")
    project.write_config(SIGNED.format(key=public))
    cli("release", "create", "1.0.0", "--no-deploy")
    path, _ = wheel(project.root)
    cli("artifact", "add", "1.0.0", path, "--kind", "wheel")
    cli("deploy", "1.0.0", "--to", "dev")

    unsigned = cli("deploy", "1.0.0", "--to", "prod")
    assert unsigned.exit_code == 3 and "signature: missing" in unsigned.stderr

    assert cli("artifact", "sign", "1.0.0", "--key", stranger_key).exit_code == 0
    untrusted = cli("artifact", "verify", "1.0.0", "--env", "prod", "--json")
    assert untrusted.exit_code == 1
    assert untrusted.json()["error"]["data"]["signatures"][0]["outcome"] == "untrusted-key"
    refused = cli("deploy", "1.0.0", "--to", "prod")
    assert refused.exit_code == 3 and "does not trust" in refused.stderr

    signed = cli("artifact", "sign", "1.0.0", "--key", trusted_key, "--json")
    assert signed.exit_code == 0, signed
    envelope = signed.json()["signature"]["envelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    verified = cli("artifact", "verify", "1.0.0", "--env", "prod", "--json")
    assert verified.exit_code == 0, verified
    assert [s["outcome"] for s in verified.json()["signatures"]] == ["untrusted-key", "valid"]
    assert cli("artifact", "verify", "1.0.0", "--env", "dev").exit_code == 1  # dev trusts no key
    assert cli("deploy", "1.0.0", "--to", "prod").exit_code == 0
    assert len(cli("audit", "list", "--tag", "artifact:signed", "--json").json()["entries"]) == 2


def test_a_tampered_envelope_over_another_digest_fails_verification(project: Project, cli: CliRunner) -> None:
    key, public = generate_key(cli, project.root, "release-ci")
    project.write_config(SIGNED.format(key=public))
    cli("release", "create", "1.0.0", "--no-deploy")
    path, _ = wheel(project.root)
    cli("artifact", "add", "1.0.0", path, "--name", "shop.whl")
    cli("artifact", "sign", "1.0.0", "--key", key)
    [(signature_id, stored)] = execute(project.database_url, "SELECT id, envelope FROM signatures")
    envelope = json.loads(stored) if isinstance(stored, str) else stored

    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "00" * 32
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    execute(
        project.database_url,
        "UPDATE signatures SET envelope = :e WHERE id = :i",
        e=json.dumps(envelope),
        i=signature_id,
    )

    result = cli("artifact", "verify", "1.0.0", "--env", "prod")
    assert result.exit_code == 1
    assert "the signature does not match the envelope's content" in result.stderr
    gates = cli("gates", "1.0.0", "--env", "prod", "--json")
    assert gates.exit_code == 3
    assert gates.json()["gates"][0]["status"] == "fail"


def test_artifacts_are_immutable_once_a_deployment_used_them(project: Project, cli: CliRunner) -> None:
    cli("release", "create", "1.0.0", "--no-deploy")
    cli("artifact", "add", "1.0.0", "--digest", "sha256:" + "1a" * 32, "--name", "app")
    assert cli("deploy", "1.0.0", "--to", "dev").exit_code == 0
    added = cli("artifact", "add", "1.0.0", "--digest", "sha256:" + "2b" * 32, "--name", "other")
    assert added.exit_code == 3 and "artifacts are immutable" in added.stderr
    removed = cli("artifact", "remove", "1.0.0", "app")
    assert removed.exit_code == 3
    assert execute(project.database_url, "SELECT name FROM artifacts") == [("app",)]
