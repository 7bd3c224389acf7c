"""The error tree of clearance: every failure a user can see, with a code, a message and a hint.

    ClearanceError                  code                 exit
    ├── UsageError                  usage                  2  bad arguments or input
    │   │                           database-url-invalid      (code only: bad CLEARANCE_DATABASE_URL)
    │   ├── ConfigError             config-invalid            clearance.yaml is wrong (file:line: key: why)
    │   └── InvalidVersion          version-invalid
    ├── NotFound                    not-found              4  unknown release, environment, deployment
    ├── Refused                     refused                3  a rule said no
    │   │                           nothing-to-promote, nothing-to-roll-back
    │   ├── LifecycleViolation      lifecycle-violation
    │   ├── DeploymentBusy          deployment-busy
    │   └── AlreadyExists           already-exists
    ├── OperationFailed             failed                 1  the operation ran and did not succeed
    │   ├── DeploymentFailed        deployment-failed
    │   └── AuditVerificationFailed audit-broken
    ├── StoreError                  store-error            1  the database cannot be used
    │   ├── StoreUnavailable        store-unavailable
    │   └── StoreLocked             store-locked
    ├── InvalidTransition           invalid-transition     1  a bug: a state change the rules forbid
    └── Interrupted                 interrupted          130

This module imports nothing from clearance, so every layer may raise these.
"""

from __future__ import annotations

from typing import Any


class ClearanceError(Exception):
    """Base of every error clearance reports to a user."""

    code: str = "error"
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        self.data: dict[str, Any] = data or {}

    def to_problem(self) -> dict[str, Any]:
        """The problem document shown by `--json` and the API."""
        problem: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.data:
            problem["data"] = self.data
        return problem


class UsageError(ClearanceError):
    code = "usage"
    exit_code = 2


class ConfigError(UsageError):
    """clearance.yaml cannot be used; `problems` holds one `file:line: key: why` line each."""

    code = "config-invalid"

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), hint=hint, data={"problems": self.problems})


class InvalidVersion(UsageError):
    code = "version-invalid"


class NotFound(ClearanceError):
    code = "not-found"
    exit_code = 4


class Refused(ClearanceError):
    code = "refused"
    exit_code = 3


class LifecycleViolation(Refused):
    code = "lifecycle-violation"


class DeploymentBusy(Refused):
    code = "deployment-busy"


class AlreadyExists(Refused):
    code = "already-exists"


class OperationFailed(ClearanceError):
    code = "failed"
    exit_code = 1


class DeploymentFailed(OperationFailed):
    code = "deployment-failed"


class AuditVerificationFailed(OperationFailed):
    code = "audit-broken"


class StoreError(ClearanceError):
    code = "store-error"
    exit_code = 1


class StoreUnavailable(StoreError):
    code = "store-unavailable"


class StoreLocked(StoreError):
    code = "store-locked"


class InvalidTransition(ClearanceError):
    code = "invalid-transition"


class Interrupted(ClearanceError):
    code = "interrupted"
    exit_code = 130
