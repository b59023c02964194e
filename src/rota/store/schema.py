"""The tables: jobs, runs, nodes and events, column for column the fields of the records.

The column order of each table is the field order of its record (a test guards this), so a row
becomes a record positionally; the nodes table has one more (before the columns 0003 added):
the job names a node registered, read apart (`list_nodes` leaves the possibly long list out).
Migrations in `migrations/versions/` create exactly this schema (columns a migration added
come last in the database's own order; rows are always read by naming the columns).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

from rota.errors import StoreError
from rota.store.dialect import RUN_ID_TYPE, RUNS_TABLE_OPTIONS
from rota.store.records import (
    EventKind,
    EventRecord,
    JobKind,
    JobRecord,
    NodeRecord,
    Reason,
    RunRecord,
    RunStatus,
)

__all__ = [
    "NODE_COLUMNS",
    "RUN_KEY",
    "SPAWN_KEY_ACTIVE",
    "UtcDateTime",
    "chain_edges",
    "event_record",
    "events",
    "job_record",
    "jobs",
    "limiters",
    "metadata",
    "node_record",
    "nodes",
    "run_record",
    "runs",
]


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: binds aware datetimes only and returns them in UTC.

    SQLite has no time zones: SQLAlchemy writes the fields as fixed-width text
    (``2026-03-29 01:00:00.000000``), so after conversion to UTC text order is time order and
    equal instants are equal text, which the unique run key needs. PostgreSQL stores
    ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes (their instant is unknown); convert the rest to UTC."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise StoreError(f"time column: {value!r} is not a datetime")
        if value.utcoffset() is None:
            raise StoreError(
                f"time column: {value.isoformat()} has no time zone; the store takes aware "
                "datetimes (e.g. with tzinfo=timezone.utc)"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """An aware UTC datetime (SQLite gives naive UTC ones back)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


# Constraint names are fixed so that migrations can refer to them on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

SPAWN_KEY_ACTIVE = "spawn_key IS NOT NULL AND status IN ('queued', 'running')"
"""Where the spawn key is unique: among active runs that have one."""

jobs = Table(
    "jobs",
    metadata,
    Column("name", Text, primary_key=True),
    Column("defaults", JSON, nullable=False),
    Column("override", JSON, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("pause_note", Text),
    # code, runtime or internal (JobKind); the default fills the rows of a 0001 database.
    Column("kind", String(16), nullable=False, server_default="code"),
    Column("target", Text),
    Column("next_fire_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The scheduler's start-up read: every job with a next fire time, earliest first.
    Index(None, "next_fire_at"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", RUN_ID_TYPE, primary_key=True, autoincrement=True),
    # A job is deleted only together with its runs (RemoveJob), so runs can refer to it.
    Column("job", Text, ForeignKey("jobs.name"), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("fire_time", UtcDateTime),
    Column("queued_at", UtcDateTime, nullable=False),
    Column("not_before", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("attempt", Integer, nullable=False),
    Column("args", JSON, nullable=False),
    Column("node", Text),
    Column("progress_done", Float),
    Column("progress_total", Float),
    Column("progress_note", Text),
    Column("note", Text),
    Column("error", Text),
    Column("traceback", Text),
    # Defaults in the database, so creating runs sends no values for them.
    Column("log", Text, nullable=False, server_default=""),
    # No foreign key: pruning may delete the run retried, and the retry keeps its history.
    Column("retry_of", BigInteger),
    Column("cancel_requested", Boolean, nullable=False, server_default=false()),
    # The lease generation of the node life that claimed the run: its fencing token.
    Column("generation", BigInteger),
    # A streak of skipped fire times is one row (migration 0004).
    Column("fire_count", Integer, nullable=False, server_default=text("1")),
    Column("last_fire_time", UtcDateTime),
    # A spawned run's parent and its de-duplication key (migration 0005, decision 0012).
    Column("parent_run_id", BigInteger),
    Column("spawn_key", Text),
    # A dependency run's upstream runs, {job: run id} (migration 0007, decision 0011).
    Column("upstream_runs", JSON, nullable=False, server_default=text("'{}'")),
    # Exactly once per fire time: a second insert of the same key creates nothing. Runs without
    # a fire time (manual ones) never collide, since NULLs are distinct in a unique constraint.
    UniqueConstraint("job", "fire_time", "reason", "attempt"),
    # One retry per attempt, whoever queues it (a reaper, or a node that finishes late).
    Index(None, "retry_of", unique=True),
    # A job's history, newest first, and paging by id.
    Index(None, "job", "id"),
    # Active runs (queued, running) are few among many finished ones.
    Index(None, "status"),
    # The runs a run spawned (listed by parent, migration 0007).
    Index(None, "parent_run_id"),
    # One queued or running run per (job, spawn key): a spawn whose key is taken creates none.
    Index(
        "uq_runs_active_spawn_key",
        "job",
        "spawn_key",
        unique=True,
        sqlite_where=text(SPAWN_KEY_ACTIVE),
        postgresql_where=text(SPAWN_KEY_ACTIVE),
    ),
    **RUNS_TABLE_OPTIONS,
)

limiters = Table(
    "limiters",
    metadata,
    # One row per limiter (decision 0012): its limit as the code last declared it, and the
    # grants that may still count, as JSON [[id, start, until, tokens], ...] in microseconds.
    Column("name", Text, primary_key=True),
    Column("capacity", BigInteger, nullable=False),
    Column("period_us", BigInteger, nullable=False),
    Column("grants", JSON, nullable=False),
    Column("next_grant", BigInteger, nullable=False),
    Column("latest_us", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

nodes = Table(
    "nodes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("heartbeat_at", UtcDateTime, nullable=False),
    Column("stopped_at", UtcDateTime),
    # The names of the jobs the node's code defines (a JSON list): what is "in code".
    Column("jobs", JSON, nullable=False, server_default=text("'[]'")),
    Column("generation", BigInteger, nullable=False, server_default=text("0")),
    Column("life", Text),
)

events = Table(
    "events",
    metadata,
    # Ascending in commit order (see rota.store.dialect.lock_for_events); never reused, so a
    # follower's last id stays meaningful after pruning.
    Column("id", RUN_ID_TYPE, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("job", Text),
    Column("run_id", BigInteger),
    Column("data", JSON, nullable=False),
    Column("origin", Text, nullable=False),
    **RUNS_TABLE_OPTIONS,
)

chain_edges = Table(
    "chain_edges",
    metadata,
    # One row per edge of a chain (decision 0011): the upstream's newest success counted, and
    # the one the downstream's last dependency run consumed. No foreign keys: a job's edges are
    # deleted with it (RemoveJob), and an edge may name an upstream that is not there yet.
    Column("downstream", Text, primary_key=True),
    Column("upstream", Text, primary_key=True),
    Column("last_success", BigInteger),
    Column("last_consumed", BigInteger),
)

NODE_COLUMNS = tuple(nodes.c[name] for name in NodeRecord.__dataclass_fields__)
"""The columns of a `NodeRecord`: all but the registered jobs."""

RUN_KEY = ("job", "fire_time", "reason", "attempt")
"""The columns of the exactly-once key of a run."""


def job_record(row: Sequence[Any]) -> JobRecord:
    """A `jobs` row (all columns, in table order) as a record."""
    values = list(row)
    values[5] = JobKind(values[5])
    return JobRecord(*values)


def event_record(row: Sequence[Any]) -> EventRecord:
    """An `events` row (all columns, in table order) as a record."""
    values = list(row)
    values[2] = EventKind(values[2])
    return EventRecord(*values)


def run_record(row: Sequence[Any]) -> RunRecord:
    """A `runs` row (all columns, in table order) as a record."""
    values = list(row)
    values[2] = Reason(values[2])
    values[3] = RunStatus(values[3])
    return RunRecord(*values)


def node_record(row: Sequence[Any]) -> NodeRecord:
    """A `nodes` row (the `NODE_COLUMNS`, in order) as a record."""
    return NodeRecord(*row)
