"""Migrations carry a database with data forward; a file that is not rota's is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, text

from rota.errors import StoreError, StoreUnavailableError
from rota.store import Enqueue, JobKind, NewRun, Reason, RunStatus, dialect, migrate
from rota.store.sql import SqlStore

from .conftest import T0, at, enqueue


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without rota's schema, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/old.db"
    return str(request.getfixturevalue("new_postgres_url"))


def at_revision(url: str, revision: str) -> None:
    """Create rota's schema at `revision` only, as an older rota left it."""
    from alembic import command

    engine = dialect.create_engine(dialect.parse_url(url))
    try:
        with dialect.write_transaction(engine) as connection:
            command.upgrade(migrate.alembic_config(connection), revision)
    finally:
        engine.dispose()


def test_a_0001_database_with_jobs_and_runs_is_upgraded(empty_url: str) -> None:
    at_revision(empty_url, "0001")
    engine = dialect.create_engine(dialect.parse_url(empty_url))
    with dialect.write_transaction(engine) as connection:
        for name, in_code in (("a", True), ("gone", False), ("rota-prune", True)):
            connection.execute(
                text(
                    "INSERT INTO jobs (name, defaults, override, paused, in_code, created_at, "
                    "updated_at) VALUES (:name, '{\"v\": 1}', '{}', false, :in_code, :t, :t)"
                ),
                {"name": name, "in_code": in_code, "t": "2026-11-23 10:00:00.000000"},
            )
        for job, status in (("a", "succeeded"), ("gone", "failed"), ("a", "queued")):
            connection.execute(
                text(
                    "INSERT INTO runs (job, reason, status, queued_at, attempt, args) "
                    "VALUES (:job, 'manual', :status, :t, 1, '{}')"
                ),
                {"job": job, "status": status, "t": "2026-11-23 10:00:00.000000"},
            )
        connection.execute(
            text(
                "INSERT INTO nodes (id, host, pid, started_at, heartbeat_at) "
                "VALUES ('n1', 'h', 1, :t, :t)"
            ),
            {"t": "2026-11-23 10:00:00.000000"},
        )
    engine.dispose()

    store = SqlStore(empty_url)
    store.open()
    try:
        with store._reading() as connection:
            assert migrate.current_revision(connection) == migrate.HEAD == "0007"
        kinds = {job.name: (job.kind, job.target, job.defaults) for job in store.list_jobs()}
        assert kinds == {
            "a": (JobKind.CODE, None, {"v": 1}),
            "gone": (JobKind.CODE, None, {"v": 1}),
            "rota-prune": (JobKind.INTERNAL, None, {"v": 1}),
        }
        runs = store.list_runs()
        assert [(run.job, run.status) for run in runs] == [
            ("a", RunStatus.QUEUED),
            ("gone", RunStatus.FAILED),
            ("a", RunStatus.SUCCEEDED),
        ]
        assert [(run.fire_count, run.last_fire_time) for run in runs] == [(1, None)] * 3
        assert [run.upstream_runs for run in runs] == [{}] * 3
        assert [node.id for node in store.list_nodes()] == ["n1"]
        assert store.registered_jobs(["n1"]) == set()
        assert store.last_event_id() == 0
        # It works as a new one does: events, new runs after the old ones, removals.
        assert enqueue(store, "a", queued_at=at(1)) == runs[0].id + 1
        assert store.last_event_id() == 1
        assert store.job_stats(["gone"])["gone"].consecutive_failures == 1
    finally:
        store.close()


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database " * 200)
    with pytest.raises(
        StoreError, match=r"notes\.db' cannot be opened: file is not a database"
    ) as e:
        SqlStore(f"sqlite:///{path}").open()
    # What is wrong with the store, not that it cannot be reached (nothing to wait out).
    assert not isinstance(e.value, StoreUnavailableError)


def test_a_database_of_something_else_at_an_unknown_revision_is_named(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
        connection.execute("INSERT INTO alembic_version VALUES ('abc123')")
    connection.close()
    with pytest.raises(StoreError, match="revision 'abc123', which this version of rota does") as e:
        SqlStore(f"sqlite:///{path}").open()
    assert not isinstance(e.value, StoreUnavailableError)


def test_upgrading_an_empty_database_writes_no_events(empty_url: str) -> None:
    store = SqlStore(empty_url)
    store.open()
    try:
        assert store.events_after(0) == []
        store.sync_jobs({"a": {}}, T0)
        assert [event.job for event in store.events_after(0)] == ["a"]
    finally:
        store.close()


def insert_old_job(connection: Connection, name: str, t: str) -> None:
    """A job row as every schema since 0002 holds it (later columns take their defaults)."""
    connection.execute(
        text(
            "INSERT INTO jobs (name, defaults, override, paused, kind, created_at, updated_at)"
            " VALUES (:name, '{}', '{}', false, 'code', :t, :t)"
        ),
        {"name": name, "t": t},
    )


def test_a_0002_database_with_two_retries_of_one_attempt_is_upgraded(empty_url: str) -> None:
    # The bug 0003 fixes could leave two retries of one run: the later one stops naming it.
    at_revision(empty_url, "0002")
    engine = dialect.create_engine(dialect.parse_url(empty_url))
    t = "2026-11-23 10:00:00.000000"
    with dialect.write_transaction(engine) as connection:
        insert_old_job(connection, "a", t)
        for status, attempt, retry_of in (
            ("interrupted", 1, None),
            ("succeeded", 2, 1),
            ("running", 2, 1),
        ):
            connection.execute(
                text(
                    "INSERT INTO runs (job, reason, status, queued_at, attempt, args, node, "
                    "retry_of) VALUES ('a', 'manual', :status, :t, :attempt, '{}', 'n1', "
                    ":retry_of)"
                ),
                {"status": status, "t": t, "attempt": attempt, "retry_of": retry_of},
            )
        connection.execute(
            text(
                "INSERT INTO nodes (id, host, pid, started_at, heartbeat_at) "
                "VALUES ('n1', 'h', 1, :t, :t)"
            ),
            {"t": t},
        )
    engine.dispose()

    store = SqlStore(empty_url)
    store.open()
    try:
        with store._reading() as connection:
            assert migrate.current_revision(connection) == migrate.HEAD
        runs = sorted(store.list_runs(), key=lambda run: run.id)
        assert [(run.status, run.retry_of, run.generation) for run in runs] == [
            (RunStatus.INTERRUPTED, None, None),
            (RunStatus.SUCCEEDED, runs[0].id, None),
            (RunStatus.RUNNING, None, None),
        ]
        (node,) = store.list_nodes()
        assert (node.id, node.generation, node.life) == ("n1", 0, None)
        # A second retry of the first run is not created now.
        assert store.apply([Enqueue(NewRun("a", Reason.RETRY, T0, retry_of=runs[0].id))]) == [None]
    finally:
        store.close()


def test_a_0006_databases_dependency_runs_name_no_upstream_runs(empty_url: str) -> None:
    # Before 0007 only the note and the run.queued event named them: old rows read as {}.
    at_revision(empty_url, "0006")
    engine = dialect.create_engine(dialect.parse_url(empty_url))
    t = "2026-11-23 10:00:00.000000"
    with dialect.write_transaction(engine) as connection:
        insert_old_job(connection, "c", t)
        connection.execute(
            text(
                "INSERT INTO runs (job, reason, status, queued_at, attempt, args, note) "
                "VALUES ('c', 'dependency', 'queued', :t, 1, '{}', 'after a (run 1)')"
            ),
            {"t": t},
        )
    engine.dispose()

    store = SqlStore(empty_url)
    store.open()
    try:
        (run,) = store.list_runs()
        assert (run.reason, run.upstream_runs) == (Reason.DEPENDENCY, {})
        new_id = enqueue(store, "c", reason=Reason.DEPENDENCY, upstream_runs={"a": 7})
        stored = store.get_run(new_id)
        assert stored is not None
        assert stored.upstream_runs == {"a": 7}
    finally:
        store.close()


def test_0007_goes_down_and_up_again(empty_url: str) -> None:
    from alembic import command

    at_revision(empty_url, "0007")
    engine = dialect.create_engine(dialect.parse_url(empty_url))
    try:
        with dialect.write_transaction(engine) as connection:
            command.downgrade(migrate.alembic_config(connection), "0006")
        with engine.connect() as connection:
            assert migrate.current_revision(connection) == "0006"
            columns = {c["name"] for c in inspect(connection).get_columns("runs")}
            assert "upstream_runs" not in columns
    finally:
        engine.dispose()
    at_revision(empty_url, "0007")
