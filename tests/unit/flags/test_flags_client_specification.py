"""Every case of Unleash's client specification (vendored in tests/conformance/unleash_client_spec/),
run against clearance's engine: one test id per case, `tests` through `is_enabled` and
`variantTests` through `get_variant`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clearance.flags import Context, Evaluator, Snapshot, apply_delta, parse_snapshot

SPEC = Path(__file__).parents[2] / "conformance" / "unleash_client_spec"
SPEC_FILES = json.loads((SPEC / "index.json").read_text(encoding="utf-8"))


def _load(file_name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SPEC / file_name).read_text(encoding="utf-8"))
    return document


def _evaluator(state: dict[str, Any]) -> Evaluator:
    # Files 19 and 20 describe their state as delta-API events rather than a full response.
    snapshot = apply_delta(Snapshot(), state) if "events" in state else parse_snapshot(state)
    return Evaluator(snapshot)


def _cases(kind: str) -> list[Any]:
    cases = []
    for file_name in SPEC_FILES:
        for index, case in enumerate(_load(file_name).get(kind, [])):
            case_id = f"{file_name.removesuffix('.json')}[{index}] {case['description']}"
            cases.append(pytest.param(file_name, case, id=case_id))
    return cases


_EVALUATORS: dict[str, Evaluator] = {}


def _for(file_name: str) -> Evaluator:
    if file_name not in _EVALUATORS:
        _EVALUATORS[file_name] = _evaluator(_load(file_name)["state"])
    return _EVALUATORS[file_name]


def test_every_specification_file_is_listed_and_vendored() -> None:
    on_disk = sorted(path.name for path in SPEC.glob("[0-9]*.json"))
    assert on_disk == sorted(SPEC_FILES)
    assert len(SPEC_FILES) == 22
    assert (SPEC / "LICENSE").read_text(encoding="utf-8").startswith("\n") or "Apache License" in (
        SPEC / "LICENSE"
    ).read_text(encoding="utf-8")


@pytest.mark.parametrize(("file_name", "case"), _cases("tests"))
def test_is_enabled(file_name: str, case: dict[str, Any]) -> None:
    context = Context.from_dict(case["context"])

    assert _for(file_name).is_enabled(case["toggleName"], context) is case["expectedResult"]


@pytest.mark.parametrize(("file_name", "case"), _cases("variantTests"))
def test_get_variant(file_name: str, case: dict[str, Any]) -> None:
    context = Context.from_dict(case["context"])

    variant = _for(file_name).get_variant(case["toggleName"], context)

    expected = dict(case["expectedResult"])
    # The specification spells it both ways across files.
    if "featureEnabled" in expected:
        expected["feature_enabled"] = expected.pop("featureEnabled")
    assert variant.to_dict() == expected
