"""The scheduler of `clearance serve`: the periodic work besides running deployments.

Every round it fails orphaned deployments that cannot be resumed (their rollouts are left for the
workers to resume) and, on a single machine, keeps the local agent alive. The agent is its own
process on purpose: the data plane (replicas and Envoy) must keep serving while the control plane
crashes, restarts or is upgraded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from clearance.delivery.leases import reap_orphans
from clearance.errors import ClearanceError
from clearance.workspace import Workspace

log = logging.getLogger("clearance.scheduler")
ROUND_SECONDS = 2.0


def run_scheduler(
    ws: Workspace,
    stop: threading.Event,
    *,
    keep_agent: Callable[[], None] | None = None,
    every: float = ROUND_SECONDS,
) -> None:
    while True:
        try:
            reaped = reap_orphans(ws.store, actor=ws.actor)
            if reaped:
                log.warning("failed as interrupted (their driver died): %s", ", ".join(map(str, reaped)))
            if keep_agent is not None:
                keep_agent()
        except ClearanceError as exc:
            log.warning("scheduler: %s", exc.message)
        except Exception:  # one bad round must not end the scheduler
            log.exception("scheduler round failed")
        if stop.wait(every):
            return
