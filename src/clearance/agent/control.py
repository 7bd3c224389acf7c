"""Starting and stopping the local agent of a project from the CLI.

Replicas must outlive the command that deployed them, so when no `clearance serve` or `clearance
agent` serves the project, a deployment starts one in the background (its log is
.clearance/agent.log) and waits until it has registered in the store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from clearance.agent.runner import live_agent
from clearance.errors import OperationFailed

if TYPE_CHECKING:
    from clearance.workspace import Workspace

START_TIMEOUT_SECONDS = 20.0


def agent_log(ws: Workspace) -> str:
    return str(ws.root / ".clearance" / "agent.log")


def ensure_agent(ws: Workspace) -> None:
    if live_agent(ws.store, ws.project_id) is not None:
        return
    log_path = ws.root / ".clearance" / "agent.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-c",
        "from clearance.cli.main import run; run()",
        "agent",
        "--config",
        str(ws.loaded.path),
    ]
    # Started through a shell that backgrounds it and exits at once: the agent is nobody's child
    # (it must outlive this command) and nothing here holds on to it.
    launcher = subprocess.run(
        ["/bin/sh", "-c", 'log="$1"; shift; "$@" >>"$log" 2>&1 </dev/null &', "sh", str(log_path), *command],
        cwd=ws.root,
        start_new_session=True,
        env={**os.environ, "CLEARANCE_ACTOR": ws.actor},
        capture_output=True,
        check=False,
    )
    if launcher.returncode != 0:
        raise OperationFailed(f"could not start the local agent: {launcher.stderr.decode(errors='replace')}")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while live_agent(ws.store, ws.project_id) is None:
        if time.monotonic() > deadline:
            raise OperationFailed("the local agent did not start in time", hint=f"see {log_path}")
        time.sleep(0.1)


def stop_agent(ws: Workspace, timeout: float = 30.0) -> bool:
    """Stop this project's local agent (its replicas and proxies stop with it); False if none ran."""
    row = live_agent(ws.store, ws.project_id)
    if row is None:
        return False
    try:
        os.kill(row.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(row.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(row.pid, signal.SIGKILL)
    return True
