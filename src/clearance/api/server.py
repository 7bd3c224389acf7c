"""Running the API with uvicorn in a thread of `clearance serve`, stopped by serve's stop event."""

from __future__ import annotations

import logging
import threading

import uvicorn

from clearance.api.app import create_app
from clearance.workspace import Workspace

_log = logging.getLogger(__name__)


def run_api(ws: Workspace, stop: threading.Event, host: str, port: int) -> None:
    """Serve until `stop` is set. A port that cannot be bound is logged and the rest of serve goes on
    (several servers on one machine share the engine's work; one of them serves the API)."""
    config = uvicorn.Config(
        create_app(ws),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)

    def watch() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=watch, name="api-stop", daemon=True).start()
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind the port
        _log.error("the HTTP API could not listen on %s:%d; serving without it", host, port)
