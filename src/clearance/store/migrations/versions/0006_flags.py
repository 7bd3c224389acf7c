"""feature flags: flags, per-environment configuration, API tokens, SDK metrics and clients

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id"], ["projects.id"], name=op.f(f"fk_{table}_project_id_projects")
    )


def upgrade() -> None:
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        _project_fk("flags"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags")),
        sa.UniqueConstraint("project_id", "name", name="uq_flags_project_name"),
    )
    op.create_index(op.f("ix_flags_project_id"), "flags", ["project_id"], unique=False)

    op.create_table(
        "flag_environments",
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("strategies", sa.JSON(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("full_since", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name=op.f("fk_flag_environments_flag_id_flags")),
        sa.PrimaryKeyConstraint("flag_id", "environment", name=op.f("pk_flag_environments")),
    )

    op.create_table(
        "flag_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=True),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        _project_fk("flag_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_tokens")),
        sa.UniqueConstraint("sha256", name=op.f("uq_flag_tokens_sha256")),
    )
    op.create_index(op.f("ix_flag_tokens_project_id"), "flag_tokens", ["project_id"], unique=False)

    op.create_table(
        "flag_metrics",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=False),
        sa.Column("flag", sa.String(length=255), nullable=False),
        sa.Column("yes", sa.Integer(), nullable=False),
        sa.Column("no", sa.Integer(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _project_fk("flag_metrics"),
        sa.PrimaryKeyConstraint("project_id", "environment", "flag", name=op.f("pk_flag_metrics")),
    )

    op.create_table(
        "flag_clients",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=False),
        sa.Column("app_name", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("sdk_version", sa.String(length=255), nullable=False),
        sa.Column("strategies", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        _project_fk("flag_clients"),
        sa.PrimaryKeyConstraint(
            "project_id", "environment", "app_name", "instance_id", name=op.f("pk_flag_clients")
        ),
    )


def downgrade() -> None:
    op.drop_table("flag_clients")
    op.drop_table("flag_metrics")
    op.drop_index(op.f("ix_flag_tokens_project_id"), table_name="flag_tokens")
    op.drop_table("flag_tokens")
    op.drop_table("flag_environments")
    op.drop_index(op.f("ix_flags_project_id"), table_name="flags")
    op.drop_table("flags")
