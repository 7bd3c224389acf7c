"""pydantic validation errors rewritten as short sentences about clearance.yaml, one per problem."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

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

_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}

# pydantic's date and datetime errors (`date_from_datetime_parsing`, …), by their first word.
_DATES = {
    "date": ("a date", "YYYY-MM-DD, e.g. 2026-03-31"),
    "datetime": ("a date and time", "YYYY-MM-DDTHH:MM:SS, e.g. 2026-03-31T09:00:00"),
}


def validation_problems(error: ValidationError) -> list[Problem]:
    details = [
        detail
        for detail in error.errors(include_url=False)
        # pydantic counts only the valid items of a tuple; a list of broken items is not empty.
        if not (detail["type"] == "too_short" and detail["input"])
    ]
    # A plain union (`port: 8080` or `port: {dev: 8080, prod: 8081}`) fails once per member. The
    # member the value's shape chose is the one that went deeper than "expected a whole number, got
    # a mapping": say only that one's problems.
    deeper = {_walk(tuple(d["loc"]))[2] for d in details if _member_error(d) == "deeper"}
    problems: list[Problem] = []
    shapes: dict[KeyPath, list[str]] = {}  # a value that fits no member: one line naming them all
    got: dict[KeyPath, str] = {}
    for detail in details:
        member = _member_error(detail)
        union = _walk(tuple(detail["loc"]))[2]
        if member == "shape" and union is not None:
            if union not in deeper:
                if union not in shapes:
                    shapes[union] = []
                    problems.append((union, ""))
                shapes[union].append(_EXPECTED[detail["type"]].removeprefix("expected "))
                got[union] = _describe(detail["input"])
            continue
        problems.append(_problem(detail))
    return [
        (path, f"expected {' or '.join(shapes[path])}, got {got[path]}")
        if path in shapes and not text
        else (path, text)
        for path, text in problems
    ]


def _member_error(detail: ErrorDetails) -> str | None:
    """For an error inside a plain union's member: "shape" when the value was not of that member's
    kind at all, "deeper" otherwise; None outside plain unions."""
    clean, _, union = _walk(tuple(detail["loc"]))
    if union is None:
        return None
    return "shape" if len(clean) == len(union) and detail["type"] in _EXPECTED else "deeper"


def _problem(detail: ErrorDetails) -> Problem:
    raw: KeyPath = tuple(detail["loc"])
    path, _, _ = _walk(raw)
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
    if kind in _BOUNDS:
        ctx = detail.get("ctx", {})
        word, key = _BOUNDS[kind]
        return path, f"must be {word} {ctx.get(key)}, got {_describe(detail['input'])}"
    if kind.split("_")[0] in _DATES:
        noun, form = _DATES[kind.split("_")[0]]
        why = detail.get("ctx", {}).get("error")
        because = f" ({why})" if why else ""
        return path, f"not {noun}: got {_describe(detail['input'])}{because}; write {form}"
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


def _walk(path: KeyPath) -> tuple[KeyPath, Any, KeyPath | None]:
    """Follow `path` through the schema; return it without pydantic's union tags, its type, and
    the path of the plain union it went through (None if none).

    pydantic puts the tag of a discriminated union (`strategy: {type: canary}`) into an error's
    location (`strategy.canary.steps`), and the member of a plain union too (`port.constrained-int`,
    `port.dict[str,constrained-int].prod`); the file has no such key, so it is dropped here."""
    annotation: Any = ProjectConfig
    clean: list[str | int] = []
    union: KeyPath | None = None
    for part in path:
        annotation = _without_none(annotation)
        members = _tagged_members(annotation)
        if members and isinstance(part, str) and part in members:
            annotation = members[part]
            continue
        if not members and isinstance(part, str) and get_origin(annotation) in (Union, types.UnionType):
            union, annotation = tuple(clean), _member(annotation, part)
            continue
        clean.append(part)
        if isinstance(part, int):
            args = get_args(annotation)
            annotation = args[0] if args else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part)
            annotation = field.annotation if field else None
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            annotation = None
    return tuple(clean), annotation, union


def _member(union: Any, tag: str) -> Any:
    """The member of a plain union pydantic names `tag` (`dict[str,constrained-int]`, `int`, …)."""
    for arg in get_args(union):
        origin = get_origin(arg)
        if origin is not None and tag.startswith(f"{getattr(origin, '__name__', '')}["):
            return arg
    scalars = [arg for arg in get_args(union) if get_origin(arg) in (None, Annotated)]
    return scalars[0] if scalars else None


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
