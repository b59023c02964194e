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
    "recommendations": "Every Sunday at 04:00",
    "library-build": "Every Sunday at 05:00",
    "top-picks": "Every day at 05:00",
    "enrich-metadata": "Every 6 hours",
    "discovery": "Every day at 06:00",
    "history-cleanup": "Every Sunday at 06:30",
    "source-search": "Every 0.1 seconds",
    "stats-update": "Every 2 seconds",
}


async def final_attempt(rota: Rota, clock: FakeClock, run_id: int) -> RunRecord:
    """The run's last attempt once finished: failed attempts are followed to their retry, the
    fake clock moved on over the backoff."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = rota.get_run(run_id)
        if run.not_before is not None and run.not_before > clock.now():
            clock.set(run.not_before)  # a retry waits out its backoff
        if run.status in ACTIVE:
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
        if not plan.poller:
            demo.rota.override(plan.name, start_delay=None)
    await demo.rota.start_async()
    yield demo.rota
    await demo.rota.stop_async(grace=0)


async def test_every_job_runs_to_success(fast_demo: Rota, clock: FakeClock) -> None:
    for plan in PLAN:  # in the plan's order: embeddings before what needs them
        final = await final_attempt(fast_demo, clock, fast_demo.run_now(plan.name))
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
    for _ in range(40):  # about a third of first attempts time out
        first = await final_attempt(fast_demo, clock, fast_demo.run_now("enrich-metadata"))
        retried = [r for r in fast_demo.runs("enrich-metadata", limit=100) if r.retry_of]
        if retried:
            break
    else:
        raise AssertionError("40 runs of enrich-metadata and not one timed out")
    failed = fast_demo.get_run(retried[-1].retry_of or 0)
    assert failed.status is RunStatus.FAILED
    assert "TMDb did not answer within 10 s" in (failed.error or "")
    assert first.status is RunStatus.SUCCEEDED
    assert first.attempt > 1


def test_the_real_schedules_are_the_apps_defaults(tmp_path: Path, clock: FakeClock) -> None:
    rota = build_demo(tmp_path, clock=clock, pace=0, sizes=TINY).rota
    shown = {job.name: job.schedule.describe() for job in rota.jobs()}
    assert {name: text.split(" (")[0] for name, text in shown.items()} == DEFAULTS
    assert rota.job_info("enrich-metadata").settings.retry.attempts == 3
    assert rota.job_info("source-search").settings.retention == POLLER_RETENTION
    assert rota.job_info("stats-update").settings.retention == POLLER_RETENTION
    rota.close()


def test_fast_compresses_the_day_and_staggers_the_jobs(tmp_path: Path, clock: FakeClock) -> None:
    rota = build_demo(tmp_path, fast=True, clock=clock, pace=0, sizes=TINY).rota
    jobs = {job.name: job for job in rota.jobs()}
    assert set(jobs) == set(DEFAULTS)
    periods, delays = [], []
    for name, job in jobs.items():
        schedule = job.schedule
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
    rota.close()

    # Back to real schedules: rota's own pruning is back to its default too.
    again = build_demo(tmp_path, clock=clock, pace=0, sizes=TINY).rota
    assert again.job_info(PRUNE_JOB).overrides == {}
    assert again.job_info(PRUNE_JOB).schedule.text == "every 10m"
    again.close()


def test_a_first_start_runs_every_job_once(tmp_path: Path, clock: FakeClock) -> None:
    demo = build_demo(tmp_path, clock=clock, pace=0, sizes=TINY)
    assert demo.first_start
    ids = first_runs(demo)
    queued = {run.job for run in demo.rota.runs(status="queued", limit=100)}
    assert len(ids) == len(queued) == len(PLAN) - 2  # not the pollers
    assert not build_demo(tmp_path, clock=clock, pace=0, sizes=TINY).first_start
    demo.rota.close()
