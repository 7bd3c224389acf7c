"""The error tree of clearance: every failure a user can see, with a code, a message and a hint.

    ClearanceError                  code                 exit
    ├── UsageError                  usage                  2  bad arguments or input
    │   │                           database-url-invalid      (code only: bad CLEARANCE_DATABASE_URL)
    │   │                           evidence-kind-unknown     (code only: a report kind clearance does not read)
    │   ├── ConfigError             config-invalid            clearance.yaml is wrong (file:line: key: why)
    │   ├── InvalidVersion          version-invalid
    │   └── ReportInvalid           report-invalid            an evidence report cannot be read (file, position)
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


class ReportInvalid(UsageError):
    """An evidence report cannot be used: malformed, of another kind, or holding values clearance cannot map.

    The message starts with the file (`source`); `line`/`column` come from the parser when it knows
    them, `path` names the place inside the document (`runs[0].results[2].level`).
    """

    code = "report-invalid"

    def __init__(
        self,
        message: str,
        *,
        source: str,
        kind: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.kind = kind
        self.line = line
        self.column = column
        self.path = path
        where = {"source": source, "kind": kind, "line": line, "column": column, "path": path}
        super().__init__(message, hint=hint, data={k: v for k, v in where.items() if v is not None})


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
