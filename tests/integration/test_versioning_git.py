"""`clearance version next` on real git repositories: a shop's conventional history, channels,
maintenance lines, monorepo services, and every bad input the issue lists."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.cli import CliRunner, run_process
from support.git import GitRepo

CONFIG = """\
project: shop
services:
  - name: web
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo = GitRepo(tmp_path / "shop")
    monkeypatch.chdir(repo.root)
    return repo


def write_config(repo: GitRepo, extra: str = "") -> None:
    (repo.root / "clearance.yaml").write_text(CONFIG + textwrap.dedent(extra), encoding="utf-8")


def shop_history(repo: GitRepo, extra_config: str = "") -> dict[str, str]:
    """A small shop: v0.1.0, then fixes, docs, a merged feature branch, a perf change, a commit
    that is not conventional, and a breaking change. Returns the short hashes by name."""
    write_config(repo, extra_config)
    hashes = {
        "init": repo.commit(
            "chore: initial import", files={"clearance.yaml": (repo.root / "clearance.yaml").read_text()}
        )
    }
    hashes["cart"] = repo.commit("feat(cart): add a cart", files={"cart.py": "cart = []\n"})
    repo.tag("v0.1.0", annotated=True)
    hashes["reload"] = repo.commit(
        "fix(cart): keep quantities when the page reloads\n\nCloses #3\n",
        author="Bob Builder <bob@example.com>",
    )
    hashes["docs"] = repo.commit("docs: installation guide", files={"README.md": "# shop\n"})
    repo.git("checkout", "-q", "-b", "feature/coupons")
    hashes["coupons"] = repo.commit(
        "feat(checkout): coupons (#14)\n\nRefs SHOP-12", author="Carol <carol@example.com>"
    )
    hashes["coupon-tests"] = repo.commit("test: coupon edge cases")
    repo.checkout("main")
    hashes["merge"] = repo.merge("feature/coupons", "Merge branch 'feature/coupons'")
    hashes["search"] = repo.commit("perf(search): cache the index (#21)")
    hashes["readme"] = repo.commit("Update README.md")
    return {name: value[:7] for name, value in hashes.items()}


def test_the_next_version_follows_the_commits_since_the_last_tag(repo: GitRepo, cli: CliRunner) -> None:
    hashes = shop_history(repo)
    result = cli("version", "next")
    assert (result.exit_code, result.stdout) == (0, "0.2.0\n"), result
    document = cli("version", "next", "--json").json()
    assert document["schema_version"] == 1
    assert (document["current_tag"], document["tag"], document["bump"]) == ("v0.1.0", "v0.2.0", "minor")
    assert document["decided_by"] == [hashes["coupons"]]
    # Every change since v0.1.0, newest first; the merge commit itself is not one.
    assert [c["id"] for c in document["changes"]] == [
        hashes[name] for name in ("readme", "search", "coupon-tests", "coupons", "docs", "reload")
    ]


def test_breaking_changes_bump_minor_while_major_is_zero_unless_configured(
    repo: GitRepo, cli: CliRunner
) -> None:
    hashes = shop_history(repo)
    breaking = repo.commit(
        "feat(api)!: remove the v1 endpoints\n\nBREAKING CHANGE: /v1 is gone; call /v2 with the same payloads.\n"
    )[:7]
    document = cli("version", "next", "--json").json()
    assert (document["version"], document["bump"]) == ("0.2.0", "minor")
    assert document["decided_by"] == [breaking]
    assert document["reasons"] == ["major version 0: a major change bumps minor"]
    write_config(repo, "versioning:\n  major_zero:\n    breaking: major\n")
    assert cli("version", "next").stdout == "1.0.0\n"
    explained = cli("version", "next", "--explain").stdout
    assert f"▲ major  {breaking}   feat(api)!: remove the v1 endpoints" in explained
    assert f"  minor  {hashes['coupons']}   feat(checkout): coupons (#14)" in explained
    assert f"  none   {hashes['readme']}   Update README.md" in explained
    assert "not a conventional commit" in explained
    assert "since v0.1.0 on main:" in explained
    assert explained.rstrip().endswith("bump: major")


def test_it_runs_as_a_command_without_the_database_or_web_stack(repo: GitRepo) -> None:
    shop_history(repo)
    result = run_process("version", "next", cwd=repo.root)
    assert (result.exit_code, result.stdout) == (0, "0.2.0\n"), result
    code = (
        "import sys; from clearance.cli.main import main; main(['version', 'next']); "
        "print(sorted(m for m in ('sqlalchemy', 'pydantic', 'typer', 'rich', 'jinja2', 'clearance.store') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=repo.root, capture_output=True, text=True, check=True
    )
    assert loaded.stdout == "0.2.0\n[]\n"


def test_configured_bumps_and_other_commits(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo, "versioning:\n  bumps: {docs: patch, feat: patch}\n  other: patch\n")
    repo.commit("chore: init")
    repo.tag("v1.0.0")
    repo.commit("docs: typo")
    assert cli("version", "next").stdout == "1.0.1\n"
    repo.commit("feat: now a patch here")
    assert cli("version", "next").stdout == "1.0.1\n"
    write_config(repo, "versioning:\n  other: patch\n")
    repo.tag("v1.0.1")
    repo.commit("Tidy up")
    assert cli("version", "next", "--json").json()["decided_by"] == [
        repo.git("rev-parse", "--short=7", "HEAD")
    ]


def test_release_as_footer_sets_the_version_and_may_not_go_down(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("feat: one")
    repo.tag("v1.3.0")
    repo.commit("chore: prepare 2.0\n\nRelease-As: 2.0.0")
    document = cli("version", "next", "--json").json()
    assert document["version"] == "2.0.0"
    assert document["reasons"] == [f"Release-As in {repo.git('rev-parse', '--short=7', 'HEAD')} sets 2.0.0"]
    low = repo.commit("chore: oops\n\nRelease-As: 1.2.0")[:7]
    result = cli("version", "next")
    assert result.exit_code == 3, result
    assert (
        f"Release-As in {low} asks for 1.2.0, which is not above the current version 1.3.0" in result.stderr
    )
    assert result.stdout == ""
    problem = cli("version", "next", "--json").json()["error"]
    assert (problem["code"], problem["data"]) == (
        "release-as-too-low",
        {"requested": "1.2.0", "current": "1.3.0"},
    )
    bad = repo.commit("chore: typo\n\nRelease-As: two")[:7]
    result = cli("version", "next")
    assert result.exit_code == 2
    assert f"Release-As in {bad}: 'two' is not a SemVer 2.0.0 version" in result.stderr


def test_prerelease_channels_count_up_from_existing_tags_and_the_final_drops_the_suffix(
    repo: GitRepo, cli: CliRunner
) -> None:
    write_config(repo)
    repo.commit("feat: base")
    repo.tag("v1.3.0")
    repo.commit("feat: search")
    assert cli("version", "next", "--channel", "beta").stdout == "1.4.0-beta.1\n"
    repo.tag("v1.4.0-beta.1")
    repo.commit("fix: search ranking")
    assert cli("version", "next", "--channel", "beta").stdout == "1.4.0-beta.2\n"
    repo.tag("v1.4.0-beta.2")
    assert cli("version", "next", "--channel", "rc").stdout == "1.4.0-rc.1\n"
    repo.tag("v1.4.0-rc.1")
    document = cli("version", "next", "--json").json()
    assert (document["version"], document["current_tag"], document["base_tag"]) == (
        "1.4.0",
        "v1.4.0-rc.1",
        "v1.3.0",
    )
    result = cli("version", "next", "--channel", "gamma")
    assert result.exit_code == 2
    assert "gamma" in result.stderr


def test_a_maintenance_branch_takes_the_next_patch_of_its_line(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("feat: one")
    repo.tag("v1.2.3")
    repo.commit("feat: two")
    repo.tag("v1.5.0")
    repo.git("checkout", "-q", "-b", "release/1.2", "v1.2.3")
    repo.commit("fix: security fix for the 1.2 line")
    repo.commit("feat: a backport that is still only a patch here")
    document = cli("version", "next", "--json").json()
    assert (document["version"], document["hotfix"], document["branch"]) == ("1.2.4", True, "release/1.2")
    assert "maintenance line: a minor change is released as a patch" in document["reasons"]
    # Detached HEAD (as CI checks out), naming the line with --from-tag.
    repo.git("checkout", "-q", "--detach", "HEAD")
    assert cli("version", "next", "--from-tag", "v1.2.3").stdout == "1.2.4\n"
    explained = cli("version", "next", "--from-tag", "v1.2.3", "--explain").stdout
    assert "since v1.2.3 (detached HEAD):" in explained
    missing = cli("version", "next", "--from-tag", "v9.9.9")
    assert missing.exit_code == 4, missing


def test_monorepo_services_are_versioned_by_their_paths_and_tags(repo: GitRepo, cli: CliRunner) -> None:
    (repo.root / "clearance.yaml").write_text(
        CONFIG.replace(
            "  - name: web\n",
            "  - name: web\n    path: services/web\n  - name: api\n    path: services/api\n    tag_format: api@{version}\n"
            "  - name: docs\n",
        ),
        encoding="utf-8",
    )
    repo.commit(
        "chore: layout", files={"services/web/app.py": "", "services/api/app.py": "", "README.md": ""}
    )
    repo.tag("web-v1.0.0")
    repo.tag("api@2.1.0")
    repo.commit("feat(api): orders endpoint", files={"services/api/orders.py": ""})
    repo.commit("fix: readme", files={"README.md": "x"})
    listed = cli("version", "next", "--all")
    assert listed.exit_code == 0, listed
    assert listed.stdout.splitlines() == [
        "service  current    next       bump   changes",
        "api      api@2.1.0  api@2.2.0  minor  1",
    ]
    document = cli("version", "next", "--all", "--json").json()
    assert [s["service"] for s in document["services"]] == ["api"]
    assert document["up_to_date"] == ["web"]
    web = cli("version", "next", "--service", "web")
    assert (web.exit_code, web.stdout) == (0, "1.0.0\n")
    assert "nothing to release since web-v1.0.0" in web.stderr
    together = cli("version", "next")
    assert together.exit_code == 2
    assert "this project versions its services separately (web, api)" in together.stderr
    unknown = cli("version", "next", "--service", "shop")
    assert unknown.exit_code == 4


def test_a_service_path_that_does_not_exist_is_a_config_error(repo: GitRepo, cli: CliRunner) -> None:
    (repo.root / "clearance.yaml").write_text(
        CONFIG.replace("  - name: web\n", "  - name: web\n    path: services/web\n"), encoding="utf-8"
    )
    repo.commit("feat: x")
    result = cli("version", "next", "--service", "web")
    assert result.exit_code == 2, result
    assert "clearance.yaml:4: services[0].path: 'services/web' does not exist in the project" in result.stderr


def test_tags_that_are_not_semver_are_ignored_and_listed_when_verbose(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.tag("latest")
    repo.tag("v1.1")
    repo.commit("fix: two")
    repo.tag("release-2020-01")
    quiet = cli("version", "next")
    assert (quiet.stdout, quiet.stderr) == ("1.0.1\n", "")
    verbose = cli("version", "next", "--verbose")
    assert verbose.stdout == "1.0.1\n"
    assert "ignored tags (not v{version}): latest, release-2020-01, v1.1" in verbose.stderr


def test_two_tags_on_one_commit_count_as_the_higher(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("feat: one")
    repo.tag("v1.1.0-rc.2")
    repo.tag("v1.1.0", annotated=True)
    repo.commit("fix: two")
    document = cli("version", "next", "--json").json()
    assert (document["current_tag"], document["version"]) == ("v1.1.0", "1.1.1")


def test_no_tags_at_all_is_a_first_release(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("chore: init")
    repo.commit("feat!: everything")
    assert cli("version", "next").stdout == "0.1.0\n"
    write_config(repo, "versioning:\n  initial_version: 1.0.0\n")
    document = cli("version", "next", "--json").json()
    assert (document["version"], document["current"], document["reasons"]) == (
        "1.0.0",
        None,
        ["first release: the initial version 1.0.0"],
    )


def test_an_empty_repository_has_nothing_to_version(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    result = cli("version", "next")
    assert result.exit_code == 4, result
    assert "the repository has no commits yet: there is nothing to version" in result.stderr


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CliRunner) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    (tmp_path / "clearance.yaml").write_text(CONFIG, encoding="utf-8")
    result = cli("version", "next")
    assert result.exit_code == 4, result
    assert "is not in a git repository" in result.stderr


def test_a_shallow_clone_is_refused_unless_allowed(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CliRunner
) -> None:
    write_config(repo)
    repo.commit("chore: init", files={"clearance.yaml": CONFIG})
    repo.tag("v1.0.0")
    repo.commit("feat: a")
    repo.commit("fix: b")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(clone)],
        check=True,
        capture_output=True,
    )
    monkeypatch.chdir(clone)
    refused = cli("version", "next")
    assert refused.exit_code == 3, refused
    assert "this is a shallow clone" in refused.stderr
    assert "git fetch --unshallow" in refused.stderr
    allowed = cli("version", "next", "--allow-shallow")
    assert allowed.exit_code == 0, allowed
    assert "warning: shallow clone: using only the commits that were fetched" in allowed.stderr
    assert allowed.stdout == "0.1.0\n"  # the tag was not fetched: from what is there, a first release
    for notes in (["notes"], ["notes", "--full"], ["notes", "--to", "HEAD"]):
        assert cli(*notes).exit_code == 3
        assert cli(*notes, "--allow-shallow").exit_code == 0
    subprocess.run(
        ["git", "fetch", "-q", "--unshallow", "--tags"], cwd=clone, check=True, capture_output=True
    )
    assert cli("version", "next").stdout == "1.1.0\n"


def test_merge_commits_do_not_count_twice(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("chore: init")
    repo.tag("v1.0.0")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("fix: on the branch")
    repo.checkout("main")
    repo.commit("docs: meanwhile on main")
    repo.merge("topic", "feat: merged with a conventional message")
    document = cli("version", "next", "--json").json()
    assert (document["version"], document["bump"]) == ("1.0.1", "patch")
    assert [c["header"] for c in document["changes"]] == ["docs: meanwhile on main", "fix: on the branch"]


def test_reverted_changes_cancel_out(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("chore: init")
    repo.tag("v1.0.0")
    feature = repo.commit("feat: coupons", files={"c.py": "x"})
    repo.commit("fix: typo")
    repo.git("revert", "--no-edit", feature, env={"GIT_COMMITTER_DATE": "@1700009999 +0000"})
    document = cli("version", "next", "--json").json()
    assert (document["version"], document["bump"]) == ("1.0.1", "patch")
    assert [(c["header"], c["cancelled_by"]) for c in document["changes"]] == [
        ('Revert "feat: coupons"', f"reverts {feature[:7]}"),
        ("fix: typo", None),
        ("feat: coupons", f"reverted by {repo.git('rev-parse', '--short=7', 'HEAD')}"),
    ]


def test_a_squash_merge_counts_each_message_it_lists(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("chore: init")
    repo.tag("v1.0.0")
    repo.commit(
        "Checkout improvements (#40)\n\n* fix: rounding\n\n* feat(cart)!: prices include tax\n\nBREAKING CHANGE: net prices are gone\n"
    )
    document = cli("version", "next", "--json").json()
    assert (document["version"], document["bump"]) == ("2.0.0", "major")
    short = repo.git("rev-parse", "--short=7", "HEAD")
    assert document["decided_by"] == [f"{short}.2"]


def test_commit_messages_that_are_not_utf8(repo: GitRepo, cli: CliRunner) -> None:
    write_config(repo)
    repo.commit("chore: init")
    repo.tag("v1.0.0")
    repo.commit("fix: caf\xe9 menu".encode("latin-1"), encoding="ISO-8859-1")  # declared: git re-encodes
    repo.raw_commit(b"feat: na\xefve bytes \xff without an encoding header\n")
    document = cli("version", "next", "--json").json()
    assert document["version"] == "1.1.0"
    assert [c["header"] for c in document["changes"]] == [
        "feat: na\ufffdve bytes \ufffd without an encoding header",
        "fix: café menu",
    ]
    notes = cli("notes")
    assert notes.exit_code == 0, notes
    assert "- café menu" in notes.stdout
