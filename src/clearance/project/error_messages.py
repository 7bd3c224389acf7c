"""pydantic validation errors rewritten as short sentences about clearance.yaml, one per problem."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from clearance.project.document import KeyPath, Problem
from clearance.project.schema import ProjectConfig
from clearance.project.suggestions import did_you_mean

# Which list a `too_short` error is about, to say "needs at least one phase".
_ITEM_NAMES = {"services": "service", "environments": "environment", "phases": "phase"}

_EXPECTED = {
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping of keys",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
}


def validation_problems(error: ValidationError) -> list[Problem]:
    return [
        _problem(detail)
        for detail in error.errors(include_url=False)
        # pydantic counts only the valid items of a tuple; a list of broken items is not empty.
        if not (detail["type"] == "too_short" and detail["input"])
    ]


def _problem(detail: ErrorDetails) -> Problem:
    raw: KeyPath = tuple(detail["loc"])
    path, _ = _walk(raw)
    kind = detail["type"]
    if kind == "union_tag_invalid":
        ctx = detail.get("ctx", {})
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        tag = str(ctx.get("tag", ""))
        return (*path, ctx.get("discriminator", "type").strip("'")), (
            f"unknown type '{tag}'{did_you_mean(tag, tags)}"
        )
    if kind == "extra_forbidden":
        return path, f"unknown key{did_you_mean(str(raw[-1]), allowed_keys(raw[:-1]))}"
    if kind == "missing":
        return path, "required key is missing"
    if kind == "too_short":
        item = _ITEM_NAMES.get(str(path[-1]) if path else "", "item")
        return path, f"needs at least one {item}"
    if kind in ("value_error", "assertion_error"):
        return path, str(detail.get("ctx", {}).get("error", detail["msg"]))
    if kind in _EXPECTED:
        return path, f"{_EXPECTED[kind]}, got {_describe(detail['input'])}"
    return path, detail["msg"]


def _describe(value: object) -> str:
    """Name a YAML value the way the user wrote it, not as a Python type."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 40 else f"'{value[:37]}...'"
    return str(value)


def allowed_keys(path: KeyPath) -> list[str]:
    """The keys the schema allows in the mapping at `path` (empty if `path` is not a mapping)."""
    annotation = _without_none(_walk(path)[1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _walk(path: KeyPath) -> tuple[KeyPath, Any]:
    """Follow `path` through the schema; return it without pydantic's union tags, and its type.

    pydantic puts the tag of a discriminated union (`strategy: {type: canary}`) into an error's
    location (`strategy.canary.steps`); the file has no such key, so it is dropped here."""
    annotation: Any = ProjectConfig
    clean: list[str | int] = []
    for part in path:
        annotation = _without_none(annotation)
        members = _tagged_members(annotation)
        if members and isinstance(part, str) and part in members:
            annotation = members[part]
            continue
        clean.append(part)
        if isinstance(part, int):
            args = get_args(annotation)
            annotation = args[0] if args else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            annotation = field.annotation if field else None
        else:
            annotation = None
    return tuple(clean), annotation


def _tagged_members(annotation: Any) -> dict[str, type[BaseModel]]:
    """For a union of models told apart by a literal `type` field: tag -> model."""
    if get_origin(annotation) not in (Union, types.UnionType):
        return {}
    members: dict[str, type[BaseModel]] = {}
    for arg in get_args(annotation):
        field = arg.model_fields.get("type") if isinstance(arg, type) and issubclass(arg, BaseModel) else None
        for tag in get_args(field.annotation) if field else ():
            if isinstance(tag, str):
                members[tag] = arg
    return members


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation
