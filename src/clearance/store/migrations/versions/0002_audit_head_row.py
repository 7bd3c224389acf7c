"""audit head row

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The chain's genesis: the `prev` of entry 1 (clearance.audit.chain.GENESIS; the store imports no
# capability, so it is spelled out here).
_GENESIS = "0" * 64


def upgrade() -> None:
    # The head row is the lock every append takes (SELECT … FOR UPDATE). On a new store there was no
    # row to lock, so the first appends of two processes both wrote entry 1 and one of them failed.
    # Seeded as "nothing appended yet": seq 0, pointing at the genesis hash.
    op.execute(
        "INSERT INTO audit_head (id, seq, hash) "
        f"SELECT 1, 0, '{_GENESIS}' WHERE NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1)"
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM audit_head WHERE id = 1 AND seq = 0 AND hash = '{_GENESIS}'")
