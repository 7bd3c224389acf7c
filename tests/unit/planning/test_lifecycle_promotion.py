"""A release walks the lifecycle dev → qa → staging → prod; clearance says where it may go next."""

from __future__ import annotations

import pytest

from clearance.errors import LifecycleViolation, Refused, UsageError
from clearance.planning import (
    PhaseRule,
    auto_deploy_targets,
    check_prerelease,
    check_promotion,
    next_phase,
    phase_of,
)

DEV = PhaseRule("dev", ("dev",), 1, auto_deploy=True)
QA = PhaseRule("qa", ("qa1", "qa2", "qa3"), 2)
STAGING = PhaseRule("staging", ("staging",), 1)
PROD = PhaseRule("prod", ("prod-eu", "prod-us"), 2)
LIFECYCLE = (DEV, QA, STAGING, PROD)


def _refusal(
    target: str, succeeded: set[str], phases: tuple[PhaseRule, ...] = LIFECYCLE
) -> LifecycleViolation:
    with pytest.raises(LifecycleViolation) as caught:
        check_promotion(phases, version="1.2.0", target=target, succeeded=succeeded)
    return caught.value


def test_the_first_phase_is_always_open() -> None:
    check_promotion(LIFECYCLE, version="1.2.0", target="dev", succeeded=set())


def test_a_release_that_finished_every_earlier_phase_may_go_on() -> None:
    check_promotion(LIFECYCLE, version="1.2.0", target="staging", succeeded={"dev", "qa1", "qa3"})
    check_promotion(LIFECYCLE, version="1.2.0", target="prod-us", succeeded={"dev", "qa1", "qa2", "staging"})


def test_skipping_a_phase_is_refused_naming_the_release_target_and_what_is_missing() -> None:
    error = _refusal("prod-eu", {"dev", "qa1", "qa2"})
    assert error.message == (
        "cannot deploy 1.2.0 to prod-eu: "
        "phase 'staging' has no successful deployment of 1.2.0 (missing: staging)"
    )
    assert error.data == {"missing": ["staging"], "phases": ["staging"]}
    assert error.hint is not None and "staging" in error.hint
    assert isinstance(error, Refused) and error.exit_code == 3


def test_an_n_of_phase_says_how_many_more_it_needs() -> None:
    error = _refusal("staging", {"dev", "qa2"})
    assert error.message == (
        "cannot deploy 1.2.0 to staging: "
        "phase 'qa' needs 2 of [qa1, qa2, qa3], has 1 (missing 1 more of: qa1, qa3)"
    )


def test_every_incomplete_earlier_phase_is_listed() -> None:
    error = _refusal("prod-us", set())
    assert error.message == (
        "cannot deploy 1.2.0 to prod-us: "
        "phase 'dev' has no successful deployment of 1.2.0 (missing: dev); "
        "phase 'qa' needs 2 of [qa1, qa2, qa3], has 0 (missing 2 more of: qa1, qa2, qa3); "
        "phase 'staging' has no successful deployment of 1.2.0 (missing: staging)"
    )
    assert error.data == {
        "missing": ["dev", "qa1", "qa2", "qa3", "staging"],
        "phases": ["dev", "qa", "staging"],
    }


def test_an_all_of_phase_that_is_partly_done_names_what_is_left() -> None:
    phases = (PhaseRule("canary", ("eu", "us"), 2), PhaseRule("global", ("world",), 1))
    error = _refusal("world", {"eu"}, phases)
    assert "phase 'canary' needs all of [eu, us], has 1 (missing: us)" in error.message


def test_an_optional_phase_never_blocks() -> None:
    phases = (PhaseRule("preview", ("preview",), 0), PhaseRule("prod", ("prod",), 1))
    check_promotion(phases, version="1.2.0", target="prod", succeeded=set())


def test_an_environment_outside_the_lifecycle_is_refused() -> None:
    error = _refusal("prod", {"dev"})
    assert error.message == "cannot deploy 1.2.0 to prod: prod is not in the lifecycle"
    assert error.data == {"missing": [], "phases": []}


def test_a_prerelease_is_kept_out_of_production_unless_the_environment_allows_it() -> None:
    with pytest.raises(LifecycleViolation) as caught:
        check_prerelease(
            version="2.0.0-rc.1",
            is_prerelease=True,
            target="prod-eu",
            production=True,
            allows_prerelease=False,
        )
    assert "2.0.0-rc.1" in caught.value.message and "prod-eu" in caught.value.message
    assert caught.value.hint is not None and "allow_prerelease: true" in caught.value.hint

    check_prerelease(
        version="2.0.0-rc.1", is_prerelease=True, target="prod-eu", production=True, allows_prerelease=True
    )
    check_prerelease(
        version="2.0.0-rc.1", is_prerelease=True, target="staging", production=False, allows_prerelease=True
    )
    check_prerelease(
        version="2.0.0", is_prerelease=False, target="prod-eu", production=True, allows_prerelease=False
    )


def test_promote_walks_the_phases_in_order() -> None:
    assert next_phase(LIFECYCLE, set()) is DEV
    assert next_phase(LIFECYCLE, {"dev"}) is QA
    assert next_phase(LIFECYCLE, {"dev", "qa1"}) is QA
    assert next_phase(LIFECYCLE, {"dev", "qa1", "qa3"}) is STAGING
    assert next_phase(LIFECYCLE, {"dev", "qa1", "qa3", "staging", "prod-eu"}) is PROD
    assert next_phase(LIFECYCLE, {"dev", "qa1", "qa3", "staging", "prod-eu", "prod-us"}) is None


def test_an_optional_phase_is_offered_until_it_is_used_or_passed_by() -> None:
    preview = PhaseRule("preview", ("preview-a", "preview-b"), 0)
    prod = PhaseRule("prod", ("prod",), 1)
    phases = (preview, prod)
    assert next_phase(phases, set()) is preview
    assert next_phase(phases, {"preview-a"}) is prod
    assert next_phase(phases, {"prod"}) is None


def test_auto_deploy_starts_with_the_first_phase() -> None:
    assert auto_deploy_targets(LIFECYCLE, succeeded=set(), attempted=set()) == ["dev"]


def test_auto_deploy_waits_for_the_earlier_phases() -> None:
    phases = (
        PhaseRule("dev", ("dev",), 1, auto_deploy=True),
        PhaseRule("test", ("test-a", "test-b"), 2, auto_deploy=True),
        PhaseRule("prod", ("prod",), 1),
    )
    assert auto_deploy_targets(phases, succeeded={"dev"}, attempted={"dev"}) == ["test-a", "test-b"]
    assert auto_deploy_targets(phases, succeeded={"dev", "test-a"}, attempted={"dev", "test-a"}) == ["test-b"]
    assert auto_deploy_targets(phases, succeeded={"dev", "test-a", "test-b"}, attempted=set()) == []


def test_a_failed_auto_deployment_is_not_retried() -> None:
    assert auto_deploy_targets(LIFECYCLE, succeeded=set(), attempted={"dev"}) == []


def test_auto_deploy_passes_over_an_optional_phase() -> None:
    phases = (
        PhaseRule("preview", ("preview",), 0),
        PhaseRule("dev", ("dev",), 1, auto_deploy=True),
    )
    assert auto_deploy_targets(phases, succeeded=set(), attempted=set()) == ["dev"]


def test_phase_of_finds_the_phase_holding_an_environment() -> None:
    assert phase_of(LIFECYCLE, "qa2") == 1
    assert phase_of(LIFECYCLE, "prod-us") == 3
    assert phase_of(LIFECYCLE, "nowhere") is None


@pytest.mark.parametrize("min_required", [-1, 4])
def test_a_phase_cannot_require_more_environments_than_it_has(min_required: int) -> None:
    with pytest.raises(UsageError):
        PhaseRule("qa", ("qa1", "qa2", "qa3"), min_required)


def test_a_non_production_environment_can_refuse_prereleases_too() -> None:
    with pytest.raises(LifecycleViolation) as caught:
        check_prerelease(
            version="2.0.0-rc.1",
            is_prerelease=True,
            target="staging",
            production=False,
            allows_prerelease=False,
        )
    assert "set to refuse pre-releases" in caught.value.message
