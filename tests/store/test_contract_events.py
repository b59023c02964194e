"""Contract: every committed change is one event, written in its transaction (decision 0006),
read back in id order by `events_after`, pruned by `prune_events`; on every store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rota.errors import StoreError, UnknownJobError
from rota.store import (
    AddJob,
    Claim,
    Enqueue,
    EventKind,
    EventRecord,
    Finish,
    Fire,
    InterruptRuns,
    JobKind,
    Progress,
    RemoveJob,
    RequestCancel,
    RunStatus,
    Store,
    UpdateJob,
)

from .conftest import T0, at, enqueue, new, running

K = EventKind


def since(store: Store, after: int) -> list[tuple[K, str | None, int | None, dict[str, Any]]]:
    """(kind, job, run id, data) of the events after id `after`."""
    return [(e.kind, e.job, e.run_id, e.data) for e in store.events_after(after)]


def test_a_sync_announces_added_jobs_and_replaced_defaults(store: Store) -> None:
    assert store.last_event_id() == 0
    assert store.events_after(0) == []
    store.sync_jobs({"a": {"v": 1}, "rota-prune": {}}, T0, internal={"rota-prune"})
    assert sorted(since(store, 0)) == [
        (K.JOB_ADDED, "a", None, {"kind": "code"}),
        (K.JOB_ADDED, "rota-prune", None, {"kind": "internal"}),
    ]
    last = store.last_event_id()
    store.sync_jobs({"a": {"v": 1}}, at(1))  # nothing changed: nothing said
    assert store.last_event_id() == last
    store.sync_jobs({"a": {"v": 2}}, at(2))
    assert since(store, last) == [(K.JOB_CHANGED, "a", None, {"fields": ["defaults"]})]
    (event,) = store.events_after(last)
    assert (event.at, event.origin) == (at(2), store.origin)


def test_created_runs_are_queued_or_skipped_events(jobs: Store) -> None:
    last = jobs.last_event_id()
    fired = jobs.apply(
        [
            Fire(
                "a",
                None,
                at(60),
                (
                    new("a", 0, not_before=at(1)),
                    new("a", 0),
                    new("a", 1, status=RunStatus.SKIPPED, note="busy"),
                ),
            )
        ]
    )[0]
    manual = enqueue(jobs, "b")
    first, _, skipped = fired.run_ids
    assert since(jobs, last) == [
        (
            K.RUN_QUEUED,
            "a",
            first,
            {
                "reason": "schedule",
                "attempt": 1,
                "fire_time": "2026-11-23T10:00:00+00:00",
                "not_before": "2026-11-23T10:01:00+00:00",
            },
        ),
        # The second run of the same key was not created: no event.
        (K.RUN_SKIPPED, "a", skipped, {"reason": "schedule", "note": "busy"}),
        (
            K.RUN_QUEUED,
            "b",
            manual,
            {"reason": "manual", "attempt": 1, "fire_time": None, "not_before": None},
        ),
    ]
    last = jobs.last_event_id()
    assert jobs.apply([Fire("a", None, at(61), (new("a", 5),))])[0].advanced is False
    assert jobs.last_event_id() == last  # a Fire that did not advance changed nothing


def test_a_runs_life_is_told_with_its_job_looked_up(jobs: Store) -> None:
    run_id = enqueue(jobs, "b", attempt=2)
    last = jobs.last_event_id()
    jobs.apply([Claim(run_id, "n1", at(1)), Claim(run_id, "n2", at(1))])  # the second fails
    jobs.apply([Progress(run_id, 1, 4, "a quarter")])
    jobs.apply([RequestCancel(run_id, at(2), "enough")])
    jobs.apply([Finish(run_id, RunStatus.CANCELLED, at(3))])
    jobs.apply([Finish(run_id, RunStatus.FAILED, at(4)), Progress(run_id, 2, 4, None)])
    assert since(jobs, last) == [
        (K.RUN_STARTED, "b", run_id, {"node": "n1", "attempt": 2}),
        (K.RUN_PROGRESS, "b", run_id, {"done": 1.0, "total": 4.0, "note": "a quarter"}),
        (K.RUN_CANCELLING, "b", run_id, {"note": "enough"}),
        # The note the run has: the cancel's, which the Finish left as it was.
        (K.RUN_CANCELLED, "b", run_id, {"note": "enough"}),
    ]


@pytest.mark.parametrize(
    ("status", "kind", "data"),
    [
        (RunStatus.SUCCEEDED, K.RUN_FINISHED, {"status": "succeeded", "note": "n", "error": None}),
        (RunStatus.FAILED, K.RUN_FINISHED, {"status": "failed", "note": "n", "error": "E"}),
        (RunStatus.TIMED_OUT, K.RUN_FINISHED, {"status": "timed-out", "note": "n", "error": None}),
        (RunStatus.SKIPPED, K.RUN_SKIPPED, {"reason": "manual", "note": "n"}),
        (RunStatus.CANCELLED, K.RUN_CANCELLED, {"note": "n"}),
        (RunStatus.INTERRUPTED, K.RUN_INTERRUPTED, {"note": "n"}),
    ],
)
def test_a_finish_is_told_by_its_status(
    jobs: Store, status: RunStatus, kind: K, data: dict[str, Any]
) -> None:
    run_id = running(jobs, "a")
    last = jobs.last_event_id()
    error = "E" if status is RunStatus.FAILED else None
    # Two finishes at once take the batched path; the second run stays queued.
    other = enqueue(jobs, "b")
    last = jobs.last_event_id()
    jobs.apply(
        [Finish(run_id, status, at(5), note="n", error=error), Finish(other + 99, status, at(5))]
    )
    assert since(jobs, last) == [(kind, "a", run_id, data)]
    assert jobs.events_after(last)[0].at == at(5)


def test_a_cancel_of_a_queued_run_cancels_it_and_of_a_finished_one_says_nothing(
    jobs: Store,
) -> None:
    queued = enqueue(jobs, "a")
    last = jobs.last_event_id()
    jobs.apply([RequestCancel(queued, at(1), "not now"), RequestCancel(queued, at(2), "again")])
    jobs.apply([RequestCancel(10**6, at(2), "unknown")])
    assert since(jobs, last) == [(K.RUN_CANCELLED, "a", queued, {"note": "not now"})]


def test_interrupted_runs_are_one_event_each(jobs: Store) -> None:
    ids = [running(jobs, "a", "n1"), running(jobs, "b", "n1"), running(jobs, "a", "n2")]
    last = jobs.last_event_id()
    jobs.apply([InterruptRuns(("n1",), at(3), "node died")])
    assert since(jobs, last) == [
        (K.RUN_INTERRUPTED, "a", ids[0], {"note": "node died"}),
        (K.RUN_INTERRUPTED, "b", ids[1], {"note": "node died"}),
    ]


def test_job_changes_pauses_and_resumes(jobs: Store) -> None:
    last = jobs.last_event_id()
    jobs.apply(
        [
            UpdateJob("a", at(1), paused=True, pause_note="maintenance"),
            UpdateJob("a", at(2), paused=False, pause_note=None),
            UpdateJob("b", at(3), override={"x": 1}, next_fire_at=at(9)),
            UpdateJob("missing", at(4), paused=True),
        ]
    )
    assert since(jobs, last) == [
        (K.JOB_PAUSED, "a", None, {"note": "maintenance"}),
        (K.JOB_RESUMED, "a", None, {"note": None}),
        (K.JOB_CHANGED, "b", None, {"fields": ["override", "next_fire_at"]}),
    ]


def test_adding_and_removing_jobs_is_told(jobs: Store) -> None:
    enqueue(jobs, "b")
    last = jobs.last_event_id()
    jobs.apply(
        [
            AddJob("c", JobKind.RUNTIME, "app.tasks:send", {}, at(1)),
            AddJob("c", JobKind.CODE, None, {}, at(1)),  # exists: nothing
            RemoveJob("b", at(2)),
            RemoveJob("b", at(2)),  # gone: nothing
        ]
    )
    assert since(jobs, last) == [
        (K.JOB_ADDED, "c", None, {"kind": "runtime"}),
        (K.JOB_REMOVED, "b", None, {"runs": 1}),
    ]


def test_a_failed_transaction_writes_no_events(jobs: Store) -> None:
    last = jobs.last_event_id()
    with pytest.raises(UnknownJobError):
        jobs.apply([UpdateJob("a", at(1), paused=True), Enqueue(new("nope"))])
    assert jobs.events_after(last) == []
    assert jobs.last_event_id() == last


def test_events_come_in_id_order_in_pages_without_one_origin(jobs: Store) -> None:
    for _ in range(5):
        enqueue(jobs)
    everything = jobs.events_after(0)
    ids = [event.id for event in everything]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids) == 7
    assert all(isinstance(event, EventRecord) for event in everything)
    assert jobs.events_after(ids[2], limit=2) == everything[3:5]
    assert jobs.events_after(ids[-1]) == []
    assert jobs.events_after(0, limit=0) == []
    assert jobs.events_after(0, exclude_origin=jobs.origin) == []
    assert jobs.events_after(0, exclude_origin="someone else") == everything
    assert len(jobs.origin) == 32
    assert jobs.origin != type(jobs).__name__


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.events_after(-1), "after_id: -1 is not a whole number of at least 0"),
        (lambda s: s.events_after("1"), "after_id: '1' is not a whole number"),
        (lambda s: s.events_after(2**63), "after_id: 9223372036854775808 is more than"),
        (lambda s: s.events_after(0, limit=-1), "limit: -1 is not"),
        (lambda s: s.events_after(0, exclude_origin=5), "exclude_origin: 5 is not text"),
        (lambda s: s.prune_events(T0.replace(tzinfo=None), 0, 1), "prune_events.before"),
        (lambda s: s.prune_events(T0, -1, 1), "prune_events.keep: -1"),
        (lambda s: s.prune_events(T0, 0, 2**63), "prune_events.batch: 9223372036854775808"),
    ],
)
def test_bad_event_arguments_are_named(jobs: Store, call: Any, field: str) -> None:
    with pytest.raises(StoreError, match=field):
        call(jobs)


def test_prune_events_keeps_the_newest_and_the_recent(store: Store) -> None:
    store.sync_jobs({"a": {}}, T0)  # event 1, at T0
    for minute in range(1, 10):
        store.apply([Enqueue(new("a", queued_at=at(minute)))])  # events 2..10
    ids = [event.id for event in store.events_after(0)]
    assert store.prune_events(at(5), keep=3, batch=2) == 2  # the two oldest
    assert [event.id for event in store.events_after(0)] == ids[2:]
    assert store.prune_events(at(5), keep=3, batch=100) == 3  # those before minute 5
    assert [event.id for event in store.events_after(0)] == ids[5:]
    assert store.prune_events(at(60), keep=3, batch=100) == 2  # all but the newest 3
    assert [event.id for event in store.events_after(0)] == ids[7:]
    assert store.prune_events(at(60), keep=3, batch=100) == 0
    assert store.prune_events(at(60), keep=0, batch=0) == 0
    assert store.prune_events(at(60), keep=0, batch=100) == 3
    assert store.last_event_id() == 0
    # Ids are never reused, even once every event went.
    store.apply([Enqueue(new("a"))])
    assert store.last_event_id() == ids[-1] + 1


def test_event_times_are_the_operations(jobs: Store) -> None:
    run_id = enqueue(jobs, queued_at=at(7))
    jobs.apply([Claim(run_id, "n1", at(8) + timedelta(microseconds=5))])
    times = [event.at for event in jobs.events_after(2)]
    assert times == [at(7), at(8) + timedelta(microseconds=5)]
