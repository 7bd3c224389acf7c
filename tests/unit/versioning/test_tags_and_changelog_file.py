"""Release tags (formats, ignored tags, several tags on a commit) and CHANGELOG.md kept in the
Keep a Changelog layout."""

from __future__ import annotations

import pytest

from clearance.errors import Refused
from clearance.versioning.changelog_file import KEEP_A_CHANGELOG_HEADER, insert_release
from clearance.versioning.semver import Version
from clearance.versioning.tags import TagFormat, TagIndex, tag_format_problem


def test_tag_formats_name_versions() -> None:
    service = TagFormat("{service}-v{version}", "api")
    assert service.tag(Version.parse("1.2.0")) == "api-v1.2.0"
    assert str(service.version_of("api-v1.2.0-rc.1")) == "1.2.0-rc.1"
    assert service.version_of("api-gateway-v1.0.0") is None
    assert service.version_of("api-v1.2") is None
    assert str(TagFormat("{version}").version_of("2.0.0")) == "2.0.0"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("v{version}", None),
        ("release-{version}-final", None),
        ("v", "'v' must contain {version} exactly once, e.g. v{version} or {service}-v{version}"),
        (
            "{version}-{version}",
            "'{version}-{version}' must contain {version} exactly once, e.g. v{version} or {service}-v{version}",
        ),
        (
            "{name}-{version}",
            "'{name}-{version}' has an unknown placeholder {name}: use {version} and {service}",
        ),
        (
            "v {version}",
            "'v {version}' cannot be a git tag name: no spaces, '..', '~', '^', ':', '?', '*', '[' or '\\'",
        ),
    ],
)
def test_tag_format_problems(text: str, problem: str | None) -> None:
    assert tag_format_problem(text) == problem


def test_the_index_ignores_other_tags_and_picks_the_highest_on_a_commit() -> None:
    index = TagIndex.build(
        [
            ("latest", "c3"),
            ("v1.1.0-rc.2", "c3"),
            ("v1.1.0", "c3"),
            ("v1.0.0", "c1"),
            ("v1.2", "c2"),
            ("api-v9.0.0", "c2"),
        ],
        TagFormat("v{version}"),
    )
    assert index.ignored == ["latest", "v1.2", "api-v9.0.0"]
    assert index.by_commit()["c3"].name == "v1.1.0"
    assert index.latest().name == "v1.1.0"
    assert [str(v) for v in index.versions()] == ["1.1.0", "1.1.0-rc.2", "1.0.0"]


SECTION = "## [1.1.0] - 2024-05-02\n\n### Added\n\n- coupons\n"


def test_a_new_changelog_starts_with_the_header_and_an_unreleased_section() -> None:
    text = insert_release(None, SECTION, "1.1.0")
    assert text.startswith(KEEP_A_CHANGELOG_HEADER)
    assert text.endswith("## [Unreleased]\n\n" + SECTION)


def test_unreleased_entries_move_into_the_release_and_older_entries_stay_as_they_are() -> None:
    existing = (
        "# Changelog\n\nHand-written intro.\n\n## [Unreleased]\n\n### Security\n\n- rotated keys\n\n"
        "## [1.0.0] - 2024-01-01\n\n### Added\n\n- first   release  (kept verbatim)\n\n"
        "[unreleased]: https://x/compare/v1.0.0...HEAD\n[1.0.0]: https://x/releases/v1.0.0\n"
    )
    text = insert_release(
        existing,
        SECTION,
        "1.1.0",
        link="https://x/compare/v1.0.0...v1.1.0",
        unreleased_link="https://x/compare/v1.1.0...HEAD",
    )
    assert text == (
        "# Changelog\n\nHand-written intro.\n\n## [Unreleased]\n\n"
        "## [1.1.0] - 2024-05-02\n\n### Added\n\n- coupons\n\n### Security\n\n- rotated keys\n\n"
        "## [1.0.0] - 2024-01-01\n\n### Added\n\n- first   release  (kept verbatim)\n\n"
        "[Unreleased]: https://x/compare/v1.1.0...HEAD\n[1.1.0]: https://x/compare/v1.0.0...v1.1.0\n"
        "[1.0.0]: https://x/releases/v1.0.0\n"
    )


def test_without_unreleased_the_release_goes_above_the_newest_one() -> None:
    existing = "# Changelog\n\n## [1.0.0] - 2024-01-01\n\n- first\n"
    assert (
        insert_release(existing, SECTION, "1.1.0")
        == "# Changelog\n\n" + SECTION + "\n## [1.0.0] - 2024-01-01\n\n- first\n"
    )


def test_a_released_section_is_never_written_twice() -> None:
    text = insert_release(None, SECTION, "1.1.0")
    with pytest.raises(Refused) as refused:
        insert_release(text, SECTION, "1.1.0")
    assert refused.value.message == "the changelog already has a section for 1.1.0"
