"""Everything that differs between SQLite and PostgreSQL, and nothing else.

The rest of the store is one code path over SQLAlchemy Core. What differs:

- which URLs are accepted (SQLite files; PostgreSQL through psycopg 3);
- connection set-up: SQLite gets WAL, ``synchronous=NORMAL``, foreign keys and a busy timeout on
  every connection, and SQLAlchemy (not the sqlite3 module) emits ``BEGIN``, so that writes can
  say ``BEGIN IMMEDIATE``;
- the ``INSERT ... ON CONFLICT DO NOTHING`` construct (same spelling, one class per dialect);
- how processes migrating one database, or syncing their jobs, together take turns;
- which errors abort a transaction only to let another through (PostgreSQL's deadlocks), so
  that it may run again;
- DDL details declared on the tables (the run id type, SQLite's AUTOINCREMENT).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Integer,
    Table,
    event,
    func,
    text,
)
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine

from rota.errors import StoreError
from rota.store.checks import SUPPORTED_URLS, encode_json

__all__ = [
    "BUSY_TIMEOUT_MS",
    "RUNS_TABLE_OPTIONS",
    "RUN_ID_TYPE",
    "TRANSACTION_ATTEMPTS",
    "claim_within_limit",
    "create_engine",
    "database_clock",
    "insert_ignoring_conflicts",
    "lock_for_events",
    "lock_for_migration",
    "lock_for_sync",
    "parse_url",
    "shown",
    "unreachable",
    "worth_retrying",
    "write_transaction",
]

BUSY_TIMEOUT_MS = 5000
"""How long an SQLite connection waits for another's write lock before giving up."""

# RETURNING (3.35) and ON CONFLICT DO NOTHING (3.24).
_SQLITE_MINIMUM = (3, 35, 0)

# A run id is 64 bits on PostgreSQL (a 0.1 s job makes 315 million runs a year); on SQLite an
# INTEGER PRIMARY KEY is already 64 bits and must be spelled INTEGER to be the rowid.
RUN_ID_TYPE: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

# SQLite reuses the highest rowid once its row is deleted (pruning may do that); AUTOINCREMENT
# never reuses one, as PostgreSQL's sequences never do, so a run id means one run forever.
RUNS_TABLE_OPTIONS: dict[str, Any] = {"sqlite_autoincrement": True}

_WRITE = "rota_write"


def shown(url: URL) -> str:
    """The URL as it may appear in a message or a log: without its password."""
    return url.render_as_string(hide_password=True)


def parse_url(url: str) -> URL:
    """Check a database URL and spell it for the driver rota uses."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"store URL {url!r} is not a database URL; use one of {SUPPORTED_URLS}"
        ) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite":
        if driver != "pysqlite":
            raise StoreError(
                f"store URL {shown(parsed)!r}: the SQLite driver {driver!r} is not supported; "
                "use sqlite:///PATH"
            )
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in database:
            raise StoreError(
                f"store URL {shown(parsed)!r}: an in-memory SQLite database is private to each "
                "connection; give a file (sqlite:///PATH) or use memory://"
            )
        return parsed
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            return parsed.set(drivername="postgresql+psycopg")
        if driver != "psycopg":
            raise StoreError(
                f"store URL {shown(parsed)!r}: rota talks to PostgreSQL through psycopg 3; "
                "use postgresql+psycopg://..."
            )
        return parsed
    raise StoreError(
        f"store URL {shown(parsed)!r}: {backend!r} databases are not supported; "
        f"use one of {SUPPORTED_URLS}"
    )


def create_engine(url: URL) -> Engine:
    """An engine set up for rota on `url` (from `parse_url`)."""
    if url.get_backend_name() == "sqlite":
        if sqlite3.sqlite_version_info < _SQLITE_MINIMUM:
            need = ".".join(map(str, _SQLITE_MINIMUM))
            raise StoreError(
                f"SQLite {need} or newer is needed (for RETURNING); this Python links "
                f"SQLite {sqlite3.sqlite_version}"
            )
        engine = sa_create_engine(url, json_serializer=encode_json)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return sa_create_engine(url, json_serializer=encode_json, pool_pre_ping=True)
    except ModuleNotFoundError as error:
        raise StoreError(
            f"store URL {shown(url)!r}: the driver is not installed ({error}); "
            "install rota[postgres]"
        ) from None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module would otherwise open transactions itself, always deferred, and commit
    # before DDL; SQLAlchemy's documented recipe hands BEGIN to us (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # Busy timeout first: switching to WAL needs a lock that another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Readers never block the writer nor the writer them; one fsync per checkpoint, not
        # per commit: a process crash loses nothing committed, a power loss the last commits.
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    # Connections opening a new file together race to convert it, and the loser gets "database
    # is locked" at once: SQLite does not call the busy handler there. So wait here instead.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as error:
            busy = getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
            continue
        if str(mode).lower() != "wal":
            raise StoreError(
                f"SQLite would not use WAL mode here (it stays in {mode!r} mode); rota needs "
                "it, and it needs a local file system"
            )
        return


def _sqlite_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes must upgrade its lock, and two such
    # upgrades deadlock (SQLite answers "database is locked" at once, without waiting). Writes
    # take the write lock up front instead and queue behind the busy timeout.
    write = connection.get_execution_options().get(_WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that will write: committed on exit, rolled back on error.

    On SQLite it holds the database's one write lock from its start; on PostgreSQL row locks
    and conditional updates serialise the writers.
    """
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


# Any fixed numbers: the keys of PostgreSQL's advisory locks that processes take turns on.
_MIGRATION_LOCK = 0x726F7461  # "rota"
_SYNC_LOCK = 0x726F7461_73796E63  # "rotasync"
_EVENTS_LOCK = 0x726F7461_65767473  # "rotaevts"


def lock_for_migration(connection: Connection) -> None:
    """Make processes that migrate one database at once take turns, until the transaction
    ends: SQLite's write lock does this already; PostgreSQL takes an advisory lock."""
    _advisory_lock(connection, _MIGRATION_LOCK)


def lock_for_sync(connection: Connection) -> None:
    """Make nodes that sync their jobs at once take turns, until the transaction ends.

    Row locks cannot do it on PostgreSQL: two nodes starting together both find a new job
    missing and both insert it, and the second fails on the primary key. SQLite's write lock
    serialises them already.
    """
    _advisory_lock(connection, _SYNC_LOCK)


def lock_for_events(connection: Connection) -> None:
    """Make transactions insert their events one after another, each holding the turn until
    it commits, so that event ids ascend in commit order: a follower that read up to id N
    never later finds a smaller id committed. SQLite's write lock does this already;
    PostgreSQL takes an advisory lock, only around the events' insert and the commit."""
    _advisory_lock(connection, _EVENTS_LOCK)


def _advisory_lock(connection: Connection, key: int) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# PostgreSQL aborts a transaction to break a deadlock (40P01), or when it cannot serialise it
# (40001, only above read committed); either wrote nothing and may simply run again.
_RETRYABLE = frozenset({"40P01", "40001"})

TRANSACTION_ATTEMPTS = 3
"""How often a write transaction is tried when the database aborts it to let another through."""


def unreachable(error: DBAPIError) -> bool:
    """Whether `error` says the database could not be reached or the connection broke (not
    that the statement was wrong): psycopg's and sqlite3's OperationalError, a connection
    SQLAlchemy found invalid. A deadlock is an OperationalError too, and is not this."""
    if worth_retrying(error):
        return False
    return bool(error.connection_invalidated) or isinstance(
        error, (sa_exc.OperationalError, sa_exc.InterfaceError)
    )


def worth_retrying(error: DBAPIError) -> bool:
    """Whether the database aborted the transaction only to let another one through, so that
    running it again is safe. SQLite has one writer at a time and never does this."""
    return getattr(error.orig, "sqlstate", None) in _RETRYABLE


def insert_ignoring_conflicts(table: Table, engine: Engine) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING``: a row whose unique key exists is not inserted."""
    name = engine.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing()
    raise StoreError(f"the {name!r} database is not supported; use one of {SUPPORTED_URLS}")


# -- SQLite: bursts in driver SQL ------------------------------------------------------------
#
# A burst of claims or finishes is the store's hot path. Through SQLAlchemy Core a transaction
# of ten claims costs about 0.5 ms on this project's machine, through the driver 0.06 ms
# (bench: docs/benchmarks.md). These write the same rows the Core statements would: times are
# formatted by the column type's own bind processor.


def driver_batches(connection: Connection) -> bool:
    """Whether this connection takes the driver-SQL path for bursts (SQLite)."""
    return connection.dialect.name == "sqlite"


def _driver(connection: Connection) -> Any:
    return connection.connection.driver_connection


def claim_many(
    connection: Connection, ids: list[int], node: str, started_at: str, generation: int | None
) -> set[int]:
    """Queued runs among `ids` set running on `node` under `generation`; the ids claimed."""
    marks = ",".join("?" * len(ids))
    rows = _driver(connection).execute(
        f"UPDATE runs SET status = 'running', node = ?, started_at = ?, generation = ? "
        f"WHERE id IN ({marks}) AND status = 'queued' RETURNING id",
        [node, started_at, generation, *ids],
    )
    return {row[0] for row in rows.fetchall()}


def active_among(connection: Connection, ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """(status, node, generation) of each run among `ids` that is queued or running."""
    marks = ",".join("?" * len(ids))
    rows = _driver(connection).execute(
        f"SELECT id, status, node, generation FROM runs "
        f"WHERE id IN ({marks}) AND status IN ('queued', 'running')",
        ids,
    )
    return {row[0]: tuple(row[1:]) for row in rows.fetchall()}


def node_generation(connection: Connection, node: str) -> Any:
    """The lease generation of `node` if it is not stopped, else None."""
    row = (
        _driver(connection)
        .execute("SELECT generation FROM nodes WHERE id = ? AND stopped_at IS NULL", [node])
        .fetchone()
    )
    return None if row is None else row[0]


def update_many(connection: Connection, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
    """Set `columns` (names from the runs table) of many runs; each row ends with the id."""
    assignments = ", ".join(f"{column} = ?" for column in columns)
    _driver(connection).executemany(f"UPDATE runs SET {assignments} WHERE id = ?", rows)


def advance_job(connection: Connection, name: str, expected: Any, following: Any) -> bool:
    """Compare-and-set a job's next fire time (written times; NULL equals NULL)."""
    cursor = _driver(connection).execute(
        "UPDATE jobs SET next_fire_at = ? WHERE name = ? AND next_fire_at IS ?",
        [following, name, expected],
    )
    return bool(cursor.rowcount == 1)


def run_facts(connection: Connection, ids: list[int]) -> list[tuple[Any, ...]]:
    """(id, job, reason, attempt, note, error) of the runs among `ids`."""
    marks = ",".join("?" * len(ids))
    rows = _driver(connection).execute(
        f"SELECT id, job, reason, attempt, note, error FROM runs WHERE id IN ({marks})", ids
    )
    return list(rows.fetchall())


def insert_events(connection: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Insert events ((at, kind, job, run_id, data, origin) as written values); the last id."""
    driver = _driver(connection)
    driver.executemany(
        "INSERT INTO events (at, kind, job, run_id, data, origin) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
    return int(driver.execute("SELECT last_insert_rowid()").fetchone()[0])


# SQLite allows 32,766 bound values a statement (3.32 and newer); runs have 13 columns to set.
_ROWS_PER_INSERT = 500


def insert_runs(
    connection: Connection, columns: tuple[str, ...], rows: list[list[Any]]
) -> list[tuple[Any, ...]]:
    """Insert runs (`columns` of each row, written values) skipping those whose key exists;
    (id, job, fire_time, reason, attempt, retry_of) of each inserted one, in no particular
    order."""
    driver = _driver(connection)
    marks = "(" + ",".join("?" * len(columns)) + ")"
    returned: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        cursor = driver.execute(
            f"INSERT INTO runs ({', '.join(columns)}) VALUES {','.join([marks] * len(chunk))} "
            "ON CONFLICT DO NOTHING RETURNING id, job, fire_time, reason, attempt, retry_of",
            [value for row in chunk for value in row],
        )
        returned.extend(cursor.fetchall())
    return returned


# -- the database's clock --------------------------------------------------------------------


def database_clock(connection: Connection) -> ColumnElement[datetime] | None:
    """The database's own current time as SQL, where it has a clock several machines share
    (PostgreSQL: `clock_timestamp()`, the time of the statement, not of the transaction); None
    for SQLite, which serves one machine."""
    if connection.dialect.name == "postgresql":
        return func.clock_timestamp().cast(DateTime(timezone=True))
    return None


# -- a job's limit of runs at once -------------------------------------------------------------


def claim_within_limit(
    connection: Connection,
    run_id: int,
    node: str,
    started_at: Any,
    limit: int,
    generation: int | None = None,
) -> bool:
    """Claim a queued run only while fewer than `limit` runs of its job are running.

    On PostgreSQL the job's row is locked first, so claims of one job's runs by several nodes
    take turns and each counts the others' committed claims; SQLite's write lock does that for
    the whole database. The count reads the few running runs through the status index (SQLite:
    ``+r.job`` keeps it from walking the job's whole history instead).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(
                "SELECT 1 FROM jobs WHERE name = (SELECT job FROM runs WHERE id = :id) FOR UPDATE"
            ),
            {"id": run_id},
        )
        changed = connection.execute(
            text(
                "UPDATE runs SET status = 'running', node = :node, started_at = :at, "
                "generation = :generation "
                "WHERE id = :id AND status = 'queued' AND (SELECT count(*) FROM runs AS r "
                "WHERE r.status = 'running' AND r.job = runs.job) < :limit"
            ),
            {
                "node": node,
                "at": started_at,
                "id": run_id,
                "limit": limit,
                "generation": generation,
            },
        ).rowcount
        return bool(changed == 1)
    cursor = _driver(connection).execute(
        "UPDATE runs SET status = 'running', node = ?, started_at = ?, generation = ? "
        "WHERE id = ? AND status = 'queued' AND (SELECT count(*) FROM runs AS r "
        "WHERE r.status = 'running' AND +r.job = runs.job) < ?",
        [node, started_at, generation, run_id, limit],
    )
    return bool(cursor.rowcount == 1)
