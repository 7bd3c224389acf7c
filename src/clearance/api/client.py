"""Unleash's client API: the features of the token's environment, SDK registration and metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from clearance.api.auth import client_cache, client_environment, workspace
from clearance.api.features_fast_path import not_modified
from clearance.flags.client_cache import ClientApiCache
from clearance.flags.client_service import record_metrics, register_client
from clearance.workspace import Workspace

router = APIRouter(prefix="/api/client", tags=["client"])

Environment = Annotated[str, Depends(client_environment)]
Ws = Annotated[Workspace, Depends(workspace)]
Cache = Annotated[ClientApiCache, Depends(client_cache)]


@router.get("/features")
async def features(request: Request, cache: Cache, environment: Environment) -> Response:
    """The environment's flags as `GET /api/client/features` serves them; 304 when unchanged.
    Served from memory (body and ETag built once per change); the store is read only to rebuild.
    The common case is answered before FastAPI, by features_fast_path.py, the same way."""
    served = cache.peek_snapshot(environment)
    if served is None:
        served = await run_in_threadpool(cache.snapshot, environment)
    headers = {"ETag": served.etag, "Cache-Control": "no-cache"}
    if not_modified(served.etag, request.headers.get("if-none-match", "")):
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
