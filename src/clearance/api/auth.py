"""Who calls: the API token in the `Authorization` header, a client token of one environment or an
admin token. A missing, unknown, revoked or wrong-environment token is 401, saying nothing about
what exists. Tokens are looked up through the client API's cache (see flags/client_cache.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool

from clearance.errors import ClearanceError
from clearance.flags.client_cache import ClientApiCache, Missing
from clearance.flags.client_service import TokenView
from clearance.workspace import Workspace


class Unauthorized(ClearanceError):
    code = "unauthorized"
    exit_code = 2
    status = 401


class Forbidden(ClearanceError):
    code = "forbidden"
    exit_code = 3
    status = 403


async def workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


async def client_cache(request: Request) -> ClientApiCache:
    cache: ClientApiCache = request.app.state.client_cache
    return cache


def _refused() -> Unauthorized:
    return Unauthorized("a valid API token is required", hint="send it in the Authorization header")


async def _token(
    cache: Annotated[ClientApiCache, Depends(client_cache)],
    authorization: Annotated[str | None, Header()] = None,
) -> TokenView:
    if cache.due():
        await run_in_threadpool(cache.check)
    token = cache.peek_token(authorization)
    if isinstance(token, Missing):
        token = await run_in_threadpool(cache.token, authorization)
    if token is None:
        raise _refused()
    return token


async def client_environment(
    request: Request,
    ws: Annotated[Workspace, Depends(workspace)],
    token: Annotated[TokenView, Depends(_token)],
) -> str:
    """The environment a client token reads. Admin tokens are not client tokens; a token of an
    environment the project no longer has, or asked (`?environment=`) about another one, is refused."""
    if token.admin or token.environment is None:
        raise Unauthorized("a client token is required", hint="`clearance token create --env E`")
    asked = request.query_params.get("environment")
    if token.environment not in ws.config.environment_names() or asked not in (None, token.environment):
        raise _refused()
    return token.environment


async def admin_token(token: Annotated[TokenView, Depends(_token)]) -> TokenView:
    if not token.admin:
        raise Forbidden("an admin token is required", hint="`clearance token create --admin`")
    return token
