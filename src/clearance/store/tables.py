"""The tables of the release record. Times are stored in UTC and come back timezone-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored as naive UTC (SQLite has no time zones) and read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    # The hash of the clearance.yaml last seen, so that a changed config is audited once.
    config_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("project_id", "version", name="uq_releases_project_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    version: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text, default="")
    planned_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    risk_notes: Mapped[str] = mapped_column(Text, default="")
    rollback_plan: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The commit the release was built from; evidence for another commit is refused without --force.
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)

    project: Mapped[Project] = relationship()
    work_items: Mapped[list[WorkItemRow]] = relationship(
        order_by="WorkItemRow.position", cascade="all, delete-orphan"
    )


class WorkItemRow(Base):
    __tablename__ = "work_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)


class Deployment(Base):
    __tablename__ = "deployments"
    __table_args__ = (
        Index("ix_deployments_target", "project_id", "environment", "service"),
        Index("ix_deployments_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    environment: Mapped[str] = mapped_column(String(63))
    service: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(20), default="deploy")  # deploy | rollback
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(255))
    config_sha256: Mapped[str] = mapped_column(String(64), default="")
    rollback_of_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"), nullable=True)
    # The rollout's durable progress (strategy, step reached, weights, pause start, promote requests),
    # so that another worker can resume it from the last recorded step.
    strategy: Mapped[str] = mapped_column(String(20), default="")
    rollout: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The worker that holds this deployment: "host:pid:start", renewed until the lease expires.
    lease_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # `deploy --at`: queued now, claimed by a server's worker only once this time has come.
    scheduled_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    # ITIL mode: the change request this deployment implements.
    change_request_id: Mapped[int | None] = mapped_column(ForeignKey("change_requests.id"), nullable=True)

    release: Mapped[Release] = relationship()
    steps: Mapped[list[DeploymentStep]] = relationship(
        order_by="DeploymentStep.position", cascade="all, delete-orphan"
    )


class DeploymentStep(Base):
    __tablename__ = "deployment_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output: Mapped[str] = mapped_column(Text, default="")
    output_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DeploymentLock(Base):
    """At most one active deployment per project, environment and service: the primary key says so."""

    __tablename__ = "deployment_locks"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(63), primary_key=True)
    service: Mapped[str] = mapped_column(String(63), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    owner: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column()


class AuditEntry(Base):
    """One link of the hash chain; `hash` covers the canonical JSON of the entry and `prev_hash`."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(255))
    tag: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The newest link, updated with every append, so that a deleted tail is noticed too.

    Seq 0 and the genesis hash until the first append: the row exists from the start because every
    append locks it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class TargetState(Base):
    """What should run for one service in one environment (written by the engine, read by agents)."""

    __tablename__ = "target_states"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(63), primary_key=True)
    service: Mapped[str] = mapped_column(String(63), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    desired: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TargetObservation(Base):
    """What an agent saw running for one service in one environment, and when."""

    __tablename__ = "target_observations"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(63), primary_key=True)
    service: Mapped[str] = mapped_column(String(63), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    observed: Mapped[dict[str, Any]] = mapped_column(JSON)
    agent_id: Mapped[str] = mapped_column(String(255))
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentRow(Base):
    """A running agent: it renews `heartbeat_at`; one that stops renewing is gone."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeasurementRow(Base):
    """One measurement of one metric during a deployment's analysis; every one is kept."""

    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("deployment_steps.id"), nullable=True)
    analysis: Mapped[str] = mapped_column(String(255))  # the template's name
    metric: Mapped[str] = mapped_column(String(255))
    phase: Mapped[str] = mapped_column(String(20))
    value: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"result": number | list | null}
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime] = mapped_column()


class ArtifactRow(Base):
    """A built artifact of a release: its name, sha256 digest and where it was built from."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("release_id", "name", name="uq_artifacts_release_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str] = mapped_column(String(71))  # "sha256:" + 64 hex digits
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    build_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    added_by: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignatureRow(Base):
    """A DSSE envelope (an in-toto Statement over the release's artifacts), as signed."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    keyid: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    signed_by: Mapped[str] = mapped_column(String(255))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvidenceRow(Base):
    """One parsed report: its normalized result, the file's digest, the tool and the commit it is for."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(Text)
    tool: Mapped[str | None] = mapped_column(String(255), nullable=True)
    file_sha256: Mapped[str] = mapped_column(String(64))
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    added_by: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class GateWaiverRow(Base):
    """One gate waived for one release in one environment, with a reason, until a day (inclusive)."""

    __tablename__ = "gate_waivers"
    __table_args__ = (Index("ix_gate_waivers_target", "release_id", "environment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    environment: Mapped[str] = mapped_column(String(63))
    gate: Mapped[str] = mapped_column(String(63))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date] = mapped_column(Date)
    waived_by: Mapped[str] = mapped_column(String(255))
    waived_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlagRow(Base):
    """A feature flag of a project; its per-environment configuration is in `flag_environments`."""

    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_flags_project_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(nullable=True)

    environments: Mapped[list[FlagEnvironmentRow]] = relationship(
        order_by="FlagEnvironmentRow.environment", cascade="all, delete-orphan"
    )


class FlagEnvironmentRow(Base):
    """A flag in one environment: on or off, and its strategies and variants in Unleash's client-API
    JSON, so the server hands them out as stored. `full_since`: when it became fully rolled out."""

    __tablename__ = "flag_environments"

    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(63), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    strategies: Mapped[list[Any]] = mapped_column(JSON, default=list)
    variants: Mapped[list[Any]] = mapped_column(JSON, default=list)
    full_since: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlagTokenRow(Base):
    """An API token: a client token reads one environment's flags, an admin token changes flags.
    Only the token's sha256 is kept; the token itself is shown once, when created."""

    __tablename__ = "flag_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    environment: Mapped[str | None] = mapped_column(String(63), nullable=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class FlagMetricRow(Base):
    """How often SDKs of one environment evaluated a flag: yes/no counts and variant counts."""

    __tablename__ = "flag_metrics"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(63), primary_key=True)
    flag: Mapped[str] = mapped_column(String(255), primary_key=True)
    yes: Mapped[int] = mapped_column(BigInteger, default=0)
    no: Mapped[int] = mapped_column(BigInteger, default=0)
    variants: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlagClientRow(Base):
    """An SDK instance that registered with the flag server (`POST /api/client/register`)."""

    __tablename__ = "flag_clients"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(63), primary_key=True)
    app_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    sdk_version: Mapped[str] = mapped_column(String(255), default="")
    strategies: Mapped[list[Any]] = mapped_column(JSON, default=list)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserRow(Base):
    """A person who may approve, reject or waive: the name is the actor name they act under."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    roles: Mapped[list[UserRoleRow]] = relationship(order_by="UserRoleRow.role", cascade="all, delete-orphan")


class UserRoleRow(Base):
    """One role one user holds (release-manager, qa-lead, …)."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(63), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(255))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovalRow(Base):
    """One approval or rejection of a release for an environment, bound to the release's content hash."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_target", "release_id", "environment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    environment: Mapped[str] = mapped_column(String(63))
    approver: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(10))  # approve | reject
    roles: Mapped[list[str]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeRequestRow(Base):
    """A change request (ITIL mode) for deploying one release to one environment: its kind
    (standard | normal | emergency), the computed risk and why, the rollback plan, and its state."""

    __tablename__ = "change_requests"
    __table_args__ = (Index("ix_change_requests_target", "release_id", "environment"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    environment: Mapped[str] = mapped_column(String(63))
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    kind: Mapped[str] = mapped_column(String(20))
    risk_level: Mapped[str] = mapped_column(String(20))
    risk_score: Mapped[int] = mapped_column(Integer, default=0)
    risk_factors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rollback_plan: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)

    release: Mapped[Release] = relationship()
    decisions: Mapped[list[ChangeDecisionRow]] = relationship(
        order_by="ChangeDecisionRow.id", cascade="all, delete-orphan"
    )


class ChangeDecisionRow(Base):
    """One CAB member's approval or rejection of a change request (`emergency`: an emergency approval)."""

    __tablename__ = "change_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id"), index=True)
    approver: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(10))  # approve | reject
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReleaseFlagRow(Base):
    """A feature flag that a release needs (`clearance release flag RELEASE NAME`)."""

    __tablename__ = "release_flags"

    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), primary_key=True)
    linked_by: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the flag was first fully rolled out in every production environment: proposed for removal.
    cleanup_proposed_at: Mapped[datetime | None] = mapped_column(nullable=True)
