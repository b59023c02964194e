"""One contract suite, every store: the `store` fixture yields each implementation, opened.

PostgreSQL is the test server's (tests/postgres.py): the session migrates a schema of its own
once, and each test gets it emptied.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rota.store import Claim, Enqueue, Finish, MemoryStore, NewRun, Reason, RunStatus, Store
from rota.store.sql import SqlStore
from tests.postgres import new_postgres_url, postgres_session, postgres_url

__all__ = ["new_postgres_url", "postgres_session", "postgres_url"]  # fixtures for this folder

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """An instant `minutes` after T0."""
    return T0 + timedelta(minutes=minutes)


def new(job: str = "a", fire: float | None = None, **fields: Any) -> NewRun:
    """A queued run of `job`, for fire time `at(fire)` if given, queued at T0."""
    fields.setdefault("reason", Reason.SCHEDULE if fire is not None else Reason.MANUAL)
    fields.setdefault("queued_at", T0)
    return NewRun(job=job, fire_time=None if fire is None else at(fire), **fields)


def enqueue(store: Store, job: str = "a", fire: float | None = None, **fields: Any) -> int:
    """Create a queued run; its id."""
    run_id = store.apply([Enqueue(new(job, fire, **fields))])[0]
    assert isinstance(run_id, int)
    return run_id


def running(store: Store, job: str = "a", node: str = "n1", **fields: Any) -> int:
    """Create a run and claim it on `node`; its id."""
    run_id = enqueue(store, job, **fields)
    assert store.apply([Claim(run_id, node, at(1))]) == [True]
    return run_id


def finished(
    store: Store, status: RunStatus, finished_at: datetime, job: str = "a", **fields: Any
) -> int:
    """Create a run that started and finished with `status` at `finished_at`; its id."""
    run_id = running(store, job, **fields)
    assert store.apply([Finish(run_id, status, finished_at)]) == [True]
    return run_id


def on_postgresql(store: Store) -> bool:
    """Whether `store` is on PostgreSQL (where a few promises are weaker, as docs/store.md says)."""
    return isinstance(store, SqlStore) and store.url.get_backend_name() == "postgresql"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file: copied per test, so only one test pays for Alembic."""
    path = tmp_path_factory.mktemp("template") / "rota.db"
    store = SqlStore(f"sqlite:///{path}")
    store.open()
    store.close()
    assert not path.with_name("rota.db-wal").exists()  # checkpointed: the copy is complete
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    """The URL of a fresh copy of the template database in `directory`."""
    path = directory / "rota.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each implementation of `Store`, open and empty."""
    made: Store
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SqlStore(sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path))
    else:
        # Asked for only here, so that tests of the other stores run without a server.
        made = SqlStore(request.getfixturevalue("postgres_url"))
    made.open()
    yield made
    made.close()


@pytest.fixture
def jobs(store: Store) -> Store:
    """The store with jobs "a" and "b" synced at T0."""
    store.sync_jobs({"a": {"schedule": "every 1h"}, "b": {"schedule": "daily 02:00"}}, T0)
    return store
