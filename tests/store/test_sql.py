"""SqlStore on SQLite: settings, schema and migrations, files, and several connections racing."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
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
from rota.store.schema import jobs as jobs_table
from rota.store.schema import metadata, nodes, runs
from rota.store.sql import SqlStore

from .conftest import T0, at, enqueue, new, sqlite_copy


@pytest.fixture
def url(tmp_path: Path, sqlite_template: Path) -> str:
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def sql(url: str) -> Iterator[SqlStore]:
    store = SqlStore(url)
    store.open()
    store.sync_jobs({"a": {}, "b": {}}, T0)
    yield store
    store.close()


def pragma(store: SqlStore, name: str) -> Any:
    with store._reading() as connection:
        return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


# -- settings --------------------------------------------------------------------------------


def test_every_connection_is_set_up_for_wal(sql: SqlStore) -> None:
    assert pragma(sql, "journal_mode") == "wal"
    assert pragma(sql, "synchronous") == 1  # NORMAL
    assert pragma(sql, "foreign_keys") == 1
    assert pragma(sql, "busy_timeout") == 5000


def test_writes_begin_immediate_and_reads_deferred(sql: SqlStore) -> None:
    statements: list[str] = []
    engine = sql._opened().engine

    def record(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", record)
    try:
        enqueue(sql)
        sql.list_runs()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


# -- schema ----------------------------------------------------------------------------------


def test_columns_are_in_record_field_order() -> None:
    for table, record in ((jobs_table, JobRecord), (runs, RunRecord), (nodes, NodeRecord)):
        assert [column.name for column in table.columns] == [f.name for f in fields(record)]


def test_first_open_creates_the_schema_at_head(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path}/new.db")
    store.open()
    try:
        with store._reading() as connection:
            assert migrate.current_revision(connection) == migrate.HEAD
            tables = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).scalars()
            assert set(tables) >= {"alembic_version", "jobs", "nodes", "runs"}
    finally:
        store.close()


def test_head_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_heads() == [migrate.HEAD]
    assert (migrate.MIGRATIONS / "versions" / "0001_initial.py").is_file()


def test_the_migrations_create_exactly_the_tables_in_schema(sql: SqlStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with sql._reading() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        # Alembic's comparison leaves out defaults (and misreads '' on SQLite): compare the DDL
        # line by line too, in any order.
        for table in metadata.sorted_tables:
            stored = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table.name,)
            ).scalar_one()
            wanted = str(CreateTable(table).compile(dialect=connection.dialect))
            assert ddl_lines(stored) == ddl_lines(wanted)
        indexes = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%' ORDER BY 1"
        ).scalars()
        assert list(indexes) == ["ix_jobs_next_fire_at", "ix_runs_job_id", "ix_runs_status"]


def ddl_lines(ddl: str) -> set[str]:
    return {line.strip().rstrip(",").strip() for line in ddl.strip().splitlines()}


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


def test_a_schema_from_a_newer_rota_is_refused(url: str) -> None:
    store = SqlStore(url)
    store.open()
    with store._writing() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    store.close()
    with pytest.raises(StoreError, match="revision '9999', which this version of rota does not"):
        SqlStore(url).open()


def test_processes_opening_a_new_file_together_create_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/together.db"
    stores = [SqlStore(url) for _ in range(4)]
    errors = race([store.open for store in stores])
    assert errors == []
    stores[0].sync_jobs({"a": {}}, T0)
    assert [job.name for job in stores[3].list_jobs()] == ["a"]
    for store in stores:
        store.close()


# -- files -----------------------------------------------------------------------------------


def test_a_file_keeps_everything_across_close_and_reopen(sql: SqlStore) -> None:
    (result,) = sql.apply([Fire("a", None, at(60), (new("a", 0), new("a", 1)))])
    manual = enqueue(sql, "b", args={"x": [1, 2]})
    sql.register_node(NodeRecord("n1", "host", 1, T0, T0))
    before = (sql.list_jobs(), sql.list_runs(), sql.list_nodes(), sql.next_fire_times())
    sql.close()
    reopened = SqlStore(str(sql.url))
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


def test_the_statements_compile_for_postgresql() -> None:
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    ddl = str(CreateTable(runs).compile(dialect=dialect))
    assert "id BIGSERIAL" in ddl
    assert "fire_time TIMESTAMP WITH TIME ZONE" in ddl
    insert = postgresql.insert(runs).on_conflict_do_nothing().returning(runs.c.id)
    assert "ON CONFLICT DO NOTHING RETURNING runs.id" in str(insert.compile(dialect=dialect))


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
