"""Retries, Skip, timeouts, cancellation and shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta

from rota import Retry, Rota, Skip
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import eventually, finished, outcome, statuses

MakeRota = Callable[..., Rota]


async def test_failures_are_retried_with_backoff(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    attempts: list[int] = []

    @rota.job("enrich", retry=Retry(3, backoff="10s"))
    def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
        attempts.append(ctx.run.attempt)
        if ctx.run.attempt < 3:
            raise ConnectionError("OMDb is down")

    await rota.start_async()
    first = rota.run_now("enrich")
    await eventually(finished(rota, "enrich", 1))
    retry = rota.runs("enrich", status="queued")[0]
    assert (retry.reason, retry.attempt, retry.retry_of) == (Reason.RETRY, 2, first)
    assert retry.not_before is not None
    assert timedelta(seconds=5) <= retry.not_before - clock.now() <= timedelta(seconds=10)
    clock.advance(10)
    await eventually(finished(rota, "enrich", 2))
    clock.advance(20)
    await eventually(finished(rota, "enrich", 3))
    assert attempts == [1, 2, 3]
    assert statuses(rota, "enrich") == ["failed", "failed", "succeeded"]


async def test_a_job_may_ask_for_a_retry_or_skip(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()

    @rota.job("discover")
    def discover(ctx) -> None:  # type: ignore[no-untyped-def]
        if ctx.run.attempt == 1:
            raise Retry(after="5m")
        raise Skip("no TMDb key configured")

    await rota.start_async()
    rota.run_now("discover")
    await eventually(lambda: len(rota.runs("discover")) == 2)
    retry = rota.runs("discover", status="queued")[0]
    assert retry.not_before == clock.now() + timedelta(minutes=5)
    clock.advance(timedelta(minutes=5))
    await eventually(finished(rota, "discover", 2))
    assert statuses(rota, "discover") == ["failed", "skipped"]
    assert rota.runs("discover")[0].note == "no TMDb key configured"


async def test_async_timeout_cancels_the_job(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    cancelled = asyncio.Event()

    @rota.job("slow", timeout="2h")
    async def slow() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    await rota.start_async()
    run_id = rota.run_now("slow")
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.RUNNING)
    clock.advance(timedelta(hours=2))
    await eventually(finished(rota, "slow", 1))
    assert rota.get_run(run_id).status is RunStatus.TIMED_OUT
    assert rota.get_run(run_id).note == "timed out after 2:00:00"
    await eventually(cancelled.is_set)


async def test_sync_timeout_is_recorded_at_once_and_sets_cancelled(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    release = threading.Event()
    saw_cancelled: list[bool] = []

    @rota.job("dump", timeout=60)
    def dump(ctx) -> None:  # type: ignore[no-untyped-def]
        release.wait(timeout=10)
        saw_cancelled.append(ctx.cancelled)

    await rota.start_async()
    run_id = rota.run_now("dump")
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.RUNNING)
    clock.advance(60)
    await eventually(finished(rota, "dump", 1))
    assert rota.get_run(run_id).status is RunStatus.TIMED_OUT
    release.set()
    await eventually(lambda: saw_cancelled == [True])
    assert rota.get_run(run_id).status is RunStatus.TIMED_OUT  # the late end changes nothing


async def test_cancel_a_queued_and_a_running_run(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    release = asyncio.Event()

    @rota.job("watch-history", overlap="queue")
    async def watch_history() -> None:
        await release.wait()

    await rota.start_async()
    running = rota.run_now("watch-history")
    await eventually(lambda: rota.get_run(running).status is RunStatus.RUNNING)
    waiting = rota.run_now("watch-history")
    assert rota.cancel(waiting).status is RunStatus.CANCELLED
    rota.cancel(running)
    await eventually(lambda: rota.get_run(running).status is RunStatus.CANCELLED)
    assert rota.get_run(running).note == "cancelled by an admin"
    assert rota.cancel(running).status is RunStatus.CANCELLED  # finished runs stay as they are


async def test_shutdown_lets_runs_finish_within_grace(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    release = asyncio.Event()

    @rota.job("quick")
    async def quick() -> None:
        await release.wait()

    @rota.job("stuck")
    async def stuck() -> None:
        await asyncio.Event().wait()

    await rota.start_async()
    quick_id, stuck_id = rota.run_now("quick"), rota.run_now("stuck")
    await eventually(lambda: len(rota.runs(status="running")) == 2)
    stopping = asyncio.create_task(rota.stop_async(grace=30))
    release.set()
    await eventually(lambda: rota.get_run(quick_id).status is RunStatus.SUCCEEDED)
    assert not stopping.done()
    clock.advance(30)
    await asyncio.wait_for(stopping, timeout=5)
    stuck_run = rota.get_run(stuck_id)
    assert stuck_run.status is RunStatus.INTERRUPTED
    assert stuck_run.note == "rota stopped before the run finished"


async def test_text_with_nul_characters_is_recorded_on_every_store(rotas: MakeRota) -> None:
    # PostgreSQL's text cannot hold NUL; the run's log and error are kept with it escaped.
    rota = rotas()

    @rota.job("odd")
    def odd(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.log.info("read b'\x00\x01'")
        raise ValueError("bad byte \x00 here")

    await rota.start_async()
    run = await outcome(rota, rota.run_now("odd"))
    assert run.status is RunStatus.FAILED
    assert run.error == "ValueError: bad byte \\x00 here"
    assert "read b'\\x00\x01'" in run.log
