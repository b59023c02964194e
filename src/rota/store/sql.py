"""`SqlStore`: the store on SQLite or PostgreSQL, through SQLAlchemy Core (sync engine).

Writes run in short write transactions (`dialect.write_transaction`); reads take a pooled
connection of their own, from whichever thread calls them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    delete,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.sql.dml import Insert, ReturningInsert

from rota.errors import RotaError, StoreError, StoreUnavailableError
from rota.store import checks, notify, sql_limits, sql_prune, sql_reads
from rota.store.abc import Operation, Store, SyncResult, notices_of
from rota.store.dialect import (
    TRANSACTION_ATTEMPTS,
    create_engine,
    database_clock,
    insert_ignoring_conflicts,
    parse_url,
    shown,
    unreachable,
    worth_retrying,
    write_transaction,
)
from rota.store.events import sync_events
from rota.store.limits import LimiterState, Taken, TokenRequest, check_request
from rota.store.migrate import ensure_schema
from rota.store.records import (
    ACTIVE,
    FAILURE_LIKE,
    FINISHED,
    EventRecord,
    JobRecord,
    JobStats,
    NodeRecord,
    Reason,
    Retention,
    RunRecord,
    RunStatus,
)
from rota.store.schema import (
    NODE_COLUMNS,
    job_record,
    jobs,
    node_record,
    nodes,
    run_record,
    runs,
)
from rota.store.sql_apply import Transaction
from rota.store.sql_events import write_events
from rota.store.sql_sync import sync_jobs
from rota.store.watch import Watcher

__all__ = ["SqlStore"]

log = logging.getLogger(__name__)

_ACTIVE = sorted(status.value for status in ACTIVE)
_FAILURE_LIKE = sorted(status.value for status in FAILURE_LIKE)
_OTHER_FINISHED = sorted(status.value for status in FINISHED - FAILURE_LIKE)


class _Open(NamedTuple):
    """What an open store holds."""

    engine: Engine
    insert_runs: ReturningInsert[Any]
    insert_job: Insert
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
        self._origin = uuid.uuid4().hex
        # SQLite: listeners of this object, told of its own commits directly and of other
        # processes' by the watcher (PostgreSQL's listeners hear NOTIFY instead).
        self._listeners: list[Callable[[str], None]] = []
        self._watcher: Watcher | None = None

    @property
    def origin(self) -> str:
        """This store object's token, written on its events."""
        return self._origin

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
                runs.c.id,
                runs.c.job,
                runs.c.fire_time,
                runs.c.reason,
                runs.c.attempt,
                runs.c.retry_of,
            )
            insert_job = insert_ignoring_conflicts(jobs, engine).returning(*jobs.c)
            channel = None
            if engine.dialect.name == "postgresql":
                with _own_errors(), engine.connect() as connection:
                    channel = notify.channel_of(connection)
            self._open = _Open(engine, insert_runs, insert_job, channel)

    def close(self) -> None:
        """Close every pooled connection (stopping the watcher); `open` may be called again."""
        with self._lock:
            opened, self._open = self._open, None
            self._known_jobs = set()
            watcher, self._watcher = self._watcher, None
            self._listeners = []
        if watcher is not None:
            watcher.close()
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
                    transaction = Transaction(
                        connection,
                        opened.insert_runs,
                        opened.insert_job,
                        self._known_jobs,
                        self._origin,
                    )
                    results = transaction.apply(operations)
                    notices = notices_of(operations, results, transaction.last_event)
                    if opened.channel is not None:
                        notify.send(connection, opened.channel, notices)
            except (DBAPIError, sqlite3.IntegrityError) as error:
                if _broke_integrity(error) and self._known_jobs:
                    # A job this object knew was removed by another: its runs broke the
                    # foreign key. Ask the database which jobs exist, and run it again (it
                    # then fails as UnknownJobError, or succeeds if the name was added back).
                    self._known_jobs = set()
                    continue
                if not isinstance(error, DBAPIError):
                    raise
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
            self._known_jobs = (self._known_jobs - transaction.removed) | transaction.learned
            if opened.channel is None:
                self._tell(notices)
            return results

    def _tell(self, notices: list[str]) -> None:
        """Tell this object's listeners (SQLite) of its own commit's notices."""
        for listener in list(self._listeners):
            for notice in notices:
                try:
                    listener(notice)
                except Exception:
                    log.exception("rota failed to act on the notice %r", notice)

    def sync_jobs(
        self,
        defaults: Mapping[str, dict[str, Any]],
        at: datetime,
        *,
        internal: Collection[str] = (),
        update: bool = True,
    ) -> SyncResult:
        """Add the code's missing jobs and, with `update`, replace changed defaults (see
        `Store.sync_jobs` and `rota.store.sql_sync`); all jobs by name."""
        internal_names = checks.check_sync(defaults, at, internal)
        wanted = {
            name: checks.json_text(value, checks.sync_field(name))
            for name, value in defaults.items()
        }
        opened = self._opened()
        with self._writing(opened) as connection:
            records, replaced, added = sync_jobs(connection, wanted, internal_names, update, at)
            last = write_events(connection, sync_events(added, replaced, at), self._origin)
            notices = [] if last is None else [f"events:{last}"]
            if opened.channel is not None:
                notify.send(connection, opened.channel, notices)
        self._known_jobs |= {record.name for record in records}
        if opened.channel is None:
            self._tell(notices)
        return SyncResult(sorted(records, key=lambda record: record.name), replaced)

    def prune_runs(self, retentions: Mapping[str, Retention], now: datetime, batch: int) -> int:
        """Delete up to `batch` runs, oldest first, that their job's retention no longer keeps."""
        checks.check_retentions(retentions, now, batch)
        if batch == 0 or not retentions:
            return 0
        with self._writing() as connection:
            return sql_prune.prune_runs(connection, retentions, now, batch)

    def take_tokens(self, request: TokenRequest) -> Taken:
        """Grant a limiter's tokens if its capacity allows (`rota.store.sql_limits`)."""
        check_request(request)
        attempt = 1
        while True:
            try:
                with self._writing() as connection:
                    return sql_limits.take_tokens(connection, request)
            except DBAPIError as error:  # a deadlock or a serialisation failure wrote nothing
                if attempt >= TRANSACTION_ATTEMPTS or not worth_retrying(error):
                    raise
                attempt += 1

    def limiter_states(self) -> list[LimiterState]:
        """Every limiter's state, by name."""
        with self._reading() as connection:
            return sql_limits.limiter_states(connection)

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
        """One run by id (None, without asking, for an id no run can have)."""
        if not checks.possible_id(run_id):
            self._opened()
            return None
        with self._reading() as connection:
            row = connection.execute(select(runs).where(runs.c.id == run_id)).first()
        return None if row is None else run_record(row)

    def list_runs(
        self,
        job: str | None = None,
        statuses: Collection[RunStatus] | None = None,
        limit: int = 50,
        before_id: int | None = None,
        *,
        reasons: Collection[Reason] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        parent_run_id: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, through the filters (see `Store.list_runs`)."""
        checks.check_limit(limit)
        wanted = checks.check_run_filter(
            job, statuses, reasons, since, until, before_id, parent_run_id
        )
        with self._reading() as connection:
            return sql_reads.list_runs(connection, wanted, limit)

    def count_runs(
        self,
        job: str | None = None,
        statuses: Collection[RunStatus] | None = None,
        *,
        reasons: Collection[Reason] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        parent_run_id: int | None = None,
    ) -> int:
        """How many runs the filters let through."""
        wanted = checks.check_run_filter(
            job, statuses, reasons, since, until, before_id, parent_run_id
        )
        with self._reading() as connection:
            return sql_reads.count_runs(connection, wanted)

    def active_runs(self, job: str | None = None) -> list[RunRecord]:
        """Queued and running runs, oldest first."""
        query = select(runs).where(runs.c.status.in_(_ACTIVE)).order_by(runs.c.id)
        if job is not None:
            query = query.where(runs.c.job == job)
        with self._reading() as connection:
            return [run_record(row) for row in connection.execute(query)]

    def job_stats(self, names: Collection[str] | None = None) -> dict[str, JobStats]:
        """What each job's history says (see `Store.job_stats`), by name."""
        chosen = None if names is None else checks.check_names(names, "job_stats.names")
        if chosen == set():
            self._opened()
            return {}
        with self._reading() as connection:
            return sql_reads.job_stats(connection, chosen)

    # -- events -----------------------------------------------------------------------------

    def events_after(
        self, after_id: int, limit: int = 1000, *, exclude_origin: str | None = None
    ) -> list[EventRecord]:
        """Events above `after_id`, ascending, at most `limit`, leaving out one origin's."""
        checks.check_events_after(after_id, limit, exclude_origin)
        with self._reading() as connection:
            return sql_reads.events_after(connection, after_id, limit, exclude_origin)

    def last_event_id(self) -> int:
        """The newest event's id, 0 when there is none."""
        with self._reading() as connection:
            return sql_reads.last_event_id(connection)

    def prune_events(self, before: datetime, keep: int, batch: int) -> int:
        """Delete up to `batch` of the oldest events before `before`, keeping the newest
        `keep`."""
        checks.check_prune_events(before, keep, batch)
        if batch == 0:
            self._opened()
            return 0
        with self._writing() as connection:
            return sql_prune.prune_events(connection, before, keep, batch)

    # -- nodes ------------------------------------------------------------------------------

    def register_node(self, node: NodeRecord, jobs: Collection[str] = ()) -> int:
        """Add a node, or replace the row of the same id, with the job names it registers;
        its lease starts by the database's clock where it has one (see `database_now`)."""
        checks.check_node(node)
        names = sorted(checks.check_names(jobs, "register_node.jobs"))
        with self._writing() as connection:
            clock = database_clock(connection)
            before = connection.execute(
                select(nodes.c.generation, nodes.c.stopped_at)
                .where(nodes.c.id == node.id)
                .with_for_update()
            ).first()
            if before is not None and before.stopped_at is None:
                generation = int(before.generation)
            else:
                latest = connection.execute(select(func.max(nodes.c.generation))).scalar()
                generation = int(latest or 0) + 1
            connection.execute(delete(nodes).where(nodes.c.id == node.id))
            connection.execute(
                insert(nodes).values(
                    id=node.id,
                    host=node.host,
                    pid=node.pid,
                    started_at=node.started_at,
                    heartbeat_at=node.heartbeat_at if clock is None else clock,
                    stopped_at=node.stopped_at,
                    jobs=names,
                    generation=generation,
                    life=node.life,
                )
            )
        return generation

    def registered_jobs(self, node_ids: Collection[str]) -> set[str]:
        """The job names any of the given nodes registered."""
        ids = checks.check_names(node_ids, "registered_jobs.node_ids")
        if not ids:
            self._opened()
            return set()
        with self._reading() as connection:
            lists = connection.execute(select(nodes.c.jobs).where(nodes.c.id.in_(ids)))
            return {name for (names,) in lists for name in names}

    def heartbeat(self, node_id: str, at: datetime, generation: int | None = None) -> bool:
        """Renew a node's lease (by the database's clock where it has one, else at `at`);
        False if the node is unknown or stopped, or has another generation."""
        checks.aware(at, "heartbeat.at")
        with self._writing() as connection:
            clock = database_clock(connection)
            row = update(nodes).where(nodes.c.id == node_id, nodes.c.stopped_at.is_(None))
            if generation is not None:
                row = row.where(nodes.c.generation == generation)
            changed = connection.execute(
                row.values(heartbeat_at=at if clock is None else clock)
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
        """Hear the notices of committed changes (`Store.listen`). PostgreSQL: NOTIFY, on a
        connection and thread of its own. SQLite: this object's own commits directly, other
        processes' through the watcher (`rota.store.watch`), started by the first listener
        and stopped with the last."""
        opened = self._opened()
        if opened.channel is not None:
            return notify.Listener(self.url, opened.channel, callback).close
        with self._lock:
            if self._watcher is None:
                with _own_errors():
                    self._watcher = Watcher(
                        opened.engine,
                        self._origin,
                        self.events_after,
                        self.last_event_id,
                        self._tell,
                    )
            self._listeners = [*self._listeners, callback]

        def stop() -> None:
            with self._lock:
                self._listeners = [other for other in self._listeners if other is not callback]
                watcher = None
                if not self._listeners:
                    watcher, self._watcher = self._watcher, None
            if watcher is not None:
                watcher.close()

        return stop

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
            # Not the registered jobs: a node of a large app lists thousands.
            found = connection.execute(select(*NODE_COLUMNS))
            records = [node_record(row) for row in found]
        return sorted(records, key=lambda node: (node.started_at, node.id))


def _broke_integrity(error: BaseException) -> bool:
    # The driver-SQL path (SQLite bursts) raises the driver's own error, unwrapped.
    return isinstance(error, IntegrityError | sqlite3.IntegrityError)


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
