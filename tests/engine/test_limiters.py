"""Shared rate limiters on the fake clock, on every store (decision 0012)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from rota import Rota
from rota.errors import SettingError
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import eventually, outcome

MakeRota = Callable[..., Rota]


async def drive(clock: FakeClock, done: Callable[[], bool], step: float = 0.5) -> None:
    """Move the fake clock on in steps until `done()`; fail after 20 real seconds."""
    deadline = time.monotonic() + 20
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("not done within 20 s")
        clock.advance(step)
        await asyncio.sleep(0.005)


def most_in_a_window(times: list[datetime], window: timedelta) -> int:
    """The most of `times` in any window [a, a + window)."""
    ordered = sorted(times)
    return max(
        (sum(1 for t in ordered[i:] if t < start + window) for i, start in enumerate(ordered)),
        default=0,
    )


async def test_a_sync_job_waits_for_capacity_and_never_exceeds_it(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.limiter("tmdb", 4, per="10s")
    calls: list[datetime] = []

    @rota.job("enrich")
    def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
        for _ in range(10):
            with ctx.limit("tmdb") as spent_at:
                calls.append(spent_at)

    await rota.start_async()
    run_id = rota.run_now("enrich")
    await drive(clock, lambda: len(calls) == 10)
    assert (await outcome(rota, run_id)).status is RunStatus.SUCCEEDED
    assert most_in_a_window(calls, timedelta(seconds=10)) <= 4
    # Throttled, not refused: 10 calls at 4 per 10 s need two more windows after the first.
    assert calls[-1] - calls[0] >= timedelta(seconds=20)


async def test_an_async_job_uses_async_with_and_a_cost(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.limiter("omdb", 6, per="1m")
    spent: list[datetime] = []

    @rota.job("fetch")
    async def fetch(ctx) -> None:  # type: ignore[no-untyped-def]
        for _ in range(5):
            async with ctx.limit("omdb", cost=2) as spent_at:
                spent.extend([spent_at] * 2)

    await rota.start_async()
    run_id = rota.run_now("fetch")
    await drive(clock, lambda: len(spent) == 10, step=5)
    assert (await outcome(rota, run_id)).status is RunStatus.SUCCEEDED
    assert most_in_a_window(spent, timedelta(minutes=1)) <= 6


async def test_the_limit_is_shared_by_every_rota_on_the_store(
    rotas: MakeRota, clock: FakeClock
) -> None:
    calls: list[datetime] = []
    made = [rotas(), rotas()]
    for rota in made:
        rota.limiter("tmdb", 5, per="10s")

        @rota.job("enrich", overlap="allow", max_concurrent=5)
        def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
            for _ in range(5):
                with ctx.limit("tmdb") as spent_at:
                    calls.append(spent_at)

    for rota in made:
        await rota.start_async()
    ids = [rota.run_now("enrich") for rota in made for _ in range(2)]
    await drive(clock, lambda: len(calls) == 20)
    for run_id in ids:
        assert (await outcome(made[0], run_id)).status is RunStatus.SUCCEEDED
    assert most_in_a_window(calls, timedelta(seconds=10)) <= 5


async def test_a_daily_quota_survives_a_restart(rotas: MakeRota, clock: FakeClock) -> None:
    first = rotas()
    first.limiter("omdb", 3, per="1d", max_wait="1h")

    @first.job("enrich")
    def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
        with ctx.limit("omdb", cost=3):
            pass

    await first.start_async()
    assert (await outcome(first, first.run_now("enrich"))).status is RunStatus.SUCCEEDED
    await first.stop_async(grace=0)

    second = rotas()
    second.limiter("omdb", 3, per="1d", max_wait="1h")
    second.job("enrich")(enrich)
    await second.start_async()
    waited = await outcome(second, second.run_now("enrich"))
    # The quota is still spent after the restart: the run waits for tomorrow, as a retry.
    assert waited.status is RunStatus.SKIPPED
    assert waited.note is not None
    assert waited.note.startswith("waiting for limiter omdb until")
    (info,) = second.limiters()
    assert (info.name, info.capacity, info.in_use) == ("omdb", 3, 3)


async def test_a_long_wait_gives_the_slot_back_and_retries_at_the_refill(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.limiter("omdb", 1, per="1h", max_wait="1m")
    ran: list[int] = []

    @rota.job("enrich")
    def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
        with ctx.limit("omdb"):
            ran.append(ctx.run.attempt)

    await rota.start_async()
    assert (await outcome(rota, rota.run_now("enrich"))).status is RunStatus.SUCCEEDED
    second = await outcome(rota, rota.run_now("enrich"))
    assert second.status is RunStatus.SKIPPED
    assert second.note is not None
    assert "waiting for limiter omdb" in second.note
    retry = rota.runs("enrich", status="queued")[0]
    assert (retry.reason, retry.retry_of, retry.attempt) == (Reason.RETRY, second.id, 2)
    # The first grant (T0, lasting 1 s) stops counting an hour after it ended.
    assert retry.not_before is not None
    assert retry.not_before - clock.now() <= timedelta(hours=1, seconds=1)
    assert retry.not_before - clock.now() > timedelta(minutes=59)
    clock.set(retry.not_before)
    assert (await outcome(rota, retry.id)).status is RunStatus.SUCCEEDED
    assert ran == [1, 2]


async def test_cancelling_a_run_ends_its_wait(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.limiter("tmdb", 1, per="10s")
    waiting = threading.Event()

    @rota.job("enrich")
    def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
        with ctx.limit("tmdb"):
            pass
        waiting.set()
        with ctx.limit("tmdb"):  # waits 10 s of fake time, which never pass
            pass

    await rota.start_async()
    run_id = rota.run_now("enrich")
    await eventually(waiting.is_set)
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.RUNNING)
    rota.cancel(run_id)
    assert (await outcome(rota, run_id)).status is RunStatus.CANCELLED
    # The slot is free again: the job's thread left its wait, so the next run starts.
    await eventually(lambda: not rota.engine or not rota.engine.worker._lingering)


async def test_a_timeout_ends_an_async_wait(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.limiter("tmdb", 1, per="1h", max_wait="2h")
    waited = asyncio.Event()

    @rota.job("enrich", timeout="30s")
    async def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
        async with ctx.limit("tmdb"):
            pass
        waited.set()
        async with ctx.limit("tmdb"):
            pass

    await rota.start_async()
    run_id = rota.run_now("enrich")
    await eventually(waited.is_set)
    await drive(clock, lambda: rota.get_run(run_id).status is not RunStatus.RUNNING, step=5)
    assert rota.get_run(run_id).status is RunStatus.TIMED_OUT


async def test_a_node_asks_the_store_once_per_grant_not_per_acquisition(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.limiter("fast", 100_000, per="1s")

    @rota.job("burst")
    def burst(ctx) -> None:  # type: ignore[no-untyped-def]
        for _ in range(3000):
            with ctx.limit("fast"):
                pass

    await rota.start_async()
    assert (await outcome(rota, rota.run_now("burst"))).status is RunStatus.SUCCEEDED
    assert rota.engine is not None
    assert rota.engine.limiters is not None
    # Grants double up to 1,000 tokens: 1 + 2 + 4 + ... + 512 + 1000 + 1000 > 3000.
    assert rota.engine.limiters.requests <= 14


async def test_unknown_limiters_and_bad_costs_fail_the_run_naming_them(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.limiter("tmdb", 4, per="10s")

    @rota.job("enrich")
    def enrich(ctx, name: str = "tmdb", cost: int = 1) -> None:  # type: ignore[no-untyped-def]
        with ctx.limit(name, cost=cost):
            pass

    await rota.start_async()
    unknown = await outcome(rota, rota.run_now("enrich", name="tmbd"))
    assert unknown.status is RunStatus.FAILED
    assert unknown.error is not None
    assert "no limiter is named 'tmbd' (declared: tmdb)" in unknown.error
    too_dear = await outcome(rota, rota.run_now("enrich", cost=5))
    assert too_dear.error is not None
    assert "capacity 4" in too_dear.error


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("tmdb", 0, "10s"), "limiter capacity"),
        (("tmdb", True, "10s"), "limiter capacity"),
        (("tmdb", 4.5, "10s"), "limiter capacity"),
        (("tmdb", 4, "soon"), "limiter per"),
        (("tmdb", 4, 0), "limiter per"),
        (("", 4, "10s"), "limiter name"),
        ((None, 4, "10s"), "limiter name"),
    ],
)
def test_a_limiter_is_declared_with_checked_values(args: tuple[object, ...], field: str) -> None:
    rota = Rota("memory://declared")
    with pytest.raises(SettingError) as raised:
        rota.limiter(*args)  # type: ignore[arg-type]
    assert raised.value.field == field


async def test_the_limiters_view_shows_use_capacity_and_next_refill(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.limiter("tmdb", 40, per="10s")
    rota.limiter("omdb", 1000, per="1d")

    @rota.job("enrich")
    def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
        with ctx.limit("tmdb", cost=3):
            pass

    await rota.start_async()
    await outcome(rota, rota.run_now("enrich"))
    assert await rota.limiters_async() == rota.limiters()
    tmdb, omdb = sorted(rota.limiters(), key=lambda info: info.name != "tmdb")
    assert (tmdb.capacity, tmdb.period, tmdb.in_use) == (40, timedelta(seconds=10), 3)
    assert tmdb.next_refill == clock.now() + timedelta(seconds=11)
    assert (omdb.in_use, omdb.next_refill, omdb.declared) == (0, None, True)
