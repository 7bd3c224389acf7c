"""`clearance notes` on a real repository: Markdown with links, JSON, ranges between tags, the
whole history, CHANGELOG.md kept in the Keep a Changelog layout, and templates of the project."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support.cli import CliRunner, clearance_command
from support.git import GitRepo

from .test_versioning_git import shop_history, write_config

LINKS = """\
versioning:
  links:
    forge: github
    repository: https://github.com/acme/shop
    jira: https://acme.atlassian.net
    jira_projects: [SHOP]
"""
REPO = "https://github.com/acme/shop"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo = GitRepo(tmp_path / "shop")
    monkeypatch.chdir(repo.root)
    return repo


def _full(repo: GitRepo, short: str) -> str:
    return repo.git("rev-parse", short)


def test_markdown_notes_put_breaking_changes_first_and_link_what_they_mention(
    repo: GitRepo, cli: CliRunner
) -> None:
    hashes = shop_history(repo, LINKS)
    breaking = repo.commit(
        "feat(api)!: remove the v1 endpoints\n\nBREAKING CHANGE: /v1 is gone; call /v2 with the same payloads.\n"
    )[:7]
    result = cli("notes")
    assert result.exit_code == 0, result
    today = result.stdout.splitlines()[0].rsplit("(", 1)[1].rstrip(")")

    def commit(name: str, short: str | None = None) -> str:
        short = short or hashes[name]
        return f"[{short}]({REPO}/commit/{_full(repo, short)})"

    assert result.stdout == (
        f"## [0.2.0]({REPO}/compare/v0.1.0...v0.2.0) ({today})\n"
        "\n### ⚠ BREAKING CHANGES\n\n"
        f"- **api:** remove the v1 endpoints ({commit('', breaking)})\n"
        "  /v1 is gone; call /v2 with the same payloads.\n"
        "\n### Features\n\n"
        f"- **api:** remove the v1 endpoints ({commit('', breaking)})\n"
        f"- **checkout:** coupons ([#14]({REPO}/pull/14)) ({commit('coupons')}), refs [SHOP-12](https://acme.atlassian.net/browse/SHOP-12)\n"
        "\n### Bug Fixes\n\n"
        f"- **cart:** keep quantities when the page reloads ({commit('reload')}), refs [#3]({REPO}/issues/3)\n"
        "\n### Performance Improvements\n\n"
        f"- **search:** cache the index ([#21]({REPO}/pull/21)) ({commit('search')})\n"
        "\n### Contributors\n\nAlice Example, Bob Builder, Carol\n"
        "\n_7 changes by 3 contributors: 1 breaking, 2 feat, 1 fix, 1 perf, 1 docs, 1 other, 1 test_\n"
    )


def test_without_a_forge_nothing_is_linked(repo: GitRepo, cli: CliRunner) -> None:
    hashes = shop_history(repo)
    text = cli("notes").stdout
    assert "http" not in text
    assert f"- **cart:** keep quantities when the page reloads ({hashes['reload']}), refs #3\n" in text
    assert "SHOP-12" not in text  # tracker keys are read only when a tracker is configured


def test_gitlab_and_gitea_presets(repo: GitRepo, cli: CliRunner) -> None:
    shop_history(repo, LINKS.replace("github", "gitlab"))
    text = cli("notes").stdout
    assert f"[#3]({REPO.replace('github', 'gitlab')}/-/issues/3)" in text
    assert f"[#14]({REPO.replace('github', 'gitlab')}/-/merge_requests/14)" in text
    write_config(repo, LINKS.replace("forge: github", "forge: forgejo"))
    assert f"[#14]({REPO}/pulls/14)" in cli("notes").stdout


def test_json_notes_and_ranges_between_tags(repo: GitRepo, cli: CliRunner) -> None:
    hashes = shop_history(repo, LINKS)
    repo.tag("v0.2.0")
    repo.commit("fix: after the release")
    document = cli("notes", "--format", "json", "--to", "v0.2.0").json()
    release = document["release"]
    assert (release["version"], release["tag"], release["previous_tag"]) == ("0.2.0", "v0.2.0", "v0.1.0")
    assert release["date"] == "2023-11-14"  # the day of the tagged commit
    assert release["compare_url"] == f"{REPO}/compare/v0.1.0...v0.2.0"
    assert [s["title"] for s in release["sections"]] == ["Features", "Bug Fixes", "Performance Improvements"]
    assert release["counts"] == {"feat": 1, "fix": 1, "perf": 1, "docs": 1, "other": 1, "test": 1}
    assert {item["id"] for item in release["work_items"]} == {"#3", "SHOP-12"}
    ranged = cli("notes", "--from", hashes["docs"], "--to", "v0.2.0", "--json").json()["release"]
    assert [e["subject"] for s in ranged["sections"] for e in s["entries"]] == ["coupons", "cache the index"]
    unreleased = cli("notes", "--json").json()["release"]
    assert (unreleased["version"], unreleased["previous_tag"]) == ("0.2.1", "v0.2.0")


def test_the_whole_history_as_one_changelog(repo: GitRepo, cli: CliRunner) -> None:
    shop_history(repo)
    repo.tag("v0.2.0")
    repo.commit("fix: later")
    text = cli("notes", "--full").stdout
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Unreleased (" + headings[0].split("(")[1],
        "## 0.2.0 (2023-11-14)",
        "## 0.1.0 (2023-11-14)",
    ]
    assert text.startswith("# Changelog\n")
    releases = cli("notes", "--full", "--json").json()["releases"]
    assert [(r["version"], r["previous_tag"], r["counts"]) for r in releases] == [
        (None, "v0.2.0", {"fix": 1}),
        ("0.2.0", "v0.1.0", {"feat": 1, "fix": 1, "perf": 1, "docs": 1, "other": 1, "test": 1}),
        ("0.1.0", None, {"feat": 1, "chore": 1}),
    ]


def test_keep_a_changelog_updates_the_file_in_place(repo: GitRepo, cli: CliRunner) -> None:
    shop_history(repo, LINKS)
    changelog = repo.root / "CHANGELOG.md"
    older = "## [0.1.0] - 2023-11-14\n\n### Added\n\n- a cart, written   by hand\n"
    changelog.write_text(
        "# Changelog\n\n## [Unreleased]\n\n### Security\n\n- rotated the signing key\n\n"
        + older
        + "\n[unreleased]: https://github.com/acme/shop/compare/v0.1.0...HEAD\n",
        encoding="utf-8",
    )
    result = cli("notes", "--format", "keep-a-changelog")
    assert result.exit_code == 0, result
    assert "CHANGELOG.md: added 0.2.0 (6 changes by 3 contributors" in result.stderr
    text = changelog.read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - ")
    added = text.index("### Added\n\n- **checkout:** coupons")
    fixed = text.index("### Fixed\n\n- **cart:** keep quantities")
    changed = text.index("### Changed\n\n- **search:** cache the index")
    carried = text.index("### Security\n\n- rotated the signing key")
    assert added < changed < fixed < carried < text.index(older)
    assert text.endswith(
        "\n[Unreleased]: https://github.com/acme/shop/compare/v0.2.0...HEAD\n"
        "[0.2.0]: https://github.com/acme/shop/compare/v0.1.0...v0.2.0\n"
    )
    again = cli("notes", "--format", "keep-a-changelog")
    assert again.exit_code == 3
    assert "the changelog already has a section for 0.2.0" in again.stderr
    assert changelog.read_text(encoding="utf-8") == text


def test_keep_a_changelog_creates_the_file_and_dry_run_writes_nothing(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("feat: first")
    dry = cli("notes", "--format", "keep-a-changelog", "--dry-run")
    assert dry.exit_code == 0, dry
    assert dry.stdout.startswith("# Changelog\n\nAll notable changes")
    assert "## [0.1.0] - " in dry.stdout
    assert not (repo.root / "CHANGELOG.md").exists()
    assert cli("notes", "--format", "keep-a-changelog").exit_code == 0
    assert (repo.root / "CHANGELOG.md").read_text(encoding="utf-8") == dry.stdout


def test_nothing_to_release_is_not_written_into_the_changelog(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.commit("docs: only docs")
    result = cli("notes", "--format", "keep-a-changelog")
    assert result.exit_code == 3
    assert "nothing to write into the changelog" in result.stderr
    assert cli("notes").stdout.startswith("## Unreleased (")


def test_templates_of_the_project_replace_the_built_in_ones(repo: GitRepo, cli: CliRunner) -> None:
    shop_history(
        repo, "versioning:\n  notes:\n    templates: release-templates\n    show: [feat, fix, docs]\n"
    )
    templates = repo.root / "release-templates"
    templates.mkdir()
    (templates / "markdown.md.j2").write_text(
        "Release {{ release.version }}: {{ release.summary }}\n"
        "{% for section in release.sections %}{{ section.title }}: "
        "{{ section.entries | map(attribute='subject') | join('; ') }}\n{% endfor %}",
        encoding="utf-8",
    )
    assert cli("notes").stdout == (
        "Release 0.2.0: 6 changes by 3 contributors: 1 feat, 1 fix, 1 docs, 1 other, 1 perf, 1 test\n"
        "Features: coupons\nBug Fixes: keep quantities when the page reloads\nDocumentation: installation guide\n"
    )
    (templates / "markdown.md.j2").write_text("{{ release.nope }}", encoding="utf-8")
    broken = cli("notes")
    assert broken.exit_code == 1
    assert "the markdown.md.j2 template failed" in broken.stderr


def test_a_release_tagged_on_a_merge_commit_keeps_its_section(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "release/1.1")
    repo.commit("feat: on the release branch")
    repo.checkout("main")
    repo.merge("release/1.1", "Merge branch 'release/1.1'")
    repo.tag("v1.1.0")  # git-flow tags the merge commit
    repo.commit("fix: after 1.1.0")
    releases = cli("notes", "--full", "--json").json()["releases"]
    assert [
        (r["version"], [e["subject"] for s in r["sections"] for e in s["entries"]]) for r in releases
    ] == [
        (None, ["after 1.1.0"]),
        ("1.1.0", ["on the release branch"]),
        ("1.0.0", ["first"]),
    ]
    notes = cli("notes", "--to", "v1.1.0", "--json").json()["release"]
    assert (notes["version"], notes["previous_tag"], notes["counts"]) == ("1.1.0", "v1.0.0", {"feat": 1})


def test_a_reader_that_stops_early_ends_the_command_quietly(repo: GitRepo) -> None:
    """`clearance notes --full | head`: exit 141 as for SIGPIPE, and no traceback."""
    write_config(repo)
    stream = "".join(
        f"commit refs/heads/main\ncommitter Alice <alice@example.com> {1_700_000_000 + n} +0000\n"
        f"data <<END\nfeat: change number {n} of a long history (#{n})\nEND\n\n"
        for n in range(3000)
    )
    repo.git("fast-import", "--quiet", input=stream.encode())
    repo.git("reset", "-q", "--hard", "main")
    for style in ("markdown", "keep-a-changelog"):
        process = subprocess.Popen(
            [*clearance_command(), "notes", "--full", "--format", style],
            cwd=repo.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith(b"# Changelog")
        process.stdout.close()  # the reader goes away with ~300 KB still to come
        errors = process.stderr.read().decode()
        process.stderr.close()
        assert process.wait(timeout=60) == 141, errors
        assert errors == ""
