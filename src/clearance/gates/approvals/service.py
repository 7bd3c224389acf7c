"""Users, roles and approvals on the store: manage who holds which role, record approve and reject
decisions (refusing the ones the rules forbid), and read the facts the `approvals` gate judges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearance.audit.service import record
from clearance.errors import AlreadyExists, NotFound, Refused, UsageError
from clearance.gates.approvals.decisions import ApprovalFacts, Decision, content_hash
from clearance.gates.approvals.rules import ApprovalPolicy, Role
from clearance.planning.service import find_release
from clearance.project.suggestions import did_you_mean
from clearance.store import Release
from clearance.store.tables import ApprovalRow, ArtifactRow, EvidenceRow, UserRoleRow, UserRow

if TYPE_CHECKING:
    from clearance.workspace import Workspace

__all__ = [
    "add_user",
    "approval_facts",
    "change_role",
    "decide",
    "find_user",
    "list_users",
    "release_approvals",
    "release_content_hash",
    "require_role",
]


def find_user(session: Session, name: str) -> UserRow:
    user = session.scalars(select(UserRow).where(UserRow.name == name)).first()
    if user is None:
        known = list(session.scalars(select(UserRow.name).order_by(UserRow.name)))
        raise NotFound(
            f"unknown user '{name}'{did_you_mean(name, known) if known else ''}",
            hint=f"add them with `clearance user add {name} --role ROLE`",
            code="user-unknown",
        )
    return user


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.name)))


def add_user(ws: Workspace, name: str, *, email: str | None, roles: Sequence[Role]) -> UserRow:
    if not name.strip():
        raise UsageError("a user needs a name")
    with ws.store.transaction() as session:
        if session.scalars(select(UserRow).where(UserRow.name == name)).first() is not None:
            raise AlreadyExists(f"user '{name}' exists", hint=f"`clearance user grant {name} ROLE`")
        user = UserRow(name=name, email=email, created_by=ws.actor)
        user.roles = [UserRoleRow(role=r.value, granted_by=ws.actor) for r in dict.fromkeys(roles)]
        session.add(user)
        session.flush()
        data = {"name": name, "email": email, "roles": [r.role for r in user.roles]}
        record(session, actor=ws.actor, tag="user:added", subject=f"user:{name}", data=data)
        return user


def change_role(ws: Workspace, name: str, role: Role, *, grant: bool) -> bool:
    """Grant or revoke one role; False (and nothing audited) when there was nothing to change."""
    with ws.store.transaction() as session:
        user = find_user(session, name)
        held = {r.role: r for r in user.roles}
        if grant == (role.value in held):
            return False
        if grant:
            user.roles.append(UserRoleRow(role=role.value, granted_by=ws.actor))
        else:
            user.roles.remove(held[role.value])
        tag = "user:role-granted" if grant else "user:role-revoked"
        record(
            session, actor=ws.actor, tag=tag, subject=f"user:{name}", data={"name": name, "role": role.value}
        )
        return True


def _roles_held(session: Session, name: str) -> frozenset[str]:
    query = select(UserRoleRow.role).join(UserRow).where(UserRow.name == name)
    return frozenset(session.scalars(query))


def require_role(session: Session, actor: str, role: Role, *, doing: str) -> None:
    """Refuse (exit 3) `actor` doing something only `role` may do."""
    if role.value not in _roles_held(session, actor):
        raise Refused(
            f"{actor} may not {doing}: it needs the {role.value} role",
            code="role-required",
            hint=f"a user with the role may, or `clearance user grant {actor} {role.value}`",
        )


def release_content_hash(session: Session, release: Release) -> str:
    artifacts = session.scalars(select(ArtifactRow.digest).where(ArtifactRow.release_id == release.id))
    evidence = session.scalars(select(EvidenceRow.file_sha256).where(EvidenceRow.release_id == release.id))
    return content_hash(release.version, list(artifacts), [f"sha256:{d}" for d in evidence])


def release_approvals(session: Session, release: Release) -> list[ApprovalRow]:
    query = select(ApprovalRow).where(ApprovalRow.release_id == release.id)
    return list(session.scalars(query.order_by(ApprovalRow.decided_at, ApprovalRow.id)))


def approval_facts(
    session: Session, release: Release, environment: str, *, production: bool, requester: str | None
) -> ApprovalFacts:
    rows = [a for a in release_approvals(session, release) if a.environment == environment]
    holders = {name: _roles_held(session, name) for name in {a.approver for a in rows}}
    return ApprovalFacts(
        content_hash=release_content_hash(session, release),
        decisions=tuple(_decision(a) for a in rows),
        holders=holders,
        creator=release.created_by,
        requester=requester,
        production=production,
    )


def _decision(row: ApprovalRow) -> Decision:
    return Decision(
        id=row.id,
        approver=row.approver,
        approve=row.decision == "approve",
        roles=tuple(row.roles),
        content_hash=row.content_hash,
        comment=row.comment,
        decided_at=row.decided_at,
    )


def _policy(ws: Workspace, environment: str) -> tuple[ApprovalPolicy, bool]:
    env = ws.config.environment(environment)
    if env is None:
        raise NotFound(
            f"unknown environment '{environment}'", hint=f"known: {', '.join(ws.config.environment_names())}"
        )
    if env.gates is None or env.gates.approvals is None:
        raise UsageError(
            f"{environment} needs no approvals",
            code="approvals-not-configured",
            hint='add `approvals: {require: ["1 release-manager"]}` under its `gates:` in clearance.yaml',
        )
    return env.gates.approvals, env.production


def _refusal(
    session: Session, policy: ApprovalPolicy, release: Release, actor: str, production: bool
) -> Refused | None:
    user = session.scalars(select(UserRow).where(UserRow.name == actor)).first()
    if user is None:
        return Refused(
            f"{actor} is not a known user and may not approve or reject",
            code="approver-unknown",
            hint=f"`clearance user add {actor} --role ROLE` (by someone who manages users)",
        )
    needed = [r.value for r in policy.roles()]
    if not {r.role for r in user.roles} & set(needed):
        return Refused(
            f"{actor} holds none of the roles this rule needs ({', '.join(needed)})",
            code="approver-role-missing",
            hint=f"`clearance user grant {actor} ROLE`",
        )
    if policy.separated(production) and release.created_by == actor:
        return Refused(
            f"{actor} created release {release.version} and may not approve or reject it "
            "(separation of duties)",
            code="separation-of-duties",
            hint="someone else holding a role the rule needs must decide",
        )
    return None


def decide(ws: Workspace, version: str, environment: str, *, approve: bool, comment: str) -> ApprovalRow:
    """Record the actor's approval or rejection of `version` for `environment`, bound to the release's
    content hash; refused (audited, exit 3) when the actor may not decide."""
    policy, production = _policy(ws, environment)
    if not approve and not comment.strip():
        raise UsageError("a rejection needs a reason", hint="--comment 'what must change'")
    subject = f"release:{ws.config.project}@{version}"
    action = "approve" if approve else "reject"
    with ws.store.transaction() as session:
        release = find_release(session, ws.project_id, version)
        refusal = _refusal(session, policy, release, ws.actor, production)
        if refusal is None:
            held = _roles_held(session, ws.actor)
            row = ApprovalRow(
                release_id=release.id,
                environment=environment,
                approver=ws.actor,
                decision=action,
                roles=[r.value for r in policy.roles() if r.value in held],
                content_hash=release_content_hash(session, release),
                comment=comment.strip(),
            )
            session.add(row)
            session.flush()
            data = {"approval_id": row.id, "environment": environment, "roles": row.roles}
            data |= {"content_hash": row.content_hash, "comment": row.comment}
            tag = "approval:approved" if approve else "approval:rejected"
            record(session, actor=ws.actor, tag=tag, subject=subject, data=data)
            return row
    with ws.store.transaction() as session:
        data = {
            "environment": environment,
            "decision": action,
            "code": refusal.code,
            "reason": refusal.message,
        }
        record(session, actor=ws.actor, tag="approval:refused", subject=subject, data=data)
    raise refusal
