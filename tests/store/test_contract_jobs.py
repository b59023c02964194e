"""Contract: jobs (sync_jobs, UpdateJob, next_fire_times) and Fire, on every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from rota.errors import StoreError
from rota.store import (
    UNSET,
    Enqueue,
    Fire,
    FireResult,
    NewRun,
    Reason,
    RunStatus,
    Store,
    UpdateJob,
)
from rota.store.records import JobKind

from .conftest import T0, at, enqueue, new

# -- sync_jobs -------------------------------------------------------------------------------


def test_sync_adds_new_code_jobs_without_fire_time(store: Store) -> None:
    records = store.sync_jobs({"b": {"x": 1}, "a": {}}, T0).jobs
    assert [job.name for job in records] == ["a", "b"]
    b = records[1]
    assert b.defaults == {"x": 1}
    assert b.override == {}
    assert (b.paused, b.pause_note, b.next_fire_at) == (False, None, None)
    assert (b.kind, b.target) == (JobKind.CODE, None)
    assert b.created_at == b.updated_at == T0
    assert store.list_jobs() == records
    assert store.get_job("b") == b
    assert store.get_job("nope") is None


def test_sync_replaces_changed_defaults_and_keeps_admin_state(jobs: Store) -> None:
    jobs.apply([UpdateJob("a", at(1), override={"schedule": "every 2h"}, paused=True)])
    jobs.apply([UpdateJob("b", at(1), next_fire_at=at(60))])
    result = jobs.sync_jobs(
        {"a": {"schedule": "every 3h"}, "b": {"schedule": "daily 02:00"}}, at(5)
    )
    a, b = result.jobs
    assert result.replaced == {"a": {"schedule": "every 1h"}}
    assert a.defaults == {"schedule": "every 3h"}
    assert a.override == {"schedule": "every 2h"}
    assert a.paused is True
    assert (a.created_at, a.updated_at) == (T0, at(5))
    # Unchanged defaults: the row is left alone.
    assert b.next_fire_at == at(60)
    assert b.updated_at == at(1)


def test_sync_leaves_jobs_missing_from_code_as_they_are(jobs: Store) -> None:
    run_id = enqueue(jobs, "b")
    before = jobs.get_job("b")
    records = jobs.sync_jobs({"a": {"schedule": "every 1h"}}, at(5)).jobs
    assert [job.name for job in records] == ["a", "b"]
    assert records[1] == before  # not marked, not touched: "in code" is what nodes register
    assert jobs.get_run(run_id) is not None
    assert jobs.count_runs("b") == 1
    back = jobs.sync_jobs({"a": {"schedule": "every 1h"}, "b": {"schedule": "daily 02:00"}}, at(9))
    assert back.jobs[1] == before
    assert back.replaced == {}


def test_sync_stores_defaults_as_json_gives_them_back(store: Store) -> None:
    (job,) = store.sync_jobs({"a": {"days": ("mon", "tue"), "n": 1.5}}, T0).jobs
    assert job.defaults == {"days": ["mon", "tue"], "n": 1.5}
    # The same defaults in another spelling are not a change.
    again = store.sync_jobs({"a": {"days": ["mon", "tue"], "n": 1.5}}, at(1))
    assert again.jobs[0].updated_at == T0
    assert again.replaced == {}
    # Nor the same object with its keys in another order.
    shuffled = store.sync_jobs({"a": {"n": 1.5, "days": ["mon", "tue"]}}, at(2))
    assert (shuffled.jobs[0].updated_at, shuffled.replaced) == (T0, {})


def test_sync_refuses_defaults_that_are_not_json_and_writes_nothing(jobs: Store) -> None:
    before = jobs.list_jobs()
    with pytest.raises(StoreError, match=r"sync_jobs defaults of 'c'.*not JSON"):
        jobs.sync_jobs({"a": {"schedule": "every 5h"}, "c": {"when": {1, 2}}}, at(5))
    with pytest.raises(StoreError, match=r"sync_jobs defaults of 'a'.*not a mapping"):
        jobs.sync_jobs({"a": ["every 5h"]}, at(5))  # type: ignore[dict-item]
    assert jobs.list_jobs() == before


def test_records_are_copies(jobs: Store) -> None:
    job = jobs.get_job("a")
    assert job is not None
    job.defaults["schedule"] = "changed"
    run_id = enqueue(jobs, args={"k": [1]})
    run = jobs.get_run(run_id)
    assert run is not None
    run.args["k"].append(2)
    assert jobs.get_job("a") == jobs.list_jobs()[0]
    assert jobs.list_jobs()[0].defaults == {"schedule": "every 1h"}
    assert jobs.list_runs()[0].args == {"k": [1]}


# -- UpdateJob -------------------------------------------------------------------------------


def test_update_job_changes_only_what_is_given(jobs: Store) -> None:
    (first,) = jobs.apply([UpdateJob("a", at(1), paused=True, pause_note="maintenance")])
    assert first is not None
    assert (first.paused, first.pause_note, first.updated_at) == (True, "maintenance", at(1))
    assert first.override == {}
    (second,) = jobs.apply([UpdateJob("a", at(2), override={"timeout": "1h"}, next_fire_at=at(9))])
    assert second.paused is True
    assert second.pause_note == "maintenance"
    assert (second.override, second.next_fire_at, second.updated_at) == (
        {"timeout": "1h"},
        at(9),
        at(2),
    )
    (third,) = jobs.apply([UpdateJob("a", at(3), pause_note=None, next_fire_at=None)])
    assert (third.pause_note, third.next_fire_at, third.override) == (None, None, {"timeout": "1h"})
    assert jobs.get_job("a") == third
    assert jobs.get_job("a").created_at == T0  # type: ignore[union-attr]


def test_update_job_of_unknown_name_is_none(jobs: Store) -> None:
    assert jobs.apply([UpdateJob("nope", at(1), paused=True)]) == [None]
    assert jobs.get_job("nope") is None


def test_update_job_with_everything_unset_only_touches_updated_at(jobs: Store) -> None:
    before = jobs.get_job("a")
    (after,) = jobs.apply([UpdateJob("a", at(4))])
    assert before is not None
    assert after.updated_at == at(4)
    assert after == replace(before, updated_at=at(4))
    assert UpdateJob("a", at(4)).paused is UNSET


# -- next_fire_times -------------------------------------------------------------------------


def test_next_fire_times_skips_paused_jobs_and_jobs_without_one(store: Store) -> None:
    store.sync_jobs({name: {} for name in "abcd"}, T0)
    store.apply(
        [
            UpdateJob("a", T0, next_fire_at=at(30)),
            UpdateJob("b", T0, next_fire_at=at(10)),
            UpdateJob("c", T0, next_fire_at=at(5), paused=True),
            UpdateJob("d", T0, next_fire_at=at(10)),
        ]
    )
    assert store.next_fire_times() == [(at(10), "b"), (at(10), "d"), (at(30), "a")]


# -- Fire ------------------------------------------------------------------------------------


def test_fire_from_null_advances_and_creates_the_runs(jobs: Store) -> None:
    runs = (new("a", 0), new("a", 1, status=RunStatus.SKIPPED, note="overlap=skip"))
    (result,) = jobs.apply([Fire("a", None, at(2), runs)])
    assert isinstance(result, FireResult)
    assert result.advanced
    first, second = result.run_ids
    assert first is not None
    assert second is not None
    assert first < second
    assert jobs.get_job("a").next_fire_at == at(2)  # type: ignore[union-attr]
    queued, skipped = jobs.get_run(first), jobs.get_run(second)
    assert queued is not None
    assert skipped is not None
    assert (queued.status, queued.fire_time, queued.finished_at) == (RunStatus.QUEUED, at(0), None)
    assert (skipped.status, skipped.note, skipped.finished_at) == (
        RunStatus.SKIPPED,
        "overlap=skip",
        T0,
    )


def test_fire_with_a_stale_expectation_changes_nothing(jobs: Store) -> None:
    jobs.apply([Fire("a", None, at(2))])
    stale = [Fire("a", None, at(3), (new("a", 2),)), Fire("a", at(1), at(3), (new("a", 2),))]
    assert jobs.apply(stale) == [FireResult(False, (None,)), FireResult(False, (None,))]
    assert jobs.get_job("a").next_fire_at == at(2)  # type: ignore[union-attr]
    assert jobs.count_runs() == 0


def test_fire_compares_a_set_time_with_a_set_time(jobs: Store) -> None:
    jobs.apply([Fire("a", None, at(2))])
    # The same instant in another zone is the same expectation.
    other_zone = at(2).astimezone(ZoneInfo("Europe/Berlin"))
    (result,) = jobs.apply([Fire("a", other_zone, None, (new("a", 2),))])
    assert result.advanced
    assert jobs.get_job("a").next_fire_at is None  # type: ignore[union-attr]
    assert jobs.count_runs() == 1


def test_fire_of_an_unknown_job_does_not_advance(jobs: Store) -> None:
    assert jobs.apply([Fire("nope", None, at(1), (new("nope", 0),))]) == [
        FireResult(False, (None,))
    ]
    assert jobs.count_runs() == 0


def test_the_same_fire_twice_creates_its_run_once(jobs: Store) -> None:
    (first,) = jobs.apply([Fire("a", None, at(1), (new("a", 0),))])
    # A restarted node that lost track sets the fire time back and fires it again.
    jobs.apply([UpdateJob("a", at(1), next_fire_at=None)])
    (second,) = jobs.apply([Fire("a", None, at(1), (new("a", 0), new("a", 1)))])
    assert first.run_ids[0] is not None
    assert second.advanced
    assert second.run_ids[0] is None
    assert second.run_ids[1] is not None
    assert jobs.count_runs() == 2


def test_a_key_repeated_in_one_fire_creates_one_run(jobs: Store) -> None:
    (result,) = jobs.apply([Fire("a", None, at(1), (new("a", 0), new("a", 0), new("a", 5)))])
    first, repeat, other = result.run_ids
    assert first is not None
    assert other is not None
    assert repeat is None
    assert jobs.count_runs() == 2


def test_the_key_is_job_fire_time_reason_and_attempt(jobs: Store) -> None:
    runs = (
        new("a", 0),
        new("b", 0),
        new("a", 0, reason=Reason.CATCH_UP),
        new("a", 0, attempt=2),
        new("a", 0, attempt=2),
    )
    (result,) = jobs.apply([Fire("a", None, at(1), runs)])
    assert [run_id is not None for run_id in result.run_ids] == [True, True, True, True, False]


def test_fire_and_enqueue_of_one_key_in_one_apply(jobs: Store) -> None:
    results = jobs.apply(
        [
            Enqueue(new("a", 0, reason=Reason.RETRY, attempt=2)),
            Fire("a", None, at(1), (new("a", 0), new("a", 0, reason=Reason.RETRY, attempt=2))),
            Enqueue(new("a", 0)),
        ]
    )
    assert isinstance(results[0], int)
    assert results[1].run_ids[0] > results[0]
    assert results[1].run_ids[1] is None
    assert results[2] is None
    assert jobs.count_runs() == 2


def test_fire_with_many_runs_keeps_their_order(jobs: Store) -> None:
    runs = tuple(new("a", minute) for minute in range(600))
    (result,) = jobs.apply([Fire("a", None, at(600), runs)])
    ids = list(result.run_ids)
    assert None not in ids
    assert ids == sorted(ids)
    stored = jobs.list_runs("a", limit=1000)
    assert [run.fire_time for run in reversed(stored)] == [at(minute) for minute in range(600)]


def test_many_fires_in_one_apply(jobs: Store) -> None:
    jobs.sync_jobs({f"j{i}": {} for i in range(20)}, T0)
    fires = [Fire(f"j{i}", None, at(1), (new(f"j{i}", 0), new(f"j{i}", 0))) for i in range(20)]
    results = jobs.apply(fires)
    assert all(result.advanced for result in results)
    assert all(result.run_ids[0] is not None for result in results)
    assert all(result.run_ids[1] is None for result in results)
    assert jobs.count_runs() == 20
    assert [time for time, _ in jobs.next_fire_times()] == [at(1)] * 20


def test_new_run_fields_are_stored(jobs: Store) -> None:
    run = NewRun(
        job="a",
        reason=Reason.RETRY,
        queued_at=at(3),
        fire_time=at(1),
        not_before=at(4) + timedelta(microseconds=7),
        attempt=3,
        args={"ids": [1, 2], "deep": {"x": None}},
        note="retry 3 of 5",
        retry_of=41,
    )
    (run_id,) = jobs.apply([Enqueue(run)])
    stored = jobs.get_run(run_id)
    assert stored is not None
    assert (stored.job, stored.reason, stored.status) == ("a", Reason.RETRY, RunStatus.QUEUED)
    assert (stored.queued_at, stored.fire_time, stored.not_before) == (
        at(3),
        at(1),
        at(4) + timedelta(microseconds=7),
    )
    assert (stored.attempt, stored.args, stored.note, stored.retry_of) == (
        3,
        {"ids": [1, 2], "deep": {"x": None}},
        "retry 3 of 5",
        41,
    )
    assert (stored.started_at, stored.finished_at, stored.node) == (None, None, None)
    assert (stored.progress_done, stored.progress_total, stored.progress_note) == (None,) * 3
    assert (stored.error, stored.traceback, stored.log, stored.cancel_requested) == (
        None,
        None,
        "",
        False,
    )
    assert stored.duration is None


@pytest.mark.parametrize("status", [RunStatus.RUNNING, RunStatus.SUCCEEDED])
def test_a_new_run_is_queued_or_skipped(jobs: Store, status: RunStatus) -> None:
    with pytest.raises(StoreError, match=r"operation 0 \(Enqueue\)\.run\.status"):
        jobs.apply([Enqueue(new("a", status=status))])
    assert jobs.count_runs() == 0
