"""git-cliff's bump fixtures (vendored in tests/conformance/conventional_commits/cases.json), each
built as a real repository and answered by `clearance version next`.

git-cliff's options are written as the clearance.yaml keys that mean the same:

- by default git-cliff bumps major for a breaking change even at 0.x (`breaking_always_bump_major`)
  and minor for a feature (`features_always_bump_minor`): `major_zero: {breaking: major, minor: minor}`;
  `false` for either is clearance's `minor` / `patch`;
- `initial_tag` is `initial_version`; `custom_minor_increment_regex = "minor|more"` is a bump of
  `minor` for the types `minor` and `more`; `no_increment_regex` types bump `none`;
- `--bump LEVEL` is `--bump LEVEL`; `--tag X` (with `--bump`) is `--release-as X`;
- `--bumped-version` prints the tag, which is the `tag` of `--json`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from support.cli import CliRunner
from support.git import GitRepo

CASES = json.loads(
    (Path(__file__).parents[1] / "conformance" / "conventional_commits" / "cases.json").read_text(
        encoding="utf-8"
    )
)
CONFIG = """\
project: fixture
services:
  - name: app
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
"""


def _config(options: list[str]) -> str:
    values = dict(re.fullmatch(r'(\w+) = "?([^"]*)"?', option).groups() for option in options)  # type: ignore[union-attr]
    breaking = "major" if values.get("breaking_always_bump_major", "true") == "true" else "minor"
    minor = "minor" if values.get("features_always_bump_minor", "true") == "true" else "patch"
    lines = ["versioning:", f"  major_zero: {{breaking: {breaking}, minor: {minor}}}"]
    bumps = {kind: "minor" for kind in values.get("custom_minor_increment_regex", "").split("|") if kind}
    bumps |= {kind: "none" for kind in values.get("no_increment_regex", "").split("|") if kind}
    if bumps:
        lines.append("  bumps: {" + ", ".join(f"{k}: {v}" for k, v in bumps.items()) + "}")
    initial = values.get("initial_tag")
    if initial is not None and re.fullmatch(r"\d+\.\d+\.\d+", initial):
        lines.append(f"  initial_version: {initial}")
    return CONFIG + "\n".join(lines) + "\n"


def _arguments(command: str) -> list[str]:
    args: list[str] = []
    for word in command.split():
        if word in ("major", "minor", "patch"):
            args += ["--bump", word]
        elif word.startswith("--tag="):
            args += ["--release-as", word.removeprefix("--tag=")]
    return args


@pytest.mark.parametrize(
    "scenario", CASES["bump_scenarios"], ids=[s["fixture"] for s in CASES["bump_scenarios"]]
)
def test_git_cliff_bump_fixtures(
    scenario: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CliRunner
) -> None:
    repo = GitRepo(tmp_path / scenario["fixture"])
    monkeypatch.chdir(repo.root)
    (repo.root / "clearance.yaml").write_text(_config(scenario["bump_config"]), encoding="utf-8")
    for event in scenario["history"]:
        if "commit" in event:
            repo.commit(event["commit"])
        else:
            repo.tag(event["tag"])
    result = cli("version", "next", "--json", *_arguments(scenario["command"]))
    assert result.exit_code == 0, result
    document = result.json()
    expected = scenario["expected_next_version"]
    answer = document["tag"] if "--bumped-version" in scenario["command"] else document["version"]
    assert answer == expected
