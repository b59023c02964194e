"""`SqlStore`'s limiters (decision 0012): one row each, locked while a grant is worked out.

The row is read ``FOR UPDATE`` (PostgreSQL; SQLite's write transaction holds the database's one
write lock already), the grant is worked out by `rota.store.limits.take`, and the row written
back, all in one short transaction: two nodes asking at once take turns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from rota.store.dialect import insert_ignoring_conflicts
from rota.store.limits import LimiterState, Taken, TokenRequest, micros, take
from rota.store.schema import limiters

__all__ = ["limiter_states", "take_tokens"]


def take_tokens(connection: Connection, request: TokenRequest) -> Taken:
    """Grant the limiter's tokens if its capacity allows; the row is made on first use."""
    row = _locked(connection, request.name)
    if row is None:
        # Two nodes may make it at once: the second insert does nothing, and both lock it.
        insert = insert_ignoring_conflicts(limiters, connection.engine).values(
            name=request.name,
            capacity=request.capacity,
            period_us=micros(request.period),
            grants=[],
            next_grant=1,
            latest_us=0,
            updated_at=request.at,
        )
        connection.execute(insert)
        row = _locked(connection, request.name)
    assert row is not None  # inserted, or made by another transaction that committed
    taken = take(_state(row), request)
    state = taken.state
    connection.execute(
        update(limiters)
        .where(limiters.c.name == request.name)
        .values(
            capacity=state.capacity,
            period_us=state.period,
            grants=state.to_json(),
            next_grant=state.next_id,
            latest_us=state.latest,
            updated_at=_later(row.updated_at, request.at),
        )
    )
    return taken


def limiter_states(connection: Connection) -> list[LimiterState]:
    """Every limiter's state, by name."""
    rows = connection.execute(select(limiters)).all()
    return sorted((_state(row) for row in rows), key=lambda state: state.name)


def _locked(connection: Connection, name: str) -> Any:
    query = select(limiters).where(limiters.c.name == name).with_for_update()
    return connection.execute(query).first()


def _state(row: Any) -> LimiterState:
    return LimiterState(
        name=row.name,
        capacity=int(row.capacity),
        period=int(row.period_us),
        grants=LimiterState.grants_of(row.grants),
        next_id=int(row.next_grant),
        latest=int(row.latest_us),
    )


def _later(stored: datetime, at: datetime) -> datetime:
    return max(stored, at)
