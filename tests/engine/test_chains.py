"""Job chains on the engine (decision 0011): a job `after` others runs once each time they have
all succeeded since its last run, exactly once per success, also across a restart; on every
store, on the fake clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from rota import After, Retry, Rota, SettingError, Skip
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import eventually, finished, statuses

MakeRota = Callable[..., Rota]


def dependency_runs(rota: Rota, job: str) -> list[object]:
    return [run for run in rota.runs(job, limit=1000) if run.reason is Reason.DEPENDENCY]


async def test_a_chain_of_four_runs_in_order_once_per_success(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    order: list[str] = []
    for name, schedule in (
        ("sync", "every 1h"),
        ("embeddings", "after sync"),
        ("recommendations", After("embeddings")),
        ("library-build", "after recommendations"),
    ):

        def work(name: str = name) -> None:
            order.append(name)

        rota.job(name, schedule=schedule)(work)
    await rota.start_async()
    clock.advance(3600)
    await eventually(finished(rota, "library-build", 1))
    assert order == ["sync", "embeddings", "recommendations", "library-build"]
    run = rota.runs("embeddings")[0]
    sync_run = rota.runs("sync")[0]
    assert (run.reason, run.note) == (Reason.DEPENDENCY, f"after sync (run {sync_run.id})")
    clock.advance(3600)
    await eventually(finished(rota, "library-build", 2))
    await asyncio.sleep(0.05)
    assert [len(rota.runs(name)) for name in ("sync", "embeddings", "library-build")] == [2, 2, 2]


async def test_a_job_after_two_waits_for_both(rotas: MakeRota) -> None:
    rota = rotas()
    ran: list[str] = []
    rota.job("a")(lambda: None)
    rota.job("b")(lambda: None)
    rota.job("c", schedule=After("a", "b"))(lambda: ran.append("c"))
    await rota.start_async()
    rota.run_now("a")
    rota.run_now("a")
    await eventually(finished(rota, "a", 2))
    await asyncio.sleep(0.05)
    assert ran == []
    rota.run_now("b")
    await eventually(finished(rota, "c", 1))
    assert ran == ["c"]


async def test_a_dependency_run_carries_the_upstream_runs_that_triggered_it(
    rotas: MakeRota,
) -> None:
    rota = rotas()
    rota.job("a")(lambda: None)
    rota.job("b")(lambda: None)
    rota.job("x")(lambda: None)
    rota.job("c", schedule=After("a", "b", "x"))(lambda: None)
    await rota.start_async()
    for job in ("a", "a", "b", "x"):
        rota.run_now(job)
        await eventually(
            lambda job=job: (
                bool(rota.runs(job))
                and all(run.status is RunStatus.SUCCEEDED for run in rota.runs(job))
            )
        )
    await eventually(finished(rota, "c", 1))
    (run,) = rota.runs("c")
    newest = {job: rota.runs(job)[0].id for job in ("a", "b", "x")}
    assert run.upstream_runs == newest  # a's second success, the one that counted last
    assert run.note == "after " + ", ".join(f"{job} (run {newest[job]})" for job in newest)
    assert {r.upstream_runs == {} for job in ("a", "b", "x") for r in rota.runs(job)} == {True}


async def test_failures_and_skips_trigger_nothing_and_a_retried_success_triggers_once(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    ran: list[int] = []

    @rota.job("flaky", retry=Retry(2, backoff="10s"))
    def flaky(ctx, skip: bool = False) -> None:  # type: ignore[no-untyped-def]
        if skip:
            raise Skip("nothing to do")
        if ctx.run.attempt == 1:
            raise ConnectionError("down")

    rota.job("after-flaky", schedule="after flaky")(lambda: ran.append(1))
    await rota.start_async()
    rota.run_now("flaky", skip=True)
    await eventually(finished(rota, "flaky", 1))
    rota.run_now("flaky")
    await eventually(finished(rota, "flaky", 2))
    assert dependency_runs(rota, "after-flaky") == []  # skipped, then failed: nothing
    clock.advance(10)
    await eventually(finished(rota, "after-flaky", 1))
    await asyncio.sleep(0.05)
    assert statuses(rota, "flaky") == ["skipped", "failed", "succeeded"]
    assert ran == [1]


async def test_a_success_is_not_lost_when_the_node_stops_before_the_downstream_runs(
    rotas: MakeRota,
) -> None:
    first = rotas(workers=2)
    release = threading.Event()
    first.job("up")(lambda: None)

    @first.job("down", schedule="after up")
    def down() -> None:
        release.wait(5)

    await first.start_async()
    # "down" is busy, so under overlap=queue its dependency run waits, and is still queued
    # when the node stops.
    blocker = first.run_now("down")
    await eventually(lambda: first.get_run(blocker).status is RunStatus.RUNNING)
    up = first.run_now("up")
    await eventually(lambda: first.get_run(up).status is RunStatus.SUCCEEDED)
    # overlap=skip: the dependency run found "down" running and was recorded skipped.
    (answered,) = dependency_runs(first, "down")
    assert answered.status is RunStatus.SKIPPED  # type: ignore[attr-defined]
    release.set()
    await eventually(lambda: first.get_run(blocker).status is RunStatus.SUCCEEDED)

    first.override("down", overlap="queue")
    release.clear()
    blocker = first.run_now("down")
    await eventually(lambda: first.get_run(blocker).status is RunStatus.RUNNING)
    up = first.run_now("up")
    await eventually(lambda: len(dependency_runs(first, "down")) == 2)
    await first.stop_async(grace=0)
    release.set()

    second = rotas()
    second.job("up")(lambda: None)
    ran: list[int] = []
    second.job("down", schedule="after up")(lambda: ran.append(1))
    await second.start_async()
    await eventually(lambda: ran == [1])
    await asyncio.sleep(0.05)
    assert len(dependency_runs(second, "down")) == 2  # the queued one ran; none was added


async def test_a_paused_downstream_is_left_alone(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("up")(lambda: None)
    rota.job("down", schedule="after up")(lambda: None)
    await rota.start_async()
    rota.pause("down")
    rota.run_now("up")
    await eventually(finished(rota, "up", 1))
    await asyncio.sleep(0.05)
    assert dependency_runs(rota, "down") == []
    rota.resume("down")
    rota.run_now("up")
    await eventually(finished(rota, "down", 1))


async def test_an_override_to_after_takes_effect_on_the_running_engine(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("up")(lambda: None)
    rota.job("down")(lambda: None)
    await rota.start_async()
    rota.set_schedule("down", "after up")
    rota.run_now("up")
    await eventually(finished(rota, "down", 1))
    assert rota.job_info("down").upstream == ("up",)
    assert rota.job_info("up").downstream == ("down",)


async def test_chains_that_cannot_work_are_refused(rotas: MakeRota) -> None:
    rota = rotas()
    with pytest.raises(SettingError, match="'a' is after itself"):
        rota.job("a", schedule="after a")(lambda: None)
    rota.job("a", schedule="after c")(lambda: None)
    rota.job("b", schedule="after a")(lambda: None)
    rota.job("c", schedule="after b")(lambda: None)
    with pytest.raises(SettingError, match="cycle: a → b → c → a"):
        await rota.start_async()
    other = rotas()
    other.job("x", schedule="after nowhere")(lambda: None)
    with pytest.raises(SettingError, match="there is no job 'nowhere'"):
        await other.start_async()


async def test_set_schedule_refuses_a_cycle_and_an_unknown_job(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("a")(lambda: None)
    rota.job("b", schedule="after a")(lambda: None)
    await rota.start_async()
    with pytest.raises(SettingError, match="cycle: a → b → a"):
        rota.set_schedule("a", "after b")
    with pytest.raises(SettingError, match="there is no job 'nope'"):
        rota.set_schedule("a", "after nope")
    with pytest.raises(SettingError, match="after itself"):
        rota.set_schedule("a", After("a"))
    assert rota.job_info("a").schedule.text == "manual"


async def test_replace_cancels_the_running_downstream_for_the_new_run(rotas: MakeRota) -> None:
    rota = rotas()
    release = threading.Event()
    rota.job("up")(lambda: None)

    @rota.job("down", schedule="after up", overlap="replace")
    def down(ctx) -> None:  # type: ignore[no-untyped-def]
        while not ctx.cancelled and not release.is_set():
            release.wait(0.01)

    await rota.start_async()
    try:
        busy = rota.run_now("down")
        await eventually(lambda: rota.get_run(busy).status is RunStatus.RUNNING)
        rota.run_now("up")
        await eventually(lambda: rota.get_run(busy).status is RunStatus.CANCELLED)
        assert rota.get_run(busy).note == "replaced by a newer run (overlap=replace)"
        await eventually(lambda: len(dependency_runs(rota, "down")) == 1)
    finally:
        release.set()
    await eventually(finished(rota, "down", 2))
    assert statuses(rota, "down") == ["cancelled", "succeeded"]


async def test_reset_refuses_to_bring_back_a_broken_chain(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("a", schedule="after b")(lambda: None)
    rota.job("b")(lambda: None)
    await rota.start_async()
    rota.set_schedule("a", "manual")
    rota.set_schedule("b", "after a")
    with pytest.raises(SettingError, match="cycle: a → b → a"):
        rota.reset("a", "schedule")
    with pytest.raises(SettingError, match="cycle"):
        rota.reset("a")
    assert rota.job_info("a").schedule.text == "manual"
