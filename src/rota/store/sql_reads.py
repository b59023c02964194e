"""`SqlStore`'s reads of runs, stats and events: queries on a connection the store hands in.

Each is a fixed, small number of statements however many jobs or runs there are; a job's
newest runs are found by walking its (job, id) index from the newest end, never by grouping
the whole history.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, literal, select
from sqlalchemy.sql.selectable import ScalarSelect

from rota.store.checks import RunFilter
from rota.store.records import (
    ACTIVE,
    FAILURE_LIKE,
    FINISHED,
    MEDIAN_OF,
    EventRecord,
    JobStats,
    RunRecord,
    RunStatus,
    median_duration,
)
from rota.store.schema import event_record, events, jobs, run_record, runs

__all__ = ["count_runs", "events_after", "job_stats", "last_event_id", "list_runs"]

_SHOWN = sorted(status.value for status in FINISHED - {RunStatus.SKIPPED})
_FAILURE_LIKE = sorted(status.value for status in FAILURE_LIKE)
_SUCCEEDED = [RunStatus.SUCCEEDED.value]
_ACTIVE = sorted(status.value for status in ACTIVE)


def _filtered(query: Select[Any], wanted: RunFilter) -> Select[Any]:
    if wanted.job is not None:
        query = query.where(runs.c.job == wanted.job)
    if wanted.statuses is not None:
        query = query.where(runs.c.status.in_(wanted.statuses))
    if wanted.reasons is not None:
        query = query.where(runs.c.reason.in_(wanted.reasons))
    if wanted.since is not None:
        query = query.where(runs.c.queued_at >= wanted.since)
    if wanted.until is not None:
        query = query.where(runs.c.queued_at < wanted.until)
    if wanted.before_id is not None:
        query = query.where(runs.c.id < wanted.before_id)
    if wanted.parent_run_id is not None:
        query = query.where(runs.c.parent_run_id == wanted.parent_run_id)
    return query


def list_runs(connection: Connection, wanted: RunFilter, limit: int) -> list[RunRecord]:
    """Runs through the filter, newest first, at most `limit`."""
    if wanted.empty or limit == 0:
        return []
    query = _filtered(select(runs), wanted).order_by(runs.c.id.desc()).limit(limit)
    return [run_record(row) for row in connection.execute(query)]


def count_runs(connection: Connection, wanted: RunFilter) -> int:
    """How many runs the filter lets through."""
    if wanted.empty:
        return 0
    query = _filtered(select(func.count()).select_from(runs), wanted)
    return int(connection.execute(query).scalar_one())


def _newest(
    statuses: list[str], offset: int = 0, job: ColumnElement[Any] | None = None
) -> ScalarSelect[Any]:
    """The id of the job's newest run in `statuses`, or the one `offset` older; the job is
    `jobs.name`, or the `job` column of an enclosing query."""
    run = runs.alias()
    job = jobs.c.name if job is None else job
    # A status spelled as an expression, not the column: with a single status SQLite would
    # otherwise walk the status index (all jobs' runs in id order) instead of the job's.
    status = run.c.status + literal("") if len(statuses) == 1 else run.c.status
    query = (
        select(run.c.id)
        .where(run.c.job == job, status.in_(statuses))
        .order_by(run.c.id.desc())
        .limit(1)
    )
    if offset:
        query = query.offset(offset)
    return query.scalar_subquery()


def job_stats(connection: Connection, names: Collection[str] | None) -> dict[str, JobStats]:
    """Each job's `JobStats`, in three statements: the ids that matter per job, those runs,
    and the durations of the newest succeeded runs."""
    last_success = _newest(_SUCCEEDED)
    failure = runs.alias()
    # The success inside is the failure's own job's: a subquery of the job row's subquery
    # does not see the job row.
    since_success = _newest(_SUCCEEDED, job=failure.c.job)
    failures_since = (
        select(func.count())
        .select_from(failure)
        .where(
            failure.c.job == jobs.c.name,
            failure.c.status.in_(_FAILURE_LIKE),
            failure.c.id > func.coalesce(since_success, 0),
        )
        .scalar_subquery()
    )
    chosen = [] if names is None else [jobs.c.name.in_(set(names))]
    heads = connection.execute(
        select(
            jobs.c.name,
            _newest(_SHOWN).label("last_run"),
            last_success.label("last_success"),
            _newest(_FAILURE_LIKE).label("last_failure"),
            failures_since.label("failures"),
        ).where(*chosen)
    ).all()
    ids = {row[column] for row in heads for column in (1, 2, 3) if row[column] is not None}
    records: dict[int, RunRecord] = {}
    if ids:
        found = connection.execute(select(runs).where(runs.c.id.in_(ids)))
        records = {record.id: record for record in map(run_record, found)}
    # The newest MEDIAN_OF succeeded runs of each job: from the MEDIAN_OF-th newest one on.
    bounds = (
        select(jobs.c.name, func.coalesce(_newest(_SUCCEEDED, MEDIAN_OF - 1), 0).label("low"))
        .where(*chosen)
        .subquery()
    )
    durations: dict[str, list[timedelta | None]] = {}
    rows = connection.execute(
        select(runs.c.job, runs.c.started_at, runs.c.finished_at)
        .join(bounds, runs.c.job == bounds.c.name)
        .where(runs.c.id >= bounds.c.low, runs.c.status == RunStatus.SUCCEEDED.value)
    )
    for job, started, finished in rows:
        duration = None if started is None or finished is None else finished - started
        durations.setdefault(job, []).append(duration)
    stats: dict[str, JobStats] = {}
    for name, last_run_id, success_id, failure_id, failures in sorted(heads):
        last_run = _pick(records, last_run_id)
        stats[name] = JobStats(
            last_run=last_run,
            last_success=_pick(records, success_id),
            last_failure=_pick(records, failure_id),
            consecutive_failures=int(failures),
            last_duration=None if last_run is None else last_run.duration,
            median_duration=median_duration(durations.get(name, [])),
        )
    return stats


def _pick(records: dict[int, RunRecord], run_id: int | None) -> RunRecord | None:
    return None if run_id is None else records.get(int(run_id))


def events_after(
    connection: Connection, after_id: int, limit: int, exclude_origin: str | None
) -> list[EventRecord]:
    """Events above `after_id`, ascending, at most `limit`, without one origin's."""
    if limit == 0:
        return []
    conditions: list[ColumnElement[bool]] = [events.c.id > after_id]
    if exclude_origin is not None:
        conditions.append(events.c.origin != exclude_origin)
    query = select(events).where(*conditions).order_by(events.c.id).limit(limit)
    return [event_record(row) for row in connection.execute(query)]


def last_event_id(connection: Connection) -> int:
    """The newest event's id, 0 when there is none."""
    newest = connection.execute(select(func.max(events.c.id))).scalar()
    return 0 if newest is None else int(newest)
