"""Job chains: one row per edge (downstream, upstream) with the upstream's newest success counted
and the one the downstream last consumed (decision 0011).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

No job could have an ``after`` schedule before (it was refused), so the table starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the chain_edges table."""
    op.create_table(
        "chain_edges",
        sa.Column("downstream", sa.Text(), nullable=False),
        sa.Column("upstream", sa.Text(), nullable=False),
        sa.Column("last_success", sa.BigInteger(), nullable=True),
        sa.Column("last_consumed", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("downstream", "upstream", name="pk_chain_edges"),
    )


def downgrade() -> None:
    """Back to 0004: chains forget what they counted."""
    op.drop_table("chain_edges")
