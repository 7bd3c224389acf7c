"""Malformed flag definitions are refused with the JSON path of the field at fault; odd but
well-formed ones load, and the delta API rebuilds snapshots event by event."""

from __future__ import annotations

from typing import Any

import pytest

from clearance.flags import Context, Evaluator, FlagDefinitionInvalid, Snapshot, apply_delta, parse_snapshot


def _feature(**fields: Any) -> dict[str, Any]:
    return {"features": [{"name": "f", "enabled": True, "strategies": [], **fields}]}


@pytest.mark.parametrize(
    ("document", "path", "problem"),
    [
        ([], "$", "expected an object, got a list"),
        ({"features": {}}, "$.features", "expected a list, got an object"),
        (
            {"features": [{"enabled": True}]},
            "$.features[0].name",
            "expected a string, got nothing (null or missing)",
        ),
        (
            {"features": [{"name": "", "enabled": True}]},
            "$.features[0].name",
            "a flag needs a non-empty name",
        ),
        (
            {"features": [{"name": "f", "enabled": "yes"}]},
            "$.features[0].enabled",
            "expected true or false, got str 'yes'",
        ),
        (
            _feature(strategies=["default"]),
            "$.features[0].strategies[0]",
            "expected an object, got str 'default'",
        ),
        (
            _feature(strategies=[{"name": "default", "constraints": [{"operator": "IN", "values": []}]}]),
            "$.features[0].strategies[0].constraints[0].contextName",
            "expected a string, got nothing (null or missing)",
        ),
        (
            _feature(
                strategies=[
                    {
                        "name": "default",
                        "constraints": [{"contextName": "a", "operator": "IN", "values": [{}]}],
                    }
                ]
            ),
            "$.features[0].strategies[0].constraints[0].values[0]",
            "expected a string, got an object",
        ),
        (
            _feature(variants=[{"name": "v", "weight": -1}]),
            "$.features[0].variants[0].weight",
            "expected a non-negative integer, got -1",
        ),
        (
            _feature(variants=[{"name": "v", "weight": "1"}]),
            "$.features[0].variants[0].weight",
            "expected a non-negative integer, got '1'",
        ),
        (
            _feature(strategies=[{"name": "default", "segments": ["one"]}]),
            "$.features[0].strategies[0].segments[0]",
            "expected a segment id, got str 'one'",
        ),
        ({"segments": [{"id": "1"}]}, "$.segments[0].id", "expected an integer, got str '1'"),
    ],
)
def test_malformed_definitions_name_the_field(document: Any, path: str, problem: str) -> None:
    with pytest.raises(FlagDefinitionInvalid) as caught:
        parse_snapshot(document)
    assert caught.value.path == path
    assert caught.value.message == f"{path}: {problem}"
    assert caught.value.code == "flag-invalid"


def test_numbers_where_strings_belong_are_read_as_their_text() -> None:
    snapshot = parse_snapshot(
        _feature(strategies=[{"name": "flexibleRollout", "parameters": {"rollout": 100}}])
    )
    assert snapshot.features[0].strategies[0].parameters["rollout"] == "100"
    assert Evaluator(snapshot).is_enabled("f", Context(user_id="1"))


def test_very_long_and_non_ascii_names_and_unknown_flags() -> None:
    long_name = "ß" * 10_000
    flags = Evaluator(parse_snapshot({"features": [{"name": long_name, "enabled": True, "strategies": []}]}))
    assert flags.is_enabled(long_name)
    assert not flags.is_enabled("\udcff not utf-8")
    assert not flags.is_enabled("x" * 1_000_000)


def test_an_evaluation_failure_answers_off_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    flags = Evaluator(
        parse_snapshot(_feature(strategies=[{"name": "userWithId", "parameters": {"userIds": "1"}}]))
    )
    broken = Context(user_id=["not", "hashable"])  # type: ignore[arg-type]
    assert not flags.is_enabled("f", broken)
    assert not flags.is_enabled("f", broken)
    assert flags.get_variant("f", broken).name == "disabled"
    assert [r.message for r in caplog.records] == ["flag 'f' failed to evaluate; answering off"]


def test_delta_events_rebuild_the_snapshot() -> None:
    segment = {"id": 1, "constraints": [{"contextName": "appName", "operator": "IN", "values": ["web"]}]}
    hydrated = apply_delta(
        Snapshot(),
        {
            "events": [
                {"type": "hydration", "segments": [segment], "features": [{"name": "a", "enabled": True}]}
            ]
        },
    )
    changed = apply_delta(
        hydrated,
        {
            "events": [
                {
                    "type": "feature-updated",
                    "feature": {
                        "name": "b",
                        "enabled": True,
                        "strategies": [{"name": "default", "segments": [1]}],
                    },
                },
                {"type": "feature-removed", "featureName": "a"},
                {"type": "segment-removed", "segmentId": 1},
            ]
        },
    )
    assert [f.name for f in changed.features] == ["b"]
    assert not Evaluator(changed).is_enabled("b", Context(app_name="web"))  # its segment is gone
    with pytest.raises(FlagDefinitionInvalid, match=r"\$.events\[0\].type: unknown delta event type 'nope'"):
        apply_delta(changed, {"events": [{"type": "nope"}]})
