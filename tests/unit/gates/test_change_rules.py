"""The change-request rules on their own: the CAB rule language, risk scoring and why, the kind of a
change (standard, normal, emergency), and judging CAB decisions with separation of duties."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from clearance.gates.approvals.rules import Requirement, Role
from clearance.gates.changes.cab import CabFacts, ChangeDecision, ChangeState, judge_change
from clearance.gates.changes.outcome import DeploymentFact, Settlement, implementation_note, settlement
from clearance.gates.changes.policy import ChangeControlPolicy, RiskLevel, parse_rule
from clearance.gates.changes.risk import ChangeKind, RiskFacts, assess, classify, notes_entries

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
POLICY = ChangeControlPolicy.model_validate(
    {
        "cab": "1 release-manager and 1 qa-lead",
        "standard": {"types": ["patch"], "max_risk": "low"},
        "emergency": {"types": ["hotfix"], "approvers": "1 release-manager"},
    }
)


def facts(**changes: object) -> RiskFacts:
    base: dict[str, object] = {
        "release_type": "patch",
        "work_items": 2,
        "notes_entries": 0,
        "rollback_plan": "redeploy the previous version",
        "unpassed_gates": (),
        "recent_states": ("succeeded",) * 10,
    }
    return RiskFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_the_cab_rule_joins_requirements_with_and() -> None:
    assert parse_rule("1 release-manager and 1 qa-lead") == (
        Requirement(1, (Role.RELEASE_MANAGER,)),
        Requirement(1, (Role.QA_LEAD,)),
    )
    assert parse_rule("2 of [security, devops]") == (Requirement(2, (Role.SECURITY, Role.DEVOPS)),)
    lists = ChangeControlPolicy.model_validate({"cab": ["1 qa-lead", "1 devops and 1 security"]})
    assert [str(r) for r in lists.cab] == ["1 qa-lead", "1 devops", "1 security"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cab": "1 qa_lead"}, "unknown role 'qa_lead' (did you mean 'qa-lead'?)"),
        ({"cab": "one qa-lead"}, "'one qa-lead' is not a requirement"),
        ({"cab": "1 viewer"}, "a viewer cannot approve"),
        ({"cab": []}, "at least 1 item"),
        ({"standard": {"types": ["bugfix"]}}, "Input should be 'major'"),
        ({"emergency": {"types": ["patch"]}}, "release type 'patch' is both standard and emergency"),
        ({"risk": {"medium": 4, "high": 4}}, "high (4) must be above medium (4)"),
        ({"cap": "1 qa-lead"}, "Extra inputs are not permitted"),
    ],
)
def test_a_wrong_policy_says_what_is_wrong(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ChangeControlPolicy.model_validate(settings)


def test_the_defaults_pre_approve_low_risk_patches_and_treat_hotfixes_as_emergencies() -> None:
    policy = ChangeControlPolicy.model_validate({})
    assert [str(r) for r in policy.cab] == ["1 release-manager"]
    assert classify(policy, "patch", RiskLevel.LOW) is ChangeKind.STANDARD
    assert classify(policy, "patch", RiskLevel.MEDIUM) is ChangeKind.NORMAL
    assert classify(policy, "minor", RiskLevel.LOW) is ChangeKind.NORMAL
    assert classify(policy, "hotfix", RiskLevel.LOW) is ChangeKind.EMERGENCY
    nothing = ChangeControlPolicy.model_validate({"standard": None, "emergency": None})
    assert classify(nothing, "patch", RiskLevel.LOW) is ChangeKind.NORMAL
    assert classify(nothing, "hotfix", RiskLevel.LOW) is ChangeKind.NORMAL
    any_type = ChangeControlPolicy.model_validate({"standard": {"types": None, "max_risk": "medium"}})
    assert classify(any_type, "major", RiskLevel.MEDIUM) is ChangeKind.STANDARD
    assert classify(any_type, "major", RiskLevel.HIGH) is ChangeKind.NORMAL


def test_a_small_patch_with_a_plan_and_a_clean_history_is_low_risk() -> None:
    result = assess(facts(), POLICY.risk)
    assert (result.score, result.level) == (0, RiskLevel.LOW)
    assert [(f.factor, f.points) for f in result.factors] == [
        ("type", 0),
        ("size", 0),
        ("change_failure_rate", 0),
    ]
    assert result.factors[2].detail == "0% (0 of the last 10 deployments failed or were rolled back)"


def test_every_factor_adds_its_points_and_says_why() -> None:
    result = assess(
        facts(
            release_type="major",
            work_items=3,
            notes_entries=20,
            rollback_plan="  ",
            unpassed_gates=("coverage: fail", "vulnerabilities: waived", "tests: missing", "sast: fail"),
            recent_states=("failed", "succeeded", "rolled_back", "succeeded"),
        ),
        POLICY.risk,
    )
    assert [(f.factor, f.points, f.detail) for f in result.factors] == [
        ("type", 3, "major release"),
        ("size", 2, "large change: 3 work item(s), 20 entr(ies) in the notes"),
        (
            "gates",
            3,  # at most 3, however many
            "gates not passed: coverage: fail, vulnerabilities: waived, tests: missing, sast: fail",
        ),
        ("rollback_plan", 2, "no rollback plan"),
        ("change_failure_rate", 3, "50% (2 of the last 4 deployments failed or were rolled back)"),
    ]
    assert (result.score, result.level) == (13, RiskLevel.HIGH)


@pytest.mark.parametrize(
    ("states", "points"),
    [
        ((), 1),  # a first deployment
        (("succeeded",) * 10, 0),
        (("failed",) + ("succeeded",) * 9, 1),  # 10%
        (("failed",) * 2 + ("succeeded",) * 8, 2),  # 20%
        (("rolled_back",) * 3 + ("succeeded",) * 7, 3),  # 30%
    ],
)
def test_the_change_failure_rate_scores_by_threshold(states: tuple[str, ...], points: int) -> None:
    [rate] = [
        f
        for f in assess(facts(recent_states=states), POLICY.risk).factors
        if f.factor == "change_failure_rate"
    ]
    assert rate.points == points


def test_size_is_the_larger_of_scope_and_notes_entries_and_unknown_is_a_risk() -> None:
    notes = "## Fixes\n- fix cart\n* fix totals\n1. fix tax\nnot an entry\n"
    assert notes_entries(notes) == 3
    sizes = {
        (0, 0): (1, "no scope and no notes entries: contents unknown"),
        (5, 0): (0, "small change: 5 work item(s), 0 entr(ies) in the notes"),
        (2, 9): (1, "medium change: 2 work item(s), 9 entr(ies) in the notes"),
        (16, 0): (2, "large change: 16 work item(s), 0 entr(ies) in the notes"),
    }
    for (items, entries), expected in sizes.items():
        [size] = [
            f
            for f in assess(facts(work_items=items, notes_entries=entries), POLICY.risk).factors
            if f.factor == "size"
        ]
        assert (size.points, size.detail) == expected


def test_risk_levels_follow_the_thresholds() -> None:
    custom = ChangeControlPolicy.model_validate({"risk": {"medium": 2, "high": 4}}).risk
    assert [custom.level(s).value for s in (0, 1, 2, 3, 4, 9)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def decision(
    who: str, *roles: str, minutes: int = 0, approve: bool = True, emergency: bool = False
) -> ChangeDecision:
    return ChangeDecision(
        id=minutes + 1,
        approver=who,
        approve=approve,
        emergency=emergency,
        roles=roles,
        comment="" if approve else "not now",
        decided_at=T0 + timedelta(minutes=minutes),
    )


def cab(
    *decisions: ChangeDecision,
    kind: ChangeKind = ChangeKind.NORMAL,
    deployer: str | None = None,
    **held: frozenset[str],
):
    holders = {d.approver: frozenset(d.roles) for d in decisions} | held
    return judge_change(
        POLICY,
        CabFacts(
            kind=kind,
            decisions=decisions,
            holders=holders,
            creator="carol",
            requester="ops",
            deployer=deployer,
        ),
    )


def test_a_normal_change_needs_every_requirement_by_different_people() -> None:
    verdict = cab(decision("rita", "release-manager"))
    assert not verdict.approved and verdict.still_needed == ("1 qa-lead",)
    both = cab(decision("rita", "release-manager"), decision("quinn", "qa-lead", minutes=1))
    assert both.approved and both.approved_by == ("rita (release-manager)", "quinn (qa-lead)")
    one_person = cab(decision("rita", "release-manager", "qa-lead"))
    assert not one_person.approved and one_person.still_needed == ("1 qa-lead",)


def test_separation_of_duties_excludes_creator_requester_and_deployer() -> None:
    verdict = cab(
        decision("carol", "qa-lead"),
        decision("ops", "release-manager", minutes=1),
        decision("rita", "release-manager", minutes=2),
        decision("quinn", "qa-lead", minutes=3),
        deployer="rita",
    )
    assert not verdict.approved and verdict.still_needed == ("1 release-manager",)
    assert verdict.notes() == [
        "carol: excluded, created the release (separation of duties)",
        "ops: excluded, requested the change (separation of duties)",
        "rita: excluded, deploys it (separation of duties)",
    ]
    relaxed = ChangeControlPolicy.model_validate({"cab": "1 qa-lead", "separation_of_duties": False})
    facts_ = CabFacts(
        kind=ChangeKind.NORMAL,
        decisions=(decision("carol", "qa-lead"),),
        holders={"carol": frozenset({"qa-lead"})},
        creator="carol",
    )
    assert judge_change(relaxed, facts_).approved


def test_a_rejection_closes_and_a_revoked_role_stops_counting() -> None:
    rejected = cab(
        decision("rita", "release-manager"), decision("quinn", "qa-lead", minutes=1, approve=False)
    )
    assert not rejected.approved and rejected.rejected_by is not None
    assert rejected.rejected_by.approver == "quinn"
    revoked = cab(
        decision("rita", "release-manager"), decision("quinn", "qa-lead", minutes=1), quinn=frozenset()
    )
    assert not revoked.approved and "quinn: no-role, no longer holds qa-lead" in revoked.notes()
    changed_mind = cab(
        decision("quinn", "qa-lead", approve=False),
        decision("quinn", "qa-lead", minutes=1),
        decision("rita", "release-manager", minutes=2),
    )
    assert changed_mind.approved and changed_mind.judged[0].state == "superseded"


def test_an_emergency_change_needs_emergency_approvals_by_its_approvers() -> None:
    plain = cab(decision("rita", "release-manager"), kind=ChangeKind.EMERGENCY)
    assert not plain.approved and plain.still_needed == ("1 release-manager",)
    assert plain.notes() == ["rita: not-emergency, an emergency change needs --emergency approvals"]
    emergency = cab(decision("rita", "release-manager", emergency=True), kind=ChangeKind.EMERGENCY)
    assert emergency.approved and emergency.approved_by == ("rita (release-manager)",)
    wrong_role = cab(decision("quinn", "qa-lead", emergency=True), kind=ChangeKind.EMERGENCY)
    assert not wrong_role.approved


def test_a_standard_change_needs_no_one() -> None:
    assert cab(kind=ChangeKind.STANDARD).approved


def fact(id: int, service: str, state: str, *, started: bool = True, reason: str = "") -> DeploymentFact:
    return DeploymentFact(id=id, service=service, state=state, started=started, reason=reason)


def test_a_change_is_settled_only_once_all_its_deployments_have_finished() -> None:
    assert settlement(()) is None
    assert settlement((fact(1, "api", "failed", reason="exit 3"), fact(2, "web", "running"))) is None
    assert settlement((fact(1, "api", "succeeded"), fact(2, "web", "queued", started=False))) is None
    failed = settlement((fact(1, "api", "failed", reason="exit 3"), fact(2, "web", "succeeded")))
    assert failed == Settlement(state=ChangeState.FAILED, reason="deployment 1 (api) failed: exit 3")
    done = settlement((fact(1, "api", "succeeded"), fact(2, "web", "succeeded")))
    assert done == Settlement(state=ChangeState.IMPLEMENTED, reason="")


def test_a_deployment_that_never_started_changed_nothing() -> None:
    cancelled = fact(1, "web", "cancelled", started=False, reason="sale moved")
    refused = fact(2, "api", "failed", started=False, reason="refused at its scheduled time")
    kept = settlement((cancelled, refused))
    assert kept is not None and kept.state is None
    assert kept.reason == (
        "not implemented: deployment 1 (web) cancelled before it ran: sale moved; "
        "deployment 2 (api) failed before it ran: refused at its scheduled time"
    )
    # Deployed again later under the same request: implemented.
    assert settlement((cancelled, fact(3, "web", "succeeded"))) == Settlement(
        state=ChangeState.IMPLEMENTED, reason=""
    )
    # One that started and was stopped half-way did change something: a failed change.
    stopped = settlement((fact(1, "web", "cancelled", reason="interrupted"),))
    assert stopped == Settlement(state=ChangeState.FAILED, reason="deployment 1 (web) cancelled: interrupted")
    rolled = settlement((fact(1, "web", "rolled_back"),))
    assert rolled == Settlement(state=ChangeState.FAILED, reason="deployment 1 (web) rolled back")


def test_show_says_how_far_an_approved_change_has_got() -> None:
    assert implementation_note("implemented", (fact(1, "web", "succeeded"),)) == ""
    assert implementation_note("approved", ()) == (
        "not implemented yet: deploying the release uses this request"
    )
    assert implementation_note("approved", (fact(4, "web", "queued", started=False),)) == (
        "being implemented: deployment(s) 4 to finish"
    )
    assert implementation_note("approved", (fact(4, "web", "cancelled", started=False),)).endswith(
        "the approval stands: deploying the release again uses this request"
    )
