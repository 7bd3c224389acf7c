"""Evidence and waivers on the store: add a release's reports, and waive one gate (or withdraw its
waiver) with a reason and an expiry. Every change to what the gates judge reassesses, in the same
transaction, the release's change requests nobody has decided on yet. Judging is `gates.verdicts`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import NotFound, Refused, UsageError
from clearance.gates import CHECKS
from clearance.gates.approvals.rules import Role
from clearance.gates.approvals.service import require_role
from clearance.gates.changes.requests import follow_release
from clearance.gates.evidence import Evidence, parse_report
from clearance.gates.evidence.registry import report_format
from clearance.gates.verdicts import (
    check_gates,
    evaluate_release,
    release_evidence,
    release_gates_now,
    release_waivers,
)
from clearance.planning.releases import same_commit
from clearance.planning.service import find_release
from clearance.store import Release
from clearance.store.tables import EvidenceRow, GateWaiverRow, utcnow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

__all__ = [
    "MAX_WAIVER_DAYS",
    "AddedEvidence",
    "EvidenceInput",
    "add_evidence",
    "check_gates",
    "evaluate_release",
    "release_evidence",
    "release_gates_now",
    "release_waivers",
    "unwaive_gate",
    "waive_gate",
]

# A waiver is a reviewed exception, not a way to switch a gate off: one that must hold longer is
# waived again before it ends, and that renewal is audited again.
MAX_WAIVER_DAYS = 365


@dataclass(frozen=True)
class EvidenceInput:
    kind: str
    path: Path
    commit: str | None = None  # the commit the report is for; the release's when not given
    force: bool = False  # store it even when it is for another commit than the release's


@dataclass(frozen=True)
class AddedEvidence:
    """The report `evidence add` left in the store: the new row, or (`stored` False) the newest report
    of the same kind when the file was identical to it, so that nothing changed."""

    row: EvidenceRow
    stored: bool = True


def add_evidence(ws: Workspace, version: str, new: EvidenceInput) -> AddedEvidence:
    """Parse and store one report. A corrupt report raises ReportInvalid and stores nothing; one for
    another commit than the release's is refused (and the refusal audited) unless `force`. A file
    identical to the newest report of its kind (a CI job run again) stores and audits nothing: the
    gates would judge the same report, and approvals stay bound to the same content."""
    report_format(new.kind)  # an unknown kind is a usage error before the file is read
    try:
        data = new.path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {new.path}: {exc.strerror or exc}") from exc
    report = parse_report(new.kind, data, source=new.path.name)
    subject = f"release:{ws.config.project}@{version}"
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        mismatch = bool(new.commit and release.commit and not same_commit(new.commit, release.commit))
        release_commit = release.commit
    facts = {"kind": new.kind, "source": new.path.name, "sha256": hashlib.sha256(data).hexdigest()}
    if mismatch and not new.force:
        with ws.store.transaction() as session:
            record(
                session,
                actor=ws.actor,
                tag="evidence:refused",
                subject=subject,
                data={**facts, "commit": new.commit, "release_commit": release_commit},
            )
        raise Refused(
            f"{new.path.name} is a report for commit {new.commit}, but release {version} is built from "
            f"{release_commit}",
            code="evidence-commit-mismatch",
            hint="add the report of the release's commit, or --force to store it anyway (audited)",
        )
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        newest = _newest_of_kind(session, release, new.kind)
        if newest is not None and newest.file_sha256 == facts["sha256"]:
            return AddedEvidence(newest, stored=False)
        row = _store(ws, session, release, new, report, facts, forced=mismatch)
        follow_release(ws, session, release)
        return AddedEvidence(row)


def _newest_of_kind(session: Session, release: Release, kind: str) -> EvidenceRow | None:
    """The report of `kind` the gates judge (see `GateFacts.newest`)."""
    query = select(EvidenceRow).where(EvidenceRow.release_id == release.id, EvidenceRow.kind == kind)
    return session.scalars(query.order_by(EvidenceRow.added_at.desc(), EvidenceRow.id.desc())).first()


def _store(
    ws: Workspace,
    session: Session,
    release: Release,
    new: EvidenceInput,
    report: Evidence,
    facts: dict[str, str],
    *,
    forced: bool,
) -> EvidenceRow:
    row = EvidenceRow(
        release_id=release.id,
        kind=new.kind,
        source=new.path.name,
        tool=report.tool,
        file_sha256=facts["sha256"],
        commit=new.commit or release.commit,
        forced=forced,
        result=report.to_json(),
        added_by=ws.actor,
    )
    session.add(row)
    session.flush()
    added: dict[str, Any] = {**facts, "evidence_id": row.id, "tool": report.tool, "commit": row.commit}
    added |= {"forced": forced, "release_commit": release.commit, "summary": report.summary()}
    subject = f"release:{ws.config.project}@{release.version}"
    record(session, actor=ws.actor, tag="evidence:added", subject=subject, data=added)
    return row


def _known_gate(ws: Workspace, environment: str, gate: str) -> list[str]:
    """`environment`'s configured gates, once `environment` and `gate` are known names."""
    env = ws.config.environment(environment)
    if env is None:
        raise NotFound(
            f"unknown environment '{environment}'", hint=f"known: {', '.join(ws.config.environment_names())}"
        )
    if gate not in CHECKS:
        raise UsageError(
            f"unknown gate '{gate}'", hint=f"known gates: {', '.join(CHECKS)}", code="gate-unknown"
        )
    return list(env.gates.configured()) if env.gates else []


def _check_until(until: date) -> None:
    today = utcnow().date()
    if until < today:
        raise UsageError(
            f"--until {until.isoformat()} is in the past", hint="a waiver expires on a future day"
        )
    latest = today + timedelta(days=MAX_WAIVER_DAYS)
    if until > latest:
        raise UsageError(
            f"--until {until.isoformat()} is more than {MAX_WAIVER_DAYS} days ahead "
            f"(the latest is {latest.isoformat()})",
            hint="a waiver is a temporary exception: waive the gate again before it expires",
            code="waiver-too-long",
        )


def _standing(session: Session, release: Release, environment: str, gate: str) -> list[GateWaiverRow]:
    query = select(GateWaiverRow).where(
        GateWaiverRow.release_id == release.id,
        GateWaiverRow.environment == environment,
        GateWaiverRow.gate == gate,
    )
    return list(session.scalars(query.order_by(GateWaiverRow.id)))


def _waiver_json(row: GateWaiverRow) -> dict[str, Any]:
    return {
        "waiver_id": row.id,
        "reason": row.reason,
        "until": row.until.isoformat(),
        "waived_by": row.waived_by,
        "waived_at": row.waived_at.isoformat(),
    }


def waive_gate(
    ws: Workspace, version: str, environment: str, gate: str, *, reason: str, until: date
) -> tuple[GateWaiverRow, list[dict[str, Any]]]:
    """Let one gate of one environment through for one release until `until` (inclusive, at most
    `MAX_WAIVER_DAYS` ahead), audited. The newest waiver of a gate replaces the earlier ones (returned,
    as audited), so a waiver is shortened or renewed by waiving again. Only a user holding
    `release-manager` may waive (else refused, exit 3); approvals are never waived: they are given."""
    configured = _known_gate(ws, environment, gate)
    if gate not in configured:
        raise UsageError(
            f"gate '{gate}' is not configured for {environment}",
            hint=f"{environment}'s gates: {', '.join(configured) or 'none'}",
            code="gate-unknown",
        )
    if gate == "approvals":
        raise UsageError(
            "the approvals gate cannot be waived",
            hint=f"approve it: `clearance approve {version} --env {environment}`",
            code="gate-not-waivable",
        )
    if not reason.strip():
        raise UsageError("a waiver needs a reason", hint="--reason 'why this gate may be skipped'")
    _check_until(until)
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        require_role(session, ws.actor, Role.RELEASE_MANAGER, doing="waive a gate")
        earlier = _standing(session, release, environment, gate)
        replaced = [_waiver_json(w) for w in earlier]
        for old in earlier:
            session.delete(old)
        row = GateWaiverRow(
            release_id=release.id,
            environment=environment,
            gate=gate,
            reason=reason.strip(),
            until=until,
            waived_by=ws.actor,
        )
        session.add(row)
        session.flush()
        data = {"waiver_id": row.id, "environment": environment, "gate": gate, "reason": row.reason}
        data |= {"until": until.isoformat(), "replaces": replaced}
        record(
            session,
            actor=ws.actor,
            tag="gate:waived",
            subject=f"release:{ws.config.project}@{version}",
            data=data,
        )
        follow_release(ws, session, release)
        return row, replaced


def unwaive_gate(
    ws: Workspace, version: str, environment: str, gate: str, *, reason: str
) -> list[dict[str, Any]]:
    """Withdraw the waiver of one gate for one release and environment, so that the gate is judged
    again; returns the waivers withdrawn, as audited (`gate:unwaived`). Release managers only, as for
    waiving; no waiver to withdraw is not found (exit 4)."""
    _known_gate(ws, environment, gate)
    if not reason.strip():
        raise UsageError(
            "withdrawing a waiver needs a reason", hint="--reason 'why the gate must be judged again'"
        )
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        require_role(session, ws.actor, Role.RELEASE_MANAGER, doing="withdraw a gate waiver")
        standing = _standing(session, release, environment, gate)
        if not standing:
            raise NotFound(
                f"gate {gate} is not waived for {version} in {environment}",
                hint=f"`clearance gates {version} --env {environment}` shows its gates and waivers",
                code="waiver-unknown",
            )
        withdrawn = [_waiver_json(w) for w in standing]
        for row in standing:
            session.delete(row)
        session.flush()
        data = {"environment": environment, "gate": gate, "reason": reason.strip(), "withdrawn": withdrawn}
        record(
            session,
            actor=ws.actor,
            tag="gate:unwaived",
            subject=f"release:{ws.config.project}@{version}",
            data=data,
        )
        follow_release(ws, session, release)
        return withdrawn
