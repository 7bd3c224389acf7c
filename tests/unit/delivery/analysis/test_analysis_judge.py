"""The statistical judge: Mann-Whitney per metric, weighted groups and thresholds, as Kayenta."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from clearance.delivery.analysis.judge import (
    Classification,
    MetricJudgement,
    Samples,
    classify,
    gather_samples,
    hodges_lehmann,
    judge,
    score,
)
from clearance.delivery.analysis.templates import JudgeSpec
from clearance.delivery.metrics.base import ScriptedProvider


def normal(mean: float, stdev: float, count: int = 60, seed: int = 7) -> list[float]:
    generator = random.Random(seed)
    return [generator.gauss(mean, stdev) for _ in range(count)]


def spec(**fields: Any) -> JudgeSpec:
    metrics = fields.pop("metrics", [{"name": "latency", "provider": {"type": "scripted"}}])
    return JudgeSpec.model_validate({"metrics": metrics, **fields})


def test_identical_samples_pass() -> None:
    samples = normal(100, 10)

    result = classify(samples, list(reversed(samples)), name="latency")

    assert (result.classification, result.reason) == ("Pass", "canary and baseline samples are identical")


def test_samples_from_the_same_distribution_pass() -> None:
    result = classify(normal(100, 10, seed=3), normal(100, 10, seed=4), name="latency")

    assert result.classification == "Pass"
    assert result.ci_lower is not None and result.ci_upper is not None
    assert result.ci_lower < 0 < result.ci_upper


def test_a_small_shift_within_the_tolerance_passes_even_when_significant() -> None:
    # By chance these two draws differ (p ≈ 0.01), but the interval does not clear a quarter of
    # the estimated shift, so Kayenta's tolerance keeps it a Pass.
    result = classify(normal(100, 10, seed=1), normal(100, 10, seed=2), name="latency")

    assert result.p_value is not None and result.p_value < 0.05
    assert result.estimate is not None and result.ci_lower is not None
    assert 0 < result.ci_lower < 0.25 * result.estimate
    assert result.classification == "Pass"
    assert classify(normal(100, 10, seed=1), normal(100, 10, seed=2), tolerance=0.0).classification == "High"


def test_a_clearly_higher_error_rate_on_the_canary_is_high() -> None:
    baseline = normal(0.01, 0.003, seed=1)
    canary = normal(0.05, 0.01, seed=2)

    result = classify(canary, baseline, name="error-rate", direction="increase")

    assert result.classification == "High"
    assert result.estimate == pytest.approx(0.04, abs=0.005)
    assert result.ci_lower is not None and result.ci_lower > 0
    assert result.ratio is not None and result.ratio > 4
    assert result.reason.startswith("error-rate is higher on the canary (×")


def test_direction_says_which_change_is_bad() -> None:
    baseline, lower = normal(100, 5, seed=1), normal(60, 5, seed=2)

    assert classify(lower, baseline, direction="increase").classification == "Pass"
    assert classify(lower, baseline, direction="decrease").classification == "Low"
    assert classify(lower, baseline, direction="either").classification == "Low"
    assert classify(baseline, lower, direction="decrease").classification == "Pass"


def test_allowed_increase_tolerates_a_small_significant_change() -> None:
    baseline, higher = normal(100, 2, seed=1), normal(110, 2, seed=2)  # ×1.1, clearly significant

    assert classify(higher, baseline, allowed_increase=1.0).classification == "High"
    assert classify(higher, baseline, allowed_increase=1.2).classification == "Pass"
    assert classify(baseline, higher, allowed_decrease=0.95).classification == "Low"
    assert classify(baseline, higher, allowed_decrease=0.8).classification == "Pass"


@pytest.mark.parametrize(
    ("canary", "baseline", "reason"),
    [
        ([], [1.0, 2.0], "no data for the canary"),
        ([1.0], [], "no data for the baseline"),
        ([math.nan, math.nan], [1.0, 2.0], "no data for the canary"),
    ],
)
def test_no_data_or_only_nan_is_nodata(canary: list[float], baseline: list[float], reason: str) -> None:
    result = classify(canary, baseline)

    assert (result.classification, result.reason) == ("NoData", reason)


def test_nan_values_are_dropped_before_the_test() -> None:
    result = classify([1.0, math.nan, 1.0], [1.0, 1.0])

    assert result.classification == "Pass"
    assert result.canary.count == 2


def test_constant_samples_are_judged_without_noise() -> None:
    assert classify([2.0] * 10, [1.0] * 10).classification == "High"
    assert classify([1.0] * 10, [1.0] * 12).classification == "Pass"


def test_a_zero_baseline_makes_any_canary_error_rate_an_infinite_ratio() -> None:
    result = classify([0.2, 0.3, 0.25, 0.22, 0.28], [0.0] * 5, direction="increase", allowed_increase=2)

    assert result.ratio == math.inf
    assert result.classification == "High"


def test_hodges_lehmann_is_the_median_of_pairwise_differences() -> None:
    estimate, lower, upper = hodges_lehmann([3.0, 4.0, 5.0], [1.0, 2.0], confidence=0.95)

    # differences: 2 1 3 2 4 3 -> sorted 1 2 2 3 3 4
    assert estimate == 2.5
    assert (lower, upper) == (1.0, 4.0)  # too few samples: the widest interval


# Scoring


def judged(
    name: str, classification: Classification, group: str = "default", critical: bool = False
) -> MetricJudgement:
    result = classify([1.0], [1.0], name=name, group=group, critical=critical)
    return MetricJudgement(name, group, classification, "", critical, result.canary, result.baseline)


def metrics_of(*groups: str, critical: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"name": f"m{i}", "group": g, "critical": f"m{i}" in critical, "provider": {"type": "scripted"}}
        for i, g in enumerate(groups)
    ]


def test_groups_score_the_share_of_passing_metrics_and_weights_combine_them() -> None:
    config = spec(
        metrics=metrics_of("errors", "errors", "latency", "latency"),
        groups={"errors": 60, "latency": 40},
    )

    result = score(
        config,
        [
            judged("m0", "Pass", "errors"),
            judged("m1", "High", "errors"),
            judged("m2", "Pass", "latency"),
            judged("m3", "Pass", "latency"),
        ],
    )

    assert {g.name: g.score for g in result.groups} == {"errors": 50.0, "latency": 100.0}
    assert result.score == 70.0  # 50 × 0.6 + 100 × 0.4
    assert result.result == "fail"


def test_unlisted_groups_share_the_weight_left() -> None:
    config = spec(metrics=metrics_of("errors", "latency", "saturation"), groups={"errors": 50})

    assert config.weights() == {"errors": 50.0, "latency": 25.0, "saturation": 25.0}


@pytest.mark.parametrize(
    ("labels", "result", "value"),
    [
        (["Pass"] * 20, "pass", 100.0),
        (["Pass"] * 19 + ["High"], "pass", 95.0),
        (["Pass"] * 18 + ["High", "Low"], "marginal", 90.0),
        (["Pass"] * 10 + ["High"] * 10, "fail", 50.0),
    ],
)
def test_thresholds_make_pass_marginal_or_fail(
    labels: list[Classification], result: str, value: float
) -> None:
    config = spec(metrics=metrics_of(*["g"] * len(labels)), thresholds={"pass": 95, "marginal": 75})

    judgement = score(config, [judged(f"m{i}", label, "g") for i, label in enumerate(labels)])

    assert (judgement.result, judgement.score) == (result, value)


def test_a_critical_metric_that_does_not_pass_fails_everything() -> None:
    config = spec(metrics=metrics_of(*["g"] * 10, critical=("m0",)))

    judgement = score(
        config,
        [judged("m0", "High", critical=True, group="g")]
        + [judged(f"m{i}", "Pass", "g") for i in range(1, 10)],
    )

    assert (judgement.result, judgement.score) == ("fail", 0.0)
    assert judgement.reason.startswith("critical metric m0 is High")


def test_half_the_metrics_without_data_fails() -> None:
    config = spec(metrics=metrics_of("a", "a", "b", "b"))

    judgement = score(
        config,
        [
            judged("m0", "NoData", "a"),
            judged("m1", "NoData", "a"),
            judged("m2", "Pass", "b"),
            judged("m3", "Pass", "b"),
        ],
    )

    assert (judgement.result, judgement.score, judgement.reason) == (
        "fail",
        0.0,
        "2 of 4 metrics have no data",
    )


def test_a_group_without_data_counts_as_full_score() -> None:
    config = spec(metrics=metrics_of("a", "b", "b"))

    judgement = score(
        config, [judged("m0", "NoData", "a"), judged("m1", "Pass", "b"), judged("m2", "Pass", "b")]
    )

    assert judgement.score == 100.0
    assert [g.no_data for g in judgement.groups] == [True, False]


# End to end from samples


def test_judge_from_samples_passes_a_healthy_canary_and_fails_a_broken_one() -> None:
    config = spec(
        metrics=[
            {
                "name": "error-rate",
                "provider": {"type": "scripted"},
                "direction": "increase",
                "critical": True,
            },
            {"name": "latency", "provider": {"type": "scripted"}, "direction": "increase"},
        ]
    )
    latency = Samples(normal(100, 10, seed=3), normal(100, 10, seed=4))
    healthy = {
        "error-rate": Samples(normal(0.01, 0.002, seed=1), normal(0.01, 0.002, seed=2)),
        "latency": latency,
    }
    broken = {**healthy, "error-rate": Samples(normal(0.08, 0.01, seed=1), normal(0.01, 0.002, seed=2))}

    assert judge(config, healthy).result == "pass"
    verdict = judge(config, broken)
    assert verdict.result == "fail"
    assert [m.classification for m in verdict.metrics] == ["High", "Pass"]


def test_a_sampling_error_is_nodata_with_its_reason() -> None:
    config = spec()

    verdict = judge(config, {"latency": Samples([], [], "canary: empty result")})

    assert verdict.metrics[0].classification == "NoData"
    assert verdict.metrics[0].reason == "canary: empty result"
    assert verdict.result == "fail"


def test_gather_samples_queries_the_canary_and_the_baseline() -> None:
    provider = ScriptedProvider([], samples_script={"1.1.0": [2.0, 2.1], "1.0.0": ValueError("timeout")})
    variables = {
        "version": "1.1.0",
        "baseline_version": "1.0.0",
        "cluster": "web_v2",
        "baseline_cluster": "web_v1",
    }

    gathered = gather_samples(spec(window="2m"), lambda _: provider, variables)

    assert gathered == {"latency": Samples([2.0, 2.1], [], "baseline: timeout")}
    assert [(q.variables["version"], q.variables["cluster"]) for q in provider.queries] == [
        ("1.1.0", "web_v2"),
        ("1.0.0", "web_v1"),
    ]


def test_without_a_baseline_there_is_nothing_to_compare() -> None:
    gathered = gather_samples(spec(), lambda _: ScriptedProvider([]), {"version": "1.1.0"})

    assert gathered["latency"].error == "there is no baseline version to compare with"
