"""What an admin changes: schedules, pauses, resets; and what the job list shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from rota import Rota, RotaError, daily, weekly
from rota.store.records import RunStatus
from rota.testing import FakeClock
from tests.engine.conftest import START, eventually, finished

MakeRota = Callable[..., Rota]


def nothing() -> None:
    """Does nothing."""


async def test_set_schedule_overrides_and_reset_restores(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.job("recommendations", schedule=weekly("sun", "04:00", "UTC"))(nothing)
    await rota.start_async()
    assert rota.job_info("recommendations").next_fire_at == START.replace(day=29, hour=4)

    info = rota.set_schedule("recommendations", "every 2h")
    assert info.schedule.text == "every 2h"
    assert info.overridden == ("schedule",)
    assert info.next_fire_at == START + timedelta(hours=2)
    clock.advance(timedelta(hours=2))
    await eventually(finished(rota, "recommendations", 1))

    info = rota.reset("recommendations")
    assert info.schedule.text == "weekly sun 04:00"
    assert not info.is_overridden
    assert info.next_fire_at == START.replace(day=29, hour=4)


async def test_overrides_survive_a_restart_and_code_defaults_update(
    rotas: MakeRota, clock: FakeClock
) -> None:
    first = rotas()
    first.job("scan", schedule="daily 02:00")(nothing)
    first.job("backup", schedule="daily 01:00")(nothing)
    await first.start_async()
    first.set_schedule("scan", "daily 05:00")
    await first.stop_async(grace=0)

    second = rotas()
    second.job("scan", schedule="daily 03:00")(nothing)  # new default: the override still wins
    second.job("backup", schedule="daily 01:30")(nothing)  # new default, not overridden
    await second.start_async()
    assert second.job_info("scan").schedule.text == "daily 05:00"
    assert second.job_info("backup").schedule.text == "daily 01:30"
    assert second.job_info("backup").next_fire_at == START.replace(day=24, hour=1, minute=30)


async def test_pause_stops_firing_and_resume_starts_from_now(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.job("sync", schedule="every 30m")(nothing)
    await rota.start_async()
    info = rota.pause("sync", note="server maintenance")
    assert (info.paused, info.pause_note, info.next_fire_at) == (True, "server maintenance", None)
    clock.advance(timedelta(hours=2))
    run_id = rota.run_now("sync")  # by hand it still runs
    await eventually(finished(rota, "sync", 1))
    assert [r.id for r in rota.runs("sync")] == [run_id]
    info = rota.resume("sync")
    assert info.next_fire_at == clock.now() + timedelta(minutes=30)
    clock.advance(timedelta(minutes=30))
    await eventually(finished(rota, "sync", 2))


async def test_admin_actions_work_before_start(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.job("backup", schedule="daily 01:00")(nothing)
    run_id = rota.run_now("backup")
    assert rota.get_run(run_id).status is RunStatus.QUEUED
    rota.set_schedule("backup", "daily 01:15")
    await rota.start_async()
    await eventually(finished(rota, "backup", 1))
    assert rota.job_info("backup").schedule.text == "daily 01:15"


async def test_the_builtin_prune_job_is_internal(rotas: MakeRota) -> None:
    rota = rotas()
    await rota.start_async()
    assert rota.jobs() == []
    prune = rota.job_info("rota-prune")
    assert prune.kind.value == "internal"
    assert prune.schedule.text == "every 10m"
    assert prune.description == "Delete run history past its retention"


def test_wait_returns_the_finished_run_of_a_started_engine(tmp_path: object) -> None:
    rota = Rota(f"sqlite:///{tmp_path}/rota.db", timezone="UTC")
    rota.job("quick")(nothing)
    with rota:
        run = rota.wait(rota.run_now("quick"), timeout=10)
    assert run.status is RunStatus.SUCCEEDED


def test_wait_gives_up_after_its_timeout(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("never-started")(nothing)
    run_id = rota.run_now("never-started")  # no engine runs
    with pytest.raises(RotaError, match=f"run {run_id} is still queued after 0.05 s"):
        rota.wait(run_id, timeout=0.05)


async def test_schedules_made_without_a_zone_use_the_rotas(clock: FakeClock) -> None:
    rota = Rota("memory://", clock=clock, timezone="Europe/Berlin")
    rota.job("backup", schedule=daily("02:00"))(nothing)
    rota.job("scan", schedule=daily("02:00", tz="UTC"))(nothing)
    rota.job("embeddings", schedule="daily 03:00")(nothing)
    await rota.start_async()
    try:
        assert rota.job_info("backup").schedule == daily("02:00", "Europe/Berlin")
        assert rota.job_info("backup").next_fire_at == START.replace(day=24, hour=1)
        assert rota.job_info("scan").next_fire_at == START.replace(day=24, hour=2)
        assert rota.job_info("embeddings").next_fire_at == START.replace(day=24, hour=2)
    finally:
        await rota.stop_async(grace=0)


def wrapped(ctx: object) -> None:
    """Fetch missing metadata and refresh the
    stalest items first,
        one at a time.

    A second paragraph is not part of the description.
    """


async def test_a_jobs_description_is_its_docstrings_first_paragraph(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("wrapped")(wrapped)
    rota.job("told", description="Said in so many words")(wrapped)
    await rota.start_async()
    assert rota.job_info("wrapped").description == (
        "Fetch missing metadata and refresh the stalest items first, one at a time."
    )
    assert rota.job_info("told").description == "Said in so many words"
    added = rota.add_job("mirror", "tests.admin.jobs_for_tests:mirror")
    assert added.description == "Mirror the feeds to the archive (slowly: the archive throttles)."
