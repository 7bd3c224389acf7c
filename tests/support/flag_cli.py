"""Small steps of the flag-rollout stories, through the real CLI: run a command that must succeed,
read a flag's share in prod, the audit entries of a tag, a deployment, and wait for a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from support.cli import CliRunner


def ok(cli: CliRunner, *args: str) -> Any:
    result = cli(*args)
    assert result.exit_code == 0, result
    return result


def rollout(cli: CliRunner, flag: str) -> tuple[bool, str]:
    """Whether `flag` is on in prod, and the percentage of its first strategy."""
    prod = ok(cli, "flag", "show", flag, "--json").json()["flag"]["environments"]["prod"]
    return prod["enabled"], prod["strategies"][0]["parameters"]["rollout"]


def audit(cli: CliRunner, tag: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = ok(cli, "audit", "list", "--json", "--tag", tag).json()["entries"]
    return entries


def show(cli: CliRunner, deployment_id: int) -> dict[str, Any]:
    document: dict[str, Any] = ok(cli, "deployment", "show", str(deployment_id), "--json").json()[
        "deployment"
    ]
    return document


def wait(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
