"""Shared rate limiters and spawned runs: the limiters table; runs.parent_run_id and
runs.spawn_key with a unique partial index (decision 0012).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A limiter's row holds its capacity and period as the code last declared them, and the grants of
tokens that may still count against it. A spawned run names the run that spawned it; its key is
unique among the queued and running runs of its job. Existing runs have neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ACTIVE_KEY = "spawn_key IS NOT NULL AND status IN ('queued', 'running')"


def upgrade() -> None:
    """Create the limiters table; add the two run columns and the partial index."""
    op.create_table(
        "limiters",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("capacity", sa.BigInteger(), nullable=False),
        sa.Column("period_us", sa.BigInteger(), nullable=False),
        sa.Column("grants", sa.JSON(), nullable=False),
        sa.Column("next_grant", sa.BigInteger(), nullable=False),
        sa.Column("latest_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_limiters"),
    )
    op.add_column("runs", sa.Column("parent_run_id", sa.BigInteger(), nullable=True))
    op.add_column("runs", sa.Column("spawn_key", sa.Text(), nullable=True))
    op.create_index(
        "uq_runs_active_spawn_key",
        "runs",
        ["job", "spawn_key"],
        unique=True,
        sqlite_where=sa.text(_ACTIVE_KEY),
        postgresql_where=sa.text(_ACTIVE_KEY),
    )


def downgrade() -> None:
    """Drop the limiters (their counts are lost) and the spawn columns."""
    op.drop_index("uq_runs_active_spawn_key", table_name="runs")
    for column in ("spawn_key", "parent_run_id"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        else:
            op.drop_column("runs", column)
    op.drop_table("limiters")
