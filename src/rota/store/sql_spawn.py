"""`SqlStore`'s spawned runs with a key (decision 0012): created only if no queued or running
run of their job has that key.

The unique partial index on ``(job, spawn_key)`` of active runs decides, inside the database:
the insert ignores a conflict, so two nodes spawning one key at once create one run. These
runs are inserted apart from the others, so that the ones a conflict skipped are told by their
(job, key), which RETURNING gives back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from rota.store.dialect import insert_ignoring_conflicts
from rota.store.operations import NewRun
from rota.store.schema import runs

__all__ = ["insert_keyed"]


def insert_keyed(
    connection: Connection, pending: Sequence[NewRun], rows: Sequence[dict[str, Any]]
) -> list[int | None]:
    """Insert runs that each have a spawn key (`rows` are their column values): each one's
    id, or None where its job's active runs have the key already (or an earlier one of
    `pending` took it)."""
    first: dict[tuple[str, str], int] = {}
    for position, run in enumerate(pending):
        assert run.spawn_key is not None
        first.setdefault((run.job, run.spawn_key), position)
    statement = insert_ignoring_conflicts(runs, connection.engine).returning(
        runs.c.id, runs.c.job, runs.c.spawn_key
    )
    wanted = [rows[position] for position in sorted(first.values())]
    created: dict[tuple[str, str], int] = {}
    # Rows come back in any order, and without those a conflict skipped: told by (job, key).
    for row in connection.execute(statement, wanted):
        created[(row.job, row.spawn_key)] = int(row.id)
    ids: list[int | None] = [None] * len(pending)
    for key, position in first.items():
        ids[position] = created.get(key)
    return ids
