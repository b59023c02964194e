"""`SqlStore`'s pruning: runs that their job's retention no longer keeps, and old events.

Both select the doomed ids (at most a batch) and then delete by id: DELETE ... LIMIT is not
portable, and the list is at most `batch` long.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, delete, false, or_, select, true

from rota.store.records import FAILURE_LIKE, FINISHED, Retention
from rota.store.schema import events, runs

__all__ = ["prune_events", "prune_runs"]

_FAILURE_LIKE = sorted(status.value for status in FAILURE_LIKE)
_OTHER_FINISHED = sorted(status.value for status in FINISHED - FAILURE_LIKE)


def prune_runs(
    connection: Connection, job: str, retention: Retention, now: datetime, batch: int
) -> int:
    """Delete at most `batch` of `job`'s finished runs that `retention` no longer keeps."""
    not_kept_by_rank = _not_among_newest(connection, job, retention.keep_last, None)
    old_failures = runs.c.finished_at <= now - retention.failed_for
    old_others = runs.c.finished_at <= now - retention.succeeded_for
    if retention.fast:
        # Only the newest of each kind are kept, and those only within their age.
        old_failures = or_(
            old_failures,
            _not_among_newest(connection, job, retention.fast_failures, _FAILURE_LIKE),
        )
        old_others = or_(
            old_others,
            _not_among_newest(connection, job, retention.keep_last, _OTHER_FINISHED),
        )
    doomed = (
        select(runs.c.id)
        .where(runs.c.job == job, not_kept_by_rank)
        .where(
            or_(
                and_(runs.c.status.in_(_FAILURE_LIKE), old_failures),
                and_(runs.c.status.in_(_OTHER_FINISHED), old_others),
            )
        )
        .order_by(runs.c.id)
        .limit(batch)
    )
    # Selected, then deleted by id: DELETE ... LIMIT is not portable, and the list is
    # at most `batch` long. Counted as deleted, not as selected: on PostgreSQL another
    # node pruning at once may have deleted some in between.
    ids = list(connection.execute(doomed).scalars())
    if not ids:
        return 0
    return int(connection.execute(delete(runs).where(runs.c.id.in_(ids))).rowcount)


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


def _not_among_newest(
    connection: Connection, job: str, count: int, statuses: list[str] | None
) -> ColumnElement[bool]:
    """Whether a run of `job` is outside its newest `count` runs (of those in `statuses`)."""
    if count == 0:
        return true()
    query = (
        select(runs.c.id)
        .where(runs.c.job == job)
        .order_by(runs.c.id.desc())
        .offset(count - 1)
        .limit(1)
    )
    if statuses is not None:
        query = query.where(runs.c.status.in_(statuses))
    nth_newest = connection.execute(query).scalar()
    if nth_newest is None:
        return false()  # fewer than `count`: every one is among the newest
    return runs.c.id < int(nth_newest)
