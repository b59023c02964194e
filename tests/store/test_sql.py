"""SqlStore on SQLite and PostgreSQL: settings, schema and migrations, reopening, and several
connections racing. PostgreSQL's own details are in test_postgres.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.schema import CreateTable

from rota.errors import StoreError
from rota.store import (
    Claim,
    Enqueue,
    Finish,
    Fire,
    JobRecord,
    NodeRecord,
    Reason,
    RunRecord,
    RunStatus,
    dialect,
    migrate,
)
from rota.store.records import EventRecord
from rota.store.schema import events, metadata, nodes, runs
from rota.store.schema import jobs as jobs_table
from rota.store.sql import SqlStore

from .conftest import T0, at, enqueue, new, sqlite_copy

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the current schema, with no rows, on each backend."""
    if request.param == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=BACKENDS)
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without rota's schema, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/new.db"
    return str(request.getfixturevalue("new_postgres_url"))


def opened(url: str) -> Iterator[SqlStore]:
    store = SqlStore(url)
    store.open()
    store.sync_jobs({"a": {}, "b": {}}, T0)
    yield store
    store.close()


@pytest.fixture
def sql(url: str) -> Iterator[SqlStore]:
    """An open store with jobs "a" and "b", on each backend."""
    yield from opened(url)


@pytest.fixture
def sqlite(tmp_path: Path, sqlite_template: Path) -> Iterator[SqlStore]:
    """An open store with jobs "a" and "b", on SQLite only."""
    yield from opened(sqlite_copy(sqlite_template, tmp_path))


def pragma(store: SqlStore, name: str) -> Any:
    with store._reading() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


# -- settings --------------------------------------------------------------------------------


def test_every_connection_is_set_up_for_wal(sqlite: SqlStore) -> None:
    assert pragma(sqlite, "journal_mode") == "wal"
    assert pragma(sqlite, "synchronous") == 1  # NORMAL
    assert pragma(sqlite, "foreign_keys") == 1
    assert pragma(sqlite, "busy_timeout") == 5000


def test_writes_begin_immediate_and_reads_deferred(sqlite: SqlStore) -> None:
    statements: list[str] = []
    engine = sqlite._opened().engine

    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", record)
    try:
        enqueue(sqlite)
        sqlite.list_runs()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


# -- schema ----------------------------------------------------------------------------------


def test_columns_are_in_record_field_order() -> None:
    pairs = ((jobs_table, JobRecord), (runs, RunRecord), (events, EventRecord))
    for table, record in pairs:
        assert [column.name for column in table.columns] == [f.name for f in fields(record)]
    # Nodes have one more, read apart: the jobs each registered (0003's columns follow it).
    names = [f.name for f in fields(NodeRecord)]
    at = names.index("stopped_at") + 1
    assert [column.name for column in nodes.columns] == [*names[:at], "jobs", *names[at:]]


def test_first_open_creates_the_schema_at_head(new_url: str) -> None:
    store = SqlStore(new_url)
    store.open()
    try:
        with store._reading() as connection:
            assert migrate.current_revision(connection) == migrate.HEAD
            tables = inspect(connection).get_table_names()
            assert set(tables) >= {"alembic_version", "events", "jobs", "nodes", "runs"}
    finally:
        store.close()


def test_head_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [migrate.HEAD]
    assert (migrate.MIGRATIONS / "versions" / "0001_initial.py").is_file()
    assert (migrate.MIGRATIONS / "versions" / "0002_events_kinds_registrations.py").is_file()
    assert (migrate.MIGRATIONS / "versions" / "0003_fencing.py").is_file()


def test_the_migrations_create_exactly_the_tables_in_schema(sql: SqlStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with sql._reading() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        found = inspect(connection)
        # PostgreSQL lists the unique constraint's own index too: only ours, named ix_.
        indexes = sorted(
            str(index["name"])
            for table in metadata.sorted_tables
            for index in found.get_indexes(table.name)
            if str(index["name"]).startswith("ix_")
        )
        assert indexes == [
            "ix_jobs_next_fire_at",
            "ix_runs_job_id",
            "ix_runs_parent_run_id",
            "ix_runs_retry_of",
            "ix_runs_status",
        ]
        if connection.dialect.name != "sqlite":
            return  # PostgreSQL's DDL is compared in test_postgres.py
        # Alembic's comparison leaves out defaults (and misreads '' on SQLite): compare the DDL
        # part by part too, in any order (columns a migration added come last in SQLite's text).
        for table in metadata.sorted_tables:
            stored = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table.name,)
            ).scalar_one()
            wanted = str(CreateTable(table).compile(dialect=connection.dialect))
            assert ddl_parts(stored) == ddl_parts(wanted)


def ddl_parts(ddl: str) -> set[str]:
    """The column and constraint definitions of a CREATE TABLE, whitespace normalised."""
    body = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
    parts, depth, current = [], 0, ""
    for char in body:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return {" ".join(part.split()) for part in parts}


def test_a_second_open_only_reads_the_version(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_migrations(engine: object) -> None:
        raise AssertionError("the schema was at head: Alembic should not have run")

    monkeypatch.setattr(migrate, "upgrade", no_migrations)
    store = SqlStore(url)
    store.open()
    store.close()


def test_a_second_process_does_not_import_alembic(url: str) -> None:
    script = (
        "import sys\n"
        "from rota.store import open_store\n"
        f"store = open_store({url!r})\n"
        "store.open()\n"
        "store.list_jobs()\n"
        "print('alembic' in sys.modules, 'rota.store.sql' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True"]


def test_a_schema_from_a_newer_rota_is_refused(new_url: str) -> None:
    store = SqlStore(new_url)
    store.open()
    with store._writing() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(StoreError, match="revision '9999', which this version of rota does not"):
        SqlStore(new_url).open()


def test_processes_opening_a_new_database_together_create_it_once(new_url: str) -> None:
    # SQLite: the write lock; PostgreSQL: the advisory lock (without it, the second CREATE
    # TABLE would fail on the catalog's unique index once the first commits).
    stores = [SqlStore(new_url) for _ in range(4)]
    errors = race([store.open for store in stores])
    assert errors == []
    stores[0].sync_jobs({"a": {}}, T0)
    assert [job.name for job in stores[3].list_jobs()] == ["a"]
    for store in stores:
        store.close()


def test_processes_opening_a_new_database_at_once_create_it_once(new_url: str) -> None:
    # Separate processes, released at one instant once they have imported everything.
    script = (
        "import sys, time\n"
        "import alembic.command\n"
        "from rota.store.sql import SqlStore\n"
        "store = SqlStore(sys.argv[1])\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "store.open()\n"
        "store.close()\n"
    )
    start = str(time.time() + 2)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, new_url, start], stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    errors = [process.communicate(timeout=60)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    store = SqlStore(new_url)
    store.open()
    with store._reading() as connection:
        assert migrate.current_revision(connection) == migrate.HEAD
    store.close()


# -- reopening -------------------------------------------------------------------------------


def test_a_database_keeps_everything_across_close_and_reopen(sql: SqlStore) -> None:
    (result,) = sql.apply([Fire("a", None, at(60), (new("a", 0), new("a", 1)))])
    manual = enqueue(sql, "b", args={"x": [1, 2]})
    sql.register_node(NodeRecord("n1", "host", 1, T0, T0))
    before = (sql.list_jobs(), sql.list_runs(), sql.list_nodes(), sql.next_fire_times())
    sql.close()
    reopened = SqlStore(sql.url.render_as_string(hide_password=False))
    reopened.open()
    try:
        after = (
            reopened.list_jobs(),
            reopened.list_runs(),
            reopened.list_nodes(),
            reopened.next_fire_times(),
        )
        assert after == before
        assert reopened.get_run(manual).args == {"x": [1, 2]}  # type: ignore[union-attr]
        # The key survives too: the fire time's run is not created again.
        assert reopened.apply([Enqueue(new("a", 0))]) == [None]
        assert result.run_ids[0] is not None
    finally:
        reopened.close()


def test_a_file_in_a_missing_directory_is_named(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path}/missing/rota.db")
    with pytest.raises(StoreError, match=r"missing/rota\.db' cannot be opened"):
        store.open()


# -- several connections ---------------------------------------------------------------------


def race(calls: list[Callable[[], object]]) -> list[BaseException]:
    """Run the calls on threads released together; the errors they raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as error:  # pragma: no cover - returned to the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def race_results(stores: list[SqlStore], operations: list[Any]) -> list[list[Any]]:
    """Each store's results of applying `operations`, all released together."""
    results: list[list[Any]] = []

    def call(store: SqlStore) -> Callable[[], None]:
        return lambda: results.append(store.apply(operations))

    assert race([call(store) for store in stores]) == []
    return results


def test_two_nodes_firing_the_same_time_create_one_run(url: str) -> None:
    nodes_ = [SqlStore(url), SqlStore(url)]
    for store in nodes_:
        store.open()
    nodes_[0].sync_jobs({"a": {}}, T0)
    try:
        for round_ in range(15):
            expected = None if round_ == 0 else at(round_)
            fire = Fire("a", expected, at(round_ + 1), (new("a", round_),))
            results = race_results(nodes_, [fire])
            assert sorted(result.advanced for (result,) in results) == [False, True]
            assert nodes_[1].count_runs() == round_ + 1
        # Same key through Enqueue (a retry two nodes both decide on): one run.
        retry = Enqueue(new("a", 0, reason=Reason.RETRY, attempt=2))
        ids = sorted(result for (result,) in race_results(nodes_, [retry]) if result is not None)
        assert len(ids) == 1
        assert nodes_[0].count_runs() == 16
    finally:
        for store in nodes_:
            store.close()


def test_many_writers_on_many_connections_never_fail_on_locks(url: str) -> None:
    stores = [SqlStore(url) for _ in range(6)]
    for store in stores:
        store.open()
    stores[0].sync_jobs({"a": {}}, T0)

    def work(store: SqlStore, worker: int) -> None:
        for i in range(15):
            # Reads, then writes, in one transaction: a deferred BEGIN would deadlock here.
            store.apply([Enqueue(new("a", worker * 100 + i)), Enqueue(new("a", worker * 100 + i))])
            store.list_runs(limit=5)

    try:
        errors = race([lambda s=s, w=w: work(s, w) for w, s in enumerate(stores)])
        assert errors == []
        assert stores[0].count_runs() == 6 * 15
    finally:
        for store in stores:
            store.close()


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """The calls' results, in order, from threads released together."""
    results: list[Any] = [None] * len(calls)

    def keep(index: int, call: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            results[index] = call()

        return run

    assert race([keep(index, call) for index, call in enumerate(calls)]) == []
    return results


def test_claims_of_one_queued_run_from_two_stores_let_exactly_one_win(url: str) -> None:
    nodes_ = [SqlStore(url), SqlStore(url)]
    for store in nodes_:
        store.open()
    nodes_[0].sync_jobs({"a": {}}, T0)
    try:
        for _ in range(15):
            run_id = enqueue(nodes_[0])
            results = together(
                [
                    partial(store.apply, [Claim(run_id, node, T0)])
                    for store, node in zip(nodes_, ["n1", "n2"], strict=True)
                ]
            )
            assert sorted(results) == [[False], [True]]
            winner = "n1" if results[0] == [True] else "n2"
            assert nodes_[1].get_run(run_id).node == winner  # type: ignore[union-attr]
        # Bursts (one UPDATE for many runs) too: each run goes to one node, none is lost.
        ids = [enqueue(nodes_[0]) for _ in range(20)]
        bursts = race_results(nodes_, [Claim(run_id, "n", T0) for run_id in ids])
        assert [sum(won) for won in zip(*bursts, strict=True)] == [1] * 20
    finally:
        for store in nodes_:
            store.close()


def test_two_stores_claiming_runs_of_one_job_within_a_limit_of_one_start_one(url: str) -> None:
    # Two nodes, each claiming a different queued run of one job at the same moment: only one
    # run may be running (overlap), whichever node wins.
    nodes_ = [SqlStore(url), SqlStore(url)]
    for store in nodes_:
        store.open()
    nodes_[0].sync_jobs({"a": {}}, T0)
    try:
        for _ in range(15):
            ids = [enqueue(nodes_[0]), enqueue(nodes_[0])]
            results = together(
                [
                    partial(store.apply, [Claim(run_id, node, T0, limit=1)])
                    for store, node, run_id in zip(nodes_, ["n1", "n2"], ids, strict=True)
                ]
            )
            assert sorted(results) == [[False], [True]]
            running_now = nodes_[0].active_runs("a")
            assert [r.status for r in running_now].count(RunStatus.RUNNING) == 1
            nodes_[0].apply([Finish(r.id, RunStatus.SUCCEEDED, T0) for r in running_now])
    finally:
        for store in nodes_:
            store.close()


def test_nodes_syncing_new_jobs_together_all_succeed(url: str) -> None:
    stores = [SqlStore(url) for _ in range(4)]
    for store in stores:
        store.open()
    try:
        for round_ in range(10):
            names = {f"job-{round_}-{i}": {"v": round_} for i in range(3)}
            synced = together([partial(store.sync_jobs, names, T0) for store in stores])
            for result in synced:
                assert [job.name for job in result.jobs][-3:] == sorted(names)
    finally:
        for store in stores:
            store.close()


# -- the driver-SQL path ---------------------------------------------------------------------


def _written_rows(directory: Path, template: Path) -> tuple[list[Any], list[Any]]:
    """Create, claim and finish runs (one alone, two together) and read back the raw rows."""
    store = SqlStore(sqlite_copy(template, directory))
    store.open()
    store.sync_jobs({"a": {}, "b": {}}, T0)
    started, done = at(1.000_123), at(2.000_456)
    fired = store.apply(
        [Fire("a", None, at(60), (new("a", 0.5, args={"n": 1, "s": "é"}), new("a", 0.75)))]
    )[0]
    alone = store.apply([Enqueue(new("b", 0.25, not_before=at(0.1)))])[0]
    ids = [*fired.run_ids, alone]
    assert store.apply([Claim(ids[2], "n1", started)]) == [True]
    assert store.apply([Claim(i, "n1", started) for i in ids[:2]]) == [True, True]
    assert store.apply([Finish(ids[2], RunStatus.FAILED, done, error="E", log="x")]) == [True]
    finishes = [Finish(i, RunStatus.SUCCEEDED, done, progress_done=1.5) for i in ids[:2]]
    assert store.apply(finishes) == [True, True]
    with store._reading() as connection:
        raw = connection.exec_driver_sql
        run_rows = [tuple(row) for row in raw("SELECT * FROM runs ORDER BY id")]
        job_rows = [tuple(row) for row in raw("SELECT * FROM jobs ORDER BY name")]
    store.close()
    return run_rows, job_rows


def test_the_driver_path_writes_the_same_text_as_sqlalchemy(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fast").mkdir()
    (tmp_path / "core").mkdir()
    fast = _written_rows(tmp_path / "fast", sqlite_template)
    monkeypatch.setattr(dialect, "driver_batches", lambda connection: False)
    core = _written_rows(tmp_path / "core", sqlite_template)
    assert fast == core
    # Fixed-width UTC text, microseconds included: text order is time order.
    assert fast[0][0][4] == "2026-11-23 10:00:30.000000"
