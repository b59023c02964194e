"""Smaller promises: start delay, progress throttling, log cap, start order, pruning, idling."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from rota import Rota
from rota.engine.context import LOG_LINES
from rota.engine.retention import PRUNE_JOB
from rota.store.operations import Operation, Progress
from rota.store.records import EventKind, Retention, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, eventually, finished, outcome

MakeRota = Callable[..., Rota]


async def test_start_delay_holds_runs_after_boot(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.job("embeddings", start_delay="5m")(lambda: None)
    await rota.start_async()
    run_id = rota.run_now("embeddings")
    clock.advance(timedelta(minutes=4))
    await asyncio.sleep(0.05)
    assert rota.get_run(run_id).status is RunStatus.QUEUED
    clock.advance(timedelta(minutes=1))
    await eventually(finished(rota, "embeddings", 1))
    assert rota.get_run(run_id).started_at == START + timedelta(minutes=5)


async def test_progress_is_written_at_most_four_times_a_second(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    more = asyncio.Event()

    @rota.job("scan")
    async def scan(ctx) -> None:  # type: ignore[no-untyped-def]
        for done in range(1, 101):
            ctx.progress(done, 200)
        await more.wait()
        ctx.progress(150, 200)
        await asyncio.Event().wait()

    await rota.start_async()
    run_id = rota.run_now("scan")
    await eventually(lambda: rota.get_run(run_id).progress_done == 100)
    more.set()
    clock.advance(0.1)
    await asyncio.sleep(0.05)
    assert rota.get_run(run_id).progress_done == 100  # held back: written 0.1 s ago
    clock.advance(0.15)
    await eventually(lambda: rota.get_run(run_id).progress_done == 150)
    # Each write is one event, committed with the row.
    progress = [
        e.data["done"]
        for e in rota.store.events_after(0, 1000)
        if e.kind is EventKind.RUN_PROGRESS and e.run_id == run_id
    ]
    assert progress == [100, 150]


async def test_progress_reported_while_a_write_is_in_flight_is_written(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    in_flight, reported = threading.Event(), threading.Event()

    @rota.job("scan")
    def scan(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.progress(1, 2)
        in_flight.wait(5)
        ctx.progress(2, 2)
        reported.set()
        while not ctx.cancelled:
            time.sleep(0.005)

    await rota.start_async()
    assert rota.engine is not None
    store = rota.engine.basis.store
    apply = store.apply

    def slow_apply(operations: Sequence[Operation]) -> list[Any]:
        if any(isinstance(op, Progress) and op.done == 1 for op in operations):
            in_flight.set()  # the job reports again while this write is being made
            reported.wait(5)
        return apply(operations)

    store.apply = slow_apply  # type: ignore[method-assign]
    run_id = rota.run_now("scan")
    await eventually(lambda: rota.get_run(run_id).progress_done == 1)
    clock.advance(0.25)
    await eventually(lambda: rota.get_run(run_id).progress_done == 2)
    rota.cancel(run_id)


async def test_the_log_keeps_the_last_lines(rotas: MakeRota) -> None:
    rota = rotas()

    @rota.job("chatty")
    def chatty(ctx) -> None:  # type: ignore[no-untyped-def]
        for line in range(1, LOG_LINES + 501):
            ctx.log.info("line %d", line)

    await rota.start_async()
    run = await outcome(rota, rota.run_now("chatty"))
    lines = run.log.splitlines()
    assert len(lines) == LOG_LINES + 1  # the first says what was cut (test_bad_values.py)
    assert lines[0].startswith("[rota: cut 500 lines")
    assert lines[1].endswith("line 501")
    assert lines[-1].endswith(f"line {LOG_LINES + 500}")


async def test_queued_runs_start_in_fire_time_order(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas(workers=1)
    release = asyncio.Event()
    started: list[str] = []

    @rota.job("blocker")
    async def blocker() -> None:
        await release.wait()

    for name, minute in (("late", 20), ("early", 10)):

        def record(name: str = name) -> None:
            started.append(name)

        rota.job(name, schedule=f"cron {minute} * * * *")(record)

    await rota.start_async()
    rota.run_now("blocker")
    await eventually(lambda: rota.runs("blocker", status="running") != [])
    clock.advance(timedelta(minutes=25))  # both fire while the only slot is taken
    await eventually(lambda: len(rota.runs(status="queued")) == 2)
    release.set()
    await eventually(lambda: len(started) == 2)
    assert started == ["early", "late"]


async def test_pruning_removes_old_history(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.job("sync", retention=Retention(keep_last=3))(lambda: None)
    await rota.start_async()
    for _ in range(6):
        await outcome(rota, rota.run_now("sync"))
    clock.advance(timedelta(days=8))
    # rota-prune does not catch up (its missed fire times are recorded skipped); it runs on its
    # next fire time, at most 10 minutes on.
    await eventually(lambda: rota.job_info(PRUNE_JOB).next_fire_at > clock.now())  # type: ignore[operator]
    clock.advance(timedelta(minutes=10))

    def pruned() -> bool:
        logs = [run.log for run in rota.runs(PRUNE_JOB, status="succeeded")]
        return any("removed 3 runs past their retention" in log for log in logs)

    await eventually(pruned)  # one prune run removed them (one may also have run on time)
    assert len(rota.runs("sync")) == 3


async def test_pruning_many_jobs_takes_a_few_store_calls_not_one_per_job(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    names = [f"sync-{index:03}" for index in range(150)]
    for name in names:
        rota.job(name, retention=Retention(keep_last=1))(lambda: None)
    await rota.start_async()
    for name in names[:3]:
        for _ in range(3):
            await outcome(rota, rota.run_now(name))
    clock.advance(timedelta(days=8, minutes=5))  # past their week; rota-prune not due
    engine = rota.engine
    assert engine is not None
    calls: list[str] = []
    call = engine.basis.writer.call

    async def counting(function: Any, *args: Any) -> Any:
        calls.append(getattr(function, "__name__", "?"))
        return await call(function, *args)

    engine.basis.writer.call = counting  # type: ignore[method-assign]
    prune = rota.run_now(PRUNE_JOB)
    assert (await outcome(rota, prune)).status.value == "succeeded"
    assert "removed 6 runs past their retention" in rota.get_run(prune).log
    assert calls.count("prune_runs") == 1
    assert "prune" not in calls
    assert all(len(rota.runs(name)) == 1 for name in names[:3])


async def test_an_idle_engine_sleeps_until_its_next_deadline(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.job("weekly-report", schedule="weekly sun 04:00")(lambda: None)
    await rota.start_async()
    await asyncio.sleep(0.05)
    # Nothing polls: the earliest anyone waits for is the heartbeat, then the fire times.
    assert clock.next_deadline == START + timedelta(seconds=15)
    clock.advance(15)
    await eventually(lambda: clock.next_deadline == START + timedelta(seconds=30))
