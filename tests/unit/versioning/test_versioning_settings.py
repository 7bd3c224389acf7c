"""The versioning keys of clearance.yaml: read by the light loader of `clearance version next` and
by the full (pydantic) loader, each wrong value reported once, as `file:line: key: why`, in the
same words by both."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clearance.errors import ConfigError
from clearance.project.loader import load_config
from clearance.versioning.bumps import Level
from clearance.versioning.settings import load_versioning

BASE = """\
project: shop
services:
  - name: web
    path: services/web
  - name: api
environments:
  - name: dev
lifecycle:
  phases:
    - environments: [dev]
"""


def _write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, base: str = BASE) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "clearance.yaml"
    path.write_text(base + textwrap.dedent(extra), encoding="utf-8")
    return path


def _problems(load: object, path: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load(path)  # type: ignore[operator]
    return error.value.problems


def test_settings_and_their_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(
        tmp_path,
        monkeypatch,
        """\
        versioning:
          initial_version: 1.0.0
          bumps: {docs: patch, feat: major}
          other: patch
          major_zero: {breaking: major}
          notes:
            show: [feat, fix, docs]
            titles: {docs: Docs}
          links:
            forge: gitlab
            repository: https://gitlab.example.com/acme/shop/
            jira: https://acme.atlassian.net
            jira_projects: [SHOP]
        """,
    )
    settings = load_versioning(path)
    load_config(path)  # the full loader accepts the same file
    assert str(settings.initial_version) == "1.0.0"
    assert settings.tag_format == "v{version}"
    assert dict(settings.rules.bumps) == {
        "feat": Level.MAJOR,
        "fix": Level.PATCH,
        "perf": Level.PATCH,
        "revert": Level.PATCH,
        "docs": Level.PATCH,
    }
    assert settings.rules.other == Level.PATCH
    assert (settings.rules.major_zero_breaking, settings.rules.major_zero_minor) == (Level.MAJOR, Level.MINOR)
    assert settings.notes.show == ("feat", "fix", "docs")
    assert settings.notes.titles["docs"] == "Docs" and settings.notes.titles["feat"] == "Features"
    assert settings.links.repository == "https://gitlab.example.com/acme/shop"
    assert [(s.name, s.path, s.tag_format) for s in settings.services] == [
        ("web", "services/web", "{service}-v{version}"),
        ("api", None, "{service}-v{version}"),
    ]


BAD = [
    (
        "versioning: [a]\n",
        ["clearance.yaml:11: versioning: expected a mapping of keys, got a list"],
    ),
    (
        "versioning:\n  tag_formt: x\n",
        ["clearance.yaml:12: versioning.tag_formt: unknown key (did you mean 'tag_format'?)"],
    ),
    (
        "versioning:\n  initial_version: 1.0\n  other: sometimes\n",
        [
            "clearance.yaml:12: versioning.initial_version: expected text, got 1.0",
            "clearance.yaml:13: versioning.other: 'sometimes' is not a bump: use major, minor, patch, none",
        ],
    ),
    (
        "versioning:\n  initial_version: v1.0.0\n",
        [
            "clearance.yaml:12: versioning.initial_version: 'v1.0.0' is not a SemVer 2.0.0 version: it has a 'v' prefix"
        ],
    ),
    (
        "versioning:\n  bumps:\n    Feat: minor\n",
        [
            "clearance.yaml:12: versioning.bumps: 'Feat' is not a commit type: use lowercase words like feat or fix"
        ],
    ),
    (
        "versioning:\n  bumps:\n    feat: huge\n  major_zero: {breaking: gigantic}\n",
        [
            "clearance.yaml:13: versioning.bumps.feat: 'huge' is not a bump: use major, minor, patch, none",
            "clearance.yaml:14: versioning.major_zero.breaking: 'gigantic' is not a bump: use major, minor, patch, none",
        ],
    ),
    (
        "versioning:\n  notes:\n    show: [feat, 3]\n    titles: {feat: ''}\n    templates: /etc\n",
        [
            "clearance.yaml:13: versioning.notes.show[1]: 3 is not a commit type: use lowercase words like feat or fix",
            "clearance.yaml:14: versioning.notes.titles.feat: must not be empty",
            "clearance.yaml:15: versioning.notes.templates: '/etc' must be relative to the project root, not absolute",
        ],
    ),
    (
        "versioning:\n  links:\n    forge: bitbucket\n    repository: github.com/acme\n"
        "    issue: '{repository}/issues/{id}'\n    jira_projects: [abc]\n",
        [
            "clearance.yaml:13: versioning.links.forge: unknown forge 'bitbucket': use github, gitlab, gitea, forgejo",
            "clearance.yaml:14: versioning.links.repository: 'github.com/acme' is not an http(s) URL",
            "clearance.yaml:15: versioning.links.issue: unknown placeholder {id} in the issue link: use "
            "{repository}, {host}, {owner}, {repo}, {number}",
            "clearance.yaml:16: versioning.links.jira_projects[0]: 'abc' is not a tracker project key like ABC",
        ],
    ),
    (
        "versioning:\n  tag_format: v{version}\n  tag_format: x{version}\n",
        [
            "clearance.yaml:13: versioning.tag_format: duplicate key (first at line 12; YAML would keep only the last)"
        ],
    ),
]


@pytest.mark.parametrize(("extra", "problems"), BAD, ids=[p[1][0].split(": ")[1] for p in BAD])
def test_both_loaders_report_the_same_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, problems: list[str]
) -> None:
    path = _write(tmp_path, monkeypatch, extra)
    assert _problems(load_versioning, path) == problems
    assert _problems(load_config, path) == problems


def test_service_keys_are_checked_by_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = BASE.replace("path: services/web", "path: ../web\n    tag_format: web-{versio}")
    path = _write(tmp_path, monkeypatch, "", base)
    expected = [
        "clearance.yaml:4: services[0].path: '../web' leads outside the project root",
        "clearance.yaml:5: services[0].tag_format: 'web-{versio}' must contain {version} exactly once, "
        "e.g. v{version} or {service}-v{version}",
    ]
    assert _problems(load_versioning, path) == expected
    assert _problems(load_config, path) == expected


def test_a_service_path_that_does_not_exist_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_versioning(_write(tmp_path, monkeypatch, ""))
    with pytest.raises(ConfigError) as error:
        settings.check_path(settings.service("web"))
    assert error.value.problems == [
        "clearance.yaml:4: services[0].path: 'services/web' does not exist in the project"
    ]
    assert error.value.exit_code == 2
    (tmp_path / "services" / "web").mkdir(parents=True)
    settings.check_path(settings.service("web"))


def test_the_light_loader_needs_no_pydantic(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "clearance.yaml").write_text(BASE, encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from clearance.versioning.settings import load_versioning; "
        f"load_versioning(Path({str(tmp_path / 'clearance.yaml')!r})); "
        "print(sorted(m for m in ('pydantic', 'sqlalchemy', 'rich', 'typer', 'jinja2') if m in sys.modules))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        == "[]\n"
    )
