"""What a range of changes bumps, and the next version on a line: major 0, channels, maintenance
lines, Release-As and finishing pre-releases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.errors import Refused
from clearance.versioning.bumps import BumpRules, Level, decide
from clearance.versioning.changes import Change, RawCommit, changes_of
from clearance.versioning.next_version import ForcedVersion, Line, next_version
from clearance.versioning.semver import Version

V = Version.parse
RULES = BumpRules()


def history(*messages: str) -> list[Change]:
    """Changes newest first, as git log lists them; hashes are 1111…, 2222… in writing order."""
    changes: list[Change] = []
    for index, message in enumerate(messages):
        commit = RawCommit(str(index + 1) * 40, "Alice", index, message)
        changes = changes_of(commit) + changes
    return changes


def test_the_highest_change_decides_and_is_named() -> None:
    decision = decide(history("fix: a", "feat(x): b", "docs: c", "fix: d"), RULES)
    assert decision.level == Level.MINOR
    assert [effect.change.message.subject for effect in decision.decisive()] == ["b"]


@pytest.mark.parametrize(
    ("message", "level", "reason"),
    [
        ("feat!: x", Level.MAJOR, "breaking: '!' after the type"),
        ("fix: x\n\nBREAKING CHANGE: gone", Level.MAJOR, "breaking: BREAKING CHANGE footer"),
        ("chore: x\n\nBREAKING-CHANGE: gone", Level.MAJOR, "breaking: BREAKING-CHANGE footer"),
        ("perf: x", Level.PATCH, "type perf"),
        ("style: x", Level.NONE, "type style"),
        ("Update things", Level.NONE, "not a conventional commit"),
    ],
)
def test_levels_and_their_reasons(message: str, level: Level, reason: str) -> None:
    assert RULES.level_of(history(message)[0]) == (level, reason)


def test_other_commits_bump_what_the_config_says() -> None:
    assert decide(history("Update things"), BumpRules(other=Level.PATCH)).level == Level.PATCH


def test_a_revert_cancels_the_reverted_change_when_both_are_in_range() -> None:
    changes = history(
        "fix: a", "feat: coupons", 'Revert "feat: coupons"\n\nThis reverts commit ' + "2" * 40 + "."
    )
    decision = decide(changes, RULES)
    assert decision.level == Level.PATCH
    assert [(e.change.ident, e.cancelled_by) for e in decision.effects] == [
        ("3333333", "reverts 2222222"),
        ("2222222", "reverted by 3333333"),
        ("1111111", None),
    ]


def test_a_revert_of_a_change_out_of_range_counts_as_a_patch() -> None:
    assert decide(history('Revert "feat: old"\n\nThis reverts commit abcdef1.'), RULES).level == Level.PATCH


def test_reverting_the_revert_brings_the_change_back() -> None:
    changes = history("feat: coupons", "revert: feat: coupons", "revert: revert: feat: coupons")
    decision = decide(changes, RULES)
    assert decision.level == Level.MINOR
    assert [e.counts for e in decision.effects] == [False, False, True]


def test_release_as_takes_the_newest_footer() -> None:
    decision = decide(history("chore: a\n\nRelease-As: 2.0.0", "chore: b\n\nRelease-As: 3.0.0"), RULES)
    assert decision.release_as is not None and decision.release_as[0] == "3.0.0"


@pytest.mark.parametrize(
    ("base", "level", "rules", "expected"),
    [
        ("1.2.3", Level.MAJOR, RULES, "2.0.0"),
        ("1.2.3", Level.MINOR, RULES, "1.3.0"),
        ("1.2.3", Level.PATCH, RULES, "1.2.4"),
        ("0.3.1", Level.MAJOR, RULES, "0.4.0"),
        ("0.3.1", Level.MAJOR, BumpRules(major_zero_breaking=Level.MAJOR), "1.0.0"),
        ("0.3.1", Level.MINOR, BumpRules(major_zero_minor=Level.PATCH), "0.3.2"),
    ],
)
def test_bumps(base: str, level: Level, rules: BumpRules, expected: str) -> None:
    result = next_version(Line(V(base), V(base)), level, rules, initial=V("0.1.0"))
    assert str(result.version) == expected
    assert result.release_needed


def test_nothing_to_release_keeps_the_current_version() -> None:
    result = next_version(Line(V("1.2.3"), V("1.2.3")), Level.NONE, RULES, initial=V("0.1.0"))
    assert (str(result.version), result.release_needed) == ("1.2.3", False)


def test_the_first_release_gets_the_initial_version() -> None:
    for level in Level:
        assert str(next_version(Line(None), level, RULES, initial=V("1.15.5")).version) == "1.15.5"


def test_channels_number_after_the_existing_prereleases() -> None:
    existing = [V("1.3.0"), V("1.4.0-beta.1"), V("1.4.0-beta.2"), V("1.4.0-rc.1"), V("1.3.0-beta.9")]
    line = Line(V("1.3.0"), V("1.4.0-rc.1"), existing)
    assert (
        str(next_version(line, Level.MINOR, RULES, initial=V("0.1.0"), channel="beta").version)
        == "1.4.0-beta.3"
    )
    assert (
        str(next_version(line, Level.MINOR, RULES, initial=V("0.1.0"), channel="rc").version) == "1.4.0-rc.2"
    )
    assert (
        str(next_version(line, Level.MINOR, RULES, initial=V("0.1.0"), channel="alpha").version)
        == "1.4.0-alpha.1"
    )
    # Without a channel the pre-releases are promoted: the suffix goes.
    assert str(next_version(line, Level.PATCH, RULES, initial=V("0.1.0")).version) == "1.4.0"
    # A bigger change leaves that line: the next major.
    assert str(next_version(line, Level.MAJOR, RULES, initial=V("0.1.0")).version) == "2.0.0"


def test_a_maintenance_line_only_takes_patches_and_skips_released_ones() -> None:
    line = Line(V("1.2.3"), V("1.2.3"), [V("1.2.3"), V("1.2.4"), V("1.5.0")], hotfix=True)
    result = next_version(line, Level.MAJOR, RULES, initial=V("0.1.0"))
    assert str(result.version) == "1.2.5"
    assert result.level == Level.PATCH
    assert "maintenance line: a major change is released as a patch" in result.reasons


def test_release_as_must_go_up() -> None:
    line = Line(V("1.3.0"), V("1.3.0"))
    forced = next_version(line, Level.PATCH, RULES, initial=V("0.1.0"), forced=ForcedVersion(V("2.0.0"), "x"))
    assert str(forced.version) == "2.0.0"
    with pytest.raises(Refused) as refused:
        next_version(
            line,
            Level.PATCH,
            RULES,
            initial=V("0.1.0"),
            forced=ForcedVersion(V("1.2.0"), "Release-As in abc1234"),
        )
    assert refused.value.exit_code == 3
    assert refused.value.message == (
        "Release-As in abc1234 asks for 1.2.0, which is not above the current version 1.3.0"
    )


@given(
    st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)),
    st.sampled_from([Level.PATCH, Level.MINOR, Level.MAJOR]),
    st.sampled_from([None, "alpha", "beta", "rc"]),
)
def test_a_release_always_goes_up(parts: tuple[int, int, int], level: Level, channel: str | None) -> None:
    base = Version(*parts)
    result = next_version(Line(base, base, [base]), level, RULES, initial=V("0.1.0"), channel=channel)
    assert result.version > base
    assert result.version.is_prerelease == (channel is not None)
