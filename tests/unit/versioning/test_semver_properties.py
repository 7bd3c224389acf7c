"""Properties that must hold for every version, not just the ones someone thought of."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from clearance.errors import InvalidVersion
from clearance.versioning.semver import Version, compare

_SPEC = json.loads(
    (Path(__file__).parents[2] / "conformance" / "semver" / "semver-spec-examples.json").read_text("utf-8")
)
# re.ASCII: the official regex means `\d` as 0-9, as in the PCRE and ECMAScript it was written for.
OFFICIAL = re.compile(_SPEC["regex_named_groups"], re.ASCII)

numbers = st.integers(min_value=0, max_value=10**30)
# Small alphabets make equal identifiers, and so ties and shared prefixes, likely.
words = st.from_regex(r"[0-9]{0,2}[A-Za-z-][0-9A-Za-z-]{0,3}", fullmatch=True)
prerelease_ids = st.one_of(st.integers(min_value=0, max_value=12), words)
build_ids = st.from_regex(r"[0-9A-Za-z-]{1,4}", fullmatch=True)

versions = st.builds(
    Version,
    major=st.integers(min_value=0, max_value=3) | numbers,
    minor=st.integers(min_value=0, max_value=3),
    patch=st.integers(min_value=0, max_value=3),
    prerelease=st.lists(prerelease_ids, max_size=3).map(tuple),
    build=st.lists(build_ids, max_size=2).map(tuple),
)


@given(versions)
def test_printing_then_parsing_gives_the_same_version(version: Version) -> None:
    assert Version.parse(str(version)) == version


@given(st.from_regex(OFFICIAL))
def test_every_string_the_official_regex_accepts_parses_and_prints_back(text: str) -> None:
    # from_regex may add a trailing newline that `$` tolerates; SemVer does not.
    if OFFICIAL.fullmatch(text):
        assert str(Version.parse(text)) == text


@given(st.text(alphabet="0123456789.-+aZv_ \n", max_size=14))
def test_parse_accepts_exactly_the_strings_the_official_regex_accepts(text: str) -> None:
    try:
        Version.parse(text)
    except InvalidVersion as error:
        assert OFFICIAL.fullmatch(text) is None
        assert "\n" not in error.message
    else:
        assert OFFICIAL.fullmatch(text) is not None


@given(versions, versions)
def test_compare_is_antisymmetric_and_agrees_with_the_operators(a: Version, b: Version) -> None:
    assert compare(a, b) == -compare(b, a)
    assert (a < b) == (compare(a, b) < 0)
    assert (a <= b) == (compare(a, b) <= 0)
    assert (a > b) == (compare(a, b) > 0)
    assert (a >= b) == (compare(a, b) >= 0)
    assert (a <= b) or (b <= a)  # total
    assert (compare(a, b) == 0) == (a.precedence_key() == b.precedence_key())
    if a == b:
        assert compare(a, b) == 0


@given(versions, versions, versions)
def test_ordering_is_transitive(a: Version, b: Version, c: Version) -> None:
    if a <= b and b <= c:
        assert a <= c
    if a < b and b <= c:
        assert a < c


@given(versions, build_ids)
def test_build_metadata_never_changes_precedence(version: Version, build: str) -> None:
    rebuilt = Version(version.major, version.minor, version.patch, version.prerelease, (build,))
    assert compare(version, rebuilt) == 0


@given(versions)
def test_a_prerelease_comes_before_its_release(version: Version) -> None:
    release = Version(version.major, version.minor, version.patch)
    if version.is_prerelease:
        assert version < release
    else:
        assert compare(version, release) == 0


@given(versions)
def test_every_bump_moves_forward(version: Version) -> None:
    for bumped in (version.bump_major(), version.bump_minor(), version.bump_patch()):
        assert bumped > version
        assert not bumped.is_prerelease and not bumped.build
