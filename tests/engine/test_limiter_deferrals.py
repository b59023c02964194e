"""A run deferred by a limiter again and again always ends (decision 0012, point 5): each
consecutive deferral doubles how long its next attempt may wait, and the `MAX_DEFERRALS`-th in
a row fails the run with a note saying what to change. On the fake clock, on every store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from rota import Retry, Rota
from rota.engine.limiter import MAX_DEFERRALS, allowed_wait
from rota.store.records import RunRecord, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import outcome

MakeRota = Callable[..., Rota]
ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


async def lineage_end(rota: Rota, clock: FakeClock, job: str, step: float = 0.25) -> RunRecord:
    """Drive the fake clock until a run of `job` ends other than deferred, with none queued or
    running; jump to a deferred attempt's start rather than step towards it. Fail after 20
    real seconds."""
    deadline = time.monotonic() + 20
    while True:
        if time.monotonic() > deadline:
            raise AssertionError(f"{job} did not end within 20 s: {rota.runs(job)}")
        runs = rota.runs(job)
        if runs and not any(run.status in ACTIVE for run in runs):
            last = max(runs, key=lambda run: run.id)
            if last.status is not RunStatus.SKIPPED:
                return last
        queued = [run for run in runs if run.status is RunStatus.QUEUED]
        if queued and queued[0].not_before is not None and queued[0].not_before > clock.now():
            clock.set(queued[0].not_before)
        else:
            clock.advance(step)
        await asyncio.sleep(0.005)


async def test_a_run_that_needs_more_than_max_wait_proceeds_after_doubled_waits(
    rotas: MakeRota, clock: FakeClock
) -> None:
    # The job: 3 tokens per attempt from a limiter that gives 2 per 3 s, waiting at
    # most 1 s. Attempt 1 may wait 1 s, attempt 2 2 s, attempt 3 4 s: enough for the refill.
    rota = rotas()
    rota.limiter("small", 2, per="3s", max_wait="1s")
    attempts: list[int] = []

    @rota.job("greedy", retry=2)
    def greedy(ctx) -> None:  # type: ignore[no-untyped-def]
        attempts.append(ctx.run.attempt)
        for _ in range(3):
            with ctx.limit("small"):
                pass

    await rota.start_async()
    rota.run_now("greedy")
    last = await lineage_end(rota, clock, "greedy")
    assert last.status is RunStatus.SUCCEEDED
    assert last.attempt == 3
    assert attempts == [1, 2, 3]
    first, second = sorted(rota.runs("greedy", status="skipped"), key=lambda run: run.id)
    assert first.note is not None
    assert second.note is not None
    assert first.note.startswith("waiting for limiter small until ")
    assert f"deferral 1 in a row (the {MAX_DEFERRALS}th fails the run)" in first.note
    assert "the next attempt waits up to 2s for limiter small" in first.note
    assert "deferral 2 in a row" in second.note
    assert "the next attempt waits up to 4s" in second.note


async def test_a_run_that_can_never_get_its_tokens_fails_naming_the_limiter(
    rotas: MakeRota, clock: FakeClock
) -> None:
    # 2 tokens per attempt, 1 per hour: no attempt may wait the hour, so it fails at the
    # MAX_DEFERRALS-th deferral in a row, and says what to change.
    rota = rotas()
    rota.limiter("hourly", 1, per="1h", max_wait="1s")

    @rota.job("greedy", retry=3)
    def greedy(ctx) -> None:  # type: ignore[no-untyped-def]
        with ctx.limit("hourly"):
            pass
        with ctx.limit("hourly"):
            pass

    await rota.start_async()
    rota.run_now("greedy")
    last = await lineage_end(rota, clock, "greedy")
    assert last.status is RunStatus.FAILED
    assert last.attempt == MAX_DEFERRALS
    assert len(rota.runs("greedy", status="skipped")) == MAX_DEFERRALS - 1
    assert last.error is not None
    assert f"limiter hourly deferred this run {MAX_DEFERRALS} times in a row" in last.error
    assert "raise limiter hourly's max_wait (now 1s) or take fewer tokens per run" in last.error
    assert last.traceback is None
    # Final: the job's retry policy does not start the lineage again.
    assert rota.runs("greedy", status="queued") == []


async def test_a_daily_quota_defers_once_without_blocking_then_proceeds(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.limiter("omdb", 3, per="1d", max_wait="1m")

    @rota.job("enrich")
    def enrich(ctx) -> None:  # type: ignore[no-untyped-def]
        with ctx.limit("omdb", cost=3):
            pass

    await rota.start_async()
    assert (await outcome(rota, rota.run_now("enrich"))).status is RunStatus.SUCCEEDED
    started = clock.now()
    # The quota is spent: the run ends at once (the clock has not moved, so it did not wait
    # in its slot), to start again when the quota comes back.
    deferred = await outcome(rota, rota.run_now("enrich"))
    assert deferred.status is RunStatus.SKIPPED
    assert clock.now() == started
    assert deferred.note is not None
    assert "deferral 1 in a row" in deferred.note
    (retry,) = rota.runs("enrich", status="queued")
    assert retry.not_before is not None
    assert retry.not_before - started > timedelta(hours=23)
    clock.set(retry.not_before)
    done = await outcome(rota, retry.id)
    assert (done.status, done.attempt) == (RunStatus.SUCCEEDED, 2)


async def test_a_deferral_after_a_failure_counts_from_one_again(
    rotas: MakeRota, clock: FakeClock
) -> None:
    # Consecutive deferrals only: a failed attempt between them starts the count again.
    rota = rotas()
    rota.limiter("hourly", 1, per="1h", max_wait="1s")
    failures = [1]

    @rota.job("flaky", retry=Retry(5, backoff="1s"))
    def flaky(ctx) -> None:  # type: ignore[no-untyped-def]
        with ctx.limit("hourly"):
            pass
        if failures:
            failures.pop()
            raise RuntimeError("flaky")
        with ctx.limit("hourly"):
            pass

    await rota.start_async()
    first = await outcome(rota, rota.run_now("flaky"))
    assert first.status is RunStatus.FAILED
    (retry,) = rota.runs("flaky", status="queued")
    assert retry.not_before is not None
    clock.set(retry.not_before)
    deferred = await outcome(rota, retry.id)
    assert deferred.status is RunStatus.SKIPPED
    assert deferred.note is not None
    assert "deferral 1 in a row" in deferred.note


@given(
    max_wait=st.integers(min_value=0, max_value=10**6),
    needed=st.integers(min_value=1, max_value=10**9),
)
def test_every_lineage_ends_within_max_deferrals_attempts(max_wait: int, needed: int) -> None:
    # The rule alone: attempt k (after k - 1 deferrals in a row) proceeds if it may wait the
    # `needed` seconds, else it is deferred; the MAX_DEFERRALS-th deferral fails it.
    wait = timedelta(seconds=max_wait)
    for deferrals in range(MAX_DEFERRALS):
        allowed = allowed_wait(wait, deferrals)
        assert allowed == wait * 2**deferrals
        if timedelta(seconds=needed) <= allowed:
            outcome_, attempts = "proceeds", deferrals + 1
            break
    else:
        outcome_, attempts = "fails", MAX_DEFERRALS
    assert attempts <= MAX_DEFERRALS
    assert (outcome_ == "proceeds") == (needed <= max_wait * 2 ** (MAX_DEFERRALS - 1))


async def test_a_deferral_does_not_use_up_a_retry(rotas: MakeRota, clock: FakeClock) -> None:
    # Retry(2): two failures in all, however often a limiter deferred the run in between. The
    # deferral still takes an attempt number; the retry after the first failure waits the
    # first failure's backoff (half to all of 10s), not that of the attempt's number.
    rota = rotas()
    rota.limiter("hourly", 1, per="1h", max_wait="1s")
    calls: list[int] = []

    @rota.job("flaky", retry=Retry(2, backoff="10s"))
    def flaky(ctx) -> None:  # type: ignore[no-untyped-def]
        calls.append(ctx.run.attempt)
        if len(calls) == 1:  # the second token is an hour away: deferred
            with ctx.limit("hourly"):
                pass
            with ctx.limit("hourly"):
                pass
        raise RuntimeError(f"flaky {len(calls)}")

    await rota.start_async()
    deferred = await outcome(rota, rota.run_now("flaky"))
    assert deferred.status is RunStatus.SKIPPED
    (second,) = rota.runs("flaky", status="queued")
    assert second.not_before is not None
    clock.set(second.not_before)
    failed = await outcome(rota, second.id)
    assert (failed.status, failed.attempt) == (RunStatus.FAILED, 2)
    (third,) = rota.runs("flaky", status="queued")
    assert (third.attempt, third.retry_of) == (3, failed.id)
    assert third.not_before is not None
    assert failed.finished_at is not None
    assert timedelta(seconds=5) <= third.not_before - failed.finished_at <= timedelta(seconds=10)
    clock.set(third.not_before)
    last = await outcome(rota, third.id)
    assert (last.status, last.attempt) == (RunStatus.FAILED, 3)
    await asyncio.sleep(0.05)
    assert rota.runs("flaky", status="queued") == []
    assert calls == [1, 2, 3]
    # The deferral is no failure either.
    assert rota._synced_store().job_stats(["flaky"])["flaky"].consecutive_failures == 2


async def test_retries_after_failures_and_deferrals_get_growing_backoffs(
    rotas: MakeRota, clock: FakeClock
) -> None:
    # retry=3: fail, deferred, fail, fail. The second failure's retry waits the second
    # backoff (10-20s with a 10s backoff), and the third failure is the last.
    rota = rotas()
    rota.limiter("hourly", 1, per="1h", max_wait="1s")
    calls: list[int] = []

    @rota.job("flaky", retry=Retry(3, backoff="10s"))
    def flaky(ctx) -> None:  # type: ignore[no-untyped-def]
        calls.append(ctx.run.attempt)
        if len(calls) == 2:
            with ctx.limit("hourly"):
                pass
            with ctx.limit("hourly"):
                pass
        raise RuntimeError(f"flaky {len(calls)}")

    await rota.start_async()
    run_id = rota.run_now("flaky")
    statuses = []
    for _ in range(4):
        ended = await outcome(rota, run_id)
        statuses.append(ended.status)
        queued = rota.runs("flaky", status="queued")
        if not queued:
            break
        (following,) = queued
        assert following.not_before is not None
        if len(statuses) == 3:
            assert ended.finished_at is not None
            waited = following.not_before - ended.finished_at
            assert timedelta(seconds=10) <= waited <= timedelta(seconds=20)
        clock.set(following.not_before)
        run_id = following.id
    failed, skipped = RunStatus.FAILED, RunStatus.SKIPPED
    assert statuses == [failed, skipped, failed, failed]
    await asyncio.sleep(0.05)
    assert rota.runs("flaky", status="queued") == []
    assert calls == [1, 2, 3, 4]
