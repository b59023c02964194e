"""The demo app on rota's engine (a fake clock): its schedules are the issue's, --fast compresses
them, and every job runs to success; the flaky metadata source's failures are retried."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest

from rota import Rota, SettingError
from rota.demo.app import FAST_PRUNE, build_demo
from rota.demo.plan import PLAN, POLLER_RETENTION
from rota.demo.runner import first_runs
from rota.engine.retention import PRUNE_JOB
from rota.schedules import Interval
from rota.schedules.durations import format_duration
from rota.store.records import ACTIVE, RunRecord, RunStatus
from rota.testing import FakeClock
from tests.demo.conftest import START, TINY

# The default schedules, as such apps ship them.
DEFAULTS = {
    "sync-users": "Every 30 minutes",
    "database-backup": "Every day at 01:00",
    "library-scan": "Every day at 02:00",
    "watch-history": "Every 2 hours",
    "embeddings": "Every day at 03:00",
    "recommendations": "After embeddings succeeds",
    "library-build": "After recommendations succeeds",
    "top-picks": "Every day at 05:00",
    "enrich-metadata": "Every 6 hours",
    "discovery": "Every day at 06:00",
    "history-cleanup": "Every Sunday at 06:30",
    "source-search": "Every 0.1 seconds",
    "stats-update": "Every 2 seconds",
    "fetch-artwork": "Manual only",
}
# The same in both modes: the chain follows embeddings, fetch-artwork is spawned.
FOLLOWERS = {"recommendations", "library-build", "fetch-artwork"}


async def final_attempt(rota: Rota, clock: FakeClock, run_id: int) -> RunRecord:
    """The run's last attempt once finished: failed attempts are followed to their retry, the
    fake clock moved on over the backoff (and while it runs, over limiter waits)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = rota.get_run(run_id)
        if run.not_before is not None and run.not_before > clock.now():
            clock.set(run.not_before)  # a retry waits out its backoff
        if run.status in ACTIVE:
            if run.status is RunStatus.RUNNING:
                clock.advance(0.05)  # a wait for the tmdb limiter, if any, goes by the clock
            await asyncio.sleep(0.005)
            continue
        if run.status is not RunStatus.FAILED or run.attempt >= 3:
            return run
        retry = [r for r in rota.runs(run.job, reason="retry", limit=10) if r.retry_of == run.id]
        if retry:
            run_id = retry[0].id
        else:
            clock.advance(0.5)  # toward the retry's backoff
            await asyncio.sleep(0.005)
    raise AssertionError(f"run {run_id} did not finish within 30 s")


@pytest.fixture
async def fast_demo(tmp_path: Path, clock: FakeClock):  # type: ignore[no-untyped-def]
    demo = build_demo(tmp_path, fast=True, clock=clock, pace=0, sizes=TINY)
    for plan in PLAN:  # run at once when asked: --fast staggers the first runs of its jobs
        if plan.timed:  # and only when asked: the test moves the clock
            demo.rota.override(plan.name, start_delay=None)
            demo.rota.pause(plan.name)
    await demo.rota.start_async()
    yield demo.rota
    await demo.rota.stop_async(grace=0)
    demo.close()


async def settled(rota: Rota, clock: FakeClock, jobs: set[str]) -> None:
    """Wait until `jobs` have no queued or running runs, moving the fake clock on over retry
    backoffs and limiter waits."""
    deadline = time.monotonic() + 30
    while active := [r for job in jobs for r in rota.runs(job, limit=1000) if r.status in ACTIVE]:
        assert time.monotonic() < deadline, f"still active after 30 s: {active[:5]}"
        waiting = [r.not_before for r in active if r.not_before and r.not_before > clock.now()]
        if waiting and len(waiting) == len(active):
            clock.set(min(waiting))
        elif any(r.status is RunStatus.RUNNING for r in active):
            clock.advance(0.05)  # a limiter wait, if any, goes by the clock
        await asyncio.sleep(0.005)


async def test_every_job_runs_to_success(fast_demo: Rota, clock: FakeClock) -> None:
    for plan in PLAN:  # in the plan's order: embeddings before what needs them
        # One at a time: a run asked for while the chain's own runs are active would be
        # skipped (overlap "skip"), as it would be on the page.
        await settled(fast_demo, clock, FOLLOWERS)
        args = {"title_id": 1} if plan.name == "fetch-artwork" else {}
        final = await final_attempt(fast_demo, clock, fast_demo.run_now(plan.name, **args))
        assert final.status is RunStatus.SUCCEEDED, (
            plan.name,
            final.status,
            final.error,
            final.note,
        )
        assert final.log, plan.name  # each job says what it did


async def test_library_scan_takes_full_as_the_docs_show(fast_demo: Rota, clock: FakeClock) -> None:
    first = await final_attempt(fast_demo, clock, fast_demo.run_now("library-scan"))
    assert first.status is RunStatus.SUCCEEDED
    full = await final_attempt(fast_demo, clock, fast_demo.run_now("library-scan", full=True))
    assert (full.status, full.args) == (RunStatus.SUCCEEDED, {"full": True})
    assert full.progress_total == first.progress_total  # every item again
    with pytest.raises(SettingError, match="'colour'"):
        fast_demo.run_now("library-scan", colour="red")
    with pytest.raises(SettingError, match="'full'"):
        fast_demo.run_now("sync-users", full=True)


async def test_a_metadata_timeout_is_retried_to_success(fast_demo: Rota, clock: FakeClock) -> None:
    for _ in range(40):  # about a third of attempts meet a gateway timeout
        final = await final_attempt(fast_demo, clock, fast_demo.run_now("enrich-metadata"))
        if final.status is RunStatus.SUCCEEDED and final.retry_of is not None:
            break
    else:
        raise AssertionError("40 runs of enrich-metadata and not one retried to success")
    failed = fast_demo.get_run(final.retry_of)
    assert failed.status is RunStatus.FAILED
    assert "TMDb's gateway gave up (504 Gateway Timeout) at '" in (failed.error or "")
    assert final.attempt == failed.attempt + 1


def test_the_real_schedules_are_the_apps_defaults(tmp_path: Path, clock: FakeClock) -> None:
    demo = build_demo(tmp_path, clock=clock, pace=0, sizes=TINY)
    rota = demo.rota
    shown = {job.name: job.schedule.describe() for job in rota.jobs()}
    assert {name: text.split(" (")[0] for name, text in shown.items()} == DEFAULTS
    assert rota.job_info("enrich-metadata").settings.retry.attempts == 3
    assert rota.job_info("source-search").settings.retention == POLLER_RETENTION
    assert rota.job_info("stats-update").settings.retention == POLLER_RETENTION
    demo.close()


def test_fast_compresses_the_day_and_staggers_the_jobs(tmp_path: Path, clock: FakeClock) -> None:
    demo = build_demo(tmp_path, fast=True, clock=clock, pace=0, sizes=TINY)
    rota = demo.rota
    jobs = {job.name: job for job in rota.jobs()}
    assert set(jobs) == set(DEFAULTS)
    periods, delays = [], []
    for name, job in jobs.items():
        schedule = job.schedule
        if name in FOLLOWERS:  # as in real life: after their upstream, or spawned
            assert schedule.describe() == DEFAULTS[name]
            assert job.settings.start_delay is None
            continue
        assert isinstance(schedule, Interval), name
        first = schedule.next_after(START)
        assert first is not None
        if name in ("source-search", "stats-update"):  # the pollers: as in real life
            assert schedule.describe().split(" (")[0] == DEFAULTS[name]
            continue
        assert timedelta(seconds=10) <= schedule.period <= timedelta(seconds=60), name
        # Short to read in `rota jobs` (no anchor), and the same at every start.
        assert schedule.text == f"every {format_duration(schedule.period)}", name
        delay = job.settings.start_delay
        assert delay is not None, name
        assert delay < timedelta(seconds=30), name
        # A visitor sees every job start within a minute (its first fire, or its delay).
        assert max(first - START, delay) <= timedelta(seconds=60), name
        periods.append(schedule.period)
        delays.append(delay)
    # One after another, not all at once: each first run waits its own delay, and no two jobs
    # share a period (so their fire times rarely meet later either).
    assert len(set(delays)) == len(delays)
    assert len(set(periods)) == len(periods)
    assert rota.job_info("enrich-metadata").settings.retry.attempts == 3
    assert rota.job_info(PRUNE_JOB).schedule.text == FAST_PRUNE == "every 1m"
    demo.close()

    # Back to real schedules: rota's own pruning is back to its default too.
    again = build_demo(tmp_path, clock=clock, pace=0, sizes=TINY)
    assert again.rota.job_info(PRUNE_JOB).overrides == {}
    assert again.rota.job_info(PRUNE_JOB).schedule.text == "every 10m"
    again.close()


def test_a_first_start_runs_every_job_once(tmp_path: Path, clock: FakeClock) -> None:
    demo = build_demo(tmp_path, clock=clock, pace=0, sizes=TINY)
    assert demo.first_start
    ids = first_runs(demo)
    queued = {run.job for run in demo.rota.runs(status="queued", limit=100)}
    # Not the pollers; not the jobs after others (they follow embeddings' run: a run of their
    # own now would race it), not fetch-artwork (the scan spawns its runs).
    assert queued == set(DEFAULTS) - FOLLOWERS - {"source-search", "stats-update"}
    assert len(ids) == len(queued)
    demo.close()
    again = build_demo(tmp_path, clock=clock, pace=0, sizes=TINY)
    assert not again.first_start
    again.close()
