"""Promotion rules: which environments a release may reach, given where it has already succeeded.

A lifecycle is an ordered list of phases. A phase is complete once at least `min_required` of its
environments have a successful deployment of the release; a release may enter a phase only when
every earlier phase is complete.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from clearance.errors import LifecycleViolation, UsageError


@dataclass(frozen=True)
class PhaseRule:
    """One phase of a lifecycle.

    `min_required` is how many of `environments` must succeed: 0 makes the phase optional,
    `len(environments)` means all of them.
    """

    name: str
    environments: tuple[str, ...]
    min_required: int
    auto_deploy: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.min_required <= len(self.environments):
            raise UsageError(
                f"phase {self.name!r} requires {self.min_required} of {len(self.environments)} environments",
                hint="min_required must be between 0 and the number of the phase's environments",
            )

    @property
    def optional(self) -> bool:
        return self.min_required == 0

    def successes(self, succeeded: Collection[str]) -> int:
        return sum(1 for env in self.environments if env in succeeded)

    def is_complete(self, succeeded: Collection[str]) -> bool:
        return self.successes(succeeded) >= self.min_required


def phase_of(phases: Sequence[PhaseRule], env: str) -> int | None:
    """The index of the first phase that holds `env`, or None when no phase does."""
    for index, phase in enumerate(phases):
        if env in phase.environments:
            return index
    return None


def check_promotion(
    phases: Sequence[PhaseRule], *, version: str, target: str, succeeded: Collection[str]
) -> None:
    """Refuse to deploy `version` to `target` unless every phase before the target's is complete.

    `succeeded` names the environments that have a successful deployment of `version`. The error
    lists every incomplete earlier phase, not just the first, so one message says all that is left.
    """
    index = phase_of(phases, target)
    if index is None:
        known = ", ".join(env for phase in phases for env in phase.environments) or "none"
        raise LifecycleViolation(
            f"cannot deploy {version} to {target}: {target} is not in the lifecycle",
            hint=f"add {target} to a phase of the lifecycle in clearance.yaml (environments in it: {known})",
            data={"missing": [], "phases": []},
        )
    incomplete = [phase for phase in phases[:index] if not phase.is_complete(succeeded)]
    if not incomplete:
        return
    missing = [env for phase in incomplete for env in phase.environments if env not in succeeded]
    reasons = "; ".join(_why_incomplete(phase, version, succeeded) for phase in incomplete)
    raise LifecycleViolation(
        f"cannot deploy {version} to {target}: {reasons}",
        hint=f"deploy {version} to {missing[0]} first (`clearance promote` picks the next environment)",
        data={"missing": missing, "phases": [phase.name for phase in incomplete]},
    )


def _why_incomplete(phase: PhaseRule, version: str, succeeded: Collection[str]) -> str:
    has = phase.successes(succeeded)
    missing = [env for env in phase.environments if env not in succeeded]
    if has == 0 and phase.min_required == len(phase.environments):
        return (
            f"phase {phase.name!r} has no successful deployment of {version} (missing: {', '.join(missing)})"
        )
    listed = ", ".join(phase.environments)
    if phase.min_required == len(phase.environments):
        return f"phase {phase.name!r} needs all of [{listed}], has {has} (missing: {', '.join(missing)})"
    return (
        f"phase {phase.name!r} needs {phase.min_required} of [{listed}], has {has} "
        f"(missing {phase.min_required - has} more of: {', '.join(missing)})"
    )


def check_prerelease(
    *, version: str, is_prerelease: bool, target: str, production: bool, allows_prerelease: bool
) -> None:
    """Refuse a pre-release where the environment does not take them.

    `allows_prerelease` is the environment's effective setting: by default production environments
    refuse pre-releases and others take them, and `allow_prerelease:` in clearance.yaml says otherwise.
    """
    if is_prerelease and not allows_prerelease:
        kind = "a production environment" if production else "set to refuse pre-releases"
        raise LifecycleViolation(
            f"cannot deploy {version} to {target}: {version} is a pre-release and {target} is {kind}",
            hint=f"set `allow_prerelease: true` on environment {target} in clearance.yaml to allow it",
            data={"environment": target, "version": version},
        )


def next_phase(phases: Sequence[PhaseRule], succeeded: Collection[str]) -> PhaseRule | None:
    """The phase a release should be promoted to next, or None when it has finished the lifecycle.

    That is the first incomplete phase. An optional phase is offered only while it is untouched and
    the release has gone no further: once any later phase has a success, it was skipped on purpose.
    """
    for index, phase in enumerate(phases):
        if phase.optional:
            later_success = any(p.successes(succeeded) for p in phases[index + 1 :])
            if phase.successes(succeeded) == 0 and not later_success:
                return phase
        elif not phase.is_complete(succeeded):
            return phase
    return None


def auto_deploy_targets(
    phases: Sequence[PhaseRule], succeeded: Collection[str], attempted: Collection[str]
) -> list[str]:
    """Environments to deploy to without being asked, in phase order.

    Those of `auto_deploy` phases whose earlier phases are complete, minus the environments that
    already succeeded or were `attempted` — a failed automatic deployment waits for a person
    instead of being retried forever.
    """
    targets: list[str] = []
    for phase in phases:
        if phase.auto_deploy:
            targets.extend(env for env in phase.environments if env not in succeeded and env not in attempted)
        if not phase.is_complete(succeeded):
            break
    return targets
