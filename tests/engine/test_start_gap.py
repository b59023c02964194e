"""What another process changes while a node is starting is not missed: the node's reads of the
queued runs and of the jobs, and its listening for what changes after, leave no gap between them
(a lone node does not poll)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rota import Rota
from rota.store import open_store
from rota.store.operations import Enqueue, NewRun, SyncResult
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import eventually


async def stored_before(rotas: Callable[..., Rota], name: str, schedule: str | None) -> None:
    """Store a job as the node before a restart did: with its fire time, if it has a schedule."""
    earlier = rotas()
    earlier.job(name, schedule=schedule)(lambda: None)
    await earlier.start_async()
    await earlier.stop_async(grace=0)


def queue_a_run(database_url: str, clock: FakeClock, job: str) -> int:
    """Queue a run of `job` as another process does: through a store object of its own, whose
    commits are not told to this process's listeners directly."""
    store = open_store(database_url)
    store.open()
    try:
        (run_id,) = store.apply([Enqueue(NewRun(job, Reason.MANUAL, clock.now()))])
    finally:
        store.close()
    assert isinstance(run_id, int)
    return run_id


async def test_a_run_queued_while_the_node_starts_to_listen_is_run(
    rotas: Callable[..., Rota],
    database_url: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await stored_before(rotas, "sync", None)
    rota = rotas()
    rota.job("sync")(lambda: None)
    queued: list[int] = []
    listen = rota.store.listen

    def listen_after_another_process_queued_a_run(callback: Callable[[str], None]) -> Any:
        queued.append(queue_a_run(database_url, clock, "sync"))
        return listen(callback)

    monkeypatch.setattr(rota.store, "listen", listen_after_another_process_queued_a_run)
    await rota.start_async()
    assert len(queued) == 1
    await eventually(lambda: rota.get_run(queued[0]).status is RunStatus.SUCCEEDED)


def change_after_the_job_sync(
    rota: Rota, monkeypatch: pytest.MonkeyPatch, change: Callable[[], object]
) -> list[bool]:
    """Make `change` (another process's admin action) right after the node's store synced its
    jobs, before the node does anything else; the returned list tells that it was made."""
    made: list[bool] = []
    sync_jobs = rota.store.sync_jobs

    def sync_then_change(*args: Any, **kwargs: Any) -> SyncResult:
        synced = sync_jobs(*args, **kwargs)
        if not made:
            made.append(True)  # first: the change may sync jobs itself (the memory store)
            change()
        return synced

    monkeypatch.setattr(rota.store, "sync_jobs", sync_then_change)
    return made


async def test_a_schedule_changed_while_the_node_syncs_its_jobs_is_followed(
    rotas: Callable[..., Rota], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stored_before(rotas, "report", "every 1h")
    rota = rotas()
    rota.job("report", schedule="every 1h")(lambda: None)
    admin = rotas()  # the CLI or the service in another process: a store object of its own
    made = change_after_the_job_sync(
        rota, monkeypatch, lambda: admin.set_schedule("report", "every 1m")
    )
    await rota.start_async()
    assert made
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: [run.status for run in rota.runs("report")] == [RunStatus.SUCCEEDED])


async def test_a_job_paused_while_the_node_syncs_its_jobs_stays_paused(
    rotas: Callable[..., Rota], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rota = rotas()
    rota.job("report", schedule="every 1m")(lambda: None)
    admin = rotas()
    made = change_after_the_job_sync(rota, monkeypatch, lambda: admin.pause("report"))
    await rota.start_async()
    assert made
    engine = rota.engine
    assert engine is not None
    await eventually(lambda: engine.jobs["report"].paused)


async def test_a_job_added_while_the_node_syncs_its_jobs_fires(
    rotas: Callable[..., Rota], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    rota = rotas()
    rota.job("report", schedule="every 1h")(lambda: None)
    admin = rotas()
    target = "tests.engine.checks_for_tests:enrich"
    add = lambda: admin.add_job("enrich", target, schedule="every 1m")  # noqa: E731
    made = change_after_the_job_sync(rota, monkeypatch, add)
    await rota.start_async()
    assert made
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: [run.status for run in rota.runs("enrich")] == [RunStatus.SUCCEEDED])


async def test_a_run_queued_while_the_node_syncs_its_jobs_is_run(
    rotas: Callable[..., Rota],
    database_url: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rota = rotas()
    rota.job("sync")(lambda: None)
    queued: list[int] = []
    queue = lambda: queued.append(queue_a_run(database_url, clock, "sync"))  # noqa: E731
    change_after_the_job_sync(rota, monkeypatch, queue)
    await rota.start_async()
    assert len(queued) == 1
    await eventually(lambda: rota.get_run(queued[0]).status is RunStatus.SUCCEEDED)
