"""Links in release notes: commits, issues, pull requests and comparisons on a forge, and tracker
keys on Jira. No forge is assumed: without `versioning.links` in clearance.yaml nothing is linked.

Each forge is a preset of URL templates; any template can be replaced in the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from clearance.versioning.references import Reference

_GITHUB = {
    "commit": "{repository}/commit/{hash}",
    "issue": "{host}/{owner}/{repo}/issues/{number}",
    "pull_request": "{repository}/pull/{number}",
    "compare": "{repository}/compare/{from}...{to}",
}
_GITLAB = {
    "commit": "{repository}/-/commit/{hash}",
    "issue": "{host}/{owner}/{repo}/-/issues/{number}",
    "pull_request": "{repository}/-/merge_requests/{number}",
    "compare": "{repository}/-/compare/{from}...{to}",
}
_GITEA = {
    "commit": "{repository}/commit/{hash}",
    "issue": "{host}/{owner}/{repo}/issues/{number}",
    "pull_request": "{repository}/pulls/{number}",
    "compare": "{repository}/compare/{from}...{to}",
}
PRESETS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"github": _GITHUB, "gitlab": _GITLAB, "gitea": _GITEA, "forgejo": _GITEA}
)
JIRA_TEMPLATE = "{jira}/browse/{key}"


@dataclass(frozen=True)
class LinkSettings:
    forge: str | None = None
    repository: str | None = None
    jira: str | None = None
    jira_projects: tuple[str, ...] = ()
    templates: Mapping[str, str] = field(default_factory=dict)


class Links:
    """URLs for the things release notes mention; None where the config gives no template."""

    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        templates = dict(PRESETS.get(settings.forge or "", {})) if settings.repository else {}
        if settings.jira:
            templates["work_item"] = JIRA_TEMPLATE
        templates.update(settings.templates)
        self._templates = templates
        self._prefilled: dict[str, str] = {}
        repository = settings.repository or ""
        parts = urlsplit(repository)
        owner, _, repo = parts.path.strip("/").partition("/")
        self._base = {
            "repository": repository,
            "host": f"{parts.scheme}://{parts.netloc}" if parts.netloc else "",
            "owner": owner,
            "repo": repo,
            "jira": settings.jira or "",
        }
        # Commit links are made for every entry of a changelog: fill in what never changes once.
        commit = templates.get("commit")
        self._commit = None
        if commit is not None:
            self._commit = commit.replace("{repository}", repository).replace("{host}", self._base["host"])
        self._short = self._commit is not None and "{short}" in self._commit

    @property
    def tracker_keys(self) -> bool:
        """Whether `ABC-123` keys are read as work items (only with a tracker configured)."""
        return bool(self.settings.jira or "work_item" in self.settings.templates)

    def commit(self, hash_: str) -> str | None:
        if self._commit is None:
            return None
        url = self._commit.replace("{hash}", hash_)
        return url.replace("{short}", hash_[:7]) if self._short else url

    def pull_request(self, ref: str) -> str | None:
        return self._fill("pull_request", number=ref.lstrip("#!"))

    def compare(self, older: str, newer: str) -> str | None:
        return self._fill("compare", **{"from": older, "to": newer})

    def reference(self, reference: Reference) -> str | None:
        if not reference.prefix:
            project, _, number = reference.issue.rpartition("-")
            return self._fill("work_item", key=reference.issue, project=project, number=number)
        if reference.owner:
            return self._fill(
                "issue", owner=reference.owner, repo=reference.repository or "", number=reference.issue
            )
        return self._fill("issue", number=reference.issue)

    def _fill(self, name: str, **values: str) -> str | None:
        # The repository's values are filled in once per template; an issue of another
        # repository (owner/repo#12) fills owner and repo itself, before them.
        if "owner" in values:
            template = self._templates.get(name)
        else:
            template = self._prefilled.get(name)
            if template is None and name in self._templates:
                template = self._prefilled[name] = self._with_base(self._templates[name])
        if template is None:
            return None
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        return self._with_base(template) if "owner" in values else template

    def _with_base(self, template: str) -> str:
        for key, value in self._base.items():
            template = template.replace("{" + key + "}", value)
        return template
