"""change requests (ITIL mode), scheduled deployments, flags tied to releases

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("risk_level", sa.String(length=20), nullable=False),
        sa.Column("risk_score", sa.Integer(), nullable=False),
        sa.Column("risk_factors", sa.JSON(), nullable=False),
        sa.Column("rollback_plan", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_change_requests_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_change_requests_release_id_releases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_requests")),
    )
    op.create_index(
        "ix_change_requests_target", "change_requests", ["release_id", "environment"], unique=False
    )
    op.create_table(
        "change_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=255), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_requests.id"],
            name=op.f("fk_change_decisions_change_request_id_change_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_decisions")),
    )
    op.create_index(
        op.f("ix_change_decisions_change_request_id"), "change_decisions", ["change_request_id"], unique=False
    )
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("scheduled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("change_request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_deployments_change_request_id_change_requests"),
            "change_requests",
            ["change_request_id"],
            ["id"],
        )
        batch.create_index("ix_deployments_scheduled_at", ["scheduled_at"], unique=False)
    op.create_table(
        "release_flags",
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("linked_by", sa.String(length=255), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.Column("cleanup_proposed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name=op.f("fk_release_flags_release_id_releases")
        ),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name=op.f("fk_release_flags_flag_id_flags")),
        sa.PrimaryKeyConstraint("release_id", "flag_id", name=op.f("pk_release_flags")),
    )
    # SDK metrics counters: a busy flag counts past 2**31 evaluations within days.
    with op.batch_alter_table("flag_metrics") as batch:
        for column in ("yes", "no"):
            batch.alter_column(
                column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False
            )


def downgrade() -> None:
    with op.batch_alter_table("flag_metrics") as batch:
        for column in ("yes", "no"):
            batch.alter_column(
                column, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False
            )
    op.drop_table("release_flags")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_index("ix_deployments_scheduled_at")
        batch.drop_constraint(op.f("fk_deployments_change_request_id_change_requests"), type_="foreignkey")
        batch.drop_column("change_request_id")
        batch.drop_column("scheduled_at")
    op.drop_index(op.f("ix_change_decisions_change_request_id"), table_name="change_decisions")
    op.drop_table("change_decisions")
    op.drop_index("ix_change_requests_target", table_name="change_requests")
    op.drop_table("change_requests")
