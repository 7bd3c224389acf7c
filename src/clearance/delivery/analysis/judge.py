"""The statistical judge: canary against baseline samples per metric, as Kayenta's NetflixACAJudge does.

Per metric (MannWhitneyClassifier): drop NaNs; no data on either side is NoData; identical samples
pass; otherwise the Mann-Whitney U test gives a confidence interval for the shift between canary and
baseline around its Hodges-Lehmann estimate (the median of all pairwise differences). The metric is
High when the whole interval lies above `tolerance` × |estimate| and the ratio of means reaches
`allowed_increase` (and `direction` says an increase is bad); Low the other way round.

Scoring (WeightedSumScorer): a group scores the share of its metrics that passed; groups without data
count 100; the summary is the weighted sum. A critical metric that is not Pass, or NoData for half
of the metrics or more, makes the score 0. The score against `thresholds` gives pass | marginal | fail.

Differences from Kayenta, on purpose: no random noise for constant samples (the judge is
deterministic); a zero baseline mean with a positive canary mean is an infinite ratio, not 1.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import mannwhitneyu, norm  # type: ignore[import-untyped]

from clearance.delivery.analysis.templates import JudgeMetric, JudgeSpec
from clearance.delivery.metrics.base import Measurement, MetricProvider, MetricQuery, utc_now
from clearance.errors import ClearanceError

Classification = Literal["Pass", "High", "Low", "NoData"]
Result = Literal["pass", "marginal", "fail"]
Direction = Literal["increase", "decrease", "either"]

NO_DATA_FAIL_PERCENT = 50.0
MAX_SAMPLES = 1000  # per side: the pairwise differences grow as the product of both sizes


@dataclass(frozen=True)
class SampleStats:
    count: int
    mean: float | None
    median: float | None
    minimum: float | None
    maximum: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> SampleStats:
        if not values:
            return cls(0, None, None, None, None)
        return cls(len(values), statistics.fmean(values), statistics.median(values), min(values), max(values))


@dataclass(frozen=True)
class Samples:
    """What the providers gave for one metric: canary and baseline values, or why there are none."""

    canary: list[float]
    baseline: list[float]
    error: str | None = None


@dataclass(frozen=True)
class MetricJudgement:
    name: str
    group: str
    classification: Classification
    reason: str
    critical: bool
    canary: SampleStats
    baseline: SampleStats
    ratio: float | None = None  # canary mean / baseline mean
    estimate: float | None = None  # Hodges-Lehmann shift, canary minus baseline
    ci_lower: float | None = None
    ci_upper: float | None = None
    p_value: float | None = None


@dataclass(frozen=True)
class GroupScore:
    name: str
    score: float
    weight: float
    no_data: bool
    counts: dict[str, int]


@dataclass(frozen=True)
class Judgement:
    result: Result
    score: float
    reason: str
    metrics: tuple[MetricJudgement, ...]
    groups: tuple[GroupScore, ...]


def classify(
    canary: Sequence[float],
    baseline: Sequence[float],
    *,
    name: str = "",
    group: str = "default",
    direction: Direction = "either",
    allowed_increase: float = 1.0,
    allowed_decrease: float = 1.0,
    confidence: float = 0.98,
    tolerance: float = 0.25,
    critical: bool = False,
) -> MetricJudgement:
    """Pass, High, Low or NoData for one metric, with the numbers behind it."""
    c = [float(v) for v in canary if not math.isnan(v)][-MAX_SAMPLES:]
    b = [float(v) for v in baseline if not math.isnan(v)][-MAX_SAMPLES:]
    stats = {"canary": SampleStats.of(c), "baseline": SampleStats.of(b)}

    def result(label: Classification, reason: str, **numbers: float | None) -> MetricJudgement:
        return MetricJudgement(
            name, group, label, reason, critical, stats["canary"], stats["baseline"], **numbers
        )

    if not c or not b:
        side = "canary" if not c else "baseline"
        return result("NoData", f"no data for the {side}")
    if sorted(c) == sorted(b):
        return result("Pass", "canary and baseline samples are identical", ratio=1.0)
    ratio = _mean_ratio(c, b)
    estimate, lower, upper = hodges_lehmann(c, b, confidence)
    p_value = None if len(set(c) | set(b)) == 1 else float(mannwhitneyu(c, b, alternative="two-sided").pvalue)
    numbers = {"ratio": ratio, "estimate": estimate, "ci_lower": lower, "ci_upper": upper, "p_value": p_value}
    bound = tolerance * abs(estimate)
    if direction in ("increase", "either") and lower > bound and ratio >= allowed_increase:
        return result(
            "High", f"{name or 'metric'} is higher on the canary (×{ratio:.3g} the baseline)", **numbers
        )
    if direction in ("decrease", "either") and upper < -bound and ratio <= allowed_decrease:
        return result(
            "Low", f"{name or 'metric'} is lower on the canary (×{ratio:.3g} the baseline)", **numbers
        )
    return result("Pass", "no significant change in the bad direction", **numbers)


def hodges_lehmann(
    canary: Sequence[float], baseline: Sequence[float], confidence: float
) -> tuple[float, float, float]:
    """The shift estimate and its confidence interval from the sorted pairwise differences.

    The interval's ends are order statistics picked with the normal approximation of the U
    distribution (as in Bauer 1972); with too few samples for the asked confidence it widens to the
    smallest and largest difference, as R's wilcox.test does.
    """
    differences = np.sort(np.subtract.outer(np.asarray(canary), np.asarray(baseline)).ravel())
    n, m = len(canary), len(baseline)
    z = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    k = math.floor(n * m / 2.0 - z * math.sqrt(n * m * (n + m + 1) / 12.0))
    k = min(max(k, 0), (n * m - 1) // 2)
    return float(np.median(differences)), float(differences[k]), float(differences[n * m - 1 - k])


def _mean_ratio(canary: Sequence[float], baseline: Sequence[float]) -> float:
    c, b = statistics.fmean(canary), statistics.fmean(baseline)
    if b == 0.0:
        return 1.0 if c == 0.0 else math.copysign(math.inf, c)
    return c / b


def score(spec: JudgeSpec, metrics: Sequence[MetricJudgement]) -> Judgement:
    """Weighted group scores, critical failures and the NoData rule, then pass | marginal | fail."""
    weights = spec.weights()
    groups = tuple(_group_score(g, w, [m for m in metrics if m.group == g]) for g, w in weights.items())
    critical = [m for m in metrics if m.critical and m.classification != "Pass"]
    no_data = sum(1 for m in metrics if m.classification == "NoData")
    if critical:
        first = critical[0]
        total, reason = 0.0, f"critical metric {first.name} is {first.classification}: {first.reason}"
    elif metrics and no_data * 100.0 / len(metrics) >= NO_DATA_FAIL_PERCENT:
        total, reason = 0.0, f"{no_data} of {len(metrics)} metrics have no data"
    else:
        total = round(sum((100.0 if g.no_data else g.score) * g.weight / 100.0 for g in groups), 2)
        reason = ""
    thresholds = spec.thresholds
    outcome: Result = (
        "pass" if total >= thresholds.pass_score else "marginal" if total >= thresholds.marginal else "fail"
    )
    if not reason:
        reason = f"score {total:g} ({outcome}: pass at {thresholds.pass_score:g}, marginal at {thresholds.marginal:g})"
    return Judgement(outcome, total, reason, tuple(metrics), groups)


def _group_score(name: str, weight: float, metrics: Sequence[MetricJudgement]) -> GroupScore:
    counts = {
        label: sum(1 for m in metrics if m.classification == label)
        for label in ("Pass", "High", "Low", "NoData")
    }
    judged = counts["Pass"] + counts["High"] + counts["Low"]
    value = counts["Pass"] * 100.0 / judged if judged else 0.0
    return GroupScore(name, value, weight, judged == 0, counts)


def judge(spec: JudgeSpec, samples: Mapping[str, Samples]) -> Judgement:
    """Classify every metric of `spec` from its samples (missing ones are NoData) and score them."""
    judgements = []
    for metric in spec.metrics:
        got = samples.get(metric.name, Samples([], [], "no samples were collected"))
        judgement = _classify_metric(spec, metric, got)
        judgements.append(judgement)
    return score(spec, judgements)


def _classify_metric(spec: JudgeSpec, metric: JudgeMetric, got: Samples) -> MetricJudgement:
    judgement = classify(
        got.canary,
        got.baseline,
        name=metric.name,
        group=metric.group,
        direction=metric.direction,
        allowed_increase=metric.allowed_increase,
        allowed_decrease=metric.allowed_decrease,
        confidence=spec.confidence,
        tolerance=spec.tolerance,
        critical=metric.critical,
    )
    if got.error and judgement.classification == "NoData":
        return MetricJudgement(
            judgement.name,
            judgement.group,
            "NoData",
            got.error,
            judgement.critical,
            judgement.canary,
            judgement.baseline,
        )
    return judgement


def gather_samples(
    spec: JudgeSpec,
    providers: Callable[[str], MetricProvider],
    variables: Mapping[str, str],
) -> dict[str, Samples]:
    """Ask each metric's provider for canary and baseline samples over `spec.window`.

    The canary query gets `variables` as they are; the baseline query gets `version` and `cluster`
    replaced by `baseline_version` and `baseline_cluster`, so one templated query serves both.
    """
    if "baseline_version" not in variables:
        return {m.name: Samples([], [], "there is no baseline version to compare with") for m in spec.metrics}
    baseline_variables = {**variables, "version": variables["baseline_version"]}
    if "baseline_cluster" in variables:
        baseline_variables["cluster"] = variables["baseline_cluster"]
    gathered = {}
    for metric in spec.metrics:
        provider = providers(metric.provider.type)
        query = MetricQuery(metric.provider.type, metric.provider.settings, dict(variables), metric.name)
        canary = _samples(provider, query, spec.window)
        baseline = _samples(provider, query.with_variables(**baseline_variables), spec.window)
        errors = [f"{side}: {m.error}" for side, m in (("canary", canary), ("baseline", baseline)) if m.error]
        gathered[metric.name] = Samples(
            _as_list(canary.value), _as_list(baseline.value), "; ".join(errors) or None
        )
    return gathered


def _samples(provider: MetricProvider, query: MetricQuery, window: float) -> Measurement:
    try:
        return provider.samples(query, window)
    except ClearanceError:
        raise  # SamplesNotSupported: a config problem the loader should have reported
    except Exception as exc:  # a plugin's bug is missing data for this metric, not a crashed step
        now = utc_now()
        return Measurement(now, now, error=f"the {query.type} provider failed: {type(exc).__name__}: {exc}")


def _as_list(value: float | list[float] | None) -> list[float]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
