"""Events, job kinds and targets, nodes' registered jobs; no more in_code (decision 0006).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Written out in full, as 0001 is. Existing jobs become `code` jobs, except rota's own prune job,
which is `internal`; whether a job is in code is now what live nodes registered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the events table and the new columns; drop jobs.in_code."""
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("job", sa.Text(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        # Event ids are never reused on SQLite either: a follower's last id must stay valid.
        sqlite_autoincrement=True,
    )
    # Added with a default, so that existing rows get one (SQLite requires it for NOT NULL).
    op.add_column("jobs", sa.Column("kind", sa.String(16), nullable=False, server_default="code"))
    op.add_column("jobs", sa.Column("target", sa.Text(), nullable=True))
    op.execute("UPDATE jobs SET kind = 'internal' WHERE name = 'rota-prune'")
    _drop_column("jobs", "in_code")
    op.add_column(
        "nodes", sa.Column("jobs", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )


def downgrade() -> None:
    """Back to 0001: jobs are in code again until the next sync says otherwise."""
    _drop_column("nodes", "jobs")
    op.add_column(
        "jobs", sa.Column("in_code", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    _drop_column("jobs", "target")
    _drop_column("jobs", "kind")
    op.drop_table("events")


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35 (rota's minimum) drops a column in place; Alembic's batch mode would
        # copy the table, which runs' foreign key forbids while foreign keys are enforced.
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)
