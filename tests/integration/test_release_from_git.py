"""`clearance release create --from-git`: the release record gets the version, type, notes and
scope the commits give, optionally an annotated tag; nothing is pushed or committed. On SQLite
and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.cli import CliRunner
from support.git import GitRepo
from support.store import snapshot

from .conftest import BASIC_CONFIG, Project

LINKS = "versioning:\n  links:\n    forge: github\n    repository: https://github.com/acme/shop\n"


@pytest.fixture
def repo(project: Project) -> GitRepo:
    project.write_config(BASIC_CONFIG + LINKS)
    repo = GitRepo(project.root)
    (project.root / ".gitignore").write_text(".clearance/\n", encoding="utf-8")
    repo.commit("chore: start", files={"clearance.yaml": (project.root / "clearance.yaml").read_text()})
    repo.commit("feat: catalogue")
    repo.tag("v1.0.0", annotated=True)
    repo.commit("feat(cart): coupons (#14)\n\nCloses: #12, #13")
    repo.commit("fix: rounding\n\nRefs #13")
    return repo


def test_release_from_git_records_version_type_notes_and_scope(
    repo: GitRepo, project: Project, cli: CliRunner
) -> None:
    result = cli("release", "create", "--from-git", "--json")
    assert result.exit_code == 0, result
    release = result.json()["release"]
    assert (release["version"], release["type"]) == ("1.1.0", "minor")
    assert release["notes"].startswith("## [1.1.0](https://github.com/acme/shop/compare/v1.0.0...v1.1.0)")
    assert "- **cart:** coupons ([#14](https://github.com/acme/shop/pull/14))" in release["notes"]
    assert release["scope"] == [
        {"id": "#12", "title": "coupons", "url": "https://github.com/acme/shop/issues/12"},
        {"id": "#13", "title": "coupons", "url": "https://github.com/acme/shop/issues/13"},
    ]
    assert result.json()["tag"] is None
    assert repo.git("tag", "--list") == "v1.0.0"
    shown = cli("release", "show", "1.1.0", "--json").json()["release"]
    assert shown["notes"] == release["notes"]
    created = cli("audit", "list", "--tag", "release:created", "--json").json()["entries"]
    assert [entry["data"]["version"] for entry in created] == ["1.1.0"]
    assert created[0]["data"]["inferred_type"] is False  # the type came from git, stated explicitly


def test_release_from_git_with_a_tag_creates_it_annotated_and_pushes_nothing(
    repo: GitRepo, project: Project, cli: CliRunner
) -> None:
    head = repo.git("rev-parse", "HEAD")
    status = repo.git("status", "--porcelain")
    result = cli("release", "create", "--from-git", "--tag")
    assert result.exit_code == 0, result
    assert "tag v1.1.0 created (not pushed" in result.stderr
    assert repo.git("cat-file", "-t", "v1.1.0") == "tag"
    assert repo.git("rev-parse", "v1.1.0^{commit}") == head
    assert repo.git("for-each-ref", "--format=%(contents:subject)", "refs/tags/v1.1.0") == "v1.1.0"
    message = repo.git("for-each-ref", "--format=%(contents)", "refs/tags/v1.1.0")
    assert "- rounding" in message
    # The notes whole: git's default clean-up would drop every Markdown heading as a comment.
    assert "## [1.1.0](https://github.com/acme/shop/compare/v1.0.0...v1.1.0)" in message
    assert "### Features" in message and "### Bug Fixes" in message
    # The release names the commit its version and notes were read from.
    assert cli("release", "show", "1.1.0", "--json").json()["release"]["commit"] == head
    # No commit was made, nothing changed in the work tree.
    assert (repo.git("rev-parse", "HEAD"), repo.git("status", "--porcelain")) == (head, status)
    # The tag now is the last release: nothing is left to release.
    before = snapshot(project.database_url)
    again = cli("release", "create", "--from-git")
    assert again.exit_code == 3
    assert "nothing to release since v1.1.0" in again.stderr
    assert snapshot(project.database_url) == before


def test_hotfix_and_service_releases_from_git(repo: GitRepo, project: Project, cli: CliRunner) -> None:
    repo.tag("v1.5.0")
    repo.git("checkout", "-q", "-b", "release/1.0", "v1.0.0")
    repo.commit("fix: urgent")
    result = cli("release", "create", "--from-git", "--json")
    assert result.exit_code == 0, result
    assert (result.json()["release"]["version"], result.json()["release"]["type"]) == ("1.0.1", "hotfix")
    project.write_config(BASIC_CONFIG.replace("  - name: api\n", "  - name: api\n    path: api\n") + LINKS)
    repo.commit("feat: api", files={"api/main.py": ""})
    service = cli("release", "create", "--from-git", "--service", "api", "--json")
    assert service.exit_code == 0, service
    assert service.json()["release"]["version"] == "0.1.0"


def test_from_git_and_a_version_do_not_go_together(repo: GitRepo, project: Project, cli: CliRunner) -> None:
    assert cli("release", "list").exit_code == 0
    before = snapshot(project.database_url)
    both = cli("release", "create", "2.0.0", "--from-git")
    assert both.exit_code == 2
    assert "give either a VERSION or --from-git" in both.stderr
    assert cli("release", "create").exit_code == 2
    tag_alone = cli("release", "create", "2.0.0", "--tag")
    assert tag_alone.exit_code == 2
    assert "--service, --tag and --allow-shallow go with --from-git" in tag_alone.stderr
    assert snapshot(project.database_url) == before


def test_a_tag_git_cannot_make_records_nothing_and_a_release_that_cannot_be_recorded_leaves_no_tag(
    repo: GitRepo, project: Project, cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A CI runner with no git identity, where git may not guess one.
    repo.git("config", "--unset", "user.name")
    repo.git("config", "--unset", "user.email")
    repo.git("config", "user.useConfigOnly", "true")
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    assert cli("release", "list").exit_code == 0
    before = snapshot(project.database_url)
    failed = cli("release", "create", "--from-git", "--tag")
    assert failed.exit_code == 1, failed
    [message, hint] = failed.stderr.strip().splitlines()
    assert message.startswith("error: git could not create tag v1.1.0: ")
    assert (
        hint
        == "hint: tell git who you are: git config user.name 'Your Name' && git config user.email you@example.com"
    )
    assert snapshot(project.database_url) == before  # no release without its tag
    assert repo.git("tag", "--list") == "v1.0.0"

    repo.git("config", "user.name", "Alice Example")
    repo.git("config", "user.email", "alice@example.com")
    assert cli("release", "create", "--from-git", "--tag").exit_code == 0  # the same command, once fixed
    # The tag deleted by hand, the same release again: it exists, so the new tag is taken back.
    repo.git("tag", "-d", "v1.1.0")
    again = cli("release", "create", "--from-git", "--tag")
    assert again.exit_code == 3 and "release 1.1.0 already exists" in again.stderr
    assert repo.git("tag", "--list") == "v1.0.0"
