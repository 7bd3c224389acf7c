"""The FastAPI application: routers, and ClearanceError rendered as problem JSON with its status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from clearance import __version__
from clearance.api import admin_flags, client
from clearance.errors import ClearanceError
from clearance.workspace import Workspace

# The HTTP status of each exit code of the error tree (see errors.py).
_STATUS_BY_EXIT_CODE = {2: 400, 3: 409, 4: 404}


def _problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ClearanceError)
    status = getattr(error, "status", None) or _STATUS_BY_EXIT_CODE.get(error.exit_code, 500)
    return JSONResponse(error.to_problem(), status_code=status)


def create_app(ws: Workspace) -> FastAPI:
    """The API serving `ws`'s project from its store."""
    app = FastAPI(title="clearance", version=__version__, docs_url=None, redoc_url=None)
    app.state.workspace = ws
    app.add_exception_handler(ClearanceError, _problem)
    app.include_router(client.router)
    app.include_router(admin_flags.router)
    return app
