"""A dependency run's link to the upstream runs that triggered it: runs.upstream_runs; and an
index on runs.parent_run_id, for listing the runs a run spawned.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

A JSON object {job: run id}, filled in the transaction that creates the dependency run
(decision 0011). Before, only the run's note and its run.queued event named them: existing
runs, dependency ones included, get {}.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column (every existing run names no upstream runs) and the index."""
    op.add_column(
        "runs",
        sa.Column("upstream_runs", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])


def downgrade() -> None:
    """Back to 0006: the links stay in the runs' notes and events only."""
    op.drop_index("ix_runs_parent_run_id", table_name="runs")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE runs DROP COLUMN upstream_runs")
    else:
        op.drop_column("runs", "upstream_runs")
