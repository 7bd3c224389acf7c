"""Gates judged on the store: the facts a release has (evidence, artifacts, signatures, approvals,
waivers), its verdicts for an environment now or at a scheduled time, and the check before every
deployment. Kept apart from `gates.service` (which changes those facts) so that change requests,
which follow both, can import this without a cycle."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import NotFound, Refused
from clearance.gates import CHECKS
from clearance.gates.approvals.service import approval_facts
from clearance.gates.artifacts.keys import keyid, load_public_key
from clearance.gates.base import ArtifactFact, EvidenceFact, GateFacts
from clearance.gates.evaluation import GateVerdict, Waiver, blocking, evaluate
from clearance.gates.evidence import evidence_from_json
from clearance.gates.evidence.registry import report_format
from clearance.store import Release
from clearance.store.tables import ArtifactRow, EvidenceRow, GateWaiverRow, SignatureRow, utcnow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

__all__ = [
    "check_gates",
    "evaluate_release",
    "release_evidence",
    "release_gates_now",
    "release_waivers",
]


def release_evidence(session: Session, release: Release) -> list[EvidenceRow]:
    query = select(EvidenceRow).where(EvidenceRow.release_id == release.id)
    return list(session.scalars(query.order_by(EvidenceRow.added_at, EvidenceRow.id)))


def release_waivers(session: Session, release: Release) -> list[GateWaiverRow]:
    """The waivers standing: the newest of each environment and gate (waiving again replaces the
    earlier ones; a store from before that was so may still hold them)."""
    query = select(GateWaiverRow).where(GateWaiverRow.release_id == release.id)
    newest = {(w.environment, w.gate): w for w in session.scalars(query.order_by(GateWaiverRow.id))}
    return sorted(newest.values(), key=lambda w: (w.waived_at, w.id))


def _facts(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    requester: str | None,
    at: datetime | None = None,
) -> GateFacts:
    env = ws.config.environment(environment)
    assert env is not None
    approvals = None
    if env.gates is not None and env.gates.approvals is not None:
        approvals = approval_facts(
            session, release, environment, production=env.production, requester=requester
        )
    evidence = tuple(
        EvidenceFact(
            id=row.id,
            kind=row.kind,
            family=report_format(row.kind).family,
            source=row.source,
            added_at=row.added_at,
            report=evidence_from_json(row.result),
        )
        for row in release_evidence(session, release)
    )
    artifacts = session.scalars(select(ArtifactRow).where(ArtifactRow.release_id == release.id))
    envelopes = session.scalars(select(SignatureRow.envelope).where(SignatureRow.release_id == release.id))
    trusted = {keyid(load_public_key(k.public_key)): k.public_key for k in env.trusted_keys}
    return GateFacts(
        version=release.version,
        environment=environment,
        now=at or utcnow(),
        evidence=evidence,
        artifacts=tuple(ArtifactFact(name=a.name, digest=a.digest) for a in artifacts),
        envelopes=tuple(envelopes),
        trusted_keys=trusted,
        approvals=approvals,
    )


def evaluate_release(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    requester: str | None = None,
    at: datetime | None = None,
) -> list[GateVerdict]:
    """Every gate of `environment` judged on what the store holds for `release` now, as of `at` (a
    scheduled deployment's time; default now); `requester` is the deployment's requester, whose own
    approvals do not count under separation of duties."""
    env = ws.config.environment(environment)
    if env is None:
        raise NotFound(
            f"unknown environment '{environment}'", hint=f"known: {', '.join(ws.config.environment_names())}"
        )
    waivers = [
        Waiver(id=w.id, gate=w.gate, reason=w.reason, until=w.until, waived_by=w.waived_by)
        for w in release_waivers(session, release)
        if w.environment == environment
    ]
    facts = _facts(ws, session, release, environment, requester, at)
    return evaluate(env.gates, facts, waivers, CHECKS)


def check_gates(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    *,
    at: datetime | None = None,
    requester: str | None = None,
    bypass: Collection[str] = (),
) -> list[GateVerdict]:
    """Refuse (exit 3) a deployment of `release` to `environment` while any of its gates fails or
    lacks evidence; the message names every such gate with its reason. `at` judges the gates as of a
    scheduled deployment's time (windows, waiver expiry, evidence age); `requester` defaults to the
    acting user. The gates named in `bypass` (an approved emergency change's windows) do not block:
    their blocking verdicts are returned, for the caller to audit. Cleared, the verdicts are audited
    (`gate:cleared`) in the caller's transaction: they commit with the deployment they let through,
    or with the refusal that follows for another reason (an unapproved change request)."""
    verdicts = evaluate_release(ws, session, release, environment, requester=requester or ws.actor, at=at)
    failing = [v for v in blocking(verdicts) if v.gate not in bypass]
    if not failing:
        _audit_cleared(ws, session, release, environment, verdicts, requester or ws.actor, at)
        return [v for v in blocking(verdicts) if v.gate in bypass]
    lines = "; ".join(f"{v.gate}: {v.status} — {v.result.reason}" for v in failing)
    when = f" at {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if at is not None else ""
    raise Refused(
        f"release {release.version} may not be deployed to {environment}{when}: "
        f"{len(failing)} gate(s) not passed: {lines}",
        code="gate-failed",
        hint=f"see `clearance gates {release.version} --env {environment}`; add evidence with "
        "`clearance evidence add`, or waive one gate with `clearance gate waive`",
        data={"gates": [v.to_json() for v in failing]},
    )


def _audit_cleared(
    ws: Workspace,
    session: Session,
    release: Release,
    environment: str,
    verdicts: list[GateVerdict],
    requester: str,
    at: datetime | None,
) -> None:
    """`gate:cleared`, in the deployment's transaction: every verdict that let it through, with the
    evidence, approvals and waivers used (once per release, environment and time in one transaction,
    however many services it deploys). A refusal is audited as `promotion:refused` by the caller."""
    if not verdicts:
        return
    key, transaction = (release.id, environment, at), session.get_transaction()
    done: dict[object, object] = session.info.setdefault("clearance.gates_cleared", {})
    if done.get(key) is transaction:
        return
    done[key] = transaction
    data: dict[str, Any] = {
        "version": release.version,
        "environment": environment,
        "requester": requester,
        "at": at.astimezone(UTC).isoformat() if at is not None else None,
        "waived": [v.gate for v in verdicts if v.status == "waived"],
        "bypassed": [v.gate for v in blocking(verdicts)],
        "gates": [v.to_json() for v in verdicts],
    }
    record(
        session,
        actor=ws.actor,
        tag="gate:cleared",
        subject=f"release:{ws.config.project}@{release.version}",
        data=data,
    )


def release_gates_now(ws: Workspace, session: Session, release: Release) -> dict[str, dict[str, Any]]:
    """For `release show`: every environment with gates, judged now — passed or not, and the gates
    that block it with their reasons."""
    judged: dict[str, dict[str, Any]] = {}
    for name in ws.config.environment_names():
        env = ws.config.environment(name)
        if env is None or env.gates is None:
            continue
        verdicts = evaluate_release(ws, session, release, name)
        blocking = [v for v in verdicts if v.blocks]
        judged[name] = {
            "passed": not blocking,
            "blocking": [{"gate": v.gate, "status": v.status, "reason": v.result.reason} for v in blocking],
        }
    return judged
