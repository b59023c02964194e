"""Under overload: bounded fire transactions, fair starts, a row per streak of skips, lag shown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rota import Rota
from rota.engine import core
from rota.engine.shedding import COALESCED, PARKED_FOR
from rota.store.operations import Fire
from rota.testing import FakeClock
from tests.engine.conftest import eventually

MakeRota = Callable[..., Rota]


def count_fires_per_transaction(rota: Rota) -> list[int]:
    """Wrap the store's `apply`: the number of Fires in each transaction, as it goes."""
    store = rota.store
    apply = store.apply
    sizes: list[int] = []

    def counting(operations: Any) -> list[Any]:
        fires = sum(isinstance(operation, Fire) for operation in operations)
        if fires:
            sizes.append(fires)
        return apply(operations)

    store.apply = counting  # type: ignore[method-assign]
    return sizes


async def test_many_due_fire_times_are_written_in_bounded_transactions(
    rotas: MakeRota, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "FIRE_BATCH", 10, raising=False)
    rota = rotas()
    for index in range(35):
        rota.job(f"j{index:02}", schedule="every 1m")(lambda: None)
    await rota.start_async()
    sizes = count_fires_per_transaction(rota)
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: sum(sizes) == 35)
    assert max(sizes) <= 10
    assert len(sizes) >= 4
    for index in range(35):
        assert rota.job_info(f"j{index:02}").next_fire_at == clock.now() + timedelta(minutes=1)


async def test_a_job_with_many_waiting_runs_does_not_starve_the_others(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas(workers=1)
    gate = asyncio.Event()
    order: list[str] = []

    @rota.job("gate")
    async def hold() -> None:
        await gate.wait()

    @rota.job("busy", overlap="allow", max_concurrent=10)
    async def busy() -> None:
        order.append("busy")

    @rota.job("quiet")
    async def quiet() -> None:
        order.append("quiet")

    await rota.start_async()
    rota.run_now("gate")
    await eventually(lambda: rota.runs("gate", status="running"))
    for _ in range(3):
        rota.run_now("busy")
    rota.run_now("quiet")
    await eventually(lambda: len(rota.runs(status="queued")) == 4)
    engine = rota.engine
    assert engine is not None
    # The notices of the queued runs reach the engine: it holds all four before the gate opens.
    await eventually(lambda: engine.worker.queued_count == 4)
    gate.set()
    await eventually(lambda: len(order) == 4)
    assert order == ["busy", "quiet", "busy", "busy"]


async def test_a_streak_of_skipped_fire_times_is_one_run(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    release = asyncio.Event()

    @rota.job("scan", schedule="every 1h")
    async def scan() -> None:
        await release.wait()

    # The clock jumps an hour at a time: rota-prune (every 10 min) would be found 50 min late,
    # the engine behind, and the busy scan set aside (shedding) until its run ends.
    rota.pause("rota-prune")
    await rota.start_async()
    clock.advance(timedelta(hours=1))
    await eventually(lambda: rota.runs("scan", status="running"))
    first_skip = clock.now() + timedelta(hours=1)
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        await eventually(lambda: rota.job_info("scan").next_fire_at > clock.now())  # type: ignore[operator]
    (skipped,) = rota.runs("scan", status="skipped")
    assert (skipped.fire_time, skipped.fire_count, skipped.last_fire_time) == (
        first_skip,
        3,
        clock.now(),
    )
    assert len(rota.runs("scan")) == 2
    release.set()
    await eventually(lambda: not rota.runs("scan", status="running"))
    release.clear()
    # The streak ended with the run it waited on: the next streak is a run of its own.
    clock.advance(timedelta(hours=1))
    await eventually(lambda: rota.runs("scan", status="running"))
    clock.advance(timedelta(hours=1))
    await eventually(lambda: len(rota.runs("scan", status="skipped")) == 2)
    assert rota.runs("scan", status="skipped")[0].fire_count == 1
    release.set()


async def test_falling_behind_is_logged_once_per_episode_and_counted(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rota = rotas()

    @rota.job("tick", schedule="every 1s", overlap="allow", max_concurrent=100, grace="1h")
    async def tick() -> None:
        pass

    await rota.start_async()
    engine = rota.engine
    assert engine is not None
    assert (engine.lag.behind, engine.lag.episodes) == (False, 0)
    caplog.set_level("INFO", logger="rota.engine")
    clock.advance(5)
    await eventually(lambda: len(rota.runs("tick")) == 5)
    await eventually(lambda: not engine.lag.behind)
    behind = [r.getMessage() for r in caplog.records if "is behind" in r.getMessage()]
    assert behind == ["rota is behind: fire times are taken up 4.0 s after they were due"]
    caught_up = [r.getMessage() for r in caplog.records if "caught up" in r.getMessage()]
    assert caught_up == [
        "rota caught up with its fire times after 0.0 s behind (they were taken up to 4.0 s late)"
    ]
    assert engine.lag.episodes == 1
    assert engine.lag.worst >= timedelta(seconds=4)
    for _ in range(3):  # on time again: nothing more is said
        clock.advance(1)
        await eventually(lambda: rota.job_info("tick").next_fire_at > clock.now())  # type: ignore[operator]
    assert len([r for r in caplog.records if "is behind" in r.getMessage()]) == 1
    assert engine.lag.lateness == timedelta(0)


async def test_catching_up_after_a_restart_is_said_once_and_is_not_being_behind(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def define(rota: Rota) -> None:
        rota.job("sync", schedule="every 30s", grace="1h")(nothing)
        rota.job("history", schedule="every 2m")(nothing)
        rota.job("scan", schedule="every 1h")(nothing)

    first = rotas()
    define(first)
    await first.start_async()
    await first.stop_async(grace=0)
    clock.advance(timedelta(minutes=4, seconds=13.9))  # down: sync and history missed theirs
    caplog.set_level("INFO", logger="rota.engine")
    second = rotas()
    define(second)
    await second.start_async()
    await eventually(
        lambda: all(second.job_info(j).next_fire_at > clock.now() for j in ("sync", "history"))  # type: ignore[operator]
    )
    engine = second.engine
    assert engine is not None
    said = [r for r in caplog.records if "catching up" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in said] == [
        (
            "INFO",
            "rota is catching up the fire times of 2 jobs missed while it was stopped "
            "(the oldest was due 3.7 min before it started)",
        )
    ]
    assert not [r for r in caplog.records if "behind" in r.getMessage()]
    assert (engine.lag.behind, engine.lag.episodes, engine.lag.lateness) == (False, 0, timedelta(0))
    clock.advance(40)  # sync falls due while it runs, and is taken up late: being behind
    await eventually(lambda: engine.lag.episodes == 1)


def nothing() -> None:
    """Does nothing."""


def fires_of(rota: Rota, job: str) -> list[Fire]:
    """Wrap the store's `apply`: the Fires of `job` written from now on."""
    store = rota.store
    apply = store.apply
    seen: list[Fire] = []

    def recording(operations: Any) -> list[Any]:
        seen.extend(op for op in operations if isinstance(op, Fire) and op.job == job)
        return apply(operations)

    store.apply = recording  # type: ignore[method-assign]
    return seen


async def test_a_behind_engine_passes_over_a_busy_jobs_due_fire_times_in_one_step(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    release = asyncio.Event()

    @rota.job("scan", schedule="every 1s")
    async def scan() -> None:
        await release.wait()

    await rota.start_async()
    clock.advance(1)
    await eventually(lambda: rota.runs("scan", status="running"))
    fires = fires_of(rota, "scan")
    began = clock.now()
    clock.advance(10)  # ten fire times due at once, within the grace: the engine is behind
    await eventually(lambda: rota.job_info("scan").next_fire_at > clock.now())  # type: ignore[operator]
    assert len(fires) == 1
    (skipped,) = rota.runs("scan", status="skipped")
    assert (skipped.fire_time, skipped.fire_count, skipped.last_fire_time) == (
        began + timedelta(seconds=1),
        10,
        clock.now(),
    )
    assert rota.job_info("scan").next_fire_at == clock.now() + timedelta(seconds=1)
    engine = rota.engine
    assert engine is not None
    assert (engine.lag.behind, engine.lag.coalesced) == (True, 9)
    # Its run ended: the fire times it passed over meanwhile go on the streak, the last runs.
    release.set()
    await eventually(lambda: not rota.runs("scan", status="running"))
    release.clear()
    clock.advance(5)
    await eventually(lambda: rota.runs("scan", status="running"))
    assert len(fires) == 2
    (skipped,) = rota.runs("scan", status="skipped")
    assert (skipped.fire_count, skipped.last_fire_time) == (14, clock.now() - timedelta(seconds=1))
    assert rota.runs("scan", status="running")[0].fire_time == clock.now()
    release.set()


async def test_an_idle_job_behind_runs_its_last_due_fire_time_and_skips_the_others_at_once(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    release = asyncio.Event()

    @rota.job("scan", schedule="every 1s")
    async def scan() -> None:
        await release.wait()

    await rota.start_async()
    fires = fires_of(rota, "scan")
    began = clock.now()
    clock.advance(4)
    await eventually(lambda: rota.runs("scan", status="running"))
    assert len(fires) == 1
    ran = rota.runs("scan", status="running")[0]
    (skipped,) = rota.runs("scan", status="skipped")
    assert ran.fire_time == clock.now()
    assert (skipped.fire_time, skipped.fire_count, skipped.last_fire_time) == (
        began + timedelta(seconds=1),
        3,
        began + timedelta(seconds=3),
    )
    assert skipped.note == COALESCED
    # The skips after a run are a streak of their own, never the one before it.
    release.set()
    await eventually(lambda: not rota.runs("scan", status="running"))
    release.clear()
    clock.advance(3)
    await eventually(lambda: rota.runs("scan", status="running"))
    streaks = rota.runs("scan", status="skipped")
    assert [s.fire_count for s in streaks] == [2, 3]
    release.set()


async def test_a_busy_skip_job_is_set_aside_while_behind_until_its_run_ends(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    release = asyncio.Event()

    @rota.job("scan", schedule="every 1s")
    async def scan() -> None:
        await release.wait()

    @rota.job("witness", schedule="every 1s")
    async def witness() -> None:
        pass

    await rota.start_async()
    clock.advance(1)
    await eventually(lambda: rota.runs("scan", status="running"))
    fires = fires_of(rota, "scan")
    clock.advance(10)  # behind: scan's fire times are passed over, and it is set aside
    await eventually(lambda: len(fires) == 1)
    parked_at = clock.now()
    engine = rota.engine
    assert engine is not None
    await eventually(lambda: engine.lag.parked >= 1)
    clock.advance(5)
    # The witness is fired at this instant, scan is not: it waits for its run to end.
    await eventually(lambda: rota.job_info("witness").next_fire_at > clock.now())  # type: ignore[operator]
    assert len(fires) == 1
    assert rota.job_info("scan").next_fire_at == parked_at + timedelta(seconds=1)
    # At the latest after PARKED_FOR it is looked at again, its run still running.
    clock.advance(PARKED_FOR)
    await eventually(lambda: len(fires) == 2)
    await eventually(lambda: rota.job_info("scan").next_fire_at > clock.now())  # type: ignore[operator]
    (skipped,) = rota.runs("scan", status="skipped")
    assert (skipped.fire_count, skipped.last_fire_time) == (10 + 5 + 30, clock.now())
    # Its run ends: looked at again at once (due at its next fire time).
    release.set()
    await eventually(lambda: not rota.runs("scan", status="running"))
    clock.advance(1)
    await eventually(lambda: rota.runs("scan", status="succeeded") and len(fires) == 3)


async def test_a_long_streak_is_announced_at_most_once_a_minute(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    release = asyncio.Event()

    @rota.job("scan", schedule="every 1s")
    async def scan() -> None:
        await release.wait()

    await rota.start_async()
    clock.advance(1)
    await eventually(lambda: rota.runs("scan", status="running"))
    last = rota.store.last_event_id()
    for _ in range(150):  # one fire time at a time: the engine keeps up
        clock.advance(1)
        await eventually(lambda: rota.job_info("scan").next_fire_at > clock.now())  # type: ignore[operator]
    (skipped,) = rota.runs("scan", status="skipped")
    assert skipped.fire_count == 150
    told = [e for e in rota.store.events_after(last) if e.kind == "run.skipped"]
    assert [e.run_id for e in told] == [skipped.id] * 3
    assert [e.data.get("count", 1) for e in told] == [1, 61, 121]
    release.set()
