"""Overlap and catch-up, as the engine carries them out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from rota import Rota
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, eventually, finished, statuses

MakeRota = Callable[..., Rota]


def blocking_job(rota: Rota, name: str, **settings: object) -> asyncio.Event:
    """Register a job whose runs wait for the returned event."""
    release = asyncio.Event()

    @rota.job(name, **settings)  # type: ignore[arg-type]
    async def job() -> None:
        await release.wait()

    return release


def running(rota: Rota, job: str, count: int = 1) -> Callable[[], bool]:
    return lambda: len(rota.runs(job, status="running")) >= count


async def test_skip_records_the_fire_time_it_skipped(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    release = blocking_job(rota, "scan", schedule="every 1h")
    await rota.start_async()
    clock.advance(timedelta(hours=1))
    await eventually(running(rota, "scan"))
    clock.advance(timedelta(hours=1))
    await eventually(lambda: statuses(rota, "scan") == ["running", "skipped"])
    skipped = rota.runs("scan", status="skipped")[0]
    first = rota.runs("scan", status="running")[0]
    assert skipped.note == f"run {first.id} is still running (overlap=skip)"
    assert skipped.fire_time == START + timedelta(hours=2)
    release.set()
    await eventually(finished(rota, "scan", 2))


async def test_queue_keeps_one_waiting(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    release = blocking_job(rota, "sync", schedule="every 1h", overlap="queue")
    await rota.start_async()
    clock.advance(timedelta(hours=1))
    await eventually(running(rota, "sync"))
    for _ in range(2):
        clock.advance(timedelta(hours=1))
        await eventually(lambda: rota.job_info("sync").next_fire_at > clock.now())  # type: ignore[operator]
    await eventually(lambda: statuses(rota, "sync") == ["running", "queued", "skipped"])
    release.set()
    await eventually(lambda: statuses(rota, "sync") == ["succeeded", "succeeded", "skipped"])
    first, second = sorted(rota.runs("sync", status="succeeded"), key=lambda r: r.id)
    assert first.finished_at is not None
    assert second.started_at is not None
    assert second.started_at >= first.finished_at  # never two at once


async def test_replace_cancels_the_running_run(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    release = blocking_job(rota, "refresh", schedule="every 1h", overlap="replace")
    await rota.start_async()
    clock.advance(timedelta(hours=1))
    await eventually(running(rota, "refresh"))
    clock.advance(timedelta(hours=1))
    await eventually(lambda: statuses(rota, "refresh") == ["cancelled", "running"])
    cancelled = rota.runs("refresh", status="cancelled")[0]
    assert cancelled.note == "replaced by a newer run (overlap=replace)"
    release.set()


async def test_allow_runs_up_to_max_concurrent(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    release = blocking_job(rota, "search", schedule="every 1m", overlap="allow", max_concurrent=2)
    await rota.start_async()
    for count in (1, 2):
        clock.advance(timedelta(minutes=1))
        await eventually(running(rota, "search", count))
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: statuses(rota, "search") == ["running", "running", "skipped"])
    assert rota.runs("search", status="skipped")[0].note == "2 runs active, max_concurrent is 2"
    release.set()


async def test_run_now_goes_through_the_overlap_policy(rotas: MakeRota) -> None:
    rota = rotas()
    release = blocking_job(rota, "backup")
    await rota.start_async()
    first = rota.run_now("backup")
    await eventually(running(rota, "backup"))
    second = rota.run_now("backup")
    assert rota.get_run(second).status is RunStatus.SKIPPED
    assert rota.get_run(second).note == f"run {first} is still running (overlap=skip)"
    release.set()


async def catch_up_after_downtime(
    rotas: MakeRota, clock: FakeClock, policy: str, downtime: timedelta
) -> Rota:
    first = rotas()

    @first.job("history", schedule="every 1h", catch_up=policy)
    def history() -> None:
        pass

    await first.start_async()
    await first.stop_async(grace=0)
    clock.advance(downtime)
    second = rotas()
    second.job("history", schedule="every 1h", catch_up=policy)(history)
    await second.start_async()
    return second


async def test_catch_up_once_runs_one_run_for_all_missed(rotas: MakeRota, clock: FakeClock) -> None:
    rota = await catch_up_after_downtime(rotas, clock, "once", timedelta(hours=5, minutes=30))
    await eventually(finished(rota, "history", 1))
    run = rota.runs("history")[0]
    assert (run.reason, run.fire_time, run.status) == (
        Reason.CATCH_UP,
        START + timedelta(hours=1),
        RunStatus.SUCCEEDED,
    )
    assert rota.job_info("history").next_fire_at == START + timedelta(hours=6)
    assert len(rota.runs("history")) == 1


async def test_catch_up_all_runs_each_missed_fire_time(rotas: MakeRota, clock: FakeClock) -> None:
    rota = await catch_up_after_downtime(rotas, clock, "all", timedelta(hours=3, minutes=30))
    await eventually(lambda: len(rota.runs("history")) == 3)
    runs = rota.runs("history")
    # overlap=skip: the first missed fire time runs, the others are recorded skipped
    assert sorted(r.fire_time for r in runs) == [  # type: ignore[type-var]
        START + timedelta(hours=h) for h in (1, 2, 3)
    ]
    assert {r.reason for r in runs} == {Reason.CATCH_UP}


async def test_catch_up_none_records_what_was_missed(rotas: MakeRota, clock: FakeClock) -> None:
    rota = await catch_up_after_downtime(rotas, clock, "none", timedelta(hours=3, minutes=30))
    await eventually(lambda: len(rota.runs("history")) == 1)
    run = rota.runs("history")[0]
    assert run.status is RunStatus.SKIPPED
    assert run.note == "3 fire times were missed while no engine ran (catch_up=none)"
    assert rota.job_info("history").next_fire_at == START + timedelta(hours=4)


async def test_a_short_stop_within_grace_is_not_a_catch_up(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = await catch_up_after_downtime(rotas, clock, "once", timedelta(hours=1, seconds=30))
    await eventually(finished(rota, "history", 1))
    assert rota.runs("history")[0].reason is Reason.SCHEDULE
