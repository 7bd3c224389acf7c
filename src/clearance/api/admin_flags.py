"""The admin API for flags (`/api/admin/flags…`, admin token): what `clearance flag …` does, over
HTTP — list, show, stale, create, switch, roll out, constrain, set variants, archive. Every change
is audited with the token as the actor; bad input is a 400 problem naming the field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from clearance.api.auth import admin_token, workspace
from clearance.flags import service
from clearance.flags.client_service import TokenView
from clearance.flags.definitions import ConstraintInput, parse_percentage
from clearance.flags.service import FlagView
from clearance.workspace import Workspace

router = APIRouter(prefix="/api/admin/flags", tags=["admin"])

Ws = Annotated[Workspace, Depends(workspace)]
Admin = Annotated[TokenView, Depends(admin_token)]


def _actor(token: TokenView) -> str:
    return f"token:{token.id}"


def _answer(flag: FlagView) -> dict[str, Any]:
    return {"schema_version": 1, "flag": flag.to_json()}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewFlag(_Body):
    name: StrictStr
    type: StrictStr = "release"
    description: StrictStr = ""


class Rollout(_Body):
    percentage: StrictInt | StrictStr = Field(description='0–100, like 25 or "25%"')
    stickiness: StrictStr = "default"
    group_id: StrictStr | None = None


class Constraint(_Body):
    context_name: StrictStr
    operator: StrictStr
    values: list[StrictStr]
    inverted: bool = False
    case_insensitive: bool = False


class Variants(_Body):
    variants: dict[StrictStr, StrictInt] = Field(description='name → weight, like {"a": 50, "b": 50}')
    stickiness: StrictStr = "default"


@router.get("")
async def list_flags(ws: Ws, token: Admin, archived: bool = False, stale: bool = False) -> dict[str, Any]:
    """Every flag (archived ones too with `?archived=true`); with `?stale=true` only the flags fully
    rolled out everywhere for longer than `flags.stale_after`. (A query, not a path: `/flags/NAME`
    serves every name, `stale` included.)"""
    if stale:
        flags = await run_in_threadpool(service.stale_flags, ws)
    else:
        flags = await run_in_threadpool(lambda: service.list_flags(ws, archived=archived))
    return {"schema_version": 1, "flags": [flag.to_json() for flag in flags]}


@router.get("/{name}")
async def show_flag(name: str, ws: Ws, token: Admin) -> dict[str, Any]:
    return _answer(await run_in_threadpool(service.show_flag, ws, name))


@router.post("", status_code=201)
async def create_flag(new: NewFlag, ws: Ws, token: Admin) -> dict[str, Any]:
    flag = await run_in_threadpool(
        lambda: service.create_flag(ws, new.name, new.type, new.description, actor=_actor(token))
    )
    return _answer(flag)


@router.post("/{name}/environments/{environment}/on")
async def enable(name: str, environment: str, ws: Ws, token: Admin) -> dict[str, Any]:
    flag = await run_in_threadpool(
        lambda: service.set_enabled(ws, name, environment, True, actor=_actor(token))
    )
    return _answer(flag)


@router.post("/{name}/environments/{environment}/off")
async def disable(name: str, environment: str, ws: Ws, token: Admin) -> dict[str, Any]:
    flag = await run_in_threadpool(
        lambda: service.set_enabled(ws, name, environment, False, actor=_actor(token))
    )
    return _answer(flag)


@router.post("/{name}/environments/{environment}/rollout")
async def rollout(name: str, environment: str, body: Rollout, ws: Ws, token: Admin) -> dict[str, Any]:
    percent = parse_percentage(str(body.percentage))
    flag = await run_in_threadpool(
        lambda: service.set_rollout(
            ws,
            name,
            environment,
            percent,
            stickiness=body.stickiness,
            group_id=body.group_id,
            actor=_actor(token),
        )
    )
    return _answer(flag)


@router.post("/{name}/environments/{environment}/constraints")
async def constrain(name: str, environment: str, body: Constraint, ws: Ws, token: Admin) -> dict[str, Any]:
    """Add a constraint to the flag's strategies in one environment."""
    given = ConstraintInput(
        body.context_name, body.operator, tuple(body.values), body.inverted, body.case_insensitive
    )
    flag = await run_in_threadpool(
        lambda: service.add_constraint(ws, name, environment, given, actor=_actor(token))
    )
    return _answer(flag)


@router.put("/{name}/environments/{environment}/variants")
async def variants(name: str, environment: str, body: Variants, ws: Ws, token: Admin) -> dict[str, Any]:
    """Set (replace) the flag's variants in one environment; weights are relative to their sum."""
    items = [f"{variant}={weight}" for variant, weight in body.variants.items()]
    flag = await run_in_threadpool(
        lambda: service.set_variants(
            ws, name, environment, items, stickiness=body.stickiness, actor=_actor(token)
        )
    )
    return _answer(flag)


@router.post("/{name}/archive")
async def archive(name: str, ws: Ws, token: Admin) -> dict[str, Any]:
    """Stop serving the flag (SDKs then see it as unknown: off)."""
    return _answer(await run_in_threadpool(lambda: service.archive_flag(ws, name, actor=_actor(token))))


@router.post("/{name}/revive")
async def revive(name: str, ws: Ws, token: Admin) -> dict[str, Any]:
    """Serve an archived flag again, as it was when archived."""
    return _answer(await run_in_threadpool(lambda: service.revive_flag(ws, name, actor=_actor(token))))
