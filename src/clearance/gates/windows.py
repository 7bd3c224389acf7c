"""The `windows` gate: a deployment may not start inside a freeze window, nor, when the environment
declares change windows, outside all of them. The rules themselves live in `planning.windows`."""

from __future__ import annotations

from typing import Any

from clearance.gates.base import GateFacts, GateResult, GateStatus
from clearance.planning.windows import WindowsPolicy, decide

__all__ = ["WindowsGate"]


class WindowsGate:
    """`windows:` under an environment's `gates:`, judged at the facts' `now`."""

    type = "windows"
    families = ()

    def check(self, policy: Any, facts: GateFacts) -> GateResult:
        assert isinstance(policy, WindowsPolicy)
        decision = decide(policy, facts.now)
        return GateResult(
            gate=self.type,
            status=GateStatus.PASS if decision.allowed else GateStatus.FAIL,
            reason=decision.reason,
            details=decision.details(),
        )
