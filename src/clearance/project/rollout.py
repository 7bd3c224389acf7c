"""How services run and roll out: the `run:` settings of a service and the per-environment strategy.

A service with `run:` is deployed as replicas behind a proxy on its stable port, and each environment
chooses how a new version replaces the old one: all at once, rolling, blue-green or canary steps —
or all at once behind a feature flag whose share of users grows step by step (flag-rollout).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from clearance.project.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
Port = Annotated[int, Field(ge=1, le=65535)]
DEFAULT_PROGRESS_DEADLINE = 600.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"'{value}' must start with '/'")
    return value


class HealthCheck(_Model):
    """Readiness: a replica gets traffic after `healthy_threshold` consecutive 2xx answers."""

    path: Annotated[str, AfterValidator(_check_path)] = "/health"
    interval: Duration = 1.0
    timeout: Duration = 1.0
    healthy_threshold: Annotated[int, Field(ge=1)] = 1
    unhealthy_threshold: Annotated[int, Field(ge=1)] = 3


class AnalysisRef(_Model):
    """Runs an analysis template (by name) at this point of the rollout."""

    template: Annotated[str, Field(min_length=1)]


class Pause(_Model):
    """Wait `duration`, or with no duration until `clearance promote`."""

    duration: Duration | None = None


class CanaryStep(_Model):
    """Exactly one of: set_weight, pause, analysis."""

    set_weight: Annotated[int, Field(ge=0, le=100)] | None = None
    pause: Pause | None = None
    analysis: AnalysisRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
        given = [k for k in ("set_weight", "pause", "analysis") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a canary step has exactly one of set_weight, pause or analysis"
                + (f" (found {', '.join(given)})" if given else "")
            )
        return self

    def describe(self) -> str:
        if self.set_weight is not None:
            return f"set weight {self.set_weight}%"
        if self.pause is not None:
            return f"pause {self.pause.duration:g}s" if self.pause.duration else "pause until promoted"
        assert self.analysis is not None
        return f"analysis {self.analysis.template}"


class AllAtOnce(_Model):
    type: Literal["all-at-once"]
    progress_deadline: Duration = DEFAULT_PROGRESS_DEADLINE


class Rolling(_Model):
    type: Literal["rolling"]
    max_surge: Annotated[int, Field(ge=0)] = 1
    max_unavailable: Annotated[int, Field(ge=0)] = 0
    pause: Duration | None = None  # between batches
    progress_deadline: Duration = DEFAULT_PROGRESS_DEADLINE

    @model_validator(mode="after")
    def _moves(self) -> Rolling:
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError("max_surge and max_unavailable cannot both be 0: the rollout could never move")
        return self


class BlueGreen(_Model):
    type: Literal["blue-green"]
    preview_port: Port | None = None
    pre_promotion_analysis: AnalysisRef | None = None
    auto_promote: bool = True
    auto_promote_after: Duration | None = None
    scale_down_delay: Duration = 30.0
    post_promotion_analysis: AnalysisRef | None = None
    progress_deadline: Duration = DEFAULT_PROGRESS_DEADLINE


class Canary(_Model):
    type: Literal["canary"]
    steps: Annotated[tuple[CanaryStep, ...], Field(min_length=1)]
    background_analysis: AnalysisRef | None = None
    header_route: bool = False  # `x-canary: always` reaches the canary, for testers
    progress_deadline: Duration = DEFAULT_PROGRESS_DEADLINE


class FlagRolloutStep(_Model):
    """Exactly one of: set_rollout (the flag's share of users, %), pause, analysis."""

    set_rollout: Annotated[int, Field(ge=0, le=100)] | None = None
    pause: Pause | None = None
    analysis: AnalysisRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> FlagRolloutStep:
        given = [k for k in ("set_rollout", "pause", "analysis") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a flag-rollout step has exactly one of set_rollout, pause or analysis"
                + (f" (found {', '.join(given)})" if given else "")
            )
        return self

    def describe(self) -> str:
        if self.set_rollout is not None:
            return f"set flag rollout {self.set_rollout}%"
        if self.pause is not None:
            return f"pause {self.pause.duration:g}s" if self.pause.duration else "pause until promoted"
        assert self.analysis is not None
        return f"analysis {self.analysis.template}"


class FlagRollout(_Model):
    """The new version goes in all at once, dark; then a feature flag lets users in step by step,
    and goes back to 0 % (the kill switch) when an analysis fails. `flag` may be left out when
    the release has exactly one linked flag (`clearance release flag`)."""

    type: Literal["flag-rollout"]
    flag: Annotated[str, Field(min_length=1)] | None = None
    steps: Annotated[tuple[FlagRolloutStep, ...], Field(min_length=1)]
    background_analysis: AnalysisRef | None = None
    progress_deadline: Duration = DEFAULT_PROGRESS_DEADLINE


Strategy = Annotated[AllAtOnce | Rolling | BlueGreen | Canary | FlagRollout, Field(discriminator="type")]
STRATEGY_TYPES = ("all-at-once", "rolling", "blue-green", "canary", "flag-rollout")


def default_strategy() -> AllAtOnce:
    return AllAtOnce(type="all-at-once")


class RunSpec(_Model):
    """How to run a service: a command that listens on $PORT, behind a proxy on `port`."""

    command: Annotated[str, Field(min_length=1)]
    # One stable port for every environment, or one per environment (several on one machine).
    port: Port | dict[str, Port]
    replicas: Annotated[int, Field(ge=1)] | dict[str, Annotated[int, Field(ge=1)]] = 1
    health: HealthCheck = HealthCheck()
    drain_timeout: Duration = 10.0

    def port_for(self, environment: str) -> int | None:
        return self.port if isinstance(self.port, int) else self.port.get(environment)

    def replicas_for(self, environment: str) -> int:
        return self.replicas if isinstance(self.replicas, int) else self.replicas.get(environment, 1)
