"""The store: tables, sessions and migrations. The only place that knows SQL dialects."""

from clearance.store.database import Store
from clearance.store.tables import (
    AuditEntry,
    AuditHead,
    Base,
    Deployment,
    DeploymentLock,
    DeploymentStep,
    Project,
    Release,
    WorkItemRow,
)

__all__ = [
    "AuditEntry",
    "AuditHead",
    "Base",
    "Deployment",
    "DeploymentLock",
    "DeploymentStep",
    "Project",
    "Release",
    "Store",
    "WorkItemRow",
]
