"""`SqlStore`'s job rows added and removed at run time (`AddJob`, `RemoveJob`)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select
from sqlalchemy.sql.dml import Insert

from rota.store.operations import AddJob, Removal
from rota.store.records import ACTIVE, JobKind, JobRecord, RunStatus
from rota.store.schema import chain_edges, job_record, jobs, runs

__all__ = ["add_job", "remove_job"]

_ACTIVE = sorted(status.value for status in ACTIVE)


def add_job(connection: Connection, insert_job: Insert, add: AddJob) -> JobRecord | None:
    """Insert the job's row unless its name is taken (`insert_job` ignores conflicts); the new
    record, or None."""
    row = connection.execute(
        insert_job.values(
            name=add.name,
            defaults=dict(add.defaults),
            override={},
            paused=False,
            pause_note=None,
            kind=JobKind(add.kind).value,
            target=add.target,
            next_fire_at=add.next_fire_at,
            created_at=add.at,
            updated_at=add.at,
        )
    ).first()
    return None if row is None else job_record(row)


def remove_job(connection: Connection, name: str) -> tuple[Removal, int]:
    """Delete a job and its runs unless one is running; what happened, and how many runs
    went."""
    # The job's row locked first (PostgreSQL): runs inserted for it meanwhile wait on its
    # foreign key and then fail; its active runs locked next, so that a claim in flight is
    # waited for and seen, and no queued one is claimed while it goes.
    found = connection.execute(
        select(jobs.c.name).where(jobs.c.name == name).with_for_update()
    ).first()
    if found is None:
        return Removal.UNKNOWN, 0
    active = connection.execute(
        select(runs.c.status)
        .where(runs.c.job == name, runs.c.status.in_(_ACTIVE))
        .with_for_update()
    ).scalars()
    if RunStatus.RUNNING.value in set(active):
        return Removal.RUNNING, 0
    deleted = int(connection.execute(delete(runs).where(runs.c.job == name)).rowcount)
    connection.execute(
        delete(chain_edges).where(
            (chain_edges.c.downstream == name) | (chain_edges.c.upstream == name)
        )
    )
    connection.execute(delete(jobs).where(jobs.c.name == name))
    return Removal.REMOVED, deleted
