"""Jobs fire on their schedules, exactly once per fire time, and record their runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from rota import Retry, Rota, daily
from rota.errors import ScheduleError, SettingError, UnknownJobError, UnknownRunError
from rota.store.records import EventKind, Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, eventually, finished, only_run, statuses

MakeRota = Callable[..., Rota]


async def test_a_scheduled_job_runs_at_its_fire_time(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    calls: list[str] = []

    @rota.job("sync-users", schedule="every 30m", description="Sync users from the server")
    def sync_users() -> None:
        calls.append("sync")

    await rota.start_async()
    info = rota.job_info("sync-users")
    assert info.next_fire_at == START + timedelta(minutes=30)
    assert info.description == "Sync users from the server"
    assert list(rota.runs("sync-users")) == []

    clock.advance(timedelta(minutes=30))
    await eventually(finished(rota, "sync-users", 1))
    run = only_run(rota, "sync-users")
    assert calls == ["sync"]
    assert (run.status, run.reason, run.attempt) == (RunStatus.SUCCEEDED, Reason.SCHEDULE, 1)
    assert run.fire_time == START + timedelta(minutes=30)
    assert run.started_at == run.fire_time
    assert run.duration == timedelta(0)
    assert rota.job_info("sync-users").next_fire_at == START + timedelta(hours=1)
    assert rota.job_info("sync-users").last_run == run


async def test_async_jobs_take_ctx_and_arguments(rotas: MakeRota) -> None:
    rota = rotas()
    seen: list[object] = []

    @rota.job("scan")
    async def scan(ctx, library: str) -> None:  # type: ignore[no-untyped-def]
        seen.append((ctx.run.job, ctx.run.reason, dict(ctx.run.args), library))

    await rota.start_async()
    run_id = rota.run_now("scan", library="movies")
    await eventually(finished(rota, "scan", 1))
    assert seen == [("scan", Reason.MANUAL, {"library": "movies"}, "movies")]
    run = rota.get_run(run_id)
    assert (run.status, run.args) == (RunStatus.SUCCEEDED, {"library": "movies"})


async def test_a_failing_job_records_its_error_and_the_engine_goes_on(rotas: MakeRota) -> None:
    rota = rotas()

    @rota.job("broken")
    def broken() -> None:
        raise ValueError("TMDb answered 500")

    @rota.job("fine")
    async def fine() -> None:
        pass

    await rota.start_async()
    rota.run_now("broken")
    rota.run_now("fine")
    await eventually(lambda: finished(rota, "broken", 1)() and finished(rota, "fine", 1)())
    run = only_run(rota, "broken")
    assert run.status is RunStatus.FAILED
    assert run.error == "ValueError: TMDb answered 500"
    assert run.traceback is not None
    assert 'raise ValueError("TMDb answered 500")' in run.traceback
    assert statuses(rota, "fine") == ["succeeded"]


async def test_progress_and_logs_are_recorded(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()

    @rota.job("library-scan")
    def library_scan(ctx) -> None:  # type: ignore[no-untyped-def]
        for index in range(3):
            ctx.progress(index + 1, 3, f"item {index + 1}")
            ctx.log.info("scanned item %d", index + 1)
        logging.getLogger("myapp.scanner").warning("one poster was missing")

    await rota.start_async()
    run_id = rota.run_now("library-scan")
    await eventually(finished(rota, "library-scan", 1))
    run = rota.get_run(run_id)
    assert (run.progress_done, run.progress_total, run.progress_note) == (3, 3, "item 3")
    lines = run.log.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "INFO rota.jobs.library-scan: scanned item 1",
        "INFO rota.jobs.library-scan: scanned item 2",
        "INFO rota.jobs.library-scan: scanned item 3",
        "WARNING myapp.scanner: one poster was missing",
    ]


async def test_progress_while_running_is_stored_and_announced(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    step = asyncio.Event()

    @rota.job("embeddings")
    async def embeddings(ctx) -> None:  # type: ignore[no-untyped-def]
        ctx.progress(1, 4, "first batch")
        await step.wait()

    await rota.start_async()
    run_id = rota.run_now("embeddings")
    await eventually(lambda: rota.get_run(run_id).progress_done == 1)
    assert rota.get_run(run_id).status is RunStatus.RUNNING
    step.set()
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.SUCCEEDED)
    kinds = [e.kind for e in rota.store.events_after(0, 1000) if e.run_id == run_id]
    assert kinds == [
        EventKind.RUN_QUEUED,
        EventKind.RUN_STARTED,
        EventKind.RUN_PROGRESS,
        EventKind.RUN_FINISHED,
    ]


async def test_a_daily_job_follows_dst(rotas: MakeRota) -> None:
    clock = FakeClock("2026-03-28T12:00:00+00:00")
    rota = rotas(clock=clock)

    @rota.job("backup", schedule=daily("02:30", "Europe/Berlin"))
    def backup() -> None:
        pass

    await rota.start_async()
    assert rota.job_info("backup").next_fire_at == START.replace(month=3, day=29, hour=1)
    clock.advance(timedelta(hours=13))
    await eventually(finished(rota, "backup", 1))
    assert only_run(rota, "backup").fire_time == START.replace(month=3, day=29, hour=1)
    assert rota.job_info("backup").next_fire_at == START.replace(month=3, day=30, hour=0, minute=30)


async def test_each_fire_time_runs_once_when_the_clock_jumps(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()

    @rota.job("tick", schedule="every 1s", overlap="allow", max_concurrent=10, grace="1h")
    async def tick() -> None:
        pass

    await rota.start_async()
    clock.advance(5)
    await eventually(finished(rota, "tick", 5))
    fire_times = [run.fire_time for run in rota.runs("tick")]
    assert sorted(fire_times) == [START + timedelta(seconds=s) for s in range(1, 6)]  # type: ignore[type-var]


async def test_bad_input_names_the_field(rotas: MakeRota) -> None:
    rota = rotas()
    with pytest.raises(SettingError, match="overlap: 'sometimes' is not one of skip, queue"):
        rota.job("x", overlap="sometimes")
    with pytest.raises(SettingError, match="catch_up: 'twice' is not one of once, all, none"):
        rota.job("x", catch_up="twice")
    with pytest.raises(SettingError, match="timeout: 'soon' is not a duration"):
        rota.job("x", timeout="soon")
    with pytest.raises(SettingError, match="retry: attempts 0 is not 1-100"):
        Retry(0)
    with pytest.raises(ScheduleError, match="minute field: 61 is out of range 0-59"):
        rota.job("x", schedule="61 * * * *")
    with pytest.raises(SettingError, match="job name: 'no spaces please' is not a job name"):
        rota.job("no spaces please")(lambda: None)

    @rota.job("real")
    def real() -> None:
        pass

    with pytest.raises(SettingError, match="a job named 'real' is registered"):
        rota.job("real")(lambda: None)
    await rota.start_async()
    with pytest.raises(UnknownJobError, match="job: no job is named 'nope'"):
        rota.run_now("nope")
    with pytest.raises(UnknownRunError, match="run: no run has id 999"):
        rota.cancel(999)
    with pytest.raises(SettingError, match="args: must be JSON values: Object of type object"):
        rota.run_now("real", when=object())
    with pytest.raises(ScheduleError, match="'fortnightly' is not a schedule"):
        rota.set_schedule("real", "fortnightly")
    with pytest.raises(SettingError, match="status: 'done' is not one of"):
        rota.runs(status="done")
    with pytest.raises(SettingError, match="a job named 'real' is registered"):
        rota.job("real")(lambda: None)  # after start too
    rota.run_now("real")  # the engine still runs
    await eventually(finished(rota, "real", 1))
