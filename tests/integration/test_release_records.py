"""A user records releases: versions are exact SemVer, duplicates and bad input change nothing."""

from __future__ import annotations

import pytest

from support.cli import CliRunner
from support.store import snapshot

from .conftest import Project


def test_release_create_infers_type_and_keeps_scope(project: Project, cli: CliRunner) -> None:
    assert cli("release", "create", "1.0.0", "--scope", "SHOP-1:Checkout page").exit_code == 0
    result = cli(
        "release",
        "create",
        "1.1.0",
        "--json",
        "--scope",
        "SHOP-2:Payments:https://tracker.example/SHOP-2",
        "--risk",
        "new payment provider",
        "--rollback-plan",
        "redeploy 1.0.0",
        "--planned",
        "2026-12-01",
    )
    assert result.exit_code == 0, result
    release = result.json()["release"]
    assert result.json()["schema_version"] == 1
    assert release["version"] == "1.1.0"
    assert release["type"] == "minor"
    assert release["scope"] == [
        {"id": "SHOP-2", "title": "Payments", "url": "https://tracker.example/SHOP-2"}
    ]
    assert release["planned_date"] == "2026-12-01"
    assert cli("release", "create", "1.0.1").exit_code == 0
    listed = cli("release", "list", "--json").json()["releases"]
    assert [(r["version"], r["type"]) for r in listed] == [
        ("1.1.0", "minor"),
        ("1.0.1", "hotfix"),
        ("1.0.0", "major"),
    ]


def test_release_created_twice_is_refused_and_changes_nothing(project: Project, cli: CliRunner) -> None:
    assert cli("release", "create", "2.0.0").exit_code == 0
    before = snapshot(project.database_url)
    result = cli("release", "create", "2.0.0+build.7")
    assert result.exit_code == 3
    assert "release 2.0.0 already exists" in result.stderr
    assert snapshot(project.database_url) == before


@pytest.mark.parametrize("version", ["1.2", "v1.2.3.4", "01.2.3", "1.2.3-", "banana"])
def test_invalid_versions_are_usage_errors(project: Project, cli: CliRunner, version: str) -> None:
    assert cli("release", "create", "0.1.0").exit_code == 0
    before = snapshot(project.database_url)
    result = cli("release", "create", version)
    assert result.exit_code == 2, result
    assert version in result.stderr
    assert snapshot(project.database_url) == before
