"""Every admin action: what it checks, what it writes, and that a running engine acts on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from rota import (
    ConflictError,
    Retention,
    Rota,
    RotaError,
    ScheduleError,
    SettingError,
    UnknownJobError,
    UnknownRunError,
)
from rota.store.records import Reason, RunStatus
from rota.testing import FakeClock
from tests.admin import jobs_for_tests
from tests.engine.conftest import START, eventually, finished, outcome

MakeRota = Callable[..., Rota]


def nothing() -> None:
    """Does nothing."""


def scan(library: str, deep: bool = False) -> str:
    """Scan one library."""
    return library


async def test_run_now_checks_arguments_against_the_function(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("scan")(scan)
    with pytest.raises(SettingError, match=r"no parameter 'nope'.*takes deep, library"):
        rota.run_now("scan", library="films", nope=1)
    with pytest.raises(SettingError, match="needs a value for parameter 'library'"):
        rota.run_now("scan")
    with pytest.raises(SettingError, match="args"):
        rota.run_now("scan", library=object())
    assert len(rota.runs("scan")) == 0  # nothing was queued by a refused call


async def test_default_arguments_serve_several_jobs_with_one_function(
    rotas: MakeRota,
) -> None:
    rota = rotas()
    rota.job("scan-films", args={"library": "films"})(scan)
    rota.job("scan-shows", args={"library": "shows", "deep": True})(scan)
    with pytest.raises(SettingError, match="needs a value for parameter 'library'"):
        rota.job("scan-nothing", schedule="every 1h")(scan)  # its runs could never start
    rota.job("scan-by-hand")(scan)  # manual: each run names its library
    await rota.start_async()
    films = await outcome(rota, rota.run_now("scan-films"))
    shows = await outcome(rota, rota.run_now("scan-shows", deep=False))
    assert (films.status, films.args) == (RunStatus.SUCCEEDED, {"library": "films"})
    assert shows.args == {"library": "shows", "deep": False}  # the run's own arguments win
    rota.override("scan-films", args={"library": "movies"})
    movies = await outcome(rota, rota.run_now("scan-films"))
    assert movies.args == {"library": "movies"}


async def test_scheduled_runs_get_the_default_arguments(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.job("scan-films", schedule="every 1h", args={"library": "films"})(scan)
    await rota.start_async()
    clock.advance(timedelta(hours=1))
    await eventually(finished(rota, "scan-films", 1))
    run = rota.runs("scan-films")[0]
    assert (run.status, run.reason, run.args) == (
        RunStatus.SUCCEEDED,
        Reason.SCHEDULE,
        {"library": "films"},
    )


async def test_run_later_starts_at_its_time_and_can_be_cancelled(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.job("backup")(nothing)
    await rota.start_async()
    later = rota.run_later("backup", START + timedelta(minutes=5))
    cancelled = rota.run_later("backup", START + timedelta(minutes=10))
    assert rota.get_run(later).status is RunStatus.QUEUED
    assert rota.cancel(cancelled).status is RunStatus.CANCELLED
    clock.advance(timedelta(minutes=4))
    assert rota.get_run(later).status is RunStatus.QUEUED
    clock.advance(timedelta(minutes=1))
    assert (await outcome(rota, later)).status is RunStatus.SUCCEEDED
    with pytest.raises(SettingError, match="has passed"):
        rota.run_later("backup", START)


async def test_retry_queues_the_next_attempt_of_a_failed_run_once(rotas: MakeRota) -> None:
    rota = rotas()
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first time fails")

    rota.job("flaky")(flaky)
    await rota.start_async()
    failed = await outcome(rota, rota.run_now("flaky"))
    assert failed.status is RunStatus.FAILED
    retried = await outcome(rota, rota.retry(failed.id))
    assert (retried.status, retried.attempt, retried.retry_of) == (
        RunStatus.SUCCEEDED,
        2,
        failed.id,
    )
    with pytest.raises(ConflictError, match="only a failed"):
        rota.retry(retried.id)
    with pytest.raises(UnknownRunError):
        rota.retry(10**9)


async def test_every_policy_can_be_overridden_and_reset_one_at_a_time(
    rotas: MakeRota,
) -> None:
    rota = rotas()
    rota.job("sync", schedule="every 30m", timeout="1h")(nothing)
    info = rota.override(
        "sync",
        overlap="queue",
        max_concurrent=3,
        catch_up="all",
        grace="5m",
        retry={"attempts": 4, "backoff": "1m"},
        timeout="2h",
        start_delay="30s",
        retention={"keep_last": 10},
    )
    assert info.overridden == (
        "catch_up",
        "grace",
        "max_concurrent",
        "overlap",
        "retention",
        "retry",
        "start_delay",
        "timeout",
    )
    assert info.settings.retry.attempts == 4
    assert info.settings.timeout == timedelta(hours=2)
    assert info.defaults["timeout"] == "1h"
    assert info.overrides["timeout"] == "2h"
    info = rota.reset("sync", "timeout", "retry")
    assert info.settings.timeout == timedelta(hours=1)
    assert "timeout" not in info.overridden
    assert "overlap" in info.overridden
    info = rota.reset("sync")
    assert not info.is_overridden


async def test_bad_overrides_name_the_field_and_change_nothing(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("sync", schedule="every 30m")(nothing)
    for values, field in [
        ({"overlap": "sometimes"}, "overlap"),
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"timeout": "-5m"}, "timeout"),
        ({"retry": {"attempts": 0}}, "retry attempts"),
        ({"description": "new"}, "setting"),
        ({"colour": "red"}, "setting"),
    ]:
        with pytest.raises(SettingError) as caught:
            rota.override("sync", grace="5m", **values)
        assert caught.value.field == field
    with pytest.raises(ScheduleError) as schedule_error:
        rota.set_schedule("sync", "0 25 * * *")
    assert schedule_error.value.field == "hour field"
    assert not rota.job_info("sync").is_overridden


async def test_an_unknown_setting_is_named_in_the_message(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("sync", schedule="every 30m")(nothing)
    with pytest.raises(SettingError) as caught:
        rota.override("sync", colour="red")
    assert caught.value.value == "colour"
    assert str(caught.value).startswith("setting: 'colour' is not an overridable setting; ")
    assert "an admin may override args, catch_up" in str(caught.value)


async def test_broken_chains_and_one_shots_in_the_past_are_refused(rotas: MakeRota) -> None:
    rota = rotas()
    with pytest.raises(SettingError, match="'recommendations' is after itself"):
        rota.job("recommendations", schedule="after recommendations")(nothing)
    rota.job("embeddings", schedule="daily 03:00")(nothing)
    with pytest.raises(SettingError, match="there is no job 'sync'"):
        rota.set_schedule("embeddings", "after sync")
    with pytest.raises(SettingError, match="has passed"):
        rota.set_schedule("embeddings", f"once {(START - timedelta(hours=1)).isoformat()}")
    rota.job("too-late", schedule=f"once {(START - timedelta(hours=1)).isoformat()}")(nothing)
    with pytest.raises(SettingError, match="would fire once at a time that has passed"):
        await rota.start_async()


async def test_a_one_shot_stored_before_a_downtime_is_caught_up(
    rotas: MakeRota, clock: FakeClock
) -> None:
    first = rotas()
    first.job("migrate", schedule=f"once {(START + timedelta(hours=1)).isoformat()}")(nothing)
    await first.start_async()
    await first.stop_async(grace=0)
    clock.advance(timedelta(hours=3))  # down while its time passed
    second = rotas()
    second.job("migrate", schedule=f"once {(START + timedelta(hours=1)).isoformat()}")(nothing)
    await second.start_async()
    await eventually(finished(second, "migrate", 1))
    assert second.runs("migrate")[0].reason is Reason.CATCH_UP
    assert second.job_info("migrate").next_fire_at is None  # finished: it fires no more


async def test_a_job_added_at_run_time_runs_and_survives_a_restart(
    rotas: MakeRota, clock: FakeClock
) -> None:
    jobs_for_tests.CALLS.clear()
    first = rotas()
    await first.start_async()
    info = first.add_job(
        "feed-news",
        "tests.admin.jobs_for_tests:fetch_feed",
        schedule="every 1h",
        args={"url": "https://example.org/news"},
    )
    assert (info.kind.value, info.target, info.description) == (
        "runtime",
        "tests.admin.jobs_for_tests:fetch_feed",
        "Fetch one feed.",
    )
    assert info.next_fire_at == START + timedelta(hours=1)
    clock.advance(timedelta(hours=1))
    await eventually(finished(first, "feed-news", 1))
    await first.stop_async(grace=0)

    second = rotas()  # no code for it: the store has its import path
    await second.start_async()
    clock.advance(timedelta(hours=1))
    await eventually(finished(second, "feed-news", 2))
    assert [r.status for r in second.runs("feed-news")] == [RunStatus.SUCCEEDED] * 2
    assert jobs_for_tests.CALLS == [("feed-news", "https://example.org/news")] * 2


async def test_adding_a_job_is_checked(rotas: MakeRota) -> None:
    rota = rotas()
    rota.job("taken")(nothing)
    with pytest.raises(SettingError, match="cannot be imported"):
        rota.add_job("x", "tests.admin.no_such_module:f")
    with pytest.raises(SettingError, match="needs a value for parameter 'url'"):
        rota.add_job("x", "tests.admin.jobs_for_tests:fetch_feed", schedule="every 1h")
    with pytest.raises(SettingError, match="module-level function"):
        rota.add_job("x", lambda: None)
    with pytest.raises(ConflictError, match="exists already"):
        rota.add_job("taken", jobs_for_tests.refresh)
    assert rota.add_job("y", jobs_for_tests.refresh).target == "tests.admin.jobs_for_tests:refresh"


async def test_removing_jobs(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    rota.job("in-code")(nothing)
    await rota.start_async()
    rota.add_job("feed", jobs_for_tests.refresh, schedule="every 1h")
    run_id = rota.run_now("feed")
    await outcome(rota, run_id)
    rota.remove_job("feed")
    with pytest.raises(UnknownJobError):
        rota.job_info("feed")
    with pytest.raises(UnknownRunError):
        rota.get_run(run_id)  # its history went with it
    clock.advance(timedelta(hours=2))
    with pytest.raises(ConflictError, match="defined in the code of a running node"):
        rota.remove_job("in-code")
    with pytest.raises(ConflictError, match="rota's own"):
        rota.remove_job("rota-prune")
    with pytest.raises(UnknownJobError):
        rota.remove_job("nope")


async def test_a_job_others_are_after_is_not_removed_and_they_are_named(
    rotas: MakeRota,
) -> None:
    rota = rotas()
    await rota.start_async()
    rota.add_job("feed", jobs_for_tests.refresh)
    rota.add_job("digest", jobs_for_tests.refresh, schedule="after feed")
    with pytest.raises(ConflictError) as refused:
        rota.remove_job("feed")
    assert str(refused.value) == ("job 'digest' is after job 'feed': change its schedule first")
    rota.add_job("archive", jobs_for_tests.refresh, schedule="after feed")
    with pytest.raises(ConflictError) as refused:
        rota.remove_job("feed")
    assert str(refused.value) == (
        "jobs 'archive', 'digest' are after job 'feed': change their schedules first"
    )
    assert rota.job_info("feed").downstream == ("archive", "digest")


async def test_a_job_registered_after_start_fires(rotas: MakeRota, clock: FakeClock) -> None:
    rota = rotas()
    await rota.start_async()
    rota.job("late", schedule="every 10m")(nothing)
    rota.run_now("late")  # usable at once; scheduled as soon as the engine takes it up
    await eventually(lambda: rota.job_info("late").next_fire_at == START + timedelta(minutes=10))
    await eventually(lambda: rota.job_info("late").in_code)
    clock.advance(timedelta(minutes=10))
    await eventually(finished(rota, "late", 2))


async def test_bogus_ids_get_rotas_own_errors(rotas: MakeRota) -> None:
    rota = rotas()
    for bad in (-1, 0, 2**63, 2**80):
        with pytest.raises(UnknownRunError):
            rota.get_run(bad)
        with pytest.raises(UnknownRunError):
            rota.cancel(bad)
    for wrong in ("7", 1.5, True, None):
        with pytest.raises(SettingError, match="run id"):
            rota.get_run(wrong)  # type: ignore[arg-type]


async def test_what_trying_rota_found_is_refused_with_a_clear_error(
    rotas: MakeRota, clock: FakeClock
) -> None:
    rota = rotas()
    rota.job("scan", schedule="every 1h", args={"library": "films"})(scan)
    # An override of the arguments is checked like the code's.
    with pytest.raises(SettingError, match="no parameter 'zzz'"):
        rota.override("scan", args={"zzz": 1})
    with pytest.raises(SettingError, match="needs a value for parameter 'library'"):
        rota.override("scan", args={})  # an override replaces the code's args
    # A retention the engine could not read back is refused where it is given.
    with pytest.raises(SettingError, match="retention fast"):
        rota.job("fast", retention=Retention(fast=True))(nothing)
    with pytest.raises(SettingError, match="'keepLast' is not one of keep_last"):
        rota.override("scan", retention={"keepLast": 5})
    assert rota.override("scan", retry=None).settings.retry.attempts == 1
    # Builtins have no signature to check.
    with pytest.raises(SettingError, match="no signature rota can check"):
        rota.add_job("nap", "time:sleep")
    for bad in (None, "5", 0, -1):
        with pytest.raises(SettingError, match="timeout"):
            rota.wait(1, timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(SettingError, match="before_id"):
        rota.runs(before_id=-1)
    with pytest.raises(SettingError, match="since"):
        rota.runs(since=START.replace(tzinfo=None))
    await rota.start_async()
    with pytest.raises(RotaError, match="stop it"):
        rota.close()


async def test_a_one_shot_registered_after_its_time_is_refused_at_start(
    rotas: MakeRota,
) -> None:
    rota = rotas()
    rota.job("too-late", schedule=f"once {(START - timedelta(hours=1)).isoformat()}")(nothing)
    rota.jobs()  # an admin call before start stores the row first
    with pytest.raises(SettingError, match="would fire once at a time that has passed"):
        await rota.start_async()


async def test_an_orphaned_job_cannot_be_run(rotas: MakeRota, clock: FakeClock) -> None:
    first = rotas()
    first.job("transcode")(nothing)
    await first.start_async()
    await first.stop_async(grace=0)
    second = rotas()
    await second.start_async()  # its code has no "transcode"
    with pytest.raises(ConflictError, match="orphaned"):
        second.run_now("transcode")


@pytest.mark.parametrize("overlap", ["skip", "queue", "replace", "allow"])
async def test_a_run_asked_for_later_does_not_hold_up_the_schedule(
    rotas: MakeRota, clock: FakeClock, overlap: str
) -> None:
    # Found by trying rota: a run_later counted as queued, so every fire time until its time
    # was skipped (or, under replace, cancelled it).
    rota = rotas()
    rota.job("feed", schedule="every 10m", overlap=overlap)(nothing)
    await rota.start_async()
    later = rota.run_later("feed", START + timedelta(minutes=25))
    clock.advance(timedelta(minutes=10))
    await eventually(finished(rota, "feed", 1))
    clock.advance(timedelta(minutes=10))
    await eventually(finished(rota, "feed", 2))
    statuses = [r.status for r in rota.runs("feed") if r.id != later]
    assert statuses == [RunStatus.SUCCEEDED] * 2
    assert rota.get_run(later).status is RunStatus.QUEUED
    run_now = rota.run_now("feed")  # by hand too
    assert (await outcome(rota, run_now)).status is RunStatus.SUCCEEDED
    clock.set(START + timedelta(minutes=25))  # its time, between two fire times
    assert (await outcome(rota, later)).status is RunStatus.SUCCEEDED


async def test_catch_up_all_runs_each_missed_fire_time(rotas: MakeRota, clock: FakeClock) -> None:
    first = rotas()
    first.job("sync", schedule="every 10m", catch_up="all")(nothing)
    await first.start_async()
    await first.stop_async(grace=0)
    clock.advance(timedelta(minutes=45))  # down for four fire times
    second = rotas()
    second.job("sync", schedule="every 10m", catch_up="all")(nothing)
    await second.start_async()
    await eventually(finished(second, "sync", 4))
    runs = list(reversed(second.runs("sync")))
    assert [(r.reason, r.status) for r in runs] == [(Reason.CATCH_UP, RunStatus.SUCCEEDED)] * 4
    assert [r.fire_time for r in runs] == [START + timedelta(minutes=10 * i) for i in range(1, 5)]
