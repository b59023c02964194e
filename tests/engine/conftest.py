"""Engine tests run on a FakeClock; they poll for outcomes with a real-time deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from rota import Rota
from rota.store.records import ACTIVE, RunRecord, RunStatus
from rota.testing import FakeClock
from tests.postgres import postgres_session, postgres_url

__all__ = ["postgres_session", "postgres_url"]  # fixtures for this folder

START = datetime.fromisoformat("2026-11-23T10:00:00+00:00")


async def eventually(check: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until `check()` is truthy; fail after `timeout` real seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {check}")
        await asyncio.sleep(0.002)


def age_lease_on_postgresql(url: str, node_id: str, by: timedelta) -> None:
    """On PostgreSQL, leases go by the database's clock, not the test's fake one: make `node_id`'s
    last heartbeat `by` older, as if the database's time had moved on. Elsewhere, nothing: the
    fake clock measures leases there."""
    if not url.startswith("postgresql"):
        return
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE nodes SET heartbeat_at = heartbeat_at - :by WHERE id = :id"),
                {"by": by, "id": node_id},
            )
    finally:
        engine.dispose()


def statuses(rota: Rota, job: str) -> list[str]:
    """The job's run statuses, oldest first."""
    return [run.status.value for run in reversed(rota.runs(job, limit=1000))]


def finished(rota: Rota, job: str, count: int) -> Callable[[], bool]:
    """A check: the job has at least `count` finished runs."""

    def check() -> bool:
        runs = rota.runs(job, limit=1000)
        return sum(run.status not in (RunStatus.QUEUED, RunStatus.RUNNING) for run in runs) >= count

    return check


async def outcome(rota: Rota, run_id: int, timeout: float = 5.0) -> RunRecord:
    """The run once it has finished (the async tests' `rota.wait`, which would block the loop);
    fail after `timeout` real seconds."""
    await eventually(lambda: rota.get_run(run_id).status not in ACTIVE, timeout)
    return rota.get_run(run_id)


def only_run(rota: Rota, job: str) -> RunRecord:
    runs = rota.runs(job)
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each engine test runs on the memory store, SQLite and PostgreSQL (the session's schema,
    emptied: tests/postgres.py)."""
    if request.param == "memory":
        return f"memory://{request.node.name}"  # shared by the Rotas of one test
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path}/rota.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def rotas(database_url: str, clock: FakeClock) -> AsyncIterator[Callable[..., Rota]]:
    """Make Rota instances on the test's store and clock; all are stopped afterwards."""
    made: list[Rota] = []

    def make(**kwargs: object) -> Rota:
        kwargs.setdefault("clock", clock)
        rota = Rota(database_url, timezone="UTC", **kwargs)  # type: ignore[arg-type]
        made.append(rota)
        return rota

    yield make
    for rota in made:
        if rota.engine is not None:
            await rota.stop_async(grace=0)
        else:
            rota.close()
