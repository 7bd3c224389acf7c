"""A release manager creates a release; clearance names its type from the versions that came before."""

from __future__ import annotations

import pytest

from clearance.planning import ReleaseType, infer_release_type
from clearance.versioning import Version


def _infer(version: str, *existing: str) -> ReleaseType:
    return infer_release_type(Version.parse(version), [Version.parse(text) for text in existing])


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.0.0", "major"), ("3.2.1", "major"), ("0.1.0", "minor"), ("0.4.7", "minor"), ("0.0.1", "patch")],
)
def test_the_first_release_of_a_project_is_typed_by_its_first_non_zero_part(
    version: str, expected: str
) -> None:
    assert _infer(version) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2.0.0", "major"), ("1.4.0", "minor"), ("1.3.1", "patch"), ("1.3.5", "patch"), ("1.5.2", "minor")],
)
def test_a_later_release_is_typed_by_the_first_part_that_moved(version: str, expected: str) -> None:
    assert _infer(version, "1.0.0", "1.2.0", "1.3.0") == expected


def test_a_fix_on_an_older_line_is_a_hotfix() -> None:
    assert _infer("1.2.1", "1.2.0", "1.3.0") == ReleaseType.HOTFIX
    assert _infer("1.9.9", "2.0.0") == ReleaseType.HOTFIX


def test_any_prerelease_is_a_prerelease() -> None:
    assert _infer("2.0.0-rc.1", "1.3.0") == ReleaseType.PRERELEASE
    assert _infer("1.0.0-alpha") == ReleaseType.PRERELEASE
    assert _infer("0.9.0-beta", "1.0.0") == ReleaseType.PRERELEASE


def test_existing_prereleases_do_not_count() -> None:
    # 2.0.0 after its release candidates is still the major release, and 1.3.1 is no hotfix.
    assert _infer("2.0.0", "1.3.0", "2.0.0-rc.1", "2.0.0-rc.2") == ReleaseType.MAJOR
    assert _infer("1.3.1", "1.3.0", "3.0.0-alpha") == ReleaseType.PATCH
    assert _infer("0.2.0", "1.0.0-rc.1") == ReleaseType.MINOR


def test_another_build_of_the_newest_version_is_compared_with_the_one_before_it() -> None:
    assert _infer("1.3.0+ci.2", "1.2.0", "1.3.0+ci.1") == ReleaseType.MINOR
    assert _infer("1.3.0", "1.3.0") == ReleaseType.MAJOR  # nothing below it: a first release


def test_continuous_is_never_inferred() -> None:
    seen = {_infer(v, *e) for v, e in [("1.0.0", ()), ("1.0.1", ("1.0.0",)), ("0.0.9", ("1.0.0",))]}
    assert ReleaseType.CONTINUOUS not in seen
    assert ReleaseType("continuous") is ReleaseType.CONTINUOUS
