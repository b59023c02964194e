"""Nothing a job does, and no error in the engine's own tasks, stops the engine or its `stop`."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from rota import Rota
from rota.store.operations import Enqueue, NewRun
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, eventually, finished, outcome

MakeRota = Callable[..., Rota]
ESCAPES = [SystemExit, KeyboardInterrupt]


def _add_raising_job(rota: Rota, error: type[BaseException], is_async: bool) -> None:
    if is_async:

        @rota.job("raises")
        async def raises_async() -> None:
            raise error("from the job")

    else:

        @rota.job("raises")
        def raises_sync() -> None:
            raise error("from the job")


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
@pytest.mark.parametrize("error", ESCAPES)
async def test_a_job_raising_systemexit_or_keyboardinterrupt_fails_its_run(
    rotas: MakeRota, error: type[BaseException], is_async: bool
) -> None:
    rota = rotas()
    _add_raising_job(rota, error, is_async)
    rota.job("after")(lambda: None)
    await rota.start_async()
    run = await outcome(rota, rota.run_now("raises"))
    assert run.status is RunStatus.FAILED
    assert run.error == f"{error.__name__}: from the job"
    assert run.traceback is not None
    assert f"{error.__name__}: from the job" in run.traceback
    assert "raise error" in run.traceback
    # The engine goes on: another run, and a clean stop.
    assert (await outcome(rota, rota.run_now("after"))).status is RunStatus.SUCCEEDED
    await asyncio.wait_for(rota.stop_async(grace=0), timeout=10)


async def test_an_async_job_raising_systemexit_when_cancelled_is_recorded_cancelled(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()

    @rota.job("stubborn", timeout=1)
    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            sys.exit(3)

    rota.job("after")(lambda: None)
    await rota.start_async()
    run_id = rota.run_now("stubborn")
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.RUNNING)
    clock.advance(1)
    assert (await outcome(rota, run_id)).status is RunStatus.TIMED_OUT
    assert (await outcome(rota, rota.run_now("after"))).status is RunStatus.SUCCEEDED


async def test_a_run_whose_arguments_do_not_fit_fails_naming_them_and_is_not_retried(
    rotas: MakeRota,
) -> None:
    rota = rotas()
    calls: list[int] = []

    @rota.job("strict", retry=3)
    async def strict() -> None:
        calls.append(1)

    await rota.start_async()
    # run_now refuses such arguments; a run queued by older code with other parameters is
    # what still meets them.
    queued = NewRun("strict", Reason.MANUAL, rota.clock.now(), args={"library": "movies"})
    (run_id,) = rota.store.apply([Enqueue(queued)])
    run = await outcome(rota, run_id)
    assert run.status is RunStatus.FAILED
    assert run.error == "args: job 'strict' has no parameter 'library' (it takes no arguments)"
    assert calls == []
    assert len(rota.runs("strict")) == 1  # no attempt would do better: no retry


def _stop_within(rota: Rota, seconds: float) -> None:
    """`rota.stop(grace=0)`, failing (not hanging) if it does not return in time."""
    stopper = threading.Thread(target=rota.stop, kwargs={"grace": 0}, daemon=True)
    stopper.start()
    stopper.join(seconds)
    assert not stopper.is_alive(), f"rota.stop() did not return within {seconds} s"


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
@pytest.mark.parametrize("error", ESCAPES)
def test_a_started_rota_outlives_a_job_raising_systemexit_or_keyboardinterrupt(
    database_url: str, clock: FakeClock, error: type[BaseException], is_async: bool
) -> None:
    rota = Rota(database_url, timezone="UTC", clock=clock)
    _add_raising_job(rota, error, is_async)
    rota.job("after")(lambda: None)
    rota.start()
    try:
        run = rota.wait(rota.run_now("raises"), timeout=10)
        assert run.status is RunStatus.FAILED
        assert run.error == f"{error.__name__}: from the job"
        assert rota.wait(rota.run_now("after"), timeout=10).status is RunStatus.SUCCEEDED
    finally:
        _stop_within(rota, 10)


class _FaultyClock:
    """A FakeClock whose `now()` raises once, when armed, inside the engine task `task`."""

    def __init__(self, clock: FakeClock, task: str) -> None:
        self.clock, self.task, self.armed = clock, task, False

    def now(self) -> datetime:
        try:
            current = asyncio.current_task()
        except RuntimeError:
            current = None
        if self.armed and current is not None and current.get_name() == self.task:
            self.armed = False
            raise RuntimeError(f"a fault in {self.task}")
        return self.clock.now()

    async def sleep_until(self, deadline: datetime) -> None:
        await self.clock.sleep_until(deadline)


@pytest.mark.parametrize("task", ["rota-scheduler", "rota-dispatch", "rota-heartbeat"])
async def test_an_engine_task_that_fails_is_logged_and_started_again(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture, task: str
) -> None:
    faulty = _FaultyClock(clock, task)
    rota = rotas(clock=faulty)
    rota.job("tick", schedule="every 1m")(lambda: None)
    rota.job("by-hand")(lambda: None)
    await rota.start_async()
    assert rota.engine is not None
    nodes, renew = rota.engine.nodes, rota.engine.nodes.renew
    renewed: list[datetime] = []

    async def counted_renew(now: datetime) -> bool:
        renewed.append(now)
        return await renew(now)

    nodes.renew = counted_renew  # type: ignore[method-assign]
    faulty.armed = True
    # Wake each task: the heartbeat is due, so is a fire time, and a run is queued.
    clock.advance(timedelta(seconds=15))
    rota.run_now("by-hand")

    def logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if task in r.getMessage() and r.exc_info]

    await eventually(lambda: not faulty.armed and logged())
    record = logged()[0]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "a fault in" in str(record.exc_info[1])
    assert "starts it again" in record.getMessage()
    # Restarted after a short pause: everything works on.
    clock.advance(timedelta(seconds=1))
    clock.advance(timedelta(minutes=1))
    await eventually(finished(rota, "tick", 1))
    await eventually(finished(rota, "by-hand", 1))
    assert (await outcome(rota, rota.run_now("by-hand"))).status is RunStatus.SUCCEEDED
    clock.advance(timedelta(seconds=30))  # the heartbeat beats on (it slept 15 s at most)
    await eventually(lambda: any(at > clock.now() - timedelta(seconds=30) for at in renewed))
    await asyncio.wait_for(rota.stop_async(grace=0), timeout=10)


async def test_a_timed_out_sync_job_keeps_its_slot_until_its_thread_returns(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rota = rotas(workers=1)
    release = threading.Event()
    calls: list[datetime] = []

    @rota.job("stuck", timeout=1)
    def stuck() -> None:
        release.wait(10)  # does not look at ctx.cancelled

    @rota.job("next", timeout=1)
    def next_job() -> None:
        calls.append(clock.now())

    await rota.start_async()
    stuck_id = rota.run_now("stuck")
    await eventually(lambda: rota.get_run(stuck_id).status is RunStatus.RUNNING)
    next_id = rota.run_now("next")
    clock.advance(1)
    assert (await outcome(rota, stuck_id)).status is RunStatus.TIMED_OUT
    await eventually(lambda: any("still running" in r.getMessage() for r in caplog.records))
    # The only thread is still busy: the next run waits, queued, its timeout not started.
    clock.advance(5)
    await asyncio.sleep(0.05)
    waiting = rota.get_run(next_id)
    assert (waiting.status, waiting.started_at) == (RunStatus.QUEUED, None)
    release.set()
    run = await outcome(rota, next_id)
    assert run.status is RunStatus.SUCCEEDED
    assert run.started_at == START + timedelta(seconds=6)
    assert calls == [START + timedelta(seconds=6)]


async def test_a_sync_run_given_up_before_a_thread_took_it_is_never_called(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas(workers=1)
    calls: list[datetime] = []

    @rota.job("late", timeout=1)
    def late() -> None:
        calls.append(clock.now())

    await rota.start_async()
    assert rota.engine is not None
    assert rota.engine.worker is not None
    pool = rota.engine.worker._pool
    # Something outside rota's count holds the only thread, so the run waits for it.
    blocker = threading.Event()
    pool.submit(blocker.wait, 10)
    run_id = rota.run_now("late")
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.RUNNING)
    clock.advance(1)
    assert (await outcome(rota, run_id)).status is RunStatus.TIMED_OUT
    blocker.set()
    await asyncio.wrap_future(pool.submit(lambda: None))  # after the run's turn in the pool
    assert calls == []
