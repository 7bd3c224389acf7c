"""Values YAML cannot turn into what they look like (`2026-02-30`, `!!int abc`, `!!python/object`) are
problems of the file at their line, like every other mistake in it, never a crash of the loader."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from clearance.project import load_config

Problems = Callable[[str], list[str]]
WriteConfig = Callable[[str], Path]

HEAD = """\
project: shop
services:
  - name: web
environments:
  - name: prod
    gates:
"""
TAIL = "lifecycle: {phases: [{environments: [prod]}]}\n"
IGNORE = "      vulnerabilities: {{max: {{critical: 0}}, ignore: [{{id: CVE-2019-14697, until: {until}, reason: x}}]}}\n"
UNTIL = "clearance.yaml:7: environments[0].gates.vulnerabilities.ignore[0].until: "


@pytest.mark.parametrize(
    ("until", "why"),
    [
        ("2026-02-30", "day value is outside expected range"),
        ("'2026-02-30'", "day value is outside expected range"),
        ("2026-13-01", "month value is outside expected range of 1-12"),
        ("0000-01-01", "year 0 is out of range"),
    ],
)
def test_an_impossible_date_is_not_a_date_at_its_line(problems: Problems, until: str, why: str) -> None:
    found = problems(HEAD + IGNORE.format(until=until) + TAIL)
    assert len(found) == 1
    assert found[0].startswith(f"{UNTIL}not a date: got '{until.strip(chr(39))}'")
    assert found[0].endswith("write YYYY-MM-DD, e.g. 2026-03-31")
    if "year 0" not in why:  # pydantic words the year itself differently
        assert f"({why})" in found[0]


def test_a_real_date_still_reads_as_a_date(write_config: WriteConfig) -> None:
    loaded = load_config(write_config(HEAD + IGNORE.format(until="2026-02-28") + TAIL))
    gates = loaded.config.environments[0].gates
    assert gates is not None and gates.vulnerabilities is not None
    assert gates.vulnerabilities.ignore[0].until == date(2026, 2, 28)


def test_an_impossible_date_where_text_is_expected_is_that_text(write_config: WriteConfig) -> None:
    # YAML 1.1 guesses a timestamp from the form alone; the text the user wrote is what they meant.
    text = HEAD + IGNORE.format(until="2026-02-28").replace("reason: x", "reason: 2026-02-30") + TAIL
    gates = load_config(write_config(text)).config.environments[0].gates
    assert gates is not None and gates.vulnerabilities is not None
    assert gates.vulnerabilities.ignore[0].reason == "2026-02-30"


def test_an_impossible_date_and_time_is_not_a_date_and_time(problems: Problems) -> None:
    windows = (
        "      windows:\n        timezone: UTC\n        freeze:\n"
        "          - {name: w, rrule: FREQ=DAILY, duration: 1h, start: 2026-02-30T09:00:00}\n"
    )
    assert problems(HEAD + windows + TAIL) == [
        "clearance.yaml:10: environments[0].gates.windows.freeze[0].start: not a date and time: "
        "got '2026-02-30T09:00:00' (day value is outside expected range); "
        "write YYYY-MM-DDTHH:MM:SS, e.g. 2026-03-31T09:00:00"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!int abc", "invalid YAML: !!int 'abc' is not a whole number"),
        ("!!float abc", "invalid YAML: !!float 'abc' is not a number"),
        ("!!bool maybe", "invalid YAML: !!bool 'maybe' is not true or false"),
        ("!!timestamp soon", "invalid YAML: !!timestamp 'soon' is not a date (YYYY-MM-DD) or date and time"),
        ("!!binary abc", "invalid YAML: failed to decode base64 data: Incorrect padding"),
        ("!!python/object:os.system x", "invalid YAML: unsupported tag !!python/object:os.system: "),
        (
            "!!python/object/apply:os.system [ls]",
            "invalid YAML: unsupported tag !!python/object/apply:os.system",
        ),
        ("!!set {a, b}", "invalid YAML: unsupported tag !!set: "),
        ("!local x", "invalid YAML: unsupported tag !local: "),
    ],
)
def test_a_value_yaml_cannot_construct_is_a_yaml_error_at_its_line(
    problems: Problems, value: str, message: str
) -> None:
    [found] = problems(HEAD + f"      tests: {{max_failed: {value}}}\n" + TAIL)
    assert found.startswith(f"clearance.yaml:7: {message}"), found


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9" * 5000, "max_failed: Unable to parse input string as an integer, exceeded maximum size"),
        ("1.0e+400", "max_failed: Input should be a finite number"),
    ],
)
def test_numbers_too_large_for_python_are_config_errors(problems: Problems, value: str, message: str) -> None:
    assert problems(HEAD + f"      tests: {{max_failed: {value}}}\n" + TAIL) == [
        f"clearance.yaml:7: environments[0].gates.tests.{message}"
    ]


def test_a_duration_too_large_or_not_a_number_is_refused(problems: Problems) -> None:
    assert problems(HEAD + "      evidence_fresh: {max_age: 1.0e+400}\n" + TAIL) == [
        "clearance.yaml:7: environments[0].gates.evidence_fresh.max_age: "
        "invalid duration inf: must be at most 10 years (3650d)"
    ]
    [found] = problems(HEAD + "      evidence_fresh: {max_age: .nan}\n" + TAIL)
    assert "max_age: invalid duration nan: use seconds (30)" in found
