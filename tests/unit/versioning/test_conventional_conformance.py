"""clearance's Conventional Commits reading against third-party vectors, vendored in
tests/conformance/conventional_commits (see PROVENANCE.md there).

The tools the vectors come from disagree on purpose (cases.json says so), so each vector is read
through the tool's own vocabulary, mapped onto clearance's model next to where it is used:

- conventional-changelog's `notes`, `references`, `header`, `body` and `footer` are clearance's
  own fields; its references are compared on action, issue, prefix, owner and repository (its
  `raw` is the span its regular expression happened to match, which clearance does not keep);
- a parser context with the custom note keyword `BREAKING AMEND` is read with that keyword;
- python-semantic-release's bump levels are clearance's levels with the default bumps; its `type`
  is the changelog section, clearance's default section title in lower case; its
  `descriptions` are the subject followed by the body's paragraphs; its `linked_issues` are the
  issues of closing footers and its `linked_merge_request` the pull request of the header;
- git-cliff's fields (`breaking_description`, `footers` as token/separator/value) are
  clearance's; its `rendered_group` is the section the change lands in when the section titles
  are the fixture's groups. Its `default_scope` is a git-cliff option clearance does not have.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clearance.versioning.bumps import BumpRules, Level, decide
from clearance.versioning.changes import Change, RawCommit, changes_of
from clearance.versioning.conventional import BREAKING_KEYWORDS, CommitMessage, parse_message
from clearance.versioning.keys import DEFAULT_TITLES
from clearance.versioning.links import Links, LinkSettings
from clearance.versioning.notes import build_notes
from clearance.versioning.references import closed_issues, references
from clearance.versioning.settings import NotesSettings

VECTORS = Path(__file__).parents[2] / "conformance" / "conventional_commits"
CASES = json.loads((VECTORS / "cases.json").read_text(encoding="utf-8"))
PSR = json.loads((VECTORS / "python-semantic-release" / "test_conventional.json").read_text(encoding="utf-8"))
CZ = json.loads((VECTORS / "commitizen" / "test_cz_conventional_commits.json").read_text(encoding="utf-8"))

NOT_MODELLED = {
    # git-cliff's `default_scope` option fills in a scope the commit does not have.
    "rendered_scope_from_config_default_scope",
}
LEVELS = {
    "MAJOR": Level.MAJOR,
    "MINOR": Level.MINOR,
    "PATCH": Level.PATCH,
    "NO_RELEASE": Level.NONE,
    None: Level.NONE,
}


def _change(message: str, note_keywords: tuple[str, ...] = BREAKING_KEYWORDS) -> list[Change]:
    return changes_of(RawCommit("f" * 40, "Alice", 0, message), note_keywords)


def _keywords(case: dict[str, Any]) -> tuple[str, ...]:
    return ("BREAKING AMEND",) if "BREAKING AMEND" in case["parser_context"] else BREAKING_KEYWORDS


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split("\n")) for p in text.split("\n\n") if p.strip()]


def _ref(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["action"], r["issue"], r["prefix"], r["owner"], r["repository"])


def _check(field: str, expected: Any, message: CommitMessage) -> None:
    conventional = message.conventional
    if field == "type":
        assert (message.type if conventional else None) == expected
    elif field == "scope":
        assert message.scope == expected
    elif field == "subject":
        assert (message.subject if conventional else None) == expected
    elif field == "breaking":
        assert message.breaking is expected
    elif field in ("header", "footer"):
        assert getattr(message, field) == expected
    elif field == "body":
        assert message.body == ("" if expected.startswith("(empty") else expected)
    elif field == "notes":
        assert [{"title": n.title, "text": n.text} for n in message.notes] == expected
    elif field == "notes[0]":
        assert {"title": message.notes[0].title, "text": message.notes[0].text} == expected
    elif field == "notes.length":
        assert len(message.notes) == expected
    elif field == "references":
        found = references(message.body + "\n" + message.footer)
        assert [(r.action, r.issue, r.prefix, r.owner, r.repository) for r in found] == [
            _ref(r) for r in expected
        ]
    elif field == "bump":
        level, _ = BumpRules().level_of(_as_change(message))
        assert level == LEVELS[expected]
    elif field == "psr_type_section":
        assert DEFAULT_TITLES[message.type or "other"].lower() == expected
    elif field == "descriptions":
        assert [message.subject, *_paragraphs(message.body)] == expected
    elif field == "linked_merge_request":
        assert (message.pull_request or "") == expected
    elif field == "breaking_description":
        assert message.breaking_description == expected
    elif field == "footers":
        assert [[f.token, f.separator, f.value] for f in message.footers] == expected
    elif field == "rendered_group":
        assert _section_of(message, {"feat": "Features", "fix": "Fix"}) == expected
    else:
        raise AssertionError(f"no mapping for {field}")


def _as_change(message: CommitMessage) -> Change:
    return Change("f" * 40, "Alice", 0, message)


def _section_of(message: CommitMessage, titles: dict[str, str]) -> str:
    notes = build_notes(
        [_as_change(message)],
        NotesSettings(show=tuple(titles), titles=titles),
        Links(LinkSettings()),
        version="1.0.0",
        tag="v1.0.0",
        previous_tag=None,
        date="2022-04-06",
    )
    return notes.sections[0].title


@pytest.mark.parametrize("case", CASES["cases"], ids=[case["id"] for case in CASES["cases"]])
def test_message_cases(case: dict[str, Any]) -> None:
    message = parse_message(case["message"], _keywords(case))
    checked = 0
    for field, expected in {**case["expected"], **case["expected_other"]}.items():
        if field not in NOT_MODELLED:
            _check(field, expected, message)
            checked += 1
    for field, expected in case.get("derived", {}).items():
        if field != "how":
            _check(field, expected, message)
            checked += 1
    assert checked, "a vector that checks nothing proves nothing"


@pytest.mark.parametrize(
    "case", CASES["commit_sets_to_increment"], ids=lambda case: "+".join(case["messages"])[:60]
)
def test_commit_sets_to_increment(case: dict[str, Any]) -> None:
    changes = [change for text in case["messages"] for change in _change(text)]
    assert decide(changes, BumpRules()).level == LEVELS[case["expected_increment"]]


def _psr_test(name: str) -> dict[str, Any]:
    return next(test for test in PSR["tests"] if test["test"] == name)


@pytest.mark.parametrize(
    ("message", "issues"), _psr_test("test_parser_return_linked_issues_from_commit_message")["cases"]
)
def test_linked_issues(message: str, issues: list[str]) -> None:
    parsed = parse_message(message)
    assert list(closed_issues(parsed.body + "\n" + parsed.footer)) == issues


@pytest.mark.parametrize("message", _psr_test("test_parser_raises_unknown_message_style")["cases"])
def test_unknown_message_styles_are_other_changes(message: str) -> None:
    assert not parse_message(message).conventional


def _squash_cases() -> list[Any]:
    cases = []
    for style in ("github", "git", "bitbucket"):
        test = _psr_test(f"test_parser_squashed_commit_{style}_squash_style")
        for case in test["cases"]:
            cases.append(pytest.param(*case["$param"], id=case["id"]))
    return cases


@pytest.mark.parametrize(("message", "expected"), _squash_cases())
def test_squash_merges_count_each_listed_message(message: str, expected: list[dict[str, Any] | None]) -> None:
    changes = _change(message)
    assert len(changes) == len(expected)
    rules = BumpRules()
    for change, wanted in zip(changes, expected, strict=True):
        parsed = change.message
        if wanted is None:
            assert not parsed.conventional
            continue
        assert DEFAULT_TITLES[parsed.type or "other"].lower() == wanted["type"]
        assert (parsed.scope or "") == wanted.get("scope", "")
        assert parsed.subject == wanted["descriptions"][0]
        assert (
            rules.level_of(change)[0]
            == Level[wanted["bump"]["$enum"].split(".")[1].replace("NO_RELEASE", "NONE")]
        )
        footers = [f.value for f in parsed.footers if f.token in BREAKING_KEYWORDS]
        assert footers == wanted.get("breaking_descriptions", [])
        assert list(closed_issues(parsed.body + "\n" + parsed.footer)) == wanted.get("linked_issues", [])
        assert (parsed.pull_request or "") == wanted.get("linked_merge_request", "")


CZ_MESSAGES = next(test for test in CZ["tests"] if test["test"] == "test_breaking_change_message_formats")


@pytest.mark.parametrize(("scope", "exclamation", "message"), CZ_MESSAGES["cases"])
def test_messages_commitizen_writes_read_as_breaking_with_their_migration(
    scope: str, exclamation: bool, message: str
) -> None:
    parsed = parse_message(message)
    assert parsed.type == "feat"
    assert (parsed.scope or "") == scope
    assert parsed.subject == "email pattern corrected"
    assert parsed.breaking
    assert parsed.breaking_description == "migrate by renaming user to users"
    assert parsed.body == "complete content"
