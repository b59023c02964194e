"""A streak of skipped fire times is one run: runs.fire_count and runs.last_fire_time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Under overload (or with a job that runs longer than its period) every fire time of a job that
finds its previous run still active used to leave a skipped row. Now the skipped run of the
first such fire time stands for the whole streak: `fire_count` counts its fire times and
`last_fire_time` is the latest. Existing rows stand for one fire time each.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two columns; every existing run stands for one fire time."""
    op.add_column(
        "runs",
        sa.Column("fire_count", sa.Integer(), nullable=False, server_default=sa.text("1")),
    )
    op.add_column("runs", sa.Column("last_fire_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Back to one row per skipped fire time: a streak keeps only its first fire time."""
    for column in ("last_fire_time", "fire_count"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        else:
            op.drop_column("runs", column)
