"""`clearance agent`: run the local agent (replicas and Envoy of this project's services)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from clearance.cli.options import ConfigPath
from clearance.cli.output import err
from clearance.workspace import open_workspace


def agent(
    stop: Annotated[bool, typer.Option("--stop", help="Stop the running agent of this project.")] = False,
    config: ConfigPath = None,
) -> None:
    """Run the local agent in the foreground (deployments start one in the background when needed)."""
    # Imported here: the agent's modules (Envoy, replicas) are not needed by every command.
    from clearance.agent.control import stop_agent
    from clearance.agent.runner import LocalAgent

    # The agent works the store from one thread: one pooled connection (a one-shot `--stop` keeps none).
    ws = open_workspace(config, pool_size=0 if stop else 1)
    if stop:
        stopped = stop_agent(ws)
        err().print("agent stopped" if stopped else "no agent was running")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per admin poll would drown the log
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl …" lines say nothing to users
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner = LocalAgent(
        ws.store,
        ws.root / ".clearance" / "agent",
        project_id=ws.project_id,
        envoy_binary=ws.settings.envoy or None,
    )
    err().print(f"agent {runner.id} serving project {ws.config.project}")
    runner.run(done)
    ws.store.dispose()
