"""Events: one per committed change, in order, followed from any Rota sharing the store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC

import pytest

from rota import Rota, SettingError
from rota.store.records import EventKind, EventRecord
from rota.testing import FakeClock
from tests.engine.conftest import eventually, finished, outcome

MakeRota = Callable[..., Rota]


def nothing() -> None:
    """Does nothing."""


async def collect(rota: Rota, after: int, count: int) -> list[EventRecord]:
    events: list[EventRecord] = []

    async def gather() -> None:
        async for event in rota.events(after=after):
            events.append(event)
            if len(events) == count:
                return

    await asyncio.wait_for(gather(), 10)
    return events


async def test_a_run_and_an_admin_change_are_one_event_each_in_order(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.job("sync", schedule="every 1h")(nothing)
    await rota.start_async()
    start = rota.store.last_event_id()
    run = await outcome(rota, rota.run_now("sync"))
    rota.pause("sync", "maintenance")
    rota.resume("sync")
    rota.set_schedule("sync", "every 2h")
    events = await collect(rota, start, 6)
    assert [(e.kind, e.run_id) for e in events] == [
        (EventKind.RUN_QUEUED, run.id),
        (EventKind.RUN_STARTED, run.id),
        (EventKind.RUN_FINISHED, run.id),
        (EventKind.JOB_PAUSED, None),
        (EventKind.JOB_RESUMED, None),
        (EventKind.JOB_CHANGED, None),
    ]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert {e.at.tzinfo for e in events} == {UTC}  # every time rota returns is in UTC
    assert events[2].data["status"] == "succeeded"
    assert events[3].data["note"] == "maintenance"
    assert {e.job for e in events} == {"sync"}


async def test_a_manual_run_skipped_by_overlap_is_announced_once(rotas: MakeRota) -> None:
    rota = rotas()
    release = threading.Event()
    rota.job("scan")(lambda: release.wait(10))
    await rota.start_async()
    start = rota.store.last_event_id()
    first = rota.run_now("scan")
    await eventually(lambda: rota.get_run(first).status.value == "running")
    skipped = rota.run_now("scan")
    release.set()
    await outcome(rota, first)
    events = await collect(rota, start, 4)
    kinds = [(e.kind, e.run_id) for e in events]
    assert kinds.count((EventKind.RUN_SKIPPED, skipped)) == 1
    assert all(run_id != skipped or kind is EventKind.RUN_SKIPPED for kind, run_id in kinds)


async def test_a_follower_that_comes_back_misses_nothing(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.job("sync", schedule="every 1m")(nothing)
    await rota.start_async()
    start = rota.store.last_event_id()
    clock.advance(60)
    await eventually(finished(rota, "sync", 1))
    first = await collect(rota, start, 2)
    clock.advance(60)
    await eventually(finished(rota, "sync", 2))
    again = await collect(rota, first[-1].id, 4)  # reconnects with the last id it saw
    assert [e.kind for e in again] == [
        EventKind.RUN_FINISHED,
        EventKind.RUN_QUEUED,
        EventKind.RUN_STARTED,
        EventKind.RUN_FINISHED,
    ]
    assert again[0].id == first[-1].id + 1


async def test_another_rota_on_the_store_hears_every_event(
    rotas: MakeRota, clock: FakeClock
) -> None:
    node = rotas()
    node.job("sync", schedule="every 1m")(nothing)
    await node.start_async()
    admin = rotas()  # no engine: follows what the node does
    start = admin.store.last_event_id()
    run_id = admin.run_now("sync")
    events = await collect(admin, start, 3)
    assert [e.kind for e in events] == [
        EventKind.RUN_QUEUED,
        EventKind.RUN_STARTED,
        EventKind.RUN_FINISHED,
    ]
    assert {e.run_id for e in events} == {run_id}


async def test_sync_apps_get_callbacks_on_a_thread(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("sync", schedule="every 1m")(nothing)
    await rota.start_async()
    finished_runs: list[int | None] = []
    runs: list[str] = []
    stop = rota.on("run.finished", lambda e: finished_runs.append(e.run_id))
    rota.on("run.", lambda e: runs.append(e.kind.value))
    rota.on("*", lambda e: 1 / 0)  # a failing callback disturbs nobody
    run_id = rota.run_now("sync")
    await eventually(lambda: finished_runs == [run_id])
    await eventually(lambda: runs == ["run.queued", "run.started", "run.finished"])
    stop()
    await outcome(rota, rota.run_now("sync"))
    await eventually(lambda: len(runs) == 6)
    assert finished_runs == [run_id]
    with pytest.raises(SettingError, match="event kind"):
        rota.on("run.done", print)
