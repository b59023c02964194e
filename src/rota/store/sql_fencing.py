"""Fencing in SQL (decision 0007): whether a lease holds, and reaping a dead node in one
transaction.

A write made under a lease first reads its node's row with ``FOR KEY SHARE`` (PostgreSQL;
SQLite's write lock holds the whole database already), and `reap` takes the same row ``FOR
UPDATE``: so a claim or a retry under a lease and the reaping of that lease's node take turns,
and a claim that commits first is among the runs the reaper interrupts, one that waits finds
the node stopped. A heartbeat (an UPDATE of no key column) does not wait for such a write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from rota.store import dialect
from rota.store.operations import (
    InterruptRuns,
    Lease,
    NewRun,
    Reaped,
    ReapNode,
    reaped_retry,
    retried_by_reap,
)
from rota.store.records import RunRecord
from rota.store.schema import nodes, run_record, runs

__all__ = ["lease_holds", "reap"]


def lease_holds(connection: Connection, lease: Lease) -> bool:
    """Whether `lease` is its node's current one; the node's row stays so until commit."""
    if dialect.driver_batches(connection):  # SQLite, once per claim burst: the driver's SQL
        generation = dialect.node_generation(connection, lease.node)
        return generation is not None and int(generation) == lease.generation
    generation = connection.execute(
        select(nodes.c.generation)
        .where(nodes.c.id == lease.node, nodes.c.stopped_at.is_(None))
        .with_for_update(read=True, key_share=True)
    ).scalar()
    return generation is not None and int(generation) == lease.generation


def reap(
    connection: Connection,
    reap: ReapNode,
    interrupt: Callable[[InterruptRuns], list[int]],
    insert_runs: Callable[[Sequence[NewRun]], list[int | None]],
) -> Reaped:
    """`ReapNode` on `connection`; `interrupt` and `insert_runs` are the transaction's own."""
    row = connection.execute(
        select(nodes.c.generation, nodes.c.heartbeat_at, nodes.c.stopped_at)
        .where(nodes.c.id == reap.node)
        .with_for_update()
    ).first()
    if row is None or row.stopped_at is not None or int(row.generation) != reap.generation:
        return Reaped()
    renewed: datetime = row.heartbeat_at
    if reap.expired_before is not None and renewed >= reap.expired_before:
        return Reaped()  # it renewed its lease since it was found dead
    connection.execute(update(nodes).where(nodes.c.id == reap.node).values(stopped_at=reap.at))
    interrupted = interrupt(InterruptRuns((reap.node,), reap.at, reap.note))
    if not interrupted:
        return Reaped()
    records = [
        run_record(found)
        for found in connection.execute(
            select(*runs.c).where(runs.c.id.in_(interrupted)).order_by(runs.c.id)
        )
    ]

    def read(run_id: int) -> RunRecord | None:
        found = connection.execute(select(*runs.c).where(runs.c.id == run_id)).first()
        return None if found is None else run_record(found)

    wanted = [
        reaped_retry(run, reap.at)
        for run in records
        if retried_by_reap(run, reap.attempts.get(run.job, 1), read)
    ]
    ids = insert_runs(wanted) if wanted else []
    retries = tuple(
        (run_id, new) for run_id, new in zip(ids, wanted, strict=True) if run_id is not None
    )
    return Reaped(tuple(interrupted), retries)
