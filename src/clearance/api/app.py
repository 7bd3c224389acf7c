"""The FastAPI application: routers, and ClearanceError rendered as problem JSON with its status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from clearance import __version__
from clearance.api import admin_flags, client
from clearance.api.features_fast_path import FeaturesFastPath
from clearance.errors import ClearanceError, UsageError
from clearance.flags.client_cache import ClientApiCache
from clearance.workspace import Workspace

# The HTTP status of each exit code of the error tree (see errors.py).
_STATUS_BY_EXIT_CODE = {2: 400, 3: 409, 4: 404}


def _problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ClearanceError)
    status = getattr(error, "status", None) or _STATUS_BY_EXIT_CODE.get(error.exit_code, 500)
    return JSONResponse(error.to_problem(), status_code=status)


def _field(location: tuple[Any, ...]) -> str:
    # Cut each part: a key or a value in the location may be whatever the caller sent.
    return ".".join(str(part)[:64] for part in location)


def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 as the same problem JSON as every other error: 400, naming each bad field."""
    assert isinstance(error, RequestValidationError)
    problems = [f"{_field(tuple(e['loc']))}: {e['msg']}" for e in error.errors()[:10]]
    refused = UsageError("; ".join(problems), hint="see the admin API in README.md for the fields")
    return JSONResponse(refused.to_problem(), status_code=400)


_CODE_BY_STATUS = {400: "usage", 401: "unauthorized", 403: "forbidden", 404: "not-found"}


def _http_problem(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own refusals (an unknown route, a body that is not JSON) as problem JSON too."""
    assert isinstance(error, HTTPException)
    code = _CODE_BY_STATUS.get(error.status_code, "http-error")
    hint = "send a JSON object, encoded in UTF-8" if error.status_code == 400 else None
    problem = ClearanceError(str(error.detail), code=code, hint=hint).to_problem()
    return JSONResponse(problem, status_code=error.status_code, headers=error.headers)


def create_app(ws: Workspace) -> FastAPI:
    """The API serving `ws`'s project from its store."""
    app = FastAPI(title="clearance", version=__version__, docs_url=None, redoc_url=None)
    app.state.workspace = ws
    app.state.client_cache = cache = ClientApiCache(ws)
    app.add_exception_handler(ClearanceError, _problem)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_problem)
    app.include_router(client.router)
    app.include_router(admin_flags.router)
    app.add_middleware(FeaturesFastPath, cache=cache, environments=ws.config.environment_names())
    return app
