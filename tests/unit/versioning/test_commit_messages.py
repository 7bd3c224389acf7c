"""Reading commit messages: headers, bodies, footers, breaking notes, reverts, squash merges and
issue references — the cases real histories hold beyond the conformance vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.versioning.changes import RawCommit, changes_of
from clearance.versioning.conventional import parse_header, parse_message
from clearance.versioning.references import closed_issues, references
from clearance.versioning.squash import split_squash


def test_a_full_message_is_read_into_its_parts() -> None:
    message = parse_message(
        "feat(api)!: drop the v1 endpoints (#42)\n\n"
        "The v1 API was deprecated a year ago.\n\n"
        "BREAKING CHANGE: clients must call /v2; the payloads are unchanged.\n"
        "Refs: #7\n"
        "Reviewed-by: Bob\n"
    )
    assert (message.type, message.scope, message.subject) == ("feat", "api", "drop the v1 endpoints")
    assert message.pull_request == "#42"
    assert message.breaking
    assert message.body == "The v1 API was deprecated a year ago."
    assert [(f.token, f.value) for f in message.footers] == [
        ("BREAKING CHANGE", "clients must call /v2; the payloads are unchanged."),
        ("Refs", "#7"),
        ("Reviewed-by", "Bob"),
    ]
    assert message.breaking_description == "clients must call /v2; the payloads are unchanged."


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("fix(api): handle (x): y", ("fix", "api", "handle (x): y", False)),
        ("Feat: capitalised types are types", ("feat", None, "capitalised types are types", False)),
        ("build-deps: bump", ("build-deps", None, "bump", False)),
        ("refactor!: drop py3.10", ("refactor", None, "drop py3.10", True)),
    ],
)
def test_headers(header: str, parsed: tuple[object, ...]) -> None:
    assert parse_header(header) == parsed


@pytest.mark.parametrize(
    "header",
    [
        "feat:missing space",
        "feat: ",
        "feat(api) : x",
        "Update README.md",
        "Merge branch 'main'",
        ": nothing",
        "",
    ],
)
def test_headers_that_are_not_conventional(header: str) -> None:
    assert parse_header(header) is None
    message = parse_message(header)
    assert message.type is None
    assert message.subject == header.strip()


def test_a_breaking_note_stops_at_the_next_footer_and_keeps_its_paragraphs() -> None:
    message = parse_message(
        "feat: new config\n\nBREAKING CHANGE: the file moved.\n\nRename clearance.yml to clearance.yaml.\n\nCloses: #9"
    )
    assert message.notes[0].text == "the file moved.\n\nRename clearance.yml to clearance.yaml."
    assert closed_issues(message.footer) == ("#9",)


def test_indented_key_value_lines_are_body_not_footers() -> None:
    # conventional-changelog #1512: Dependabot's YAML block is body, its sign-off the footer.
    message = parse_message(
        "chore(deps): bump foo from 1.0.0 to 2.0.0\n\nBumps foo from 1.0.0 to 2.0.0.\n\n---\n"
        'updated-dependencies:\n- dependency-name: "foo"\n  dependency-version: 2.0.0\n...\n\n'
        "Signed-off-by: dependabot[bot] <support@github.com>"
    )
    assert message.body.startswith("Bumps foo") and message.body.endswith("...")
    assert message.footer == "Signed-off-by: dependabot[bot] <support@github.com>"
    assert not message.breaking


def test_reverts_name_what_they_revert() -> None:
    git_revert = parse_message(
        'Revert "feat: coupons"\n\nThis reverts commit 0123456789abcdef0123456789abcdef01234567.\n'
    )
    assert (git_revert.type, git_revert.reverted_header) == ("revert", "feat: coupons")
    assert git_revert.reverts == "0123456789abcdef0123456789abcdef01234567"
    conventional = parse_message("revert: feat: coupons")
    assert (conventional.type, conventional.reverted_header, conventional.reverts) == (
        "revert",
        "feat: coupons",
        None,
    )


def test_release_as_footer() -> None:
    assert parse_message("chore: release\n\nRelease-As: 2.0.0").footer_values("release-as") == ["2.0.0"]


def test_windows_line_endings() -> None:
    message = parse_message("fix: x\r\n\r\nbody\r\n\r\nRefs: #3\r\n")
    assert message.subject == "x"
    assert message.body == "body"
    assert [f.value for f in message.footers] == ["#3"]


def test_github_squash_merge_lists_each_message_with_the_pull_request() -> None:
    commit = RawCommit(
        "a" * 40,
        "Alice",
        0,
        "Checkout v2 (#31)\n\n* feat(cart): coupons\n\n* fix: rounding\n\nCloses: #30\n\n* chore: tidy\n* and a plain bullet\n",
    )
    changes = changes_of(commit)
    assert [(c.ident, c.type, c.message.subject, c.message.pull_request) for c in changes] == [
        ("aaaaaaa", None, "Checkout v2", "#31"),
        ("aaaaaaa.1", "feat", "coupons", "#31"),
        ("aaaaaaa.2", "fix", "rounding", "#31"),
        ("aaaaaaa.3", "chore", "tidy", "#31"),
    ]
    assert changes[3].message.body == "* and a plain bullet"
    assert [r.key for r in changes[2].references()] == ["#30"]


def test_an_ordinary_list_in_a_body_is_no_squash() -> None:
    text = "docs: readme\n\n* install\n* usage\n"
    assert split_squash(text) == [text]


def test_references_keep_their_action_and_skip_urls() -> None:
    found = references(
        "Fixes #1, #2 and #3\nsee acme/shop#4 and https://github.com/a/b/issues/5#issuecomment-6\nUTF-8 and SHOP-12"
    )
    assert [(r.key, r.action) for r in found] == [
        ("#1", "Fixes"),
        ("#2", "Fixes"),
        ("#3", "Fixes"),
        ("acme/shop#4", None),
    ]
    keys = references("UTF-8 and SHOP-12 and ABC-3", tracker_keys=True, projects=("SHOP",))
    assert [r.key for r in keys] == ["SHOP-12"]
    assert [r.key for r in references("UTF-8 ABC-3", tracker_keys=True)] == ["UTF-8", "ABC-3"]


def test_a_pull_request_is_not_a_work_item_of_its_own_change() -> None:
    change = changes_of(RawCommit("c" * 40, "A", 0, "fix: x (#12)\n\nRefs #11"))[0]
    assert [r.key for r in change.references()] == ["#11"]


@given(st.text())
def test_any_text_is_read_without_error(text: str) -> None:
    message = parse_message(text)
    assert message.header == text.partition("\n")[0].rstrip("\r")
    assert message.breaking == bool(message.notes) or message.breaking


@given(
    st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
    st.none() | st.from_regex(r"[a-z0-9/@._-]{1,12}", fullmatch=True),
    st.booleans(),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ,.]{0,30}[A-Za-z0-9.]", fullmatch=True),
)
def test_written_headers_read_back(kind: str, scope: str | None, bang: bool, subject: str) -> None:
    header = f"{kind}{f'({scope})' if scope else ''}{'!' if bang else ''}: {subject}"
    assert parse_header(header) == (kind, scope, subject, bang)
    assert parse_message(header).breaking is bang
