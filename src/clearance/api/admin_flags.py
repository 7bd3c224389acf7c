"""The admin API for flags (`/api/admin/flags…`, admin token): list, create, switch, roll out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from clearance.api.auth import admin_token, workspace
from clearance.flags import service
from clearance.flags.client_service import TokenView
from clearance.flags.definitions import parse_percentage
from clearance.workspace import Workspace

router = APIRouter(prefix="/api/admin/flags", tags=["admin"])

Ws = Annotated[Workspace, Depends(workspace)]
Admin = Annotated[TokenView, Depends(admin_token)]


def _actor(token: TokenView) -> str:
    return f"token:{token.id}"


class NewFlag(BaseModel):
    name: str
    type: str = "release"
    description: str = ""


class Rollout(BaseModel):
    percentage: int | str
    stickiness: str = "default"
    group_id: str | None = None


@router.get("")
async def list_flags(ws: Ws, token: Admin) -> dict[str, Any]:
    flags = await run_in_threadpool(service.list_flags, ws)
    return {"schema_version": 1, "flags": [flag.to_json() for flag in flags]}


@router.get("/{name}")
async def show_flag(name: str, ws: Ws, token: Admin) -> dict[str, Any]:
    flag = await run_in_threadpool(service.show_flag, ws, name)
    return {"schema_version": 1, "flag": flag.to_json()}


@router.post("", status_code=201)
async def create_flag(new: NewFlag, ws: Ws, token: Admin) -> dict[str, Any]:
    flag = await run_in_threadpool(
        lambda: service.create_flag(ws, new.name, new.type, new.description, actor=_actor(token))
    )
    return {"schema_version": 1, "flag": flag.to_json()}


@router.post("/{name}/environments/{environment}/on")
async def enable(name: str, environment: str, ws: Ws, token: Admin) -> dict[str, Any]:
    flag = await run_in_threadpool(
        lambda: service.set_enabled(ws, name, environment, True, actor=_actor(token))
    )
    return {"schema_version": 1, "flag": flag.to_json()}


@router.post("/{name}/environments/{environment}/off")
async def disable(name: str, environment: str, ws: Ws, token: Admin) -> dict[str, Any]:
    flag = await run_in_threadpool(
        lambda: service.set_enabled(ws, name, environment, False, actor=_actor(token))
    )
    return {"schema_version": 1, "flag": flag.to_json()}


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
    return {"schema_version": 1, "flag": flag.to_json()}
