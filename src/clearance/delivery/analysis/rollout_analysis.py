"""Analysis inside a rollout: run a template at a step (metrics or the statistical judge), keep a
background analysis going for the whole rollout, and store every measurement of both.

A failed analysis raises RolloutFailed with the failing values; an inconclusive one (or a marginal
judgement) waits for a person — `clearance promote` goes on, `clearance abort` goes back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from clearance.delivery.analysis.judge import Judgement, gather_samples, judge
from clearance.delivery.analysis.runs import AnalysisPhase, AnalysisRun, MetricMeasurement, readable
from clearance.delivery.analysis.templates import AnalysisTemplate, JudgeSpec
from clearance.delivery.metrics.registry import ProviderPool
from clearance.delivery.outcomes import RolloutFailed
from clearance.store import DeploymentStep
from clearance.store.tables import MeasurementRow, utcnow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

POLL_SECONDS = 0.2


@dataclass
class RolloutAnalysis:
    """The analyses of one rollout. `check` reads steering requests while waiting (and may raise);
    `decide` waits for a person's promote or abort."""

    ws: Workspace
    deployment_id: int
    variables: Callable[[], dict[str, str]]
    on_line: Callable[[DeploymentStep, str], None]
    check: Callable[[], None]
    decide: Callable[[DeploymentStep, str], None]
    save: Callable[..., None]  # records progress in the deployment row (see Rollout.save)
    state: dict[str, Any]  # the rollout's recorded progress
    # One pool per rollout: providers that remember counters between measurements (envoy) keep them.
    providers: ProviderPool = field(default_factory=ProviderPool)
    background: AnalysisRun | None = None
    background_history: list[MetricMeasurement] = field(default_factory=list)
    current_step: DeploymentStep | None = None

    def template(self, name: str) -> AnalysisTemplate:
        template = self.ws.config.analysis_template(name)
        assert template is not None  # the config check refuses unknown templates
        return template

    # -- background -------------------------------------------------------------------------------
    def start_background(self, name: str) -> None:
        """Argo's background analysis: measured all along the rollout, failing it at any step."""
        self.background = AnalysisRun(
            self.template(name), self.variables(), self.providers, started_at=utcnow()
        )
        self.background_history = []

    def tick_background(self, *, terminate: bool = False) -> None:
        run = self.background
        if run is None:
            return
        tick = run.tick(self.background_history, terminate=terminate)
        if tick.taken:
            self._store(None, run.template.name, tick.taken)
            self.background_history += tick.taken
        if tick.completed:
            self.background = None
            if tick.phase not in (AnalysisPhase.SUCCESSFUL, AnalysisPhase.INCONCLUSIVE):
                raise RolloutFailed(
                    f"background analysis {run.template.name} {tick.phase.value}: {tick.summary()}",
                    {"analysis": run.template.name, "phase": tick.phase.value, "background": True},
                )

    # -- a step -----------------------------------------------------------------------------------
    def run(self, step: DeploymentStep, name: str) -> None:
        """Run the template against the new version; fail the rollout unless it succeeds."""
        template = self.template(name)
        if template.judge is not None:
            self._judge(step, template.name, template.judge)
            return
        run, history = self._resume_or_start(step, template)
        while True:
            self.check()
            tick = run.tick(history)
            if tick.taken:
                self._store(step, template.name, tick.taken)
                history += tick.taken
            if tick.completed:
                break
            wait = (tick.next_due - utcnow()).total_seconds() if tick.next_due else POLL_SECONDS
            end = time.monotonic() + max(0.0, wait)
            while time.monotonic() < end:
                self.check()
                time.sleep(min(POLL_SECONDS, max(0.0, end - time.monotonic())))
        if tick.phase == AnalysisPhase.SUCCESSFUL:
            self.on_line(step, f"analysis {template.name}: successful")
            return
        reason = f"analysis {template.name} {tick.phase.value}: {tick.summary()}" + _last_failure(
            template, history
        )
        if tick.phase == AnalysisPhase.INCONCLUSIVE:
            self.decide(step, reason)
            return
        values = [
            {
                "metric": m.metric,
                "phase": m.phase.value,
                "value": m.to_record()["value"]["result"],
                "error": m.error,
                # The thresholds it was held to, so the record explains itself.
                "success_condition": template.metric(m.metric).success_condition,
                "failure_condition": template.metric(m.metric).failure_condition,
            }
            for m in history
        ]
        raise RolloutFailed(
            reason, {"analysis": template.name, "phase": tick.phase.value, "measurements": values}
        )

    def _resume_or_start(
        self, step: DeploymentStep, template: AnalysisTemplate
    ) -> tuple[AnalysisRun, list[MetricMeasurement]]:
        """A run is its template, its start and the measurements stored so far: a resumed step
        goes on counting where the previous driver stopped instead of measuring all over again."""
        began = self.state.get("analysis") or {}
        history: list[MetricMeasurement] = []
        if began.get("step") == step.id:
            started_at = datetime.fromisoformat(began["at"])
            with self.ws.store.transaction() as session:
                rows = session.scalars(
                    select(MeasurementRow)
                    .where(MeasurementRow.step_id == step.id, MeasurementRow.analysis == template.name)
                    .order_by(MeasurementRow.id)
                )
                history = [
                    MetricMeasurement.from_record(
                        metric=r.metric,
                        phase=r.phase,
                        value=r.value,
                        error=r.error,
                        started_at=_aware(r.started_at),
                        finished_at=_aware(r.finished_at),
                    )
                    for r in rows
                ]
        else:
            started_at = utcnow()
            self.save(analysis={"step": step.id, "at": started_at.isoformat()})
        return AnalysisRun(template, self.variables(), self.providers, started_at=started_at), history

    def _judge(self, step: DeploymentStep, name: str, spec: JudgeSpec) -> None:
        """Kayenta's judgement of the new version against the stable one over the last `window`."""
        self.check()
        variables = self.variables()
        if not variables.get("baseline_version"):
            self.on_line(step, f"judge {name}: no stable version to compare with — skipped")
            return
        started = utcnow()
        judgement = judge(spec, gather_samples(spec, self.providers, variables))
        self._store_judgement(step, name, judgement, started)
        for metric in judgement.metrics:
            self.on_line(step, f"{metric.name}: {metric.classification} ({metric.reason})")
        reason = f"judge {name}: score {judgement.score:.0f} → {judgement.result} ({judgement.reason})"
        if judgement.result == "pass":
            self.on_line(step, reason)
            return
        if judgement.result == "marginal":
            self.decide(step, reason)
            return
        raise RolloutFailed(
            reason,
            {
                "analysis": name,
                "phase": "failed",
                "score": judgement.score,
                "metrics": [
                    {"metric": m.name, "classification": m.classification, "reason": m.reason}
                    for m in judgement.metrics
                ],
            },
        )

    # -- the record -------------------------------------------------------------------------------
    def _store_judgement(self, step: DeploymentStep, name: str, judgement: Judgement, started: Any) -> None:
        finished = utcnow()
        with self.ws.store.transaction() as session:
            for m in judgement.metrics:
                session.add(
                    MeasurementRow(
                        deployment_id=self.deployment_id,
                        step_id=step.id,
                        analysis=name,
                        metric=m.name,
                        phase={"Pass": "successful", "NoData": "inconclusive"}.get(
                            m.classification, "failed"
                        ),
                        value={
                            "result": _finite(m.canary.mean),
                            "baseline": _finite(m.baseline.mean),
                            "classification": m.classification,
                            "p_value": _finite(m.p_value),
                        },
                        error="" if m.classification != "NoData" else m.reason,
                        started_at=started,
                        finished_at=finished,
                    )
                )
            session.add(
                MeasurementRow(
                    deployment_id=self.deployment_id,
                    step_id=step.id,
                    analysis=name,
                    metric="score",
                    phase={"pass": "successful", "marginal": "inconclusive"}.get(judgement.result, "failed"),
                    value={"result": _finite(judgement.score), "judgement": judgement.result},
                    error="",
                    started_at=started,
                    finished_at=finished,
                )
            )

    def _store(self, step: DeploymentStep | None, template: str, taken: list[MetricMeasurement]) -> None:
        with self.ws.store.transaction() as session:
            for m in taken:
                session.add(
                    MeasurementRow(
                        deployment_id=self.deployment_id,
                        step_id=step.id if step else None,
                        analysis=template,
                        **m.to_record(),
                    )
                )
        shown_on = step or self.current_step
        if shown_on is None:
            return
        for m in taken:
            shown = readable(m.to_record()["value"]["result"])
            prefix = "" if step else f"background {template}: "
            self.on_line(
                shown_on,
                f"{prefix}{m.metric} = {shown} → {m.phase.value}" + (f" ({m.error})" if m.error else ""),
            )


def _aware(moment: datetime) -> datetime:
    """SQLite gives datetimes back without their zone; the store only holds UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity (PostgreSQL refuses them): no number is better than a wrong one."""
    return value if value is not None and math.isfinite(value) else None


def _last_failure(template: AnalysisTemplate, history: list[MetricMeasurement]) -> str:
    failing = [m for m in history if m.phase != AnalysisPhase.SUCCESSFUL]
    if not failing:
        return ""
    last = failing[-1]
    metric = template.metric(last.metric)
    shown = readable(last.to_record()["value"]["result"]) if last.value is not None else last.error
    rule = metric.success_condition or (f"not {metric.failure_condition}" if metric.failure_condition else "")
    return f"; last {last.metric} = {shown}" + (f" (needs {rule})" if rule else "")
