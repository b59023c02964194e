"""Several nodes on one store: leases, reaping the dead, losing and regaining a lease, and
changes made on one node reaching another (docs/decisions/0005)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from rota import Retry, Rota
from rota.errors import SettingError, StoreUnavailableError
from rota.store import open_store
from rota.store.operations import Claim, Enqueue, Finish, NewRun, Operation
from rota.store.records import NodeRecord, Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, age_lease_on_postgresql, eventually, finished

MakeRota = Callable[..., Rota]
BEAT = timedelta(seconds=15)  # the engine's default heartbeat; its lease is 60 s


def other_node(url: str, job: str, node_id: str = "other:2:def") -> int:
    """A live node on another host, registered at START, running one run of `job`."""
    store = open_store(url)
    store.open()
    store.sync_jobs({job: {}}, START)
    store.register_node(NodeRecord(node_id, "other-host", 2, START, START))
    run_id, claimed = store.apply(
        [Enqueue(NewRun(job, Reason.MANUAL, START)), Claim(1, node_id, START)]
    )
    store.close()
    assert claimed is True
    assert isinstance(run_id, int)
    return run_id


async def beats(clock: FakeClock, count: int) -> None:
    """Let `count` heartbeats pass, giving the engine time to act on each."""
    for _ in range(count):
        await asyncio.sleep(0.05)  # the heartbeat task sleeps towards its next beat
        clock.advance(BEAT)
    await asyncio.sleep(0.05)


async def test_a_node_whose_lease_runs_out_is_reaped_by_a_live_one(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    lost = other_node(database_url, "backup")
    rota = rotas()

    @rota.job("backup", retry=Retry(2))
    def backup() -> None:
        pass

    await rota.start_async()
    age_lease_on_postgresql(database_url, "other:2:def", timedelta(seconds=45))
    await beats(clock, 3)  # 45 s without a heartbeat: still within its lease
    assert rota.get_run(lost).status is RunStatus.RUNNING
    age_lease_on_postgresql(database_url, "other:2:def", timedelta(seconds=30))
    await beats(clock, 2)  # 75 s: its lease of 60 s ran out
    await eventually(finished(rota, "backup", 2))
    run = rota.get_run(lost)
    assert run.status is RunStatus.INTERRUPTED
    assert run.note is not None
    assert "its node other:2:def stopped without finishing it" in run.note
    retry = [r for r in rota.runs("backup") if r.retry_of == lost]
    assert [(r.attempt, r.status) for r in retry] == [(2, RunStatus.SUCCEEDED)]
    nodes = {node.id: node for node in rota.store.list_nodes()}
    assert nodes["other:2:def"].stopped_at is not None


async def test_a_node_found_dead_registers_again_and_goes_on(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rota = rotas()
    rota.job("sync")(lambda: None)
    await rota.start_async()
    assert rota.engine is not None
    node_id = rota.engine.node_id
    rota.store.stop_node(node_id, clock.now())  # as a node that thought it dead would
    with caplog.at_level(logging.WARNING, logger="rota.engine"):
        await beats(clock, 1)
        await eventually(
            lambda: {n.id: n for n in rota.store.list_nodes()}[node_id].stopped_at is None
        )
    assert "was found dead by another node" in caplog.text
    run_id = rota.run_now("sync")
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.SUCCEEDED)


async def test_a_node_that_cannot_reach_its_store_starts_no_runs_once_its_lease_ran_out(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rota = rotas()
    rota.job("sync")(lambda: None)
    await rota.start_async()
    assert rota.engine is not None
    store = rota.engine.basis.store
    heartbeat = store.heartbeat

    def unreachable(node_id: str, at: object, generation: object = None) -> bool:
        raise StoreUnavailableError("the store cannot be reached: connection refused")

    store.heartbeat = unreachable  # type: ignore[assignment,method-assign]
    with caplog.at_level(logging.ERROR, logger="rota.engine"):
        await beats(clock, 4)  # 60 s without renewing: the lease ran out
    assert caplog.text.count("cannot reach its store") == 1  # said once, not every beat
    held = rota.run_now("sync")
    await asyncio.sleep(0.1)
    assert rota.get_run(held).status is RunStatus.QUEUED
    store.heartbeat = heartbeat  # type: ignore[method-assign]
    await beats(clock, 1)
    await eventually(lambda: rota.get_run(held).status is RunStatus.SUCCEEDED)


async def test_a_cancel_made_on_one_node_stops_the_run_on_another(
    rotas: MakeRota, clock: FakeClock
) -> None:
    started = threading.Event()

    def scan(ctx) -> None:  # type: ignore[no-untyped-def]
        started.set()
        while not ctx.cancelled:
            threading.Event().wait(0.005)

    runner, admin = rotas(), rotas()
    runner.job("scan")(scan)
    admin.job("scan")(scan)
    await runner.start_async()
    assert runner.engine is not None
    run_id = runner.run_now("scan")
    await eventually(started.is_set)
    await admin.start_async()  # a second node: from now on the first polls too
    await beats(clock, 1)  # the first has seen the second alive
    admin.cancel(run_id)
    await beats(clock, 1)  # where no notification comes (SQLite), the next poll finds it
    await eventually(lambda: admin.get_run(run_id).status is RunStatus.CANCELLED)
    run = admin.get_run(run_id)
    assert run.note == "cancelled by an admin"
    assert run.node == runner.engine.node_id


async def test_a_run_queued_outside_the_node_is_found(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    rota = rotas()
    rota.job("sync")(lambda: None)
    await rota.start_async()
    store = open_store(database_url)
    store.open()
    try:
        # Another live node, so that this one polls where nothing notifies it (SQLite).
        store.register_node(NodeRecord("other:2:def", "other-host", 2, START, START))
        (run_id,) = store.apply([Enqueue(NewRun("sync", Reason.MANUAL, clock.now()))])
    finally:
        store.close()
    await beats(clock, 1)
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.SUCCEEDED)


async def test_a_schedule_changed_on_one_node_reaches_another(
    rotas: MakeRota, clock: FakeClock
) -> None:
    runner, admin = rotas(), rotas()
    runner.job("report", schedule="every 1h")(lambda: None)
    admin.job("report", schedule="every 1h")(lambda: None)
    await runner.start_async()
    await admin.start_async()
    assert runner.engine is not None
    engine = runner.engine
    await beats(clock, 1)  # each has seen the other alive
    admin.set_schedule("report", "every 5m")
    await beats(clock, 1)  # a notification, or else the next poll (SQLite), brings it
    await eventually(lambda: engine.jobs["report"].next_fire_at == START + timedelta(minutes=5))
    admin.pause("report")
    await beats(clock, 1)
    await eventually(lambda: engine.jobs["report"].paused)


def test_lease_and_heartbeat_are_checked() -> None:
    with pytest.raises(SettingError, match=r"lease.*at least two heartbeats"):
        Rota("memory://", heartbeat="10s", lease="15s")
    with pytest.raises(SettingError, match=r"heartbeat"):
        Rota("memory://", heartbeat=0)
    with pytest.raises(SettingError, match=r"workers"):
        Rota("memory://", workers=0)


async def test_a_shorter_lease_finds_a_dead_node_sooner(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    lost = other_node(database_url, "backup")
    rota = rotas(heartbeat=5, lease="20s")
    rota.job("backup")(lambda: None)
    await rota.start_async()
    age_lease_on_postgresql(database_url, "other:2:def", timedelta(seconds=25))
    for _ in range(5):  # 25 s of heartbeats, 5 s apart
        await asyncio.sleep(0.05)
        clock.advance(5)
    await eventually(lambda: rota.get_run(lost).status is RunStatus.INTERRUPTED)


async def test_a_claim_lost_to_another_node_frees_the_slot_for_the_next_run(
    rotas: MakeRota,
) -> None:
    rota = rotas(workers=1)
    rota.job("a")(lambda: None)
    rota.job("b")(lambda: None)
    await rota.start_async()
    assert rota.engine is not None
    store = rota.engine.basis.store
    apply = store.apply
    first = rota.run_now("a")
    lost: list[int] = []

    def another_node_first(operations: Sequence[Operation]) -> list[Any]:
        for op in operations:
            if isinstance(op, Claim) and op.run_id == first and not lost:
                lost.append(op.run_id)
                apply([Claim(op.run_id, "other:2:def", op.at)])  # it wins the race
        return apply(operations)

    store.apply = another_node_first  # type: ignore[method-assign]
    second = rota.run_now("b")
    await eventually(lambda: rota.get_run(second).status is RunStatus.SUCCEEDED)
    assert rota.get_run(first).node == "other:2:def"


async def test_a_node_renews_its_lease_before_it_starts_runs(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    # A start that syncs many jobs may take longer than a lease: the lease is renewed after it.
    rota = rotas()
    rota.job("sync")(lambda: None)
    store = rota.store
    sync_jobs = store.sync_jobs
    synced: list[datetime] = []

    def slow_sync(defaults: Any, at: datetime, **options: Any) -> Any:
        result = sync_jobs(defaults, at, **options)
        clock.advance(timedelta(seconds=90))  # longer than the lease
        synced.append(store.database_now(clock.now()))
        return result

    store.sync_jobs = slow_sync  # type: ignore[method-assign]
    await rota.start_async()
    assert rota.engine is not None
    (node,) = [n for n in store.list_nodes() if n.id == rota.engine.node_id]
    assert node.heartbeat_at >= synced[0]  # stamped after the sync, not only before it


async def test_a_fire_time_while_another_node_runs_the_job_is_skipped(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    busy = other_node(database_url, "report")  # another node runs a run of "report"
    rota = rotas()
    rota.job("report", schedule="every 1m")(lambda: None)
    await rota.start_async()
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: len(rota.runs("report")) == 2)
    fired = next(r for r in rota.runs("report") if r.reason is Reason.SCHEDULE)
    await eventually(lambda: rota.get_run(fired.id).status is RunStatus.SKIPPED)
    assert rota.get_run(fired.id).note == (
        "another run of the job was running on another node (overlap=skip)"
    )
    assert rota.get_run(busy).status is RunStatus.RUNNING


async def test_a_queued_run_waits_while_another_node_runs_the_job(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    busy = other_node(database_url, "scan")
    rota = rotas()
    rota.job("scan", overlap="queue")(lambda: None)
    await rota.start_async()
    queued = rota.run_now("scan")
    await asyncio.sleep(0.1)
    assert rota.get_run(queued).status is RunStatus.QUEUED
    store = open_store(database_url)
    store.open()
    try:
        store.apply([Finish(busy, RunStatus.SUCCEEDED, clock.now())])
    finally:
        store.close()
    clock.advance(2)  # past the pause before it is claimed again
    await eventually(lambda: rota.get_run(queued).status is RunStatus.SUCCEEDED)
