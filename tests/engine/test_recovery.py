"""A node that died leaves its runs behind: the next start records them interrupted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rota import Retry, Rota
from rota.store import open_store
from rota.store.operations import Claim, Enqueue, Finish, InterruptRuns, NewRun
from rota.store.records import NodeRecord, Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, age_lease_on_postgresql, eventually, finished

MakeRota = Callable[..., Rota]


def leave_a_dead_node_behind(url: str, job: str) -> int:
    """A node on another host that stopped heartbeating an hour ago, with one running run."""
    store = open_store(url)
    store.open()
    store.sync_jobs({job: {}}, START - timedelta(hours=2))
    then = START - timedelta(hours=1)
    store.register_node(NodeRecord("ghost:1:abc", "ghost-host", 1, then, then))
    run_id, _ = store.apply(
        [Enqueue(NewRun(job, Reason.MANUAL, then)), Claim(1, "ghost:1:abc", then)]
    )
    store.close()
    age_lease_on_postgresql(url, "ghost:1:abc", timedelta(hours=1))
    assert isinstance(run_id, int)
    return run_id


async def test_runs_of_a_dead_node_are_interrupted_and_retried(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    lost = leave_a_dead_node_behind(database_url, "backup")
    rota = rotas()

    @rota.job("backup", retry=Retry(2))
    def backup() -> None:
        pass

    await rota.start_async()
    await eventually(finished(rota, "backup", 2))
    run = rota.get_run(lost)
    assert run.status is RunStatus.INTERRUPTED
    assert run.note is not None
    assert "its node ghost:1:abc stopped without finishing it" in run.note
    assert run.finished_at == START
    retry = [r for r in rota.runs("backup") if r.retry_of == lost]
    assert [(r.reason, r.attempt, r.status) for r in retry] == [
        (Reason.RETRY, 2, RunStatus.SUCCEEDED)
    ]
    nodes = {node.id: node for node in rota.store.list_nodes()}
    assert nodes["ghost:1:abc"].stopped_at == START


async def test_a_live_node_keeps_its_runs(rotas: MakeRota, database_url: str) -> None:
    store = open_store(database_url)
    store.open()
    store.sync_jobs({"scan": {}}, START)
    store.register_node(NodeRecord("other:2:def", "other-host", 2, START, START))
    run_id, _ = store.apply(
        [Enqueue(NewRun("scan", Reason.MANUAL, START)), Claim(1, "other:2:def", START)]
    )
    store.close()
    rota = rotas()
    rota.job("scan")(lambda: None)
    await rota.start_async()
    assert rota.get_run(run_id).status is RunStatus.RUNNING


async def test_a_failure_after_the_sweep_interrupts_cannot_leave_a_run_without_its_retry(
    rotas: MakeRota, database_url: str
) -> None:
    # A run claimed by a node the store never recorded: the start-up sweep takes it.
    store = open_store(database_url)
    store.open()
    store.sync_jobs({"backup": {}}, START - timedelta(hours=2))
    then = START - timedelta(hours=1)
    lost, _ = store.apply(
        [Enqueue(NewRun("backup", Reason.MANUAL, then)), Claim(1, "gone:7:x", then)]
    )
    store.close()
    rota = rotas()

    @rota.job("backup", retry=Retry(2))
    def backup() -> None:
        pass

    apply = rota.store.apply
    failed: list[bool] = []

    def failing_once_after_an_interrupt(operations: Any) -> Any:
        results = apply(operations)  # committed
        if not failed and any(isinstance(op, InterruptRuns) for op in operations):
            failed.append(True)
            raise RuntimeError("the connection broke after the commit")
        return results

    rota.store.apply = failing_once_after_an_interrupt  # type: ignore[method-assign]
    await rota.start_async()
    await eventually(finished(rota, "backup", 2))
    assert failed
    assert rota.get_run(lost).status is RunStatus.INTERRUPTED
    retry = [r for r in rota.runs("backup") if r.retry_of == lost]
    assert [(r.attempt, r.status) for r in retry] == [(2, RunStatus.SUCCEEDED)]


async def test_a_limiter_deferral_does_not_use_up_the_retry_of_a_lost_run(
    rotas: MakeRota, database_url: str
) -> None:
    # Attempt 1 was deferred by a limiter; attempt 2, the run's first real try, was running on
    # a node the store never recorded. Retry(2) still retries it (decision 0012, point 5).
    store = open_store(database_url)
    store.open()
    store.sync_jobs({"backup": {}}, START - timedelta(hours=2))
    then = START - timedelta(hours=1)
    (first,) = store.apply([Enqueue(NewRun("backup", Reason.MANUAL, then))])
    assert isinstance(first, int)
    note = (
        f"waiting for limiter api until {then.isoformat()}: retried then (deferral 1 in a row "
        "(the 8th fails the run); the next attempt waits up to 2m for limiter api)"
    )
    second_run = NewRun("backup", Reason.RETRY, then, attempt=2, retry_of=first)
    _, _, lost = store.apply(
        [
            Claim(first, "gone:7:x", then),
            Finish(first, RunStatus.SKIPPED, then, note=note),
            Enqueue(second_run),
        ]
    )
    assert isinstance(lost, int)
    assert store.apply([Claim(lost, "gone:7:x", then)]) == [True]
    store.close()
    rota = rotas()
    rota.limiter("api", 10, per="1m")

    @rota.job("backup", retry=Retry(2))
    def backup() -> None:
        pass

    await rota.start_async()
    await eventually(finished(rota, "backup", 3))
    assert rota.get_run(lost).status is RunStatus.INTERRUPTED
    retry = [r for r in rota.runs("backup") if r.retry_of == lost]
    assert [(r.attempt, r.status) for r in retry] == [(3, RunStatus.SUCCEEDED)]
