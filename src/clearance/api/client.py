"""Unleash's client API: the features of the token's environment, SDK registration and metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from clearance.api.auth import client_environment, workspace
from clearance.flags.client_service import record_metrics, register_client, snapshot
from clearance.workspace import Workspace

router = APIRouter(prefix="/api/client", tags=["client"])

Environment = Annotated[str, Depends(client_environment)]
Ws = Annotated[Workspace, Depends(workspace)]


@router.get("/features")
async def features(request: Request, ws: Ws, environment: Environment) -> Response:
    """The environment's flags as `GET /api/client/features` serves them; 304 when unchanged."""
    served = await run_in_threadpool(snapshot, ws, environment)
    headers = {"ETag": served.etag, "Cache-Control": "no-cache"}
    candidates = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if served.etag in candidates or f"W/{served.etag}" in candidates:
        return Response(status_code=304, headers=headers)
    return Response(served.body, media_type="application/json", headers=headers)


@router.post("/register", status_code=202)
async def register(ws: Ws, environment: Environment, document: Annotated[dict[str, Any], Body()]) -> Response:
    await run_in_threadpool(register_client, ws, environment, document)
    return Response(status_code=202)


@router.post("/metrics", status_code=202)
async def metrics(ws: Ws, environment: Environment, document: Annotated[dict[str, Any], Body()]) -> Response:
    await run_in_threadpool(record_metrics, ws, environment, document)
    return Response(status_code=202)
