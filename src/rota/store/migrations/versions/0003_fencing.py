"""Fencing: lease generations on nodes and runs, a node's life, one retry per attempt (0007).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09

Existing nodes get generation 0 and no life; existing runs no generation (claimed before
fencing: no writer carries a token for them). Before the unique index on `retry_of`, the
extra retries a 0002 database may hold (the bug this fixes) stop naming the run they retry,
all but the first: nothing is deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns and the unique index on runs.retry_of."""
    op.add_column("runs", sa.Column("generation", sa.BigInteger(), nullable=True))
    op.add_column(
        "nodes",
        sa.Column("generation", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("nodes", sa.Column("life", sa.Text(), nullable=True))
    op.execute(
        "UPDATE runs SET retry_of = NULL WHERE retry_of IS NOT NULL AND id NOT IN "
        "(SELECT first FROM (SELECT min(id) AS first FROM runs WHERE retry_of IS NOT NULL "
        "GROUP BY retry_of) AS firsts)"
    )
    op.create_index("ix_runs_retry_of", "runs", ["retry_of"], unique=True)


def downgrade() -> None:
    """Back to 0002."""
    op.drop_index("ix_runs_retry_of", table_name="runs")
    for table, column in (("nodes", "life"), ("nodes", "generation"), ("runs", "generation")):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)
