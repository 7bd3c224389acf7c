"""A release manager types versions; clearance reads them as SemVer 2.0.0 and orders them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clearance.errors import InvalidVersion, UsageError
from clearance.versioning import Version, compare


def test_a_full_version_is_read_into_its_parts_and_printed_back() -> None:
    version = Version.parse("2.0.0-rc.1+build.5")

    assert version == Version(2, 0, 0, ("rc", 1), ("build", "5"))
    assert version.is_prerelease
    assert str(version) == "2.0.0-rc.1+build.5"


def test_a_plain_release_is_not_a_prerelease() -> None:
    assert not Version.parse("1.4.0").is_prerelease
    assert not Version.parse("1.4.0+ci.7").is_prerelease


@pytest.mark.parametrize(
    ("text", "reason", "hint"),
    [
        ("v1.2.3", "it has a 'v' prefix", "drop the 'v': write 1.2.3"),
        ("1.2", "three numeric parts", "MAJOR.MINOR.PATCH"),
        ("v1.2.3.4", "three numeric parts", "MAJOR.MINOR.PATCH"),
        ("01.2.3", "the major part '01' has a leading zero", "write 1 instead of 01"),
        ("1.2.3-rc.01", "numeric pre-release identifier '01' has a leading zero", "MAJOR.MINOR.PATCH"),
        ("1.2.3-rc..1", "empty pre-release identifier", "MAJOR.MINOR.PATCH"),
        ("1.2.3+", "empty build identifier", "MAJOR.MINOR.PATCH"),
        ("1.2.3-beta_1", "'beta_1' may only hold 0-9, A-Z, a-z and '-'", "MAJOR.MINOR.PATCH"),
        (" 1.2.3", "surrounding whitespace", "remove the spaces"),
        ("", "it is empty", "MAJOR.MINOR.PATCH"),
        ("1.x.0", "the minor part 'x' is not a number", "MAJOR.MINOR.PATCH"),
    ],
)
def test_a_wrong_version_is_refused_with_one_line_saying_what_is_wrong(
    text: str, reason: str, hint: str
) -> None:
    with pytest.raises(InvalidVersion) as caught:
        Version.parse(text)

    error = caught.value
    assert error.message.startswith(f"{text!r} is not a SemVer 2.0.0 version: ")
    assert reason in error.message
    assert "\n" not in error.message
    assert error.hint is not None and hint in error.hint
    assert error.code == "version-invalid"
    assert isinstance(error, UsageError)  # exit code 2 at the CLI


def test_non_ascii_digits_are_not_digits() -> None:
    with pytest.raises(InvalidVersion):
        Version.parse("\uff11.2.3")  # a fullwidth 1
    with pytest.raises(InvalidVersion):
        Version.parse("1.2.3\n")


def test_numbers_of_any_size_are_kept_exactly() -> None:
    text = "99999999999999999999999.999999999999999999.99999999999999999"
    assert Version.parse(text).major == 99999999999999999999999
    assert str(Version.parse(text)) == text


def test_precedence_follows_section_11() -> None:
    ascending = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    shuffled = [Version.parse(text) for text in reversed(ascending)]
    assert [str(v) for v in sorted(shuffled)] == ascending


def test_numeric_identifiers_sort_before_words_and_words_sort_by_ascii() -> None:
    assert Version.parse("1.0.0-2") < Version.parse("1.0.0-alpha")
    assert Version.parse("1.0.0-Beta") < Version.parse("1.0.0-alpha")  # 'B' < 'a' in ASCII
    assert Version.parse("1.0.0-9") < Version.parse("1.0.0-10")


def test_build_metadata_is_ignored_for_precedence_but_not_for_identity() -> None:
    ci_build = Version.parse("1.0.0+ci.1")
    other_build = Version.parse("1.0.0+ci.2")

    assert compare(ci_build, other_build) == 0
    assert ci_build.precedence_key() == other_build.precedence_key()
    assert ci_build <= other_build and ci_build >= other_build
    assert ci_build != other_build
    assert len({ci_build, other_build}) == 2


def test_versions_do_not_compare_with_strings() -> None:
    with pytest.raises(TypeError):
        _ = Version.parse("1.0.0") < "2.0.0"
    assert Version.parse("1.0.0") != "1.0.0"  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    ("start", "major", "minor", "patch"),
    [
        ("1.2.3", "2.0.0", "1.3.0", "1.2.4"),
        ("1.2.3+ci.9", "2.0.0", "1.3.0", "1.2.4"),
        ("2.0.0-rc.1", "2.0.0", "2.0.0", "2.0.0"),
        ("1.3.0-beta", "2.0.0", "1.3.0", "1.3.0"),
        ("1.2.4-beta", "2.0.0", "1.3.0", "1.2.4"),
    ],
)
def test_bumping_finishes_a_prerelease_of_the_target_instead_of_skipping_it(
    start: str, major: str, minor: str, patch: str
) -> None:
    version = Version.parse(start)
    assert (str(version.bump_major()), str(version.bump_minor()), str(version.bump_patch())) == (
        major,
        minor,
        patch,
    )


def test_a_version_built_in_code_obeys_the_grammar_too() -> None:
    assert Version(1, 0, 0, ("rc", "7")) == Version.parse("1.0.0-rc.7")
    assert Version(1, 0, 0, ["rc", 7]) == Version(1, 0, 0, ("rc", 7))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Version(-1, 0, 0),
        lambda: Version(True, 0, 0),
        lambda: Version(1, 0, 0, ("rc", "07")),
        lambda: Version(1, 0, 0, ("",)),
        lambda: Version(1, 0, 0, ("rc", -1)),
        lambda: Version(1, 0, 0, (), ("a+b",)),
    ],
    ids=["negative", "bool", "leading-zero", "empty-identifier", "negative-identifier", "bad-build"],
)
def test_a_version_built_in_code_that_breaks_the_grammar_is_refused(build: Callable[[], Version]) -> None:
    with pytest.raises(InvalidVersion):
        build()
