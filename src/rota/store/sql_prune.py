"""`SqlStore`'s pruning: runs that their job's retention no longer keeps, and old events.

Both select the doomed ids (at most a batch) and then delete by id: DELETE ... LIMIT is not
portable, and the list is at most `batch` long. Runs are pruned for many jobs at once, each by
its own retention (decision 0009: one writer call per job did not keep up with 10,000 jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    true,
)

from rota.store.records import FAILURE_LIKE, FINISHED, Retention
from rota.store.schema import events, runs

__all__ = ["prune_events", "prune_runs"]

_FAILURE_LIKE = sorted(status.value for status in FAILURE_LIKE)
_OTHER_FINISHED = sorted(status.value for status in FINISHED - FAILURE_LIKE)
# Job names bound in one statement (SQLite allows 32,766 bound values).
_JOBS_PER_STATEMENT = 5000


def prune_runs(
    connection: Connection, retentions: Mapping[str, Retention], now: datetime, batch: int
) -> int:
    """Delete at most `batch` finished runs, oldest first, of the jobs in `retentions` that
    their job's retention no longer keeps: one statement ranks the runs of all the jobs at once
    (window functions), whatever their number, and one DELETE removes the doomed ones."""
    ids: list[int] = []
    names = sorted(retentions)
    for start in range(0, len(names), _JOBS_PER_STATEMENT):
        chunk = {name: retentions[name] for name in names[start : start + _JOBS_PER_STATEMENT]}
        ids += connection.execute(_doomed(chunk, now, batch)).scalars()
    ids = sorted(ids)[:batch]
    if not ids:
        return 0
    # Counted as deleted, not as selected: on PostgreSQL another node pruning at once may have
    # deleted some in between.
    return int(connection.execute(delete(runs).where(runs.c.id.in_(ids))).rowcount)


def _doomed(retentions: Mapping[str, Retention], now: datetime, batch: int) -> Select[Any]:
    """The ids of at most `batch` runs that their retention no longer keeps, oldest first."""
    failure = runs.c.status.in_(_FAILURE_LIKE)
    other = runs.c.status.in_(_OTHER_FINISHED)
    kind = case((failure, 1), (other, 2), else_=0)
    ranked = (
        select(
            runs.c.id,
            runs.c.job,
            runs.c.status,
            runs.c.finished_at,
            # 1 for a job's newest run, 1 for its newest of its kind (failure-like, other).
            func.row_number()
            .over(partition_by=runs.c.job, order_by=runs.c.id.desc())
            .label("newest"),
            func.row_number()
            .over(partition_by=(runs.c.job, kind), order_by=runs.c.id.desc())
            .label("newest_of_kind"),
        )
        .where(runs.c.job.in_(list(retentions)))
        .subquery()
    )
    by_retention: dict[Retention, list[str]] = {}
    for name, retention in retentions.items():
        by_retention.setdefault(retention, []).append(name)
    doomed: list[ColumnElement[bool]] = []
    for retention, names in by_retention.items():
        old_failures = ranked.c.finished_at <= now - retention.failed_for
        old_others = ranked.c.finished_at <= now - retention.succeeded_for
        if retention.fast:
            # Only the newest of each kind are kept, and those only within their age.
            old_failures = or_(old_failures, ranked.c.newest_of_kind > retention.fast_failures)
            old_others = or_(old_others, ranked.c.newest_of_kind > retention.keep_last)
        of_these = ranked.c.job.in_(names) if len(by_retention) > 1 else true()
        doomed.append(
            and_(
                of_these,
                ranked.c.newest > retention.keep_last,
                or_(
                    and_(ranked.c.status.in_(_FAILURE_LIKE), old_failures),
                    and_(ranked.c.status.in_(_OTHER_FINISHED), old_others),
                ),
            )
        )
    return select(ranked.c.id).where(or_(*doomed)).order_by(ranked.c.id).limit(batch)


def prune_events(connection: Connection, before: datetime, keep: int, batch: int) -> int:
    """Delete at most `batch` events older than `before`, never the newest `keep`."""
    doomed = select(events.c.id).where(events.c.at < before)
    if keep:
        newest = select(events.c.id).order_by(events.c.id.desc()).offset(keep - 1).limit(1)
        kept_from = connection.execute(newest).scalar()
        if kept_from is None:
            return 0  # fewer than `keep` events: all are kept
        doomed = doomed.where(events.c.id < kept_from)
    ids = list(connection.execute(doomed.order_by(events.c.id).limit(batch)).scalars())
    if not ids:
        return 0
    return int(connection.execute(delete(events).where(events.c.id.in_(ids))).rowcount)
