"""What `clearance release show` adds about a release's clearance: its artifacts and signatures, the
evidence it carries, the gate waivers granted for it, its approvals (valid or stale), its change
requests, its gates judged now and the deployments the rules refused."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from clearance.audit.service import about
from clearance.cli.artifacts import artifact_json
from clearance.cli.evidence import evidence_json, produced_time
from clearance.gates.approvals.service import release_approvals, release_content_hash
from clearance.gates.artifacts.service import release_artifacts, release_signatures
from clearance.gates.changes.review import release_changes, summary
from clearance.gates.service import release_evidence, release_gates_now, release_waivers
from clearance.store import Release
from clearance.workspace import Workspace

__all__ = ["print_gate_records", "release_decisions", "release_gate_records"]


def release_gate_records(session: Session, release: Release) -> dict[str, Any]:
    """The `artifacts`, `signatures`, `evidence`, `waivers`, `change_requests` and `approvals` keys of
    `release show --json`.
    An approval is `valid` while the release's content hash is the one approved, else `stale`."""
    current = release_content_hash(session, release)
    return {
        "artifacts": [artifact_json(a) for a in release_artifacts(session, release)],
        "signatures": [
            {"id": s.id, "keyid": s.keyid, "signed_by": s.signed_by, "signed_at": s.signed_at.isoformat()}
            for s in release_signatures(session, release)
        ],
        "evidence": [evidence_json(e) for e in release_evidence(session, release)],
        "waivers": [
            {
                "id": w.id,
                "environment": w.environment,
                "gate": w.gate,
                "reason": w.reason,
                "until": w.until.isoformat(),
                "waived_by": w.waived_by,
                "waived_at": w.waived_at.isoformat(),
            }
            for w in release_waivers(session, release)
        ],
        "change_requests": [summary(c) for c in release_changes(session, release)],
        "approvals": [
            {
                "id": a.id,
                "environment": a.environment,
                "approver": a.approver,
                "decision": a.decision,
                "roles": a.roles,
                "comment": a.comment,
                "decided_at": a.decided_at.isoformat(),
                "content_hash": a.content_hash,
                "state": "valid" if a.content_hash == current else "stale",
            }
            for a in release_approvals(session, release)
        ],
    }


def release_decisions(ws: Workspace, session: Session, release: Release) -> dict[str, Any]:
    """The `gates` (each gated environment judged now) and `refusals` (every deployment the rules
    refused, from the audit trail) keys of `release show --json`."""
    subject = f"release:{ws.config.project}@{release.version}"
    refusals = [
        {
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "environment": entry.data.get("environment"),
            "code": entry.data.get("code"),
            "reason": entry.data.get("reason"),
        }
        for entry in about(session, subject, ("promotion:refused",))
    ]
    return {"gates": release_gates_now(ws, session, release), "refusals": refusals}


def print_gate_records(console: Console, document: dict[str, Any]) -> None:
    for env, judged in document.get("gates", {}).items():
        if judged["passed"]:
            console.print(f"gates for {escape(env)}: [green]all pass[/]")
            continue
        blocked = "; ".join(f"{b['gate']} {b['status']}: {b['reason']}" for b in judged["blocking"])
        console.print(f"gates for {escape(env)}: [red]blocked[/] — {escape(blocked)}")
    for r in document.get("refusals", []):
        console.print(
            f"[red]refused[/] {r['at']} ({escape(r['actor'])}) for {escape(str(r['environment']))}: "
            f"{escape(str(r['reason']))}"
        )
    if document["artifacts"]:
        console.print("artifacts:")
        for a in document["artifacts"]:
            console.print(f"  • {escape(a['name'])} ({a['kind']}) {a['digest']}")
        for s in document["signatures"]:
            console.print(f"  signed with key {s['keyid'][:12]} by {escape(s['signed_by'])}")
    if document["evidence"]:
        table = Table(title="evidence")
        for column in ("id", "kind", "file", "tool", "commit", "ran"):
            table.add_column(column)
        for e in document["evidence"]:
            commit = (e["commit"] or "-")[:12] + (" (forced)" if e["forced"] else "")
            source, tool = escape(e["source"]), escape(e["tool"] or "-")
            table.add_row(str(e["id"]), e["kind"], source, tool, commit, produced_time(e))
        console.print(table)
    for w in document["waivers"]:
        console.print(
            f"[yellow]waiver:[/] gate {escape(w['gate'])} in {escape(w['environment'])} until {w['until']} "
            f"by {escape(w['waived_by'])}: {escape(w['reason'])}"
        )
    for c in document["change_requests"]:
        console.print(
            f"change request #{c['id']} for {escape(c['environment'])}: {c['kind']}, risk {c['risk_level']}, "
            f"{c['state']}" + (f" ({escape(c['reason'])})" if c["reason"] else "")
        )
    for a in document["approvals"]:
        verb = "[green]approved[/]" if a["decision"] == "approve" else "[red]rejected[/]"
        state = (
            "" if a["state"] == "valid" else " [yellow](stale: the artifacts or evidence changed since)[/]"
        )
        comment = f": {escape(a['comment'])}" if a["comment"] else ""
        console.print(
            f"{verb} for {escape(a['environment'])} by {escape(a['approver'])} ({', '.join(a['roles'])}) "
            f"at {a['decided_at']}{state}{comment}"
        )
