"""Fencing (decision 0007): a node that lost its lease stops what it runs and its late writes
are refused; its lease is renewed past a busy writer; reaping is one transaction; a process
that reuses a dead node's pid is not that node."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from rota import Retry, Rota
from rota.errors import StoreUnavailableError
from rota.store import open_store
from rota.store.operations import Claim, Enqueue, InterruptRuns, NewRun, Operation, ReapNode
from rota.store.records import NodeRecord, Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, age_lease_on_postgresql, eventually
from tests.engine.test_nodes import beats, other_node

MakeRota = Callable[..., Rota]


def reap_elsewhere(url: str, rota: Rota, attempts: dict[str, int], now: Any) -> None:
    """What a live node does to this one once its lease ran out (it was paused, starved, or
    its clock stepped): its runs recorded interrupted and retried, its row stopped."""
    assert rota.engine is not None
    store = open_store(url)
    store.open()
    try:
        (node,) = [n for n in store.list_nodes() if n.id == rota.engine.node_id]
        note = f"its node {node.id} stopped without finishing it (found by other:2:def)"
        store.apply([ReapNode(node.id, node.generation, now, note, None, attempts)])
    finally:
        store.close()


async def test_a_node_that_lost_its_lease_stops_its_runs_and_its_late_end_is_refused(
    rotas: MakeRota, database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    release = threading.Event()
    rota = rotas()

    @rota.job("scan", retry=Retry(2))  # overlap="skip": never two at once
    def scan(ctx) -> None:  # type: ignore[no-untyped-def]
        calls.append(ctx.run.attempt)
        while not ctx.cancelled and not release.is_set():
            threading.Event().wait(0.005)
        if ctx.run.attempt == 1:
            raise RuntimeError("a late failure")

    await rota.start_async()
    first = rota.run_now("scan")  # manual: no fire time makes its retry unique
    await eventually(lambda: calls == [1])
    reap_elsewhere(database_url, rota, {"scan": 2}, clock.now())
    with caplog.at_level(logging.WARNING, logger="rota.engine"):
        await beats(clock, 1)  # it resumes: its heartbeat finds it dead
        await eventually(lambda: calls == [1, 2])  # the reaper's retry, here or elsewhere
        release.set()
        retries = lambda: [r for r in rota.runs("scan") if r.retry_of == first]  # noqa: E731
        await eventually(lambda: [r.status for r in retries()] == [RunStatus.SUCCEEDED])
        await beats(clock, 2)
    run = rota.get_run(first)
    assert run.status is RunStatus.INTERRUPTED
    assert run.note is not None
    assert "found by other:2:def" in run.note  # not overwritten by the late end
    assert run.error is None
    assert calls == [1, 2]  # attempt 2 ran once, attempt 1 stopped when the node learnt
    assert len(rota.runs("scan")) == 2  # no second retry of attempt 1
    assert "did not record run" in caplog.text


async def test_a_claim_under_a_lost_lease_is_refused_and_made_again_under_the_new_one(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    rota = rotas()
    rota.job("sync")(lambda: None)
    await rota.start_async()
    assert rota.engine is not None
    node_id = rota.engine.node_id

    def generation_now() -> int:
        return next(n.generation for n in rota.store.list_nodes() if n.id == node_id)

    before = generation_now()
    reap_elsewhere(database_url, rota, {}, clock.now())
    run_id = rota.run_now("sync")  # claimed under the lost lease first: refused
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.SUCCEEDED)
    generation = rota.get_run(run_id).generation
    assert generation is not None
    assert generation > before
    assert generation == generation_now()


async def test_the_lease_is_renewed_while_the_writer_is_busy(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    rota = rotas()
    rota.job("sync")(lambda: None)
    await rota.start_async()
    assert rota.engine is not None
    node_id, store = rota.engine.node_id, rota.engine.basis.store

    def renewed() -> Any:
        return next(n for n in store.list_nodes() if n.id == node_id).heartbeat_at

    before = renewed()
    unblock = threading.Event()
    # A burst of writes that holds the writer's queue for longer than a heartbeat.
    busy = asyncio.ensure_future(rota.engine.basis.writer.call(unblock.wait, 10))
    try:
        await beats(clock, 2)
        await eventually(lambda: renewed() > before)
    finally:
        unblock.set()
        await busy


async def test_reaping_queues_the_retries_in_the_transaction_that_interrupts(
    rotas: MakeRota, database_url: str, clock: FakeClock
) -> None:
    lost = other_node(database_url, "backup")
    rota = rotas()
    rota.job("backup", retry=Retry(2))(lambda: None)
    await rota.start_async()
    assert rota.engine is not None
    store = rota.engine.basis.store
    apply = store.apply
    died: list[bool] = []

    def dies_after_reaping(operations: Sequence[Operation]) -> list[Any]:
        if died:
            raise StoreUnavailableError("the store cannot be reached: the reaper died")
        results = apply(operations)
        if any(isinstance(op, InterruptRuns | ReapNode) for op in operations):
            died.append(True)
        return results

    store.apply = dies_after_reaping  # type: ignore[method-assign]
    age_lease_on_postgresql(database_url, "other:2:def", timedelta(seconds=75))
    await beats(clock, 5)  # 75 s: its lease of 60 s ran out
    await eventually(lambda: bool(died))
    store.apply = apply  # type: ignore[method-assign]
    retries = [r for r in rota.runs("backup") if r.retry_of == lost]
    assert rota.get_run(lost).status is RunStatus.INTERRUPTED
    assert [(r.attempt, r.reason) for r in retries] == [(2, Reason.RETRY)]


async def test_a_node_whose_pid_lives_on_in_another_process_is_dead_at_once(
    rotas: MakeRota, database_url: str
) -> None:
    # A crashed node restarted with the same pid (pid 1 in a container): its row says this
    # host and pid, but another life.
    store = open_store(database_url)
    store.open()
    try:
        store.sync_jobs({"backup": {}}, START)
        record = NodeRecord(
            "before:1:abc", socket.gethostname(), os.getpid(), START, START, life="x:1"
        )
        generation = store.register_node(record)
        run_id, claimed = store.apply(
            [
                Enqueue(NewRun("backup", Reason.MANUAL, START)),
                Claim(1, "before:1:abc", START, generation=generation),
            ]
        )
    finally:
        store.close()
    assert claimed is True
    rota = rotas()
    rota.job("backup", retry=Retry(2))(lambda: None)
    await rota.start_async()  # no lease had to run out
    await eventually(lambda: rota.get_run(run_id).status is RunStatus.INTERRUPTED)
    retry = [r for r in rota.runs("backup") if r.retry_of == run_id]
    assert [r.attempt for r in retry] == [2]


def test_a_process_life_is_its_boot_and_start_time() -> None:
    from rota.engine.nodes import OWN_LIFE, life_of

    if OWN_LIFE is None:
        pytest.skip("this OS does not tell a process's start time")
    assert life_of(os.getpid()) == OWN_LIFE
    assert life_of(1) not in (None, OWN_LIFE)  # another process
    assert life_of(2**22 + 12345) is None  # no such process


def age_lease(url: str, node_id: str, renewed_at: Any, by: timedelta) -> None:
    """Make `node_id`'s lease look `by` older: by the database's clock on PostgreSQL, else by
    stamping its heartbeat earlier (the caller's clock measures leases there)."""
    if url.startswith("postgresql"):
        age_lease_on_postgresql(url, node_id, by)
        return
    store = open_store(url)
    store.open()
    try:
        store.heartbeat(node_id, renewed_at - by)
    finally:
        store.close()


async def test_a_paused_node_is_reaped_by_a_live_one_and_stops_what_it_ran_on_resuming(
    rotas: MakeRota, database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, int]] = []
    stopped: list[int] = []  # attempts that saw themselves stopped
    release = threading.Event()
    paused, live = rotas(), rotas()

    def scan(ctx) -> None:  # type: ignore[no-untyped-def]
        calls.append((threading.current_thread().name, ctx.run.attempt))
        while not ctx.cancelled and not release.is_set():
            threading.Event().wait(0.005)
        if ctx.cancelled:
            stopped.append(ctx.run.attempt)
        if ctx.run.attempt == 1:
            raise RuntimeError("a late failure")

    paused.job("scan", retry=Retry(2))(scan)
    live.job("scan", retry=Retry(2))(scan)
    await paused.start_async()
    first = paused.run_now("scan")
    await eventually(lambda: len(calls) == 1)
    await live.start_async()
    assert paused.engine is not None
    assert live.engine is not None
    nodes = paused.engine.nodes
    renew, resumed = nodes.renew, asyncio.Event()

    async def frozen(now: Any) -> bool:  # the pause: no heartbeat until it ends
        await resumed.wait()
        return await renew(clock.now())

    nodes.renew = frozen  # type: ignore[method-assign]
    age_lease(database_url, paused.engine.node_id, clock.now(), timedelta(seconds=75))
    with caplog.at_level(logging.WARNING, logger="rota.engine"):
        await beats(clock, 1)  # the live node finds the paused one's lease run out
        await eventually(lambda: live.get_run(first).status is RunStatus.INTERRUPTED)
        resumed.set()
        await beats(clock, 1)
        await eventually(lambda: stopped == [1])  # it learnt, and stopped attempt 1
        await eventually(lambda: len(calls) == 2)  # attempt 2, on either node
        release.set()
        retries = lambda: [r for r in live.runs("scan") if r.retry_of == first]  # noqa: E731
        await eventually(lambda: [r.status for r in retries()] == [RunStatus.SUCCEEDED])
        await beats(clock, 1)
    run = live.get_run(first)
    assert run.note is not None
    assert f"found by {live.engine.node_id}" in run.note
    assert run.error is None  # the late failure was refused
    assert [attempt for _, attempt in calls] == [1, 2]
    assert len(live.runs("scan")) == 2
    assert "was found dead by another node" in caplog.text
