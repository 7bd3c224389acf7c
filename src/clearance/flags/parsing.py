"""Reading Unleash client-API JSON into a `Snapshot`, with errors that name the offending field.

Structure is checked strictly (a flag without a name, a strategy that is not an object, a weight
that is not a number): such data cannot be evaluated and is refused with the JSON path at fault.
Meaning is not (an unknown operator or strategy name loads and evaluates to false), so that a newer
server's snapshot never breaks an older client.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from clearance.errors import UsageError
from clearance.flags.model import (
    Constraint,
    Dependency,
    Feature,
    Override,
    Payload,
    Segment,
    Snapshot,
    Strategy,
    VariantDefinition,
)


class FlagDefinitionInvalid(UsageError):
    """A flag definition cannot be read; `path` is the JSON path of the field at fault."""

    code = "flag-invalid"

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(
            f"{path}: {problem}",
            hint="flag definitions follow Unleash's client API (GET /api/client/features)",
            data={"path": path, "problem": problem},
        )
        self.path = path


def parse_snapshot(document: object) -> Snapshot:
    """Read the body of `GET /api/client/features` (already JSON-decoded) as a `Snapshot`."""
    root = _object(document, "$")
    features = tuple(
        parse_feature(item, f"$.features[{index}]")
        for index, item in enumerate(_list(root.get("features", []), "$.features"))
    )
    segments = tuple(
        parse_segment(item, f"$.segments[{index}]")
        for index, item in enumerate(_list(root.get("segments") or [], "$.segments"))
    )
    version = root.get("version", 2)
    if isinstance(version, bool) or not isinstance(version, int):
        raise FlagDefinitionInvalid("$.version", f"expected an integer, got {_kind(version)}")
    return Snapshot(features=features, segments=segments, version=version)


def parse_feature(document: object, path: str = "$") -> Feature:
    data = _object(document, path)
    name = _string(data.get("name"), f"{path}.name")
    if not name:
        raise FlagDefinitionInvalid(f"{path}.name", "a flag needs a non-empty name")
    strategies = _list(data.get("strategies") or [], f"{path}.strategies")
    variants = _list(data.get("variants") or [], f"{path}.variants")
    dependencies = _list(data.get("dependencies") or [], f"{path}.dependencies")
    return Feature(
        name=name,
        enabled=_boolean(data.get("enabled"), f"{path}.enabled"),
        strategies=tuple(_strategy(s, f"{path}.strategies[{i}]") for i, s in enumerate(strategies)),
        variants=tuple(_variant(v, f"{path}.variants[{i}]") for i, v in enumerate(variants)),
        dependencies=tuple(_dependency(d, f"{path}.dependencies[{i}]") for i, d in enumerate(dependencies)),
        type=_optional_string(data.get("type"), f"{path}.type"),
        project=_optional_string(data.get("project"), f"{path}.project") or "default",
        description=_optional_string(data.get("description"), f"{path}.description"),
        impression_data=_boolean(data.get("impressionData", False), f"{path}.impressionData"),
        stale=_boolean(data.get("stale", False), f"{path}.stale"),
    )


def parse_segment(document: object, path: str = "$") -> Segment:
    data = _object(document, path)
    segment_id = data.get("id")
    if isinstance(segment_id, bool) or not isinstance(segment_id, int):
        raise FlagDefinitionInvalid(f"{path}.id", f"expected an integer, got {_kind(segment_id)}")
    return Segment(
        id=segment_id,
        constraints=_constraints(data.get("constraints"), f"{path}.constraints"),
        name=_optional_string(data.get("name"), f"{path}.name"),
    )


def _strategy(document: object, path: str) -> Strategy:
    data = _object(document, path)
    raw_parameters = _object(data.get("parameters") or {}, f"{path}.parameters")
    parameters = {
        key: _scalar_text(value, f"{path}.parameters.{key}")
        for key, value in raw_parameters.items()
        if value is not None
    }
    segments = _list(data.get("segments") or [], f"{path}.segments")
    for index, segment_id in enumerate(segments):
        if isinstance(segment_id, bool) or not isinstance(segment_id, int):
            raise FlagDefinitionInvalid(
                f"{path}.segments[{index}]", f"expected a segment id, got {_kind(segment_id)}"
            )
    raw_variants = data.get("variants")
    variants = (
        None
        if raw_variants is None
        else tuple(
            _variant(v, f"{path}.variants[{i}]")
            for i, v in enumerate(_list(raw_variants, f"{path}.variants"))
        )
    )
    return Strategy(
        name=_string(data.get("name"), f"{path}.name"),
        parameters=MappingProxyType(parameters),
        constraints=_constraints(data.get("constraints"), f"{path}.constraints"),
        segments=tuple(segments),
        variants=variants,
    )


def _constraints(document: object, path: str) -> tuple[Constraint, ...]:
    items = _list(document or [], path)
    return tuple(_constraint(item, f"{path}[{index}]") for index, item in enumerate(items))


def _constraint(document: object, path: str) -> Constraint:
    data = _object(document, path)
    raw_values = data.get("values")
    values = () if raw_values is None else _strings(raw_values, f"{path}.values")
    raw_value = data.get("value")
    return Constraint(
        context_name=_string(data.get("contextName"), f"{path}.contextName"),
        operator=_string(data.get("operator"), f"{path}.operator"),
        values=values,
        value=None if raw_value is None else _scalar_text(raw_value, f"{path}.value"),
        inverted=_boolean(data.get("inverted", False), f"{path}.inverted"),
        case_insensitive=_boolean(data.get("caseInsensitive", False), f"{path}.caseInsensitive"),
    )


def _variant(document: object, path: str) -> VariantDefinition:
    data = _object(document, path)
    weight = data.get("weight", 0)
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
        raise FlagDefinitionInvalid(f"{path}.weight", f"expected a non-negative integer, got {weight!r}")
    payload = None
    if data.get("payload") is not None:
        raw_payload = _object(data["payload"], f"{path}.payload")
        payload = Payload(
            type=_string(raw_payload.get("type"), f"{path}.payload.type"),
            value=_scalar_text(raw_payload.get("value"), f"{path}.payload.value"),
        )
    overrides = _list(data.get("overrides") or [], f"{path}.overrides")
    return VariantDefinition(
        name=_string(data.get("name"), f"{path}.name"),
        weight=weight,
        payload=payload,
        stickiness=_optional_string(data.get("stickiness"), f"{path}.stickiness"),
        overrides=tuple(_override(o, f"{path}.overrides[{i}]") for i, o in enumerate(overrides)),
    )


def _override(document: object, path: str) -> Override:
    data = _object(document, path)
    return Override(
        context_name=_string(data.get("contextName"), f"{path}.contextName"),
        values=_strings(data.get("values") or [], f"{path}.values"),
    )


def _dependency(document: object, path: str) -> Dependency:
    data = _object(document, path)
    return Dependency(
        feature=_string(data.get("feature"), f"{path}.feature"),
        enabled=_boolean(data.get("enabled", True), f"{path}.enabled"),
        variants=_strings(data.get("variants") or [], f"{path}.variants"),
    )


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FlagDefinitionInvalid(path, f"expected an object, got {_kind(value)}")
    return value


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise FlagDefinitionInvalid(path, f"expected a list, got {_kind(value)}")
    return list(value)


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise FlagDefinitionInvalid(path, f"expected a string, got {_kind(value)}")
    return value


def _optional_string(value: object, path: str) -> str | None:
    return None if value is None else _string(value, path)


def _strings(value: object, path: str) -> tuple[str, ...]:
    return tuple(_scalar_text(item, f"{path}[{index}]") for index, item in enumerate(_list(value, path)))


def _scalar_text(value: object, path: str) -> str:
    # Servers and hand-written files put numbers where Unleash documents strings ("rollout": 50);
    # their text is what every SDK compares.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FlagDefinitionInvalid(path, f"expected a string, got {_kind(value)}")


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise FlagDefinitionInvalid(path, f"expected true or false, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null or missing)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"
