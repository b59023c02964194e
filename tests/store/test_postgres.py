"""SqlStore on PostgreSQL: reaching a schema through the URL, the column types, and what a
write does when another transaction holds the rows it needs (read committed: it waits, then
decides on the row's newest version)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rota.errors import StoreError
from rota.store import (
    Claim,
    Enqueue,
    Finish,
    Fire,
    NodeRecord,
    RequestCancel,
    Retention,
    RunStatus,
    UpdateJob,
    dialect,
)
from rota.store.sql import SqlStore
from tests.postgres import admin, create_schema, in_schema, server_url, with_options

from .conftest import T0, at, enqueue, finished, new, running

WEEK = timedelta(days=7)


@pytest.fixture
def pg(postgres_url: str) -> Iterator[SqlStore]:
    store = SqlStore(postgres_url)
    store.open()
    store.sync_jobs({"a": {}, "b": {}}, T0)
    yield store
    store.close()


def schema_of(url: str) -> str:
    options = make_url(url).query["options"]
    assert isinstance(options, str)
    return options.rpartition("search_path=")[2]


# -- reaching the schema ---------------------------------------------------------------------


def test_the_url_puts_the_store_in_its_schema(pg: SqlStore, postgres_url: str) -> None:
    with pg._reading() as connection:
        assert connection.execute(text("SELECT current_schema()")).scalar() == schema_of(
            postgres_url
        )
        where = connection.execute(
            text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'runs'")
        ).scalars()
        assert schema_of(postgres_url) in set(where)


def test_in_schema_keeps_the_options_a_url_has() -> None:
    url = in_schema("postgresql+psycopg://u@h/db?options=-cstatement_timeout%3D5000", "s1")
    assert make_url(url).query["options"] == "-cstatement_timeout=5000 -csearch_path=s1"
    # And psycopg hands both to the server.
    engine = create_engine(in_schema(with_options(server_url(), "-cstatement_timeout=5000"), "s1"))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW search_path")).scalar() == "s1"
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "5s"
    finally:
        engine.dispose()


def test_an_unreachable_test_server_fails_the_test_and_names_it() -> None:
    url = "postgresql+psycopg://rota:secret@127.0.0.1:1/test"
    with pytest.raises(pytest.fail.Exception) as caught:
        create_schema(url)
    message = str(caught.value)
    assert "PostgreSQL test server at postgresql+psycopg://rota:***@127.0.0.1:1/test" in message
    assert "ROTA_TEST_DATABASE_URL" in message
    assert "secret" not in message


# -- the tables ------------------------------------------------------------------------------


def test_the_columns_have_postgresql_types(pg: SqlStore) -> None:
    with pg._reading() as connection:
        columns = {
            (row.table_name, row.column_name): (row.data_type, row.column_default)
            for row in connection.execute(
                text(
                    "SELECT table_name, column_name, data_type, column_default "
                    "FROM information_schema.columns WHERE table_schema = current_schema()"
                )
            )
        }
        sequence_type = connection.execute(
            text(
                "SELECT data_type FROM pg_sequences WHERE schemaname = current_schema() "
                "AND sequencename = 'runs_id_seq'"
            )
        ).scalar()
        constraints = set(
            connection.execute(
                text(
                    "SELECT conname FROM pg_constraint JOIN pg_namespace n "
                    "ON n.oid = connamespace WHERE nspname = current_schema() "
                    "AND conrelid::regclass::text <> 'alembic_version'"
                )
            ).scalars()
        )
    # Run ids: 64 bits from a sequence, which never hands a number out twice.
    assert columns["runs", "id"] == ("bigint", "nextval('runs_id_seq'::regclass)")
    assert sequence_type == "bigint"
    assert columns["runs", "retry_of"][0] == "bigint"
    times = ["fire_time", "queued_at", "not_before", "started_at", "finished_at"]
    for table, column in [("runs", name) for name in times] + [
        ("jobs", "next_fire_at"),
        ("jobs", "created_at"),
        ("nodes", "heartbeat_at"),
    ]:
        assert columns[table, column][0] == "timestamp with time zone", (table, column)
    for table, column in [("jobs", "defaults"), ("jobs", "override"), ("runs", "args")]:
        assert columns[table, column][0] == "json", (table, column)
    assert columns["runs", "cancel_requested"] == ("boolean", "false")
    assert columns["runs", "log"] == ("text", "''::text")
    # Events: ids like runs', JSON data; a node's registered jobs a JSON list, empty at first.
    assert columns["events", "id"] == ("bigint", "nextval('events_id_seq'::regclass)")
    assert columns["events", "data"][0] == "json"
    assert columns["events", "at"][0] == "timestamp with time zone"
    assert columns["nodes", "jobs"] == ("json", "'[]'::json")
    assert columns["jobs", "kind"] == ("character varying", "'code'::character varying")
    assert ("jobs", "in_code") not in columns
    # Limiters (migration 0005): whole numbers of microseconds, grants as JSON.
    assert columns["limiters", "period_us"][0] == "bigint"
    assert columns["limiters", "grants"][0] == "json"
    assert columns["runs", "parent_run_id"][0] == "bigint"
    assert constraints == {
        "pk_limiters",
        "pk_jobs",
        "pk_runs",
        "pk_nodes",
        "pk_events",
        "pk_chain_edges",
        "fk_runs_job_jobs",
        "uq_runs_job_fire_time_reason_attempt",
    }


def test_json_keeps_key_order_and_large_numbers(pg: SqlStore) -> None:
    args = {"z": 1, "a": [2**70, 0.5, None, True], "m": {"y": "ü", "b": ""}}
    run = pg.get_run(enqueue(pg, args=args))
    assert run is not None
    assert run.args == args
    assert list(run.args) == ["z", "a", "m"]


def test_names_come_back_in_code_point_order_whatever_the_collation(new_postgres_url: str) -> None:
    # Databases are often created with a language's collation ('a' < 'B'); the store sorts
    # names itself, as MemoryStore and SQLite do ('B' < 'a').
    store = SqlStore(new_postgres_url)
    store.open()
    try:
        with store._writing() as connection:
            for table, column in (("jobs", "name"), ("runs", "job"), ("nodes", "id")):
                connection.execute(
                    text(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE text COLLATE "und-x-icu"')
                )
        names = ["a", "B", "_z", "Z", "ä"]
        expected = sorted(names)
        assert [job.name for job in store.sync_jobs({n: {} for n in names}, T0).jobs] == expected
        with store._reading() as connection:
            in_sql = connection.execute(text("SELECT name FROM jobs ORDER BY name")).scalars()
            assert list(in_sql) != expected  # the collation is in force
        assert [job.name for job in store.list_jobs()] == expected
        store.apply([UpdateJob(name, T0, next_fire_at=at(5)) for name in names])
        assert [name for _, name in store.next_fire_times()] == expected
        for name in names:
            finished(store, RunStatus.SUCCEEDED, at(1), job=name)
        assert list(store.job_stats()) == expected
        for name in names:
            store.register_node(NodeRecord(name, "host", 1, T0, T0))
        assert [node.id for node in store.list_nodes()] == expected
    finally:
        store.close()


# -- waiting on another transaction ----------------------------------------------------------


@contextmanager
def holding(url: str, statement: str, **params: Any) -> Iterator[Connection]:
    """A transaction that has run `statement` and holds its row locks until the caller commits
    or rolls back."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement), params)
            yield connection
    finally:
        engine.dispose()


def blocked_on(holder: Connection, call: Callable[[], Any]) -> Future[Any]:
    """`call` on a thread, returned once it waits for a lock `holder` has."""
    pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()
    pool = ThreadPoolExecutor(1)
    future = pool.submit(call)
    pool.shutdown(wait=False)
    watcher = admin(server_url())
    try:
        with watcher.connect() as connection:
            for _ in range(500):
                waiting = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE :pid = ANY(pg_blocking_pids(pid))"
                    ),
                    {"pid": pid},
                ).scalar()
                if waiting or future.done():
                    break
                connection.execute(text("SELECT pg_sleep(0.01)"))
    finally:
        watcher.dispose()
    assert not future.done(), f"it did not wait: {future.result()}"
    return future


def test_a_claim_waits_for_a_transaction_holding_its_run(pg: SqlStore, postgres_url: str) -> None:
    # No SKIP LOCKED: the answer is exact. Another node's claim or cancel in flight that rolls
    # back leaves the run queued, and this claim takes it (docs/decisions/0004).
    run_id = enqueue(pg)
    with holding(postgres_url, "UPDATE runs SET note = 'x' WHERE id = :id", id=run_id) as other:
        claimed = blocked_on(other, lambda: pg.apply([Claim(run_id, "n1", at(1))]))
        other.rollback()
    assert claimed.result(timeout=10) == [True]
    # And when the other transaction commits a change of status, the claim sees it.
    second = enqueue(pg)
    with holding(
        postgres_url, "UPDATE runs SET status = 'cancelled' WHERE id = :id", id=second
    ) as other:
        claimed = blocked_on(other, lambda: pg.apply([Claim(second, "n1", at(1))]))
        other.commit()
    assert claimed.result(timeout=10) == [False]


def test_request_cancel_waits_for_a_claim_in_flight(pg: SqlStore, postgres_url: str) -> None:
    # Without FOR UPDATE it would read 'queued' and overwrite the claimed run with 'cancelled'
    # while its node runs it.
    run_id = enqueue(pg)
    claim = "UPDATE runs SET status = 'running', node = 'n2' WHERE id = :id"
    with holding(postgres_url, claim, id=run_id) as other:
        cancelled = blocked_on(other, lambda: pg.apply([RequestCancel(run_id, at(2), "stop")]))
        other.commit()
    assert cancelled.result(timeout=10) == [RunStatus.RUNNING]
    run = pg.get_run(run_id)
    assert run is not None
    assert (run.status, run.cancel_requested) == (RunStatus.RUNNING, True)


def test_a_burst_of_finishes_waits_for_runs_changing_meanwhile(
    pg: SqlStore, postgres_url: str
) -> None:
    # Another node records this node's run as interrupted while the burst is written: the burst
    # must not overwrite it (a single Finish re-checks the status in its UPDATE; a burst reads
    # the active runs first, so it locks them).
    first, second = running(pg), running(pg)
    interrupt = "UPDATE runs SET status = 'interrupted' WHERE id = :id"
    with holding(postgres_url, interrupt, id=first) as other:
        finished = blocked_on(
            other,
            lambda: pg.apply(
                [
                    Finish(first, RunStatus.SUCCEEDED, at(3)),
                    Finish(second, RunStatus.SUCCEEDED, at(3)),
                ]
            ),
        )
        other.commit()
    assert finished.result(timeout=10) == [False, True]
    assert [pg.get_run(i).status for i in (first, second)] == [  # type: ignore[union-attr]
        RunStatus.INTERRUPTED,
        RunStatus.SUCCEEDED,
    ]


def test_fires_of_many_jobs_wait_for_a_job_advanced_meanwhile(
    pg: SqlStore, postgres_url: str
) -> None:
    # The burst reads next fire times FOR UPDATE and compares in Python: it must compare with
    # what the other node committed, or it would fire the same time again.
    advance = "UPDATE jobs SET next_fire_at = :at WHERE name = 'a'"
    with holding(postgres_url, advance, at=at(60)) as other:
        fired = blocked_on(
            other,
            lambda: pg.apply(
                [
                    Fire("a", None, at(60), (new("a", 0),)),
                    Fire("b", None, at(60), (new("b", 0),)),
                ]
            ),
        )
        other.commit()
    a, b = fired.result(timeout=10)
    assert (a.advanced, b.advanced) == (False, True)
    assert pg.count_runs("a") == 0


def test_prune_counts_the_runs_it_deleted_not_those_it_chose(
    pg: SqlStore, postgres_url: str
) -> None:
    # Two nodes pruning one job at once choose the same runs; the one that deletes second
    # must not count the runs the first one took.
    old = [finished(pg, RunStatus.SUCCEEDED, at(1)) for _ in range(3)]
    with holding(postgres_url, "DELETE FROM runs WHERE id = :id", id=old[0]) as other:
        pruned = blocked_on(other, lambda: pg.prune("a", Retention(keep_last=0), at(1) + WEEK, 10))
        other.commit()
    assert pruned.result(timeout=10) == 2
    assert pg.count_runs() == 0


def test_a_transaction_chosen_to_break_a_deadlock_is_retried(
    pg: SqlStore, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Two transactions taking two rows in opposite orders: PostgreSQL aborts one after its
    # deadlock_timeout (1 s by default), the one whose wait began first: the store's here. Its
    # apply wrote nothing, so the store runs it again.
    note = "UPDATE jobs SET pause_note = 'other' WHERE name = :name"
    changes = [UpdateJob(name, at(1), pause_note="store") for name in ("a", "b")]
    caplog.set_level(logging.INFO, logger="rota.store.sql")
    for _ in range(3):
        with holding(postgres_url, note, name="b") as other:
            applied = blocked_on(other, lambda: pg.apply(changes))
            time.sleep(0.2)  # so that the store's wait is clearly the older one
            try:
                other.execute(text(note), {"name": "a"})
            except DBAPIError:
                # This side was chosen after all (the store's check ran before this waited,
                # on a machine too busy to keep time): nothing to see, try again.
                other.rollback()
                applied.result(timeout=10)
                continue
            other.commit()
        assert [job.pause_note for job in applied.result(timeout=10)] == ["store", "store"]
        assert "rota runs a transaction on" in caplog.text
        return
    pytest.fail("PostgreSQL chose the other transaction three times")


# -- opening ---------------------------------------------------------------------------------


def test_an_unreachable_server_is_a_store_error_naming_it() -> None:
    store = SqlStore("postgresql://rota:secret@127.0.0.1:1/rota")
    with pytest.raises(StoreError) as caught:
        store.open()
    message = str(caught.value)
    assert "store 'postgresql+psycopg://rota:***@127.0.0.1:1/rota' cannot be opened" in message
    assert "secret" not in message


def test_events_are_inserted_one_transaction_at_a_time_to_the_commit(
    pg: SqlStore, postgres_url: str
) -> None:
    # A transaction that has inserted its events holds the events' advisory lock until it
    # commits, so the next one's ids come after it: a follower never finds a smaller id later.
    key = dialect._EVENTS_LOCK
    with holding(postgres_url, "SELECT pg_advisory_xact_lock(:key)", key=key) as other:
        first = pg.last_event_id()
        # Operations that write no event never wait.
        assert pg.apply([Claim(10**6, "n1", at(1))]) == [False]
        queued = blocked_on(other, lambda: pg.apply([Enqueue(new("a"))]))
        other.commit()
    (run_id,) = queued.result(timeout=10)
    (event,) = pg.events_after(first)
    assert (event.kind, event.run_id) == ("run.queued", run_id)
