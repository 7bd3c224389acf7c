"""Who calls: the API token in the `Authorization` header, a client token of one environment or an
admin token. A missing, unknown or revoked token is 401, saying nothing about what exists."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from clearance.errors import ClearanceError
from clearance.flags.client_service import TokenView, authenticate
from clearance.workspace import Workspace


class Unauthorized(ClearanceError):
    code = "unauthorized"
    exit_code = 2
    status = 401


class Forbidden(ClearanceError):
    code = "forbidden"
    exit_code = 3
    status = 403


def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


async def _token(
    ws: Annotated[Workspace, Depends(workspace)],
    authorization: Annotated[str | None, Header()] = None,
) -> TokenView:
    token = await run_in_threadpool(authenticate, ws, authorization)
    if token is None:
        raise Unauthorized("a valid API token is required", hint="send it in the Authorization header")
    return token


async def client_environment(token: Annotated[TokenView, Depends(_token)]) -> str:
    """The environment a client token reads; admin tokens are not client tokens."""
    if token.admin or token.environment is None:
        raise Unauthorized("a client token is required", hint="`clearance token create --env E`")
    return token.environment


async def admin_token(token: Annotated[TokenView, Depends(_token)]) -> TokenView:
    if not token.admin:
        raise Forbidden("an admin token is required", hint="`clearance token create --admin`")
    return token
