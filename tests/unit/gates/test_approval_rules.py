"""The approval rules on their own: the rule syntax, counting approvals by role (each person in one
place), separation of duties, staleness when the content changes, and rejections."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from clearance.gates.approvals.decisions import ApprovalFacts, ApprovalsGate, Decision, assign, content_hash
from clearance.gates.approvals.rules import ApprovalPolicy, Requirement, Role, parse_requirement
from clearance.gates.base import GateFacts, GateStatus

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
HASH = content_hash("1.0.0", ["sha256:" + "a" * 64], ["sha256:" + "b" * 64])
PROD_RULE = ApprovalPolicy.model_validate({"require": ["1 qa-lead", "1 release-manager"]})


def decision(who: str, *roles: str, minutes: int = 0, approve: bool = True, hash_: str = HASH) -> Decision:
    return Decision(
        id=minutes + 1,
        approver=who,
        approve=approve,
        roles=roles,
        content_hash=hash_,
        comment="" if approve else "not ready",
        decided_at=T0 + timedelta(minutes=minutes),
    )


def judge(
    policy: ApprovalPolicy, *decisions: Decision, production: bool = True, requester: str | None = None
):
    holders = {d.approver: frozenset(d.roles) for d in decisions}
    approvals = ApprovalFacts(
        content_hash=HASH,
        decisions=decisions,
        holders=holders,
        creator="carol",
        requester=requester,
        production=production,
    )
    facts = GateFacts(version="1.0.0", environment="prod", now=T0, approvals=approvals)
    return ApprovalsGate().check(policy, facts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 qa-lead", Requirement(1, (Role.QA_LEAD,))),
        ("2 of [security, devops]", Requirement(2, (Role.SECURITY, Role.DEVOPS))),
        ("  3 of [devops]  ", Requirement(3, (Role.DEVOPS,))),
    ],
)
def test_requirements_are_written_n_role_or_n_of_a_list(text: str, expected: Requirement) -> None:
    assert parse_requirement(text) == expected
    assert str(expected) in {text.strip(), "3 devops"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 qa_lead", "unknown role 'qa_lead' (did you mean 'qa-lead'?)"),
        ("2 of [security, devop]", "unknown role 'devop' (did you mean 'devops'?)"),
        ("0 qa-lead", "asks for 0 approvals: at least 1"),
        ("qa-lead", "write 'N ROLE' or 'N of [ROLE, ROLE]'"),
        ("1 of []", "names no role"),
        ("1 viewer", "a viewer cannot approve"),
    ],
)
def test_a_wrong_requirement_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_requirement(text)
    with pytest.raises(ValidationError):
        ApprovalPolicy.model_validate({"require": [text]})


def test_and_joins_requirements_in_one_entry_as_in_a_cab_rule() -> None:
    joined = ApprovalPolicy.model_validate({"require": "1 qa-lead and 1 release-manager"})
    assert joined.require == PROD_RULE.require
    mixed = ApprovalPolicy.model_validate({"require": ["2 of [security, devops]  and 1 qa-lead"]})
    assert mixed.require == (Requirement(2, (Role.SECURITY, Role.DEVOPS)), Requirement(1, (Role.QA_LEAD,)))
    with pytest.raises(ValidationError, match=re.escape("'1 qa-lead und 1 devops' is not a requirement")):
        ApprovalPolicy.model_validate({"require": "1 qa-lead und 1 devops"})
    with pytest.raises(ValidationError, match=re.escape("unknown role 'qa_lead'")):
        ApprovalPolicy.model_validate({"require": "1 release-manager and 1 qa_lead"})


def test_separation_of_duties_defaults_to_the_environment_being_production() -> None:
    assert PROD_RULE.separated(production=True) and not PROD_RULE.separated(production=False)
    off = ApprovalPolicy.model_validate({"require": "1 devops", "separation_of_duties": False})
    assert not off.separated(production=True)


def test_the_content_hash_covers_version_artifacts_and_evidence_in_any_order() -> None:
    assert content_hash("1.0.0", ["x", "y"], ["z"]) == content_hash("1.0.0", ["y", "x"], ["z"])
    assert content_hash("1.0.0", ["x"], ["z"]) != content_hash("1.0.0", ["x"], ["z", "w"])
    assert content_hash("1.0.0", ["x"], []) != content_hash("1.0.1", ["x"], [])


def test_one_person_fills_one_requirement_and_goes_where_nobody_else_can() -> None:
    both = frozenset({"qa-lead", "release-manager"})
    rule = PROD_RULE.require
    assert assign(rule, {"dana": both}) == [["dana"], []]
    assert assign(rule, {"dana": both, "erin": frozenset({"qa-lead"})}) == [["erin"], ["dana"]]
    two_of = (parse_requirement("2 of [security, devops]"),)
    assert assign(two_of, {"a": {"security"}, "b": {"devops"}, "c": {"viewer"}}) == [["a", "b"]]


def test_the_rule_passes_with_one_approval_per_required_role() -> None:
    result = judge(PROD_RULE, decision("dana", "qa-lead"), decision("rita", "release-manager", minutes=1))
    assert result.status is GateStatus.PASS
    assert result.reason == "approved by dana (qa-lead), rita (release-manager)"
    assert result.details["still_needed"] == []


def test_what_is_still_needed_is_named() -> None:
    result = judge(PROD_RULE, decision("dana", "qa-lead"))
    assert result.status is GateStatus.FAIL
    assert result.reason == "still needs 1 release-manager; approved by dana (qa-lead)"
    assert judge(PROD_RULE).status is GateStatus.MISSING
    assert judge(PROD_RULE).reason == "no valid approval: needs 1 qa-lead, 1 release-manager"


def test_an_approval_of_other_content_is_stale_and_does_not_count() -> None:
    result = judge(
        PROD_RULE, decision("dana", "qa-lead", hash_="0" * 64), decision("rita", "release-manager")
    )
    assert result.status is GateStatus.FAIL
    assert "still needs 1 qa-lead" in result.reason
    assert "dana: stale, the release's artifacts or evidence changed since" in result.reason
    states = [(d["approver"], d["state"]) for d in result.details["decisions"]]
    assert states == [("dana", "stale"), ("rita", "valid")]


def test_separation_of_duties_excludes_the_creator_and_the_requester_in_production() -> None:
    decisions = (decision("carol", "qa-lead"), decision("rita", "release-manager", minutes=1))
    result = judge(PROD_RULE, *decisions)
    assert result.status is GateStatus.FAIL
    assert "carol: excluded, created the release (separation of duties)" in result.reason
    assert judge(PROD_RULE, *decisions, production=False).status is GateStatus.PASS

    fair = (decision("dana", "qa-lead"), decision("rita", "release-manager", minutes=1))
    requested = judge(PROD_RULE, *fair, requester="rita")
    assert requested.status is GateStatus.FAIL
    assert "rita: excluded, requests this deployment (separation of duties)" in requested.reason
    assert judge(PROD_RULE, *fair, requester="ops-bot").status is GateStatus.PASS


def test_a_rejection_blocks_until_a_newer_approval_by_the_same_role() -> None:
    rejected = decision("quinn", "qa-lead", approve=False)
    rm = decision("rita", "release-manager", minutes=1)
    result = judge(PROD_RULE, rejected, rm, decision("dana", "qa-lead", minutes=-5))
    assert result.status is GateStatus.FAIL  # dana's older approval does not lift quinn's rejection
    assert result.reason.startswith("rejected by quinn (qa-lead): not ready")
    lifted = judge(PROD_RULE, rejected, rm, decision("dana", "qa-lead", minutes=5))
    assert lifted.status is GateStatus.PASS
    assert ("quinn", "superseded") in [(d["approver"], d["state"]) for d in lifted.details["decisions"]]
    # Another role's approval does not supersede it.
    assert (
        judge(PROD_RULE, rejected, decision("rita", "release-manager", minutes=5)).status is GateStatus.FAIL
    )


def test_only_a_persons_newest_decision_counts() -> None:
    changed_mind = (decision("dana", "qa-lead"), decision("dana", "qa-lead", minutes=3, approve=False))
    result = judge(PROD_RULE, *changed_mind, decision("rita", "release-manager", minutes=1))
    assert result.status is GateStatus.FAIL
    assert [d["state"] for d in result.details["decisions"]] == ["superseded", "valid", "blocking"]


def test_a_revoked_role_no_longer_counts() -> None:
    approvals = ApprovalFacts(
        content_hash=HASH,
        decisions=(decision("dana", "qa-lead"), decision("rita", "release-manager")),
        holders={"dana": frozenset(), "rita": frozenset({"release-manager"})},
        creator="carol",
    )
    facts = GateFacts(version="1.0.0", environment="prod", now=T0, approvals=approvals)
    result = ApprovalsGate().check(PROD_RULE, facts)
    assert result.status is GateStatus.FAIL
    assert "dana: no-role, no longer holds qa-lead" in result.reason
