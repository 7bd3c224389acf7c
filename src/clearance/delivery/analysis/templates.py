"""The analysis parts of clearance.yaml: AnalysisTemplate (Argo-style metrics) and JudgeSpec (Kayenta-style).

Each value that can be checked alone is checked by the models (durations, conditions, limits), so the
config loader reports it with its file, line and key. What needs the metric providers (is the
`type` known, are its settings and `{{variables}}` usable) is in `template_problems`, which the
loader calls once the file is parsed.

    analysis:
      - name: errors
        metrics:
          - name: error-rate
            provider: {type: envoy, metric: error_rate}
            interval: 30s
            count: 6
            failure_condition: result > 0.05
            failure_limit: 1
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from clearance.delivery.analysis.expressions import compile_expression
from clearance.delivery.metrics.base import STANDARD_VARIABLES, MetricProvider
from clearance.delivery.metrics.registry import get_provider
from clearance.errors import ConfigError

DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
DEFAULT_JUDGE_WINDOW_SECONDS = 300.0

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

Problem = tuple[tuple[str | int, ...], str]
"""Where in the template (a pydantic-style location) and what is wrong."""


def _duration(value: object) -> float:
    # Imported here: clearance.project's package imports the config schema, which embeds these
    # models; a module-level import would be circular.
    from clearance.project.durations import parse_duration

    return parse_duration(value)


def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value) or len(value) > 63:
        raise ValueError(
            f"invalid name '{value}': use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, at most 63 characters"
        )
    return value


def _check_condition(value: str) -> str:
    compile_expression(value)  # InvalidExpression is a ValueError: pydantic reports it at its key
    return value


Duration = Annotated[float, BeforeValidator(_duration)]
Name = Annotated[str, AfterValidator(_check_name)]
Condition = Annotated[str, AfterValidator(_check_condition)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSpec(BaseModel):
    """`{type: prometheus, address: ..., query: ...}`: the type, and settings only its provider knows."""

    # Settings are open here and checked by the provider itself (`template_problems`).
    model_config = ConfigDict(extra="allow", frozen=True)

    type: Annotated[str, Field(min_length=1)]

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Metric(_Model):
    """One metric of an analysis, measured `count` times every `interval` (Argo Rollouts' rules)."""

    name: Name
    provider: ProviderSpec
    interval: Duration | None = None
    count: Annotated[int, Field(ge=1)] | None = None
    initial_delay: Duration | None = None
    success_condition: Condition | None = None
    failure_condition: Condition | None = None
    failure_limit: Annotated[int, Field(ge=0)] = 0
    inconclusive_limit: Annotated[int, Field(ge=0)] = 0
    consecutive_error_limit: Annotated[int, Field(ge=0)] = DEFAULT_CONSECUTIVE_ERROR_LIMIT

    @model_validator(mode="after")
    def _check_counts(self) -> Metric:
        if self.count is not None and self.count > 1 and self.interval is None:
            raise ValueError("interval is needed when count is more than 1")
        if self.count is not None and self.count < self.failure_limit:
            raise ValueError(
                f"failure_limit ({self.failure_limit}) can never be passed with count {self.count}"
            )
        if self.count is not None and self.count < self.inconclusive_limit:
            raise ValueError(
                f"inconclusive_limit ({self.inconclusive_limit}) can never be passed with count {self.count}"
            )
        return self

    def effective_count(self) -> int | None:
        """How many measurements end the metric; None: it runs until the analysis is terminated."""
        if self.count is not None:
            return self.count
        return 1 if self.interval is None else None


def _unique_names(items: Collection[Metric | JudgeMetric], what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"two {what} are named '{item.name}'")
        seen.add(item.name)


class JudgeMetric(_Model):
    """A metric the judge compares between canary and baseline samples."""

    name: Name
    provider: ProviderSpec
    group: Name = "default"
    # Which change is bad: `increase` for errors and latency, `decrease` for throughput; `either`
    # (Kayenta's default) fails a significant change both ways.
    direction: Literal["increase", "decrease", "either"] = "either"
    # How far the canary/baseline ratio of means may move before a significant change counts.
    allowed_increase: Annotated[float, Field(ge=1.0)] = 1.0
    allowed_decrease: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    critical: bool = False  # a High/Low (or no data) here fails the whole judgement


class Thresholds(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    pass_score: Annotated[float, Field(alias="pass", ge=0, le=100)] = 95.0
    marginal: Annotated[float, Field(ge=0, le=100)] = 75.0

    @model_validator(mode="after")
    def _check_order(self) -> Thresholds:
        if self.marginal > self.pass_score:
            raise ValueError(f"marginal ({self.marginal:g}) must not be above pass ({self.pass_score:g})")
        return self


class JudgeSpec(_Model):
    """Kayenta-style judgement: Mann-Whitney per metric, weighted groups, a score out of 100."""

    window: Duration = DEFAULT_JUDGE_WINDOW_SECONDS  # how far back samples are taken
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.98
    tolerance: Annotated[float, Field(ge=0.0)] = 0.25  # share of the estimated shift that is ignored
    thresholds: Thresholds = Field(default_factory=Thresholds)
    groups: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(default_factory=dict)  # weights, %
    metrics: Annotated[tuple[JudgeMetric, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _check_groups(self) -> JudgeSpec:
        _unique_names(self.metrics, "judge metrics")
        used = {m.group for m in self.metrics}
        if unknown := sorted(set(self.groups) - used):
            raise ValueError(f"groups {', '.join(unknown)} have a weight but no metric")
        total = sum(self.groups.values())
        if total > 100:
            raise ValueError(f"group weights add up to {total:g}, more than 100")
        unweighted = used - set(self.groups)
        if not unweighted and abs(total - 100) > 1e-9:
            raise ValueError(f"group weights add up to {total:g}; they must add up to 100")
        if unweighted and total >= 100:
            raise ValueError(
                f"groups {', '.join(sorted(unweighted))} have no weight left (the others take 100)"
            )
        return self

    def weights(self) -> dict[str, float]:
        """Each group's weight; groups not listed share what the listed ones leave (as Kayenta)."""
        used = sorted({m.group for m in self.metrics})
        unweighted = [g for g in used if g not in self.groups]
        share = (100.0 - sum(self.groups.values())) / len(unweighted) if unweighted else 0.0
        return {g: self.groups.get(g, share) for g in used}


class AnalysisTemplate(_Model):
    """A named analysis: Argo-style `metrics` (passes when every metric does; the worst phase wins)
    or a Kayenta-style `judge` comparing the new version's samples with the stable version's."""

    name: Name
    metrics: tuple[Metric, ...] = ()
    judge: JudgeSpec | None = None

    @model_validator(mode="after")
    def _check_metric_names(self) -> AnalysisTemplate:
        if bool(self.metrics) == (self.judge is not None):
            raise ValueError("an analysis template has either `metrics` or a `judge`, not both or neither")
        _unique_names(self.metrics, "metrics")
        return self

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)


def template_problems(
    spec: AnalysisTemplate | JudgeSpec,
    *,
    variables: Collection[str] = STANDARD_VARIABLES,
    providers: Callable[[str], MetricProvider] | None = None,
) -> list[Problem]:
    """Problems only the providers can see: unknown types, bad settings, unknown `{{variables}}`."""
    lookup = providers or get_provider
    if isinstance(spec, AnalysisTemplate) and spec.judge is not None:
        return [
            (("judge", *where), why)
            for where, why in template_problems(spec.judge, variables=variables, providers=lookup)
        ]
    problems: list[Problem] = []
    metrics: Sequence[Metric | JudgeMetric] = spec.metrics
    for index, metric in enumerate(metrics):
        where: tuple[str | int, ...] = ("metrics", index, "provider")
        try:
            provider = lookup(metric.provider.type)
        except ConfigError as exc:
            problems += [((*where, "type"), line) for line in exc.problems]
            continue
        problems += [(where, line) for line in provider.check(metric.provider.settings, variables)]
        if isinstance(spec, JudgeSpec) and not provider.supports_samples:
            problems.append(
                ((*where, "type"), f"'{metric.provider.type}' cannot give samples over time for the judge")
            )
    return problems


def check_template(
    spec: AnalysisTemplate | JudgeSpec,
    *,
    variables: Collection[str] = STANDARD_VARIABLES,
    providers: Callable[[str], MetricProvider] | None = None,
) -> None:
    """Raise ConfigError listing `template_problems`, for callers without a file to point into."""
    problems = template_problems(spec, variables=variables, providers=providers)
    if problems:
        raise ConfigError([".".join(str(p) for p in where) + f": {why}" for where, why in problems])
