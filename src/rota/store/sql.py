"""`SqlStore`: the store on SQLite or PostgreSQL, through SQLAlchemy Core (sync engine).

Writes run in short write transactions (`dialect.write_transaction`); reads take a pooled
connection of their own, from whichever thread calls them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.dml import ReturningInsert

from rota.errors import RotaError, StoreError, StoreUnavailableError
from rota.store import checks, notify
from rota.store.abc import Operation, Store, SyncResult, notices_of
from rota.store.dialect import (
    TRANSACTION_ATTEMPTS,
    create_engine,
    database_clock,
    insert_ignoring_conflicts,
    lock_for_sync,
    parse_url,
    shown,
    unreachable,
    worth_retrying,
    write_transaction,
)
from rota.store.migrate import ensure_schema
from rota.store.records import (
    ACTIVE,
    FAILURE_LIKE,
    FINISHED,
    JobRecord,
    NodeRecord,
    Retention,
    RunRecord,
    RunStatus,
)
from rota.store.schema import job_record, jobs, node_record, nodes, run_record, runs
from rota.store.sql_apply import Transaction

__all__ = ["SqlStore"]

log = logging.getLogger(__name__)

_ACTIVE = sorted(status.value for status in ACTIVE)
_FAILURE_LIKE = sorted(status.value for status in FAILURE_LIKE)
_OTHER_FINISHED = sorted(status.value for status in FINISHED - FAILURE_LIKE)
_SHOWN_FINISHED = sorted(status.value for status in FINISHED - {RunStatus.SKIPPED})


_SYNC_SLICE = 1000


class _Open(NamedTuple):
    """What an open store holds."""

    engine: Engine
    insert_runs: ReturningInsert[Any]
    channel: str | None  # where changes are notified (PostgreSQL), see rota.store.notify


class SqlStore(Store):
    """The store in an SQL database: ``sqlite:///PATH`` or ``postgresql+psycopg://...``.

    Thread-safe: writes serialise in the database (SQLite's write lock, PostgreSQL's row locks);
    reads run concurrently on pooled connections.
    """

    def __init__(self, url: str) -> None:
        self.url = parse_url(url)
        self._open: _Open | None = None
        self._lock = threading.Lock()
        self._known_jobs: set[str] = set()

    def __repr__(self) -> str:
        return f"SqlStore({shown(self.url)!r})"

    # -- connections ------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, and create or migrate the schema (a single read when it is current)."""
        with self._lock:
            if self._open is not None:
                return
            engine = create_engine(self.url)
            try:
                ensure_schema(engine)
            except DBAPIError as error:
                engine.dispose()
                raise StoreError(
                    f"store {shown(self.url)!r} cannot be opened: {error.orig}"
                ) from error
            except BaseException:
                engine.dispose()
                raise
            insert_runs = insert_ignoring_conflicts(runs, engine).returning(
                runs.c.id, runs.c.job, runs.c.fire_time, runs.c.reason, runs.c.attempt
            )
            channel = None
            if engine.dialect.name == "postgresql":
                with _own_errors(), engine.connect() as connection:
                    channel = notify.channel_of(connection)
            self._open = _Open(engine, insert_runs, channel)

    def close(self) -> None:
        """Close every pooled connection; `open` may be called again."""
        with self._lock:
            opened, self._open = self._open, None
            self._known_jobs = set()
        if opened is not None:
            opened.engine.dispose()

    def _opened(self) -> _Open:
        opened = self._open
        if opened is None:
            raise StoreError(f"store {shown(self.url)!r} is not open: call open() first")
        return opened

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with _own_errors(), self._opened().engine.connect() as connection:
            yield connection

    @contextmanager
    def _writing(self, opened: _Open | None = None) -> Iterator[Connection]:
        if opened is None:
            opened = self._opened()
        with _own_errors(), write_transaction(opened.engine) as connection:
            yield connection

    # -- writes -----------------------------------------------------------------------------

    def apply(self, operations: Sequence[Operation]) -> list[Any]:
        """Apply the operations in order in one transaction; one result per operation."""
        for index, operation in enumerate(operations):
            checks.check_operation(operation, index)
        if not operations:
            return []
        opened = self._opened()
        attempt = 1
        while True:
            try:
                with self._writing(opened) as connection:
                    transaction = Transaction(connection, opened.insert_runs, self._known_jobs)
                    results = transaction.apply(operations)
                    if opened.channel is not None:
                        notify.send(connection, opened.channel, notices_of(operations, results))
            except DBAPIError as error:
                # Operations in any order may take rows in any order: on PostgreSQL two nodes
                # can deadlock, and the one aborted wrote nothing, so it runs again.
                if attempt >= TRANSACTION_ATTEMPTS or not worth_retrying(error):
                    raise
                log.info(
                    "rota runs a transaction on %s again: it was aborted (%s)", self, error.orig
                )
                attempt += 1
                continue
            # Only after the commit: names seen in a transaction that failed prove nothing.
            self._known_jobs |= transaction.learned
            return results

    def sync_jobs(self, defaults: Mapping[str, dict[str, Any]], at: datetime) -> SyncResult:
        """Make the stored jobs match the code (see `Store.sync_jobs`); all jobs by name.

        It runs at every start, over every job: one read of all rows, with the defaults as the
        JSON text the column holds, compared as text with the code's; only jobs that differ
        are written, and nothing is read twice.
        """
        checks.check_sync(defaults, at)
        wanted = {
            name: checks.json_text(value, checks.sync_field(name))
            for name, value in defaults.items()
        }
        replaced: dict[str, dict[str, Any]] = {}
        records: list[JobRecord] = []
        changes: list[dict[str, Any]] = []  # rows to update: name, in_code, maybe defaults
        columns = [cast(c, Text).label(c.name) if c is jobs.c.defaults else c for c in jobs.c]
        with self._writing() as connection:
            lock_for_sync(connection)
            for row in connection.execute(select(*columns)):
                name = row.name
                text = wanted.pop(name, None)
                stored: dict[str, Any] = json.loads(row.defaults)
                change: dict[str, Any] = {"v_name": name, "v_in_code": text is not None}
                if text is not None and text != row.defaults:
                    # Equal objects may differ in spelling (key order): compare them decoded.
                    code: dict[str, Any] = json.loads(text)
                    if code != stored:
                        replaced[name], stored = stored, code
                        change["v_defaults"] = code
                changed = len(change) > 2 or row.in_code != change["v_in_code"]
                if changed:
                    changes.append(change)
                records.append(
                    JobRecord(
                        name,
                        stored,
                        row.override,
                        row.paused,
                        row.pause_note,
                        change["v_in_code"],
                        row.next_fire_at,
                        row.created_at,
                        at if changed else row.updated_at,
                    )
                )
            for with_defaults in (True, False):
                group = [c for c in changes if ("v_defaults" in c) is with_defaults]
                if group:
                    values = {"in_code": bindparam("v_in_code"), "updated_at": at}
                    if with_defaults:
                        values["defaults"] = bindparam("v_defaults")
                    statement = update(jobs).where(jobs.c.name == bindparam("v_name"))
                    connection.execute(statement.values(**values), group)
            new = [
                JobRecord(name, json.loads(text), {}, False, None, True, None, at, at)
                for name, text in wanted.items()
            ]
            # In slices: the driver's parameters for 100,000 rows at once would cost more
            # memory than the jobs themselves.
            for start in range(0, len(new), _SYNC_SLICE):
                rows = [
                    {c.name: getattr(record, c.name) for c in jobs.c}
                    for record in new[start : start + _SYNC_SLICE]
                ]
                connection.execute(insert(jobs), rows)
        records.extend(new)
        self._known_jobs |= {record.name for record in records}
        return SyncResult(sorted(records, key=lambda record: record.name), replaced)

    def prune(self, job: str, retention: Retention, now: datetime, batch: int) -> int:
        """Delete up to `batch` of `job`'s oldest runs that `retention` no longer keeps."""
        checks.check_retention(retention, now, batch)
        if batch == 0:
            return 0
        with self._writing() as connection:
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

    # -- reads ------------------------------------------------------------------------------

    def get_job(self, name: str) -> JobRecord | None:
        """One job by name."""
        with self._reading() as connection:
            row = connection.execute(select(jobs).where(jobs.c.name == name)).first()
        return None if row is None else job_record(row)

    def list_jobs(self) -> list[JobRecord]:
        """All jobs, by name."""
        with self._reading() as connection:
            records = [job_record(row) for row in connection.execute(select(jobs))]
        # Sorted here: database collations order names differently (PostgreSQL's locale).
        return sorted(records, key=lambda record: record.name)

    def next_fire_times(self) -> list[tuple[datetime, str]]:
        """(next_fire_at, name) of every unpaused job that has one, earliest first."""
        query = select(jobs.c.next_fire_at, jobs.c.name).where(
            jobs.c.next_fire_at.is_not(None), jobs.c.paused == false()
        )
        with self._reading() as connection:
            rows = connection.execute(query).all()
        return sorted((row.next_fire_at, row.name) for row in rows)

    def get_run(self, run_id: int) -> RunRecord | None:
        """One run by id."""
        with self._reading() as connection:
            row = connection.execute(select(runs).where(runs.c.id == run_id)).first()
        return None if row is None else run_record(row)

    def list_runs(
        self,
        job: str | None = None,
        statuses: Collection[RunStatus] | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally of one job, in some statuses, below `before_id`."""
        checks.check_limit(limit)
        wanted = checks.check_statuses(statuses)
        if wanted == [] or limit == 0:
            return []
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if job is not None:
            query = query.where(runs.c.job == job)
        if wanted is not None:
            query = query.where(runs.c.status.in_(wanted))
        if before_id is not None:
            query = query.where(runs.c.id < before_id)
        with self._reading() as connection:
            return [run_record(row) for row in connection.execute(query)]

    def active_runs(self, job: str | None = None) -> list[RunRecord]:
        """Queued and running runs, oldest first."""
        query = select(runs).where(runs.c.status.in_(_ACTIVE)).order_by(runs.c.id)
        if job is not None:
            query = query.where(runs.c.job == job)
        with self._reading() as connection:
            return [run_record(row) for row in connection.execute(query)]

    def last_finished_runs(self) -> dict[str, RunRecord]:
        """The newest finished, not skipped, run of each job that has one."""
        # Per job, walk its (job, id) index from the newest end to the first finished run:
        # cheap however long the history is, unlike a GROUP BY over all runs.
        newer = runs.alias("newer")
        newest = (
            select(newer.c.id)
            .where(newer.c.job == jobs.c.name, newer.c.status.in_(_SHOWN_FINISHED))
            .order_by(newer.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = select(runs).where(runs.c.id.in_(select(newest).select_from(jobs)))
        with self._reading() as connection:
            records = [run_record(row) for row in connection.execute(query)]
        return {record.job: record for record in sorted(records, key=lambda r: r.job)}

    def count_runs(self, job: str | None = None) -> int:
        """How many run rows there are (of one job)."""
        query = select(func.count()).select_from(runs)
        if job is not None:
            query = query.where(runs.c.job == job)
        with self._reading() as connection:
            return int(connection.execute(query).scalar_one())

    # -- nodes ------------------------------------------------------------------------------

    def register_node(self, node: NodeRecord) -> None:
        """Add a node, or replace the row of the same id; its lease starts by the database's
        clock where it has one (see `database_now`)."""
        checks.check_node(node)
        with self._writing() as connection:
            clock = database_clock(connection)
            connection.execute(delete(nodes).where(nodes.c.id == node.id))
            connection.execute(
                insert(nodes).values(
                    id=node.id,
                    host=node.host,
                    pid=node.pid,
                    started_at=node.started_at,
                    heartbeat_at=node.heartbeat_at if clock is None else clock,
                    stopped_at=node.stopped_at,
                )
            )

    def heartbeat(self, node_id: str, at: datetime) -> bool:
        """Renew a node's lease (by the database's clock where it has one, else at `at`);
        False if the node is unknown or stopped."""
        checks.aware(at, "heartbeat.at")
        with self._writing() as connection:
            clock = database_clock(connection)
            changed = connection.execute(
                update(nodes)
                .where(nodes.c.id == node_id, nodes.c.stopped_at.is_(None))
                .values(heartbeat_at=at if clock is None else clock)
            ).rowcount
        return changed == 1

    def database_now(self, at: datetime) -> datetime:
        """PostgreSQL's current time; `at` on SQLite (one machine, one clock)."""
        checks.aware(at, "database_now.at")
        with self._reading() as connection:
            clock = database_clock(connection)
            if clock is None:
                return at
            now: datetime = connection.execute(select(clock)).scalar_one()
        return now.astimezone(UTC)

    def listen(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """On PostgreSQL, hear the notices other nodes' transactions send (`Store.listen`), on
        a connection and thread of its own; SQLite serves one process and hears nothing."""
        opened = self._opened()
        if opened.channel is None:
            return super().listen(callback)
        return notify.Listener(self.url, opened.channel, callback).close

    def stop_node(self, node_id: str, at: datetime) -> None:
        """Record a node's clean exit (the first one, if told twice; unknown ids are ignored)."""
        checks.aware(at, "stop_node.at")
        with self._writing() as connection:
            connection.execute(
                update(nodes)
                .where(nodes.c.id == node_id, nodes.c.stopped_at.is_(None))
                .values(stopped_at=at)
            )

    def list_nodes(self) -> list[NodeRecord]:
        """All nodes, by start time (then id)."""
        with self._reading() as connection:
            records = [node_record(row) for row in connection.execute(select(nodes))]
        return sorted(records, key=lambda node: (node.started_at, node.id))


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


@contextmanager
def _own_errors() -> Iterator[None]:
    """Let rota's own errors raised while binding values (a naive datetime, a value that is not
    JSON) out as themselves, not wrapped in SQLAlchemy's StatementError; and a database that
    cannot be reached as StoreUnavailableError (a deadlock is not that: `apply` runs it again)."""
    try:
        yield
    except StatementError as error:
        if isinstance(error.orig, RotaError):
            raise error.orig from None
        if isinstance(error, DBAPIError) and unreachable(error):
            raise StoreUnavailableError(f"the store cannot be reached: {error.orig}") from error
        raise
