"""A store that cannot be reached for a while: nothing the engine was writing is lost, nothing is
done twice, and the log says so once (rota/engine/outage.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from rota import Retry, Rota
from rota.errors import StoreError, StoreUnavailableError
from rota.store.operations import Claim, Finish, Fire, Operation
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, eventually, finished

MakeRota = Callable[..., Rota]


class Flaky:
    """Wraps a store's `apply`: while `down`, transactions holding one of `kinds` fail as if the
    database had gone away; with `commit_first`, the first failure commits before it fails (a
    connection that broke after COMMIT reached the server)."""

    def __init__(self, rota: Rota, *kinds: type, commit_first: bool = False) -> None:
        assert rota.engine is not None
        self.store = rota.engine.basis.store
        self.apply = self.store.apply
        self.kinds = kinds
        self.down = True
        self.failures = 0
        self.commit_first = commit_first
        self.store.apply = self._apply  # type: ignore[method-assign]

    def _apply(self, operations: Sequence[Operation]) -> list[Any]:
        if self.down and any(isinstance(op, self.kinds) for op in operations):
            self.failures += 1
            if self.commit_first and self.failures == 1:
                self.apply(operations)
            raise StoreUnavailableError("the store cannot be reached: connection refused")
        return self.apply(operations)


async def pauses(clock: FakeClock, count: int) -> None:
    """Let the engine's backoff pauses (at most 5 s each) pass `count` times."""
    for _ in range(count):
        await asyncio.sleep(0.02)
        clock.advance(5)


async def test_the_end_of_a_run_is_recorded_once_the_store_is_back(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rota = rotas()
    rota.job("sync")(lambda: None)
    await rota.start_async()
    flaky = Flaky(rota, Finish)
    with caplog.at_level(logging.ERROR, logger="rota.engine"):
        run_id = rota.run_now("sync")
        await eventually(lambda: flaky.failures >= 1)
        await pauses(clock, 3)
        await eventually(lambda: flaky.failures >= 3)
    assert rota.get_run(run_id).status is RunStatus.RUNNING
    assert caplog.text.count("cannot reach its store") == 1  # once, not per attempt
    flaky.down = False
    await pauses(clock, 2)
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.SUCCEEDED)


async def test_a_broken_finish_that_committed_creates_its_retry_once(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()

    @rota.job("sync", retry=Retry(3, backoff="1s"))
    def sync(ctx) -> None:  # type: ignore[no-untyped-def]
        if ctx.run.attempt == 1:
            raise RuntimeError("upstream down")

    await rota.start_async()
    flaky = Flaky(rota, Finish, commit_first=True)
    run_id = rota.run_now("sync")
    await eventually(lambda: flaky.failures >= 1)
    flaky.down = False
    await pauses(clock, 3)
    await eventually(finished(rota, "sync", 2))
    runs = rota.runs("sync")
    retries = [run for run in runs if run.reason is Reason.RETRY]
    assert [(r.retry_of, r.attempt, r.status) for r in retries] == [
        (run_id, 2, RunStatus.SUCCEEDED)
    ]
    assert rota.get_run(run_id).status is RunStatus.FAILED


async def test_claims_wait_for_the_store_and_a_committed_one_is_kept(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    calls: list[int] = []

    @rota.job("sync")
    def sync(ctx) -> None:  # type: ignore[no-untyped-def]
        calls.append(ctx.run.id)

    await rota.start_async()
    flaky = Flaky(rota, Claim, commit_first=True)  # the run is claimed, but nobody is told
    run_id = rota.run_now("sync")
    await eventually(lambda: flaky.failures >= 1)
    flaky.down = False
    await pauses(clock, 2)
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.SUCCEEDED)
    assert calls == [run_id]


async def test_fire_times_due_while_the_store_is_away_run_once_it_is_back(
    rotas: MakeRota, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rota = rotas()
    rota.job("report", schedule="every 1m")(lambda: None)
    await rota.start_async()
    flaky = Flaky(rota, Fire, commit_first=True)  # the first fire commits; nobody is told
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: flaky.failures >= 1)
    flaky.down = False
    with caplog.at_level(logging.WARNING, logger="rota.engine"):
        await pauses(clock, 2)
        await eventually(finished(rota, "report", 1))
    assert "reached its store again" in caplog.text
    fired = [run for run in rota.runs("report") if run.reason is Reason.SCHEDULE]
    assert [run.fire_time for run in fired] == [START + timedelta(minutes=1)]


async def test_a_run_whose_details_are_refused_keeps_its_outcome_and_its_retry(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()

    @rota.job("sync", retry=Retry(2, backoff="1s"))
    def sync(ctx) -> None:  # type: ignore[no-untyped-def]
        if ctx.run.attempt == 1:
            raise RuntimeError("upstream down")

    await rota.start_async()
    assert rota.engine is not None
    store = rota.engine.basis.store
    apply = store.apply

    def refusing(operations: Sequence[Operation]) -> list[Any]:
        if any(isinstance(op, Finish) and isinstance(op.traceback, str) for op in operations):
            raise StoreError("traceback: refused")  # as a store refuses a value it cannot keep
        return apply(operations)

    store.apply = refusing  # type: ignore[method-assign]
    run_id = rota.run_now("sync")
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.FAILED)
    run = rota.get_run(run_id)
    assert run.error == "rota could not record this run's details: traceback: refused"
    clock.advance(5)
    await eventually(finished(rota, "sync", 2))
    retries = [r for r in rota.runs("sync") if r.retry_of == run_id]
    assert [(r.attempt, r.status) for r in retries] == [(2, RunStatus.SUCCEEDED)]
