"""`clearance release create --item ID:TITLE[:URL]`: reading the work items a release delivers."""

from __future__ import annotations

import pytest

from clearance.errors import UsageError
from clearance.planning import WorkItem, parse_work_item


def test_an_item_with_id_title_and_link() -> None:
    item = parse_work_item("PROJ-12:Fix login timeout:https://tracker.example.com/browse/PROJ-12")
    assert item == WorkItem("PROJ-12", "Fix login timeout", "https://tracker.example.com/browse/PROJ-12")


def test_an_item_without_a_link() -> None:
    assert parse_work_item("42:Speed up search") == WorkItem("42", "Speed up search", None)


def test_colons_belong_to_the_title_and_to_the_url() -> None:
    item = parse_work_item("OPS-7:Runbook: restart at 10:30:http://wiki.local:8080/ops/7?a=b:c")
    assert item.id == "OPS-7"
    assert item.title == "Runbook: restart at 10:30"
    assert item.url == "http://wiki.local:8080/ops/7?a=b:c"


def test_spaces_around_the_id_and_title_are_dropped() -> None:
    assert parse_work_item(" 9 : Tidy up :https://x.example/9") == WorkItem(
        "9", "Tidy up", "https://x.example/9"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("just a title", "no id"),
        (":a title", "no id"),
        ("PROJ-1:", "no title"),
        ("PROJ-1:   ", "no title"),
        ("PROJ-1::https://x.example/1", "no title"),
        ("PROJ-1:Title:ftp://files.example/1", "ftp URL"),
        ("PROJ-1:Title:https://", "malformed URL"),
        ("PROJ-1:Title:https://exa mple.com", "malformed URL"),
    ],
)
def test_a_malformed_item_is_refused_with_the_expected_form(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_work_item(text)
    assert problem in caught.value.message
    assert caught.value.hint is not None and "ID:TITLE[:URL]" in caught.value.hint
    assert caught.value.exit_code == 2
