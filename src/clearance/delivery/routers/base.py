"""The TrafficRouter protocol: what an agent needs from the proxy in front of a service's replicas.

The agent starts one router per service and environment, tells it which replica ports serve each
version and the weights between versions, and reads back what the router really applies — the
observed weights the engine waits for. Envoy (`clearance.agent.envoy.EnvoyProxy`) is the built-in
router; another proxy implements these methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol


class TrafficRouter(Protocol):
    @property
    def admin_url(self) -> str:
        """Where the router's own metrics and state answer ("" when it has none)."""
        ...

    def alive(self) -> bool: ...

    def start(self) -> None:
        """Start listening on the stable (and preview) port; raise a ClearanceError if it cannot."""
        ...

    def stop(self) -> None: ...

    def update(
        self,
        endpoints: Mapping[str, Iterable[int]],
        weights: Mapping[str, int],
        *,
        preview: str | None = None,
        header: str | None = None,
    ) -> None:
        """Route by `weights` (version → %, summing to 100, or all 0 for no route) to these ports;
        `preview` alone on the preview port; `header` for requests with `x-canary: always`."""
        ...

    def wait_applied(self, weights: Mapping[str, int], timeout: float = 5.0) -> None:
        """Return once traffic really follows `weights` (so replicas left out can be stopped)."""
        ...

    def applied_weights(self) -> dict[str, int]:
        """Version → weight (> 0) the router applies now; {} when it routes nothing."""
        ...


class RouterFactory(Protocol):
    def __call__(self, workdir: Path, *, name: str, port: int, preview_port: int | None) -> TrafficRouter: ...
