"""artifacts, signatures, evidence and gate waivers; the release's commit

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _release_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["release_id"], ["releases.id"], name=op.f(f"fk_{table}_release_id_releases")
    )


def upgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commit", sa.String(length=64), nullable=True))

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("digest", sa.String(length=71), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("build_url", sa.Text(), nullable=True),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        _release_fk("artifacts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
        sa.UniqueConstraint("release_id", "name", name="uq_artifacts_release_name"),
    )
    op.create_index(op.f("ix_artifacts_release_id"), "artifacts", ["release_id"], unique=False)

    op.create_table(
        "signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("keyid", sa.String(length=64), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("signed_by", sa.String(length=255), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        _release_fk("signatures"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signatures")),
    )
    op.create_index(op.f("ix_signatures_release_id"), "signatures", ["release_id"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("tool", sa.String(length=255), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        _release_fk("evidence"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    op.create_index(op.f("ix_evidence_release_id"), "evidence", ["release_id"], unique=False)

    op.create_table(
        "gate_waivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=63), nullable=False),
        sa.Column("gate", sa.String(length=63), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("waived_by", sa.String(length=255), nullable=False),
        sa.Column("waived_at", sa.DateTime(), nullable=False),
        _release_fk("gate_waivers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_waivers")),
    )
    op.create_index("ix_gate_waivers_target", "gate_waivers", ["release_id", "environment"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_gate_waivers_target", table_name="gate_waivers")
    op.drop_table("gate_waivers")
    op.drop_index(op.f("ix_evidence_release_id"), table_name="evidence")
    op.drop_table("evidence")
    op.drop_index(op.f("ix_signatures_release_id"), table_name="signatures")
    op.drop_table("signatures")
    op.drop_index(op.f("ix_artifacts_release_id"), table_name="artifacts")
    op.drop_table("artifacts")
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_column("commit")
