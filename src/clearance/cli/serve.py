"""`clearance serve`: the control plane on this machine — engine workers, the scheduler, and the local
agent (its own process, so replicas and Envoy keep serving while the control plane restarts)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from dataclasses import replace
from types import FrameType
from typing import Annotated

import typer

from clearance.cli.options import ConfigPath
from clearance.cli.output import err
from clearance.errors import StoreError
from clearance.workspace import open_store, open_workspace

log = logging.getLogger("clearance.serve")


def pool_size(workers: int) -> int:
    """Store connections the engine side of serve keeps: one for each thread that may hold one at a
    time (each worker and its lease heartbeat, serve's heartbeat, the scheduler); overflow adds as
    many again (see Store). The HTTP API has a pool of its own (API_POOL_SIZE), so a burst of SDK
    requests can never hold back a lease renewal."""
    return 2 * workers + 2


# The API's change check and its requests that touch the store (register, metrics, admin).
API_POOL_SIZE = 4


def serve(
    workers: Annotated[int, typer.Option("--workers", min=1, help="Deployments run at the same time.")] = 2,
    agent: Annotated[
        bool, typer.Option("--agent/--no-agent", help="Keep the local agent running (started if needed).")
    ] = True,
    config: ConfigPath = None,
    # --- flag server (HTTP API) ---
    host: Annotated[str, typer.Option("--host", help="Address the HTTP API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of the HTTP API.")] = 4242,
) -> None:
    """Run engine workers that take queued deployments from the store, resume rollouts whose driver
    died, and keep the local agent running. Stopping serve leaves the agent serving traffic."""
    from clearance.agent.control import ensure_agent
    from clearance.delivery.leases import worker_id
    from clearance.delivery.scheduler import run_scheduler
    from clearance.delivery.worker import SERVER_PREFIX, run_worker
    from clearance.store.tables import AgentRow, utcnow

    ws = open_workspace(config, pool_size=pool_size(workers))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl …" lines say nothing to users
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server_id = f"{SERVER_PREFIX}{worker_id()}"

    def beat() -> None:
        while True:
            try:
                with ws.store.transaction() as session:
                    session.merge(
                        AgentRow(
                            id=server_id,
                            host=socket.gethostname(),
                            pid=os.getpid(),
                            project_id=ws.project_id,
                            heartbeat_at=utcnow(),
                        )
                    )
            except StoreError as exc:  # the store is down or restarting: beat again when it is back
                log.warning("heartbeat: %s", exc.message)
            if stop.wait(2.0):
                break
        with ws.store.transaction() as session:
            row = session.get(AgentRow, server_id)
            if row is not None:
                session.delete(row)

    threads = [threading.Thread(target=beat, name="serve-heartbeat")]
    threads += [
        threading.Thread(target=run_worker, args=(ws, stop), name=f"worker-{i}") for i in range(workers)
    ]
    if agent:
        ensure_agent(ws)
    keep_agent = (lambda: ensure_agent(ws)) if agent else None
    threads.append(
        threading.Thread(
            target=run_scheduler, args=(ws, stop), kwargs={"keep_agent": keep_agent}, name="scheduler"
        )
    )
    # --- flag server (HTTP API): one more thread, stopped by the same event ---
    from clearance.api.server import run_api

    api_ws = replace(ws, store=open_store(ws.settings, ws.root, pool_size=API_POOL_SIZE))
    threads.append(threading.Thread(target=run_api, args=(api_ws, stop, host, port), name="api"))
    # --- end flag server ---
    for thread in threads:
        thread.start()
    err().print(
        f"clearance serve: {workers} workers for project {ws.config.project} (stop with Ctrl-C)"
        + (
            "; the local agent keeps serving after it stops (`clearance agent --stop` ends it)"
            if agent
            else ""
        )
    )
    while not stop.wait(0.5):
        pass
    for thread in threads:
        thread.join()
    api_ws.store.dispose()
    ws.store.dispose()
