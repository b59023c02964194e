"""`SqlStore`'s side of events: what they say of runs, read once per group of operations, and
their insert at the end of a transaction (one executemany)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from rota.store import dialect
from rota.store.checks import encode_json
from rota.store.events import NewEvent, RunFacts, event_rows
from rota.store.records import Reason
from rota.store.schema import events, runs

__all__ = ["run_facts", "write_events"]


def run_facts(connection: Connection, ids: Sequence[int]) -> dict[int, RunFacts]:
    """The facts of runs as they are now (after the operations that changed them)."""
    if not ids:
        return {}
    rows: Sequence[Sequence[Any]]
    if dialect.driver_batches(connection):
        rows = dialect.run_facts(connection, list(set(ids)))
    else:
        query = select(
            runs.c.id, runs.c.job, runs.c.reason, runs.c.attempt, runs.c.note, runs.c.error
        ).where(runs.c.id.in_(set(ids)))
        rows = list(connection.execute(query))
    return {int(row[0]): RunFacts(row[1], Reason(row[2]), row[3], row[4], row[5]) for row in rows}


def write_events(
    connection: Connection,
    new: Sequence[NewEvent],
    origin: str,
    bound_time: Callable[[datetime], Any] | None = None,
) -> int | None:
    """Insert `new` in order with one executemany; the id of the last (None if none).

    On PostgreSQL an advisory lock is taken first and held to the commit, so that ids are
    assigned in commit order (see `dialect.lock_for_events`). SQLite, the bursts' path, goes
    through the driver with values as the columns write them (`bound_time` for `at`), when
    the caller gives one.
    """
    if not new:
        return None
    if bound_time is not None and dialect.driver_batches(connection):
        rows = [
            (bound_time(e.at), e.kind.value, e.job, e.run_id, encode_json(e.data), origin)
            for e in new
        ]
        return dialect.insert_events(connection, rows)
    dialect.lock_for_events(connection)
    connection.execute(insert(events), event_rows(new, origin))
    # Nobody else inserts events until this transaction ends (SQLite's write lock, the
    # advisory lock): the largest id is this transaction's last.
    newest = select(events.c.id).order_by(events.c.id.desc()).limit(1)
    return int(connection.execute(newest).scalar_one())
