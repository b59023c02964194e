"""What a jobs page reads in one call, and pages of runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta

import pytest

from rota import Rota, SettingError
from rota.store.records import JobKind, RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, eventually, finished, outcome

MakeRota = Callable[..., Rota]


def nothing() -> None:
    """Does nothing."""


def fails() -> None:
    """Fails."""
    raise RuntimeError("no connection")


async def test_a_job_row_has_everything_a_jobs_page_shows(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    outcomes = iter([None, "fail", "fail", None, "fail", "fail"])

    def sometimes() -> None:
        if next(outcomes) == "fail":
            raise RuntimeError("flaky")

    rota.job("sync", schedule="every 30m", description="Sync users")(sometimes)
    await rota.start_async()
    ids = []
    for _ in range(6):
        run = await outcome(rota, rota.run_now("sync"))
        ids.append(run.id)
        clock.advance(1)
    info = rota.job_info("sync")
    assert (info.description, info.kind, info.in_code, info.orphaned) == (
        "Sync users",
        JobKind.CODE,
        True,
        False,
    )
    assert info.schedule.text == "every 30m"
    assert info.next_fire_times == tuple(START + timedelta(minutes=30 * i) for i in range(1, 6))
    assert all(t.tzinfo is UTC for t in info.next_fire_times)
    assert info.next_fire_at is not None
    assert info.next_fire_at.tzinfo is UTC
    assert info.last_run is not None
    assert info.last_run.id == ids[-1]
    assert info.last_success is not None
    assert info.last_success.id == ids[3]
    assert info.last_failure is not None
    assert info.last_failure.id == ids[-1]
    assert info.consecutive_failures == 2
    assert info.last_duration is not None
    assert info.median_duration is not None
    assert (info.running, info.queued) == ((), 0)


async def test_running_runs_show_with_their_progress(rotas: MakeRota) -> None:
    rota = rotas()
    release = __import__("threading").Event()

    def scan(ctx: object) -> None:
        ctx.progress(3, 10, "Heat")  # type: ignore[attr-defined]
        release.wait(10)

    rota.job("scan")(scan)
    await rota.start_async()
    run_id = rota.run_now("scan")
    await eventually(lambda: rota.get_run(run_id).progress_done == 3)
    (running,) = rota.job_info("scan").running
    assert (running.id, running.progress_total, running.progress_note) == (run_id, 10, "Heat")
    release.set()
    await outcome(rota, run_id)


async def test_internal_jobs_are_left_out_unless_asked_for(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("backup")(nothing)
    assert [j.name for j in rota.jobs()] == ["backup"]
    everything = {j.name: j.kind for j in rota.jobs(internal=True)}
    assert everything == {"backup": JobKind.CODE, "rota-prune": JobKind.INTERNAL}


async def test_a_process_that_only_reads_changes_nothing_running_nodes_report(
    rotas: MakeRota, database_url: str
) -> None:
    node = rotas()
    node.job("library-scan")(nothing)
    await node.start_async()
    shell = rotas()  # a second process with no jobs of its own: a CLI, a shell
    assert [j.name for j in shell.jobs()] == ["library-scan"]
    assert shell.job_info("library-scan").in_code
    assert node.job_info("library-scan").in_code


async def test_jobs_gone_from_the_code_are_orphaned_keep_history_and_can_be_deleted(
    rotas: MakeRota, clock: FakeClock
) -> None:
    first = rotas()
    first.job("old-job", schedule="every 1m")(nothing)
    await first.start_async()
    clock.advance(60)
    await eventually(finished(first, "old-job", 1))
    await first.stop_async(grace=0)
    assert first.job_info("old-job").in_code  # no node lives: the last node's word holds

    second = rotas()
    second.job("new-job", schedule="every 1h")(nothing)
    await second.start_async()
    clock.advance(timedelta(minutes=10))
    await eventually(lambda: second.job_info("old-job").orphaned)  # once its lease is renewed
    old = second.job_info("old-job")
    assert (old.orphaned, old.in_code, old.next_fire_at is not None) == (True, False, True)
    assert len(second.runs("old-job")) == 1  # never fired by the second node
    second.remove_job("old-job")
    assert [j.name for j in second.jobs()] == ["new-job"]


async def test_runs_are_paged_and_filtered_with_a_total(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.job("ok", overlap="allow", max_concurrent=100)(nothing)
    rota.job("bad")(fails)
    await rota.start_async()
    for _ in range(5):
        await outcome(rota, rota.run_now("ok"))
        clock.advance(60)
    middle = clock.now()
    for _ in range(3):
        await outcome(rota, rota.run_now("bad"))
        clock.advance(60)
    page = rota.runs(limit=3)
    assert (len(page), page.total) == (3, 8)
    rest = rota.runs(limit=10, before_id=page.next_before_id)
    assert [r.id for r in rest] == sorted((r.id for r in rest), reverse=True)
    assert (len(rest), rest.next_before_id) == (5, None)
    assert rota.runs(status="failed").total == 3
    assert rota.runs(job="ok", status=["succeeded", "failed"]).total == 5
    assert rota.runs(reason="manual", since=middle).total == 3
    assert rota.runs(until=middle).total == 5
    assert rota.runs(reason="retry").total == 0
    with pytest.raises(SettingError, match="reason"):
        rota.runs(reason="whim")
    with pytest.raises(SettingError, match="status"):
        rota.runs(status="done")
    assert {r.status for r in rota.runs(job="bad")} == {RunStatus.FAILED}


async def test_runs_are_listed_by_the_run_that_spawned_them(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("fetch", overlap="allow", max_concurrent=10)(lambda n: None)

    @rota.job("scan")
    def scan(ctx, count: int) -> None:  # type: ignore[no-untyped-def]
        for n in range(count):
            ctx.spawn("fetch", n=n)

    await rota.start_async()
    first = rota.run_now("scan", count=3)
    await outcome(rota, first)
    second = rota.run_now("scan", count=2)
    await outcome(rota, second)
    page = rota.runs(parent_run_id=first)
    assert page.total == 3
    assert {(r.job, r.parent_run_id) for r in page} == {("fetch", first)}
    assert rota.runs("fetch", parent_run_id=second).total == 2
    assert rota.runs(parent_run_id=second, limit=1).next_before_id is not None
    assert rota.runs(parent_run_id=10**6).total == 0
    for bad in (0, -3, "7", True):
        with pytest.raises(SettingError, match="parent_run_id"):
            rota.runs(parent_run_id=bad)  # type: ignore[arg-type]
