"""clearance's SemVer against third-party vectors, vendored in tests/conformance/semver (see PROVENANCE.md).

node-semver is a JavaScript library with a lenient streak, so only its rows that state a fact about
strict SemVer 2.0.0 are used. The filter is `_strict_rows` below, and every row it drops is dropped
for a reason named next to it:

- a bare `true` or `{"loose": true}` options slot: loose parsing (a `v`/`=` prefix, spaces, ...),
  which strict SemVer rejects — except in invalid-versions, where "even loose parsing rejects it"
  implies strict parsing does too;
- a version string with surrounding whitespace or a `v`/`=` prefix and no options: node trims and
  strips those even in strict mode, SemVer does not;
- a JS-only input (`{"$js_…"}` markers: RegExp, undefined, objects with toString);
- invalid-versions rows whose reason is "too long" or "too big": those are limits of JavaScript
  numbers (MAX_SAFE_INTEGER) and of node's MAX_LENGTH; the SemVer grammar has neither, so
  clearance accepts those strings, and a test below says so.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clearance.errors import InvalidVersion
from clearance.versioning.semver import Version, compare

VECTORS = Path(__file__).parents[2] / "conformance" / "semver"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


SEMVER_ORG = _load("semver-org-valid-invalid.json")
SPEC = _load("semver-spec-examples.json")
NODE_COMPARISONS = _load("node-semver/comparisons.json")
NODE_EQUALITY = _load("node-semver/equality.json")
NODE_VALID = _load("node-semver/valid-versions.json")
NODE_INVALID = _load("node-semver/invalid-versions.json")
NODE_INCREMENTS = _load("node-semver/increments.json")

_JS_LIMIT_REASONS = {"too long", "too big"}


def _is_loose(options: Any) -> bool:
    return options is True or (isinstance(options, dict) and options.get("loose") is True)


def _is_lenient_spelling(version: Any) -> bool:
    return isinstance(version, str) and (version != version.strip() or version[:1] in ("v", "=", " "))


def _strict_rows(rows: list[list[Any]], *, versions: int, options_at: int | None) -> Iterator[list[Any]]:
    """The rows whose first `versions` cells are strict SemVer inputs and whose options are strict."""
    for row in rows:
        options = row[options_at] if options_at is not None and len(row) > options_at else None
        if _is_loose(options):
            continue
        inputs = row[:versions]
        if any(not isinstance(cell, str) or _is_lenient_spelling(cell) for cell in inputs):
            continue
        yield row


# semver.org: the community list behind the FAQ's regex101 links ---------------------------------


@pytest.mark.parametrize("text", SEMVER_ORG["valid"])
def test_every_semver_org_valid_version_parses_and_prints_back_unchanged(text: str) -> None:
    assert str(Version.parse(text)) == text


@pytest.mark.parametrize("text", SEMVER_ORG["invalid"])
def test_every_semver_org_invalid_version_is_rejected(text: str) -> None:
    with pytest.raises(InvalidVersion) as caught:
        Version.parse(text)
    assert "\n" not in caught.value.message
    assert repr(text) in caught.value.message


# the specification's own examples --------------------------------------------------------------


@pytest.mark.parametrize("text", SPEC["prerelease_examples_valid"] + SPEC["build_metadata_examples_valid"])
def test_the_specs_prerelease_and_build_examples_are_valid(text: str) -> None:
    assert str(Version.parse(text)) == text


@pytest.mark.parametrize("chain", SPEC["precedence_chains_ascending"], ids=" < ".join)
def test_the_specs_precedence_chains_ascend(chain: list[str]) -> None:
    versions = [Version.parse(text) for text in chain]
    for lower, higher in itertools.pairwise(versions):
        assert lower < higher
        assert compare(lower, higher) == -1
        assert compare(higher, lower) == 1
    assert sorted(reversed(versions)) == versions


@pytest.mark.parametrize(
    "text", SEMVER_ORG["valid"] + SEMVER_ORG["invalid"] + SPEC["prerelease_examples_valid"]
)
def test_parse_accepts_exactly_what_the_official_regex_accepts(text: str) -> None:
    # re.ASCII: the official regex means `\d` as 0-9, as in the PCRE and ECMAScript it was written for.
    official = re.compile(SPEC["regex_named_groups"], re.ASCII)
    try:
        Version.parse(text)
        accepted = True
    except InvalidVersion:
        accepted = False
    assert accepted == (official.fullmatch(text) is not None)


# node-semver fixtures, strict rows only --------------------------------------------------------


STRICT_COMPARISONS = list(_strict_rows(NODE_COMPARISONS["cases"], versions=2, options_at=2))
STRICT_EQUALITY = list(_strict_rows(NODE_EQUALITY["cases"], versions=2, options_at=2))
STRICT_VALID = list(_strict_rows(NODE_VALID["cases"], versions=1, options_at=None))
STRICT_INVALID = [
    row
    for row in _strict_rows(NODE_INVALID["cases"], versions=1, options_at=None)
    if row[1] not in _JS_LIMIT_REASONS
]
JS_LIMIT_ROWS = [row for row in NODE_INVALID["cases"] if row[1] in _JS_LIMIT_REASONS]
STRICT_BUMPS = [
    row
    for row in _strict_rows(NODE_INCREMENTS["cases"], versions=1, options_at=3)
    if row[1] in ("major", "minor", "patch")
]


def test_the_strict_node_semver_rows_are_the_ones_expected() -> None:
    # Guards the filter: if it ever drops more (or fewer) rows, this says so instead of shrinking silently.
    assert len(STRICT_COMPARISONS) == 19
    assert len(STRICT_EQUALITY) == 2
    assert len(STRICT_VALID) == len(NODE_VALID["cases"]) - 1  # "v1.2.3"
    assert [row[0] for row in STRICT_INVALID] == ["hello, world", "hello, world", "xyz"]
    assert len(STRICT_BUMPS) == 28


@pytest.mark.parametrize(("greater", "lesser"), [row[:2] for row in STRICT_COMPARISONS])
def test_node_semver_comparisons(greater: str, lesser: str) -> None:
    high, low = Version.parse(greater), Version.parse(lesser)
    assert high > low
    assert low < high
    assert high >= low
    assert not high <= low
    assert compare(high, low) == 1
    assert compare(low, high) == -1


@pytest.mark.parametrize(("left", "right"), [row[:2] for row in STRICT_EQUALITY])
def test_node_semver_equal_precedence_ignores_build_metadata(left: str, right: str) -> None:
    a, b = Version.parse(left), Version.parse(right)
    assert compare(a, b) == 0
    assert a <= b and b <= a
    assert not a < b and not b < a
    # Equality itself is identity: another build is another record.
    assert a != b


@pytest.mark.parametrize("row", STRICT_VALID, ids=lambda row: row[0])
def test_node_semver_valid_versions_parse_into_their_parts(row: list[Any]) -> None:
    text, major, minor, patch, prerelease, build = row
    assert Version.parse(text) == Version(major, minor, patch, tuple(prerelease), tuple(build))


@pytest.mark.parametrize("row", STRICT_INVALID, ids=lambda row: row[1])
def test_node_semver_invalid_versions_are_rejected(row: list[Any]) -> None:
    with pytest.raises(InvalidVersion):
        Version.parse(row[0])


@pytest.mark.parametrize("row", JS_LIMIT_ROWS, ids=lambda row: row[1])
def test_javascript_size_limits_are_not_semver_rules(row: list[Any]) -> None:
    assert str(Version.parse(row[0])) == row[0]


@pytest.mark.parametrize("row", STRICT_BUMPS, ids=lambda row: f"{row[0]} {row[1]}")
def test_node_semver_major_minor_patch_increments(row: list[Any]) -> None:
    # The identifier arguments in some rows only matter for pre* increments; node ignores them here.
    text, part, expected = row[:3]
    if expected is None:
        with pytest.raises(InvalidVersion):
            Version.parse(text)
        return
    bump = {"major": Version.bump_major, "minor": Version.bump_minor, "patch": Version.bump_patch}[part]
    assert str(bump(Version.parse(text))) == expected
