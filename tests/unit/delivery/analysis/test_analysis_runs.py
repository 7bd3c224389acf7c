"""Analysis runs follow Argo Rollouts' rules: limits, counts, retries, and the worst metric wins."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clearance.delivery.analysis.runs import (
    AnalysisPhase,
    AnalysisRun,
    MetricMeasurement,
    assess,
    due_at,
    evaluate,
    next_due,
    readable,
    record,
    run_status,
    status,
)
from clearance.delivery.analysis.templates import AnalysisTemplate, Metric
from clearance.delivery.metrics.base import Measurement, MetricProvider, ScriptedProvider
from clearance.delivery.metrics.registry import get_provider
from clearance.errors import ConfigError

P = AnalysisPhase
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def metric(**fields: Any) -> Metric:
    return Metric.model_validate({"name": "error-rate", "provider": {"type": "scripted"}, **fields})


def measured(
    *phases: AnalysisPhase, name: str = "error-rate", every: float = 10.0
) -> list[MetricMeasurement]:
    return [
        MetricMeasurement(
            name, phase, T0 + timedelta(seconds=i * every), T0 + timedelta(seconds=i * every + 1)
        )
        for i, phase in enumerate(phases)
    ]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


# Evaluating one value (Argo's EvaluateResult)


@pytest.mark.parametrize(
    ("success", "failure", "value", "phase"),
    [
        (None, None, 0.9, P.SUCCESSFUL),  # no condition: any value is a success
        ("result < 0.05", None, 0.01, P.SUCCESSFUL),
        ("result < 0.05", None, 0.10, P.FAILED),  # success alone: not successful means failed
        (None, "result > 0.05", 0.10, P.FAILED),
        (None, "result > 0.05", 0.01, P.SUCCESSFUL),  # failure alone: not failed means successful
        ("result < 0.01", "result > 0.05", 0.03, P.INCONCLUSIVE),  # both, neither true
        ("result < 0.05", "result > 0.01", 0.03, P.FAILED),  # both true: failure wins
    ],
)
def test_a_value_gets_its_phase_from_the_conditions(
    success: str | None, failure: str | None, value: float, phase: AnalysisPhase
) -> None:
    spec = metric(success_condition=success, failure_condition=failure)

    assert evaluate(spec, value) == (phase, "")


def test_a_condition_that_cannot_be_evaluated_is_an_error_measurement() -> None:
    phase, message = evaluate(metric(success_condition="result < 0.05"), [0.01, 0.02])

    assert phase is P.ERROR
    assert "wrap it in all(...) or any(...)" in message


def test_a_measurement_without_value_is_an_error_whatever_the_conditions() -> None:
    spec = metric(failure_condition="result > 0.05")
    answer = Measurement(T0, T0, error="empty result: the query matched no series")

    stored = record(spec, answer)

    assert (stored.phase, stored.value, stored.error) == (
        P.ERROR,
        None,
        "empty result: the query matched no series",
    )


# A metric's phase from its measurements (Argo's assessMetricStatus)


def test_no_measurement_yet_is_pending_and_successful_once_terminated() -> None:
    assert assess(metric(), []) is P.PENDING
    assert assess(metric(), [], terminating=True) is P.SUCCESSFUL


@pytest.mark.parametrize(
    ("limit", "phases", "expected"),
    [
        (0, [P.FAILED], P.FAILED),
        (1, [P.FAILED], P.RUNNING),
        (1, [P.FAILED, P.SUCCESSFUL, P.FAILED], P.FAILED),
        (2, [P.FAILED, P.FAILED, P.SUCCESSFUL, P.SUCCESSFUL], P.SUCCESSFUL),  # count reached within the limit
    ],
)
def test_failed_when_failures_exceed_failure_limit(
    limit: int, phases: list[AnalysisPhase], expected: AnalysisPhase
) -> None:
    spec = metric(interval="10s", count=4, failure_limit=limit)

    assert assess(spec, measured(*phases)) is expected


def test_inconclusive_when_inconclusive_measurements_exceed_the_limit() -> None:
    spec = metric(interval="10s", count=5, inconclusive_limit=1)

    assert assess(spec, measured(P.INCONCLUSIVE)) is P.RUNNING
    assert assess(spec, measured(P.INCONCLUSIVE, P.INCONCLUSIVE)) is P.INCONCLUSIVE


def test_error_when_consecutive_errors_exceed_the_limit_default_four() -> None:
    spec = metric(interval="10s", count=3)

    assert assess(spec, measured(*[P.ERROR] * 4)) is P.RUNNING
    assert assess(spec, measured(*[P.ERROR] * 5)) is P.ERROR
    # A good measurement in between starts the count again.
    assert assess(spec, measured(P.ERROR, P.ERROR, P.ERROR, P.SUCCESSFUL, P.ERROR, P.ERROR)) is P.RUNNING
    assert assess(metric(interval="10s", consecutive_error_limit=0), measured(P.ERROR)) is P.ERROR


def test_errors_do_not_count_towards_count() -> None:
    spec = metric(interval="10s", count=2)

    described = status(spec, measured(P.SUCCESSFUL, P.ERROR, P.ERROR))

    assert (described.phase, described.count, described.errors, described.consecutive_errors) == (
        P.RUNNING,
        1,
        2,
        2,
    )
    assert assess(spec, measured(P.SUCCESSFUL, P.ERROR, P.SUCCESSFUL)) is P.SUCCESSFUL


def test_the_limits_are_checked_failed_then_inconclusive_then_error() -> None:
    spec = metric(interval="10s", count=10, consecutive_error_limit=0)

    assert assess(spec, measured(P.INCONCLUSIVE, P.FAILED, P.ERROR)) is P.FAILED
    assert assess(spec, measured(P.INCONCLUSIVE, P.ERROR)) is P.INCONCLUSIVE


def test_without_count_or_interval_one_measurement_is_enough() -> None:
    assert assess(metric(), measured(P.SUCCESSFUL)) is P.SUCCESSFUL
    assert assess(metric(), measured(P.ERROR)) is P.RUNNING  # retried


def test_with_an_interval_and_no_count_it_runs_until_terminated() -> None:
    spec = metric(interval="10s")

    assert assess(spec, measured(*[P.SUCCESSFUL] * 50)) is P.RUNNING
    assert assess(spec, measured(*[P.SUCCESSFUL] * 50), terminating=True) is P.SUCCESSFUL
    assert assess(spec, measured(P.FAILED), terminating=True) is P.FAILED


def test_status_explains_the_phase() -> None:
    spec = metric(interval="10s", count=5, failure_limit=1)

    assert status(spec, measured(P.FAILED, P.FAILED)).reason == "2 failed > failure_limit 1"


# When the next measurement is due (Argo's generateMetricTasks / calculateNextReconcileTime)


def test_the_first_measurement_waits_for_the_initial_delay() -> None:
    assert due_at(metric(), [], T0) == T0
    assert due_at(metric(initial_delay="1m"), [], T0) == T0 + timedelta(minutes=1)


def test_the_next_measurement_is_an_interval_after_the_last_one_finished() -> None:
    history = measured(P.SUCCESSFUL)

    assert due_at(metric(interval="30s", count=3), history, T0) == history[-1].finished_at + timedelta(
        seconds=30
    )


def test_an_error_without_interval_is_retried_after_ten_seconds() -> None:
    history = measured(P.ERROR)

    assert due_at(metric(), history, T0) == history[-1].finished_at + timedelta(seconds=10)


def test_nothing_is_due_once_the_metric_is_complete() -> None:
    assert due_at(metric(), measured(P.SUCCESSFUL), T0) is None
    assert due_at(metric(interval="10s", count=5), measured(P.FAILED), T0) is None


def test_next_due_is_never_before_now() -> None:
    late = T0 + timedelta(hours=1)

    assert next_due(metric(), [], T0, late) == late
    assert next_due(metric(initial_delay="2h"), [], T0, late) == T0 + timedelta(hours=2)


# The run: worst metric wins, and a bad metric ends the run


def test_the_run_runs_until_every_metric_completes_then_the_worst_wins() -> None:
    fast, slow = metric(name="fast"), metric(name="slow", interval="10s", count=2)

    phase, _ = run_status(
        [fast, slow], measured(P.SUCCESSFUL, name="fast") + measured(P.SUCCESSFUL, name="slow")
    )
    assert phase is P.RUNNING

    history = measured(P.SUCCESSFUL, name="fast") + measured(P.SUCCESSFUL, P.SUCCESSFUL, name="slow")
    assert run_status([fast, slow], history)[0] is P.SUCCESSFUL


@pytest.mark.parametrize("bad", [P.FAILED, P.INCONCLUSIVE])
def test_a_metric_that_ends_badly_terminates_the_run(bad: AnalysisPhase) -> None:
    fast, slow = metric(name="fast"), metric(name="slow", interval="10s")
    history = measured(bad, name="fast") + measured(P.SUCCESSFUL, name="slow")

    phase, statuses = run_status([fast, slow], history)

    assert phase is bad
    assert statuses["slow"].phase is P.SUCCESSFUL
    assert statuses["slow"].reason == "analysis terminated within the limits"


def test_worst_order_is_failed_error_inconclusive_successful() -> None:
    names = ["a", "b", "c"]
    metrics = [metric(name=n) for n in names]
    history = measured(P.INCONCLUSIVE, name="a") + measured(P.SUCCESSFUL, name="b")
    errors = [
        MetricMeasurement("c", P.ERROR, T0 + timedelta(seconds=i), T0 + timedelta(seconds=i))
        for i in range(5)
    ]

    assert run_status(metrics, history + errors)[0] is P.ERROR
    assert run_status(metrics, history + measured(P.FAILED, name="c"))[0] is P.FAILED


def test_terminating_a_run_ends_indefinite_metrics_successfully() -> None:
    spec = metric(interval="10s")

    assert run_status([spec], measured(P.SUCCESSFUL), terminate=True)[0] is P.SUCCESSFUL


# Storing measurements


def test_a_measurement_round_trips_through_a_record_nan_included() -> None:
    original = MetricMeasurement("latency", P.FAILED, T0, T0, [1.5, math.nan, math.inf], "")

    row = original.to_record()
    back = MetricMeasurement.from_record(**row)

    assert row["value"] == {"result": [1.5, "nan", "inf"]}
    assert back.metric == "latency" and back.phase is P.FAILED
    assert back.value is not None and isinstance(back.value, list)
    assert back.value[0] == 1.5 and math.isnan(back.value[1]) and back.value[2] == math.inf


# The driver


def template(*metrics: Metric) -> AnalysisTemplate:
    return AnalysisTemplate(name="canary-health", metrics=metrics)


def lookup(provider: MetricProvider) -> Any:
    return lambda type_name: provider if type_name == provider.type else get_provider(type_name)


def test_a_run_measures_when_due_and_fails_past_the_limit() -> None:
    clock = Clock()
    provider = ScriptedProvider([0.01, 0.02, 0.20, 0.30], clock=clock)
    spec = metric(interval="30s", count=4, failure_condition="result > 0.1", failure_limit=1)
    run = AnalysisRun(template(spec), {"version": "1.1.0"}, lookup(provider), started_at=T0, clock=clock)
    stored: list[MetricMeasurement] = []

    ticks = []
    for _ in range(12):
        tick = run.tick(stored)
        stored += tick.taken
        ticks.append(tick)
        if tick.completed:
            break
        clock.advance(10)

    assert [m.phase for m in stored] == [P.SUCCESSFUL, P.SUCCESSFUL, P.FAILED, P.FAILED]
    assert [m.started_at - T0 for m in stored] == [timedelta(seconds=s) for s in (0, 30, 60, 90)]
    assert ticks[-1].phase is P.FAILED
    assert ticks[-1].next_due is None
    assert ticks[-1].summary() == "error-rate: failed (2 failed > failure_limit 1)"
    assert ticks[1].taken == [] and ticks[1].next_due == T0 + timedelta(seconds=30)
    assert provider.queries[0].variables == {"version": "1.1.0"}
    assert run.tick(stored).taken == []  # a completed run measures nothing more


def test_errors_are_retried_and_end_the_run_past_the_consecutive_limit() -> None:
    clock = Clock()
    provider = ScriptedProvider([RuntimeError("connection refused")], clock=clock)
    spec = metric(consecutive_error_limit=2)
    run = AnalysisRun(template(spec), {}, lookup(provider), started_at=T0, clock=clock)
    stored: list[MetricMeasurement] = []

    while not (tick := run.tick(stored)).completed:
        stored += tick.taken
        assert tick.next_due is not None
        clock.now = tick.next_due
    stored += tick.taken

    assert [m.phase for m in stored] == [P.ERROR] * 3
    assert [m.error for m in stored] == ["connection refused"] * 3
    assert stored[1].started_at - stored[0].finished_at == timedelta(seconds=10)
    assert tick.phase is P.ERROR


def test_a_provider_that_raises_gives_an_error_measurement() -> None:
    class Broken(ScriptedProvider):
        def measure(self, query: Any) -> Measurement:
            raise KeyError("oops")

    run = AnalysisRun(template(metric()), {}, lookup(Broken([])), started_at=T0, clock=Clock())

    tick = run.tick([])

    assert tick.taken[0].phase is P.ERROR
    assert tick.taken[0].error == "the scripted provider failed: KeyError: 'oops'"


def test_several_due_metrics_are_measured_in_one_tick() -> None:
    clock = Clock()
    provider = ScriptedProvider([0.5], clock=clock)
    spec = template(metric(name="a"), metric(name="b"), metric(name="c", initial_delay="1m"))
    run = AnalysisRun(spec, {}, lookup(provider), started_at=T0, clock=clock)

    tick = run.tick([])

    assert sorted(m.metric for m in tick.taken) == ["a", "b"]
    assert tick.next_due == T0 + timedelta(minutes=1)


def test_a_template_that_cannot_run_with_these_variables_is_a_config_error_up_front() -> None:
    spec = Metric.model_validate({"name": "errors", "provider": {"type": "envoy", "metric": "error_rate"}})

    with pytest.raises(ConfigError) as caught:
        AnalysisRun(template(spec), {"version": "1.1.0"}, get_provider, started_at=T0)

    assert caught.value.problems == [
        "metrics.0.provider: admin_url: unknown variable '{{proxy_admin_url}}'; known: version",
        "metrics.0.provider: cluster: unknown variable '{{cluster}}'; known: version",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.16666666666666666, "0.1667"),
        (0.05, "0.05"),
        (231.54321, "231.5"),
        (12345.678, "12346"),
        (3.0, "3"),
        (0.000123456, "0.0001235"),
        (7, "7"),
        ([0.5, 1.0 / 3.0], "[0.5, 0.3333]"),
        ({"p99": 0.2349999}, "{p99: 0.235}"),
        (float("nan"), "nan"),
        ("up", "up"),
    ],
)
def test_measured_values_are_shown_to_four_significant_digits(value: object, shown: str) -> None:
    assert readable(value) == shown
