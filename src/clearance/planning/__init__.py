"""Planning releases: release types, work items and the lifecycle's promotion rules."""

from __future__ import annotations

from clearance.planning.lifecycle import (
    PhaseRule,
    auto_deploy_targets,
    check_prerelease,
    check_promotion,
    next_phase,
    phase_of,
)
from clearance.planning.releases import ReleaseType, WorkItem, infer_release_type, parse_work_item

__all__ = [
    "PhaseRule",
    "ReleaseType",
    "WorkItem",
    "auto_deploy_targets",
    "check_prerelease",
    "check_promotion",
    "infer_release_type",
    "next_phase",
    "parse_work_item",
    "phase_of",
]
