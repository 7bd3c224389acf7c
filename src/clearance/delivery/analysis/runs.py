"""Analysis runs with Argo Rollouts' rules: each measurement gets a phase, limits turn them into a
metric's phase, and the worst metric is the run's phase.

    measurement: successful | failed | inconclusive (conditions) | error (no value, or bad condition)
    metric:      failed        when failed       > failure_limit           (default 0)
                 inconclusive  when inconclusive > inconclusive_limit      (default 0)
                 error         when consecutive errors > consecutive_error_limit (default 4)
                 successful    when `count` non-error measurements are taken (or the run is terminated)
    run:         running until every metric is done; then the worst of
                 successful < inconclusive < error < failed

Errors do not count towards `count`: an errored measurement is retried after `interval` (10 s when
there is none). A metric that ends failed, error or inconclusive terminates the run: the others stop
measuring and end successful unless they already broke a limit.

Everything here is pure except `AnalysisRun.tick`, which asks the providers for the measurements that
are due; the caller stores them and hands the whole history back on the next tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from clearance.delivery.analysis.expressions import EvaluationError, compile_expression
from clearance.delivery.analysis.templates import AnalysisTemplate, Metric, check_template
from clearance.delivery.metrics.base import (
    Measurement,
    MeasurementValue,
    MetricProvider,
    MetricQuery,
    utc_now,
)

DEFAULT_ERROR_RETRY_SECONDS = 10.0


class AnalysisPhase(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    FAILED = "failed"

    @property
    def completed(self) -> bool:
        return self not in (AnalysisPhase.PENDING, AnalysisPhase.RUNNING)


# Argo's order, best to worst; a completed run takes the worst phase of its metrics.
_ORDER = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.RUNNING,
    AnalysisPhase.PENDING,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
    AnalysisPhase.FAILED,
)
_ENDS_RUN = frozenset({AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE})


def worst(phases: Sequence[AnalysisPhase]) -> AnalysisPhase:
    return max(phases, key=_ORDER.index)


@dataclass(frozen=True)
class MetricMeasurement:
    """One measurement of one metric, with its phase: what the engine stores, every one of them."""

    metric: str
    phase: AnalysisPhase
    started_at: datetime
    finished_at: datetime
    value: MeasurementValue = None
    error: str = ""  # why there is no value, or why the conditions could not be evaluated
    metadata: dict[str, str] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """Fields of a `measurements` row; NaN and infinities as text (PostgreSQL JSON refuses them)."""
        return {
            "metric": self.metric,
            "phase": self.phase.value,
            "value": {"result": _json_safe(self.value)},
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_record(
        cls,
        *,
        metric: str,
        phase: str,
        value: Mapping[str, Any],
        error: str,
        started_at: datetime,
        finished_at: datetime,
    ) -> MetricMeasurement:
        raw = value.get("result")
        result: MeasurementValue = [float(v) for v in raw] if isinstance(raw, list) else _float_or_none(raw)
        return cls(metric, AnalysisPhase(phase), started_at, finished_at, result, error)


@dataclass(frozen=True)
class MetricStatus:
    """A metric's phase and the counts behind it."""

    phase: AnalysisPhase
    reason: str
    count: int = 0  # measurements that were not errors
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    errors: int = 0
    consecutive_errors: int = 0


def evaluate(metric: Metric, value: MeasurementValue) -> tuple[AnalysisPhase, str]:
    """The phase of one value under the metric's conditions, as Argo's EvaluateResult decides it."""
    try:
        success = (
            compile_expression(metric.success_condition).test(value) if metric.success_condition else None
        )
        failure = (
            compile_expression(metric.failure_condition).test(value) if metric.failure_condition else None
        )
    except EvaluationError as exc:
        return AnalysisPhase.ERROR, str(exc)
    if success is None and failure is None:
        return AnalysisPhase.SUCCESSFUL, ""
    # With one condition only, the other is its opposite; with both, neither true is inconclusive.
    if failure is None:
        failure = not success
    if success is None:
        success = not failure
    if failure:
        return AnalysisPhase.FAILED, ""
    return (AnalysisPhase.SUCCESSFUL, "") if success else (AnalysisPhase.INCONCLUSIVE, "")


def record(metric: Metric, measurement: Measurement) -> MetricMeasurement:
    """A provider's answer with its phase: an answer without a value is an error."""
    if measurement.error is not None:
        phase, message = AnalysisPhase.ERROR, measurement.error
    else:
        phase, message = evaluate(metric, measurement.value)
    return MetricMeasurement(
        metric.name,
        phase,
        measurement.started_at,
        measurement.finished_at,
        measurement.value,
        message,
        dict(measurement.metadata),
    )


def status(
    metric: Metric, measurements: Sequence[MetricMeasurement], *, terminating: bool = False
) -> MetricStatus:
    """The metric's phase after these measurements (its own, oldest first)."""
    counts = {phase: 0 for phase in AnalysisPhase}
    consecutive_errors = 0
    for m in measurements:
        counts[m.phase] += 1
        consecutive_errors = consecutive_errors + 1 if m.phase is AnalysisPhase.ERROR else 0
    done = len(measurements) - counts[AnalysisPhase.ERROR]

    def result(phase: AnalysisPhase, reason: str) -> MetricStatus:
        return MetricStatus(
            phase,
            reason,
            done,
            counts[AnalysisPhase.SUCCESSFUL],
            counts[AnalysisPhase.FAILED],
            counts[AnalysisPhase.INCONCLUSIVE],
            counts[AnalysisPhase.ERROR],
            consecutive_errors,
        )

    if not measurements:
        if terminating:
            return result(AnalysisPhase.SUCCESSFUL, "analysis terminated before the first measurement")
        return result(AnalysisPhase.PENDING, "no measurement yet")
    if counts[AnalysisPhase.FAILED] > metric.failure_limit:
        return result(
            AnalysisPhase.FAILED,
            f"{counts[AnalysisPhase.FAILED]} failed > failure_limit {metric.failure_limit}",
        )
    if counts[AnalysisPhase.INCONCLUSIVE] > metric.inconclusive_limit:
        return result(
            AnalysisPhase.INCONCLUSIVE,
            f"{counts[AnalysisPhase.INCONCLUSIVE]} inconclusive > inconclusive_limit {metric.inconclusive_limit}",
        )
    if consecutive_errors > metric.consecutive_error_limit:
        return result(
            AnalysisPhase.ERROR,
            f"{consecutive_errors} errors in a row > consecutive_error_limit {metric.consecutive_error_limit}"
            f" (last: {measurements[-1].error})",
        )
    target = metric.effective_count()
    if target is not None and done >= target:
        return result(AnalysisPhase.SUCCESSFUL, f"{done} of {target} measurements taken")
    if terminating:
        return result(AnalysisPhase.SUCCESSFUL, "analysis terminated within the limits")
    return result(AnalysisPhase.RUNNING, f"{done} measurements taken" + (f" of {target}" if target else ""))


def assess(
    metric: Metric, measurements: Sequence[MetricMeasurement], *, terminating: bool = False
) -> AnalysisPhase:
    return status(metric, measurements, terminating=terminating).phase


def due_at(
    metric: Metric, measurements: Sequence[MetricMeasurement], started_at: datetime
) -> datetime | None:
    """When the next measurement should be taken (maybe in the past); None when no more are needed."""
    if assess(metric, measurements).completed:
        return None
    if not measurements:
        return started_at + timedelta(seconds=metric.initial_delay or 0.0)
    # Without an interval a metric measures once; only an error brings it back, to retry.
    interval = metric.interval if metric.interval is not None else DEFAULT_ERROR_RETRY_SECONDS
    return measurements[-1].finished_at + timedelta(seconds=interval)


def next_due(
    metric: Metric, measurements: Sequence[MetricMeasurement], started_at: datetime, now: datetime
) -> datetime | None:
    """When to measure next, never earlier than `now` (so `next_due(...) == now` means "measure now")."""
    due = due_at(metric, measurements, started_at)
    return None if due is None else max(due, now)


def run_status(
    metrics: Sequence[Metric],
    measurements: Sequence[MetricMeasurement],
    *,
    terminate: bool = False,
) -> tuple[AnalysisPhase, dict[str, MetricStatus]]:
    """The run's phase and each metric's status; `terminate` ends the run (e.g. the step is over)."""
    by_metric = group_by_metric(metrics, measurements)
    statuses = {m.name: status(m, by_metric[m.name]) for m in metrics}
    terminating = terminate or any(s.phase in _ENDS_RUN for s in statuses.values())
    if terminating:
        statuses = {m.name: status(m, by_metric[m.name], terminating=True) for m in metrics}
    phases = [s.phase for s in statuses.values()]
    if not all(p.completed for p in phases):
        return AnalysisPhase.RUNNING, statuses
    return worst(phases), statuses


def group_by_metric(
    metrics: Sequence[Metric], measurements: Sequence[MetricMeasurement]
) -> dict[str, list[MetricMeasurement]]:
    """Each metric's measurements, oldest first (by finish time, as stored order may differ)."""
    by_metric: dict[str, list[MetricMeasurement]] = {m.name: [] for m in metrics}
    for m in sorted(measurements, key=lambda m: m.finished_at):
        if m.metric in by_metric:
            by_metric[m.metric].append(m)
    return by_metric


def readable(value: object) -> str:
    """A measured value as people read it: floats to four significant digits (0.1667, 231.5),
    whole ones without a fraction, lists and mappings item by item. What is stored stays exact."""
    if isinstance(value, bool) or not isinstance(value, float | list | dict):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(readable(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {readable(v)}" for k, v in value.items()) + "}"
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


def _json_safe(value: MeasurementValue) -> float | str | list[float | str] | None:
    if isinstance(value, list):
        return [v if math.isfinite(v) else str(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _float_or_none(raw: Any) -> float | None:
    return None if raw is None else float(raw)


@dataclass(frozen=True)
class Tick:
    """What one `AnalysisRun.tick` did and where the run stands."""

    taken: list[MetricMeasurement]  # new measurements, to store
    phase: AnalysisPhase
    metrics: dict[str, MetricStatus]
    next_due: datetime | None  # when to tick again; None once the run is complete

    @property
    def completed(self) -> bool:
        return self.phase.completed

    def summary(self) -> str:
        """One line per metric that is not successful, e.g. for a step's message."""
        return "; ".join(
            f"{name}: {s.phase} ({s.reason})"
            for name, s in self.metrics.items()
            if s.phase is not AnalysisPhase.SUCCESSFUL
        )


class AnalysisRun:
    """Takes the measurements of an analysis when they are due; it keeps no state of its own.

    The engine builds one per reconcile from the template, the variables and the run's start time,
    calls `tick(stored_measurements)`, stores `tick.taken`, and comes back at `tick.next_due` (or
    ends the step when `tick.completed`). Providers come from a lookup, normally a ProviderPool
    kept per worker so stateful providers (envoy) remember their counters between ticks.
    """

    def __init__(
        self,
        template: AnalysisTemplate,
        variables: Mapping[str, str],
        providers: Callable[[str], MetricProvider],
        *,
        started_at: datetime,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.template = template
        self.variables = dict(variables)
        self.started_at = started_at
        self._providers = providers
        self._clock = clock
        # Checked before any query: a template that cannot run here is a config error, not a
        # series of error measurements that ends in a rollback.
        check_template(template, variables=self.variables.keys(), providers=providers)

    def query(self, metric: Metric) -> MetricQuery:
        return MetricQuery(metric.provider.type, metric.provider.settings, self.variables, metric.name)

    def tick(self, history: Sequence[MetricMeasurement], *, terminate: bool = False) -> Tick:
        metrics = self.template.metrics
        phase, statuses = run_status(metrics, history, terminate=terminate)
        if phase.completed:
            return Tick([], phase, statuses, None)
        now = self._clock()
        by_metric = group_by_metric(metrics, history)
        due = [
            m
            for m in metrics
            if not statuses[m.name].phase.completed
            and (when := due_at(m, by_metric[m.name], self.started_at)) is not None
            and when <= now
        ]
        taken = self._measure(due)
        history = [*history, *taken]
        phase, statuses = run_status(metrics, history, terminate=terminate)
        return Tick(taken, phase, statuses, None if phase.completed else self._next_due(history))

    def _measure(self, metrics: Sequence[Metric]) -> list[MetricMeasurement]:
        if len(metrics) <= 1:
            return [self._measure_one(m) for m in metrics]
        # Providers may wait for their timeout; measuring in parallel keeps a tick short.
        with ThreadPoolExecutor(max_workers=len(metrics)) as pool:
            return list(pool.map(self._measure_one, metrics))

    def _measure_one(self, metric: Metric) -> MetricMeasurement:
        started = self._clock()
        try:
            measurement = self._providers(metric.provider.type).measure(self.query(metric))
        except Exception as exc:  # a plugin's bug is an error measurement; limits decide, as for any error
            reason = f"the {metric.provider.type} provider failed: {type(exc).__name__}: {exc}"
            measurement = Measurement(started, self._clock(), error=reason)
        return record(metric, measurement)

    def _next_due(self, history: Sequence[MetricMeasurement]) -> datetime | None:
        by_metric = group_by_metric(self.template.metrics, history)
        times = [
            when
            for m in self.template.metrics
            if (when := due_at(m, by_metric[m.name], self.started_at)) is not None
        ]
        return min(times, default=None)
