"""Contract: jobs added and removed at run time, sync's kinds and `update`, nodes' registered
jobs, and what a job's history says (job_stats); on every store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rota.errors import StoreError, UnknownJobError
from rota.store import (
    AddJob,
    Claim,
    Enqueue,
    Finish,
    JobKind,
    JobStats,
    NodeRecord,
    Removal,
    RemoveJob,
    RunStatus,
    Store,
    UpdateJob,
)

from .conftest import T0, at, enqueue, finished, new, running

# -- AddJob and RemoveJob --------------------------------------------------------------------


def test_add_job_creates_a_row_once(jobs: Store) -> None:
    add = AddJob("c", JobKind.RUNTIME, "app.tasks:send", {"args": (1,)}, at(1), at(5))
    (added,) = jobs.apply([add])
    assert added is not None
    assert (added.name, added.kind, added.target, added.defaults) == (
        "c",
        JobKind.RUNTIME,
        "app.tasks:send",
        {"args": [1]},
    )
    assert (added.override, added.paused, added.pause_note) == ({}, False, None)
    assert (added.next_fire_at, added.created_at, added.updated_at) == (at(5), at(1), at(1))
    assert jobs.get_job("c") == added
    assert jobs.apply([AddJob("c", JobKind.CODE, None, {}, at(2))]) == [None]
    assert jobs.get_job("c") == added
    assert (at(5), "c") in jobs.next_fire_times()
    # Usable at once, in the same transaction too.
    (ok, run_id) = jobs.apply([AddJob("d", JobKind.CODE, None, {}, at(1)), Enqueue(new("d"))])
    assert ok is not None
    assert isinstance(run_id, int)


def test_remove_job_deletes_its_runs_unless_one_is_running(jobs: Store) -> None:
    done = finished(jobs, RunStatus.SUCCEEDED, at(1), "a")
    queued = enqueue(jobs, "a")
    busy = running(jobs, "a")
    other = enqueue(jobs, "b")
    assert jobs.apply([RemoveJob("a", at(2))]) == [Removal.RUNNING]
    assert jobs.get_job("a") is not None
    assert jobs.count_runs("a") == 3
    jobs.apply([Finish(busy, RunStatus.SUCCEEDED, at(3))])
    assert jobs.apply([RemoveJob("a", at(4)), RemoveJob("a", at(4))]) == [
        Removal.REMOVED,
        Removal.UNKNOWN,
    ]
    assert jobs.get_job("a") is None
    assert [jobs.get_run(i) for i in (done, queued, busy)] == [None, None, None]
    assert jobs.get_run(other) is not None
    assert [job.name for job in jobs.list_jobs()] == ["b"]
    with pytest.raises(UnknownJobError):
        jobs.apply([Enqueue(new("a"))])
    # The name can be used again; its old fire times are free again.
    jobs.apply([AddJob("a", JobKind.CODE, None, {}, at(5))])
    assert jobs.apply([Enqueue(new("a", 0))])[0] is not None


def test_a_job_removed_in_a_transaction_is_unknown_later_in_it(jobs: Store) -> None:
    with pytest.raises(UnknownJobError):
        jobs.apply([RemoveJob("a", at(1)), Enqueue(new("a"))])
    assert jobs.get_job("a") is not None


def test_a_job_removed_through_another_store_object_is_unknown_here(jobs: Store) -> None:
    from .test_notices import other_handle

    enqueue(jobs, "a")  # this object now knows "a"
    other = other_handle(jobs)
    try:
        assert other.apply([RemoveJob("a", at(1))]) == [Removal.REMOVED]
        with pytest.raises(UnknownJobError):
            jobs.apply([Enqueue(new("a"))])
    finally:
        if other is not jobs:
            other.close()


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (AddJob("", JobKind.CODE, None, {}, T0), r"\(AddJob\)\.name: '' is not a name"),
        (AddJob("c", "weird", None, {}, T0), r"\(AddJob\)\.kind: 'weird' is not one of"),  # type: ignore[arg-type]
        (AddJob("c", JobKind.RUNTIME, None, {}, T0), r"\.target: a runtime job needs a target"),
        (AddJob("c", JobKind.RUNTIME, "nope", {}, T0), r"\.target: 'nope' is not an import"),
        (AddJob("c", JobKind.CODE, None, [], T0), r"\(AddJob\)\.defaults: \[\] is not a"),  # type: ignore[arg-type]
        (AddJob("c", JobKind.CODE, None, {}, T0.replace(tzinfo=None)), r"\(AddJob\)\.at"),
        (RemoveJob("a\x00", T0), r"\(RemoveJob\)\.name: .* contains a NUL"),
        (RemoveJob("a", T0.replace(tzinfo=None)), r"\(RemoveJob\)\.at"),
    ],
)
def test_bad_job_operations_are_named(jobs: Store, operation: Any, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        jobs.apply([Enqueue(new("a")), operation])
    assert jobs.count_runs() == 0


# -- sync_jobs: kinds and update ---------------------------------------------------------------


def test_sync_gives_kinds_and_never_changes_one(store: Store) -> None:
    store.apply([AddJob("r", JobKind.RUNTIME, "app:r", {"v": 0}, T0)])
    result = store.sync_jobs(
        {"c": {}, "rota-prune": {}, "r": {"v": 1}}, T0, internal={"rota-prune"}
    )
    kinds = {job.name: (job.kind, job.defaults) for job in result.jobs}
    assert kinds == {
        "c": (JobKind.CODE, {}),
        "r": (JobKind.RUNTIME, {"v": 0}),  # a runtime job under a code name: the caller's call
        "rota-prune": (JobKind.INTERNAL, {}),
    }
    assert result.replaced == {}


def test_sync_without_update_only_adds(jobs: Store) -> None:
    result = jobs.sync_jobs({"a": {"changed": True}, "c": {}}, at(5), update=False)
    assert result.replaced == {}
    assert [job.name for job in result.jobs] == ["a", "b", "c"]
    assert jobs.get_job("a").defaults == {"schedule": "every 1h"}  # type: ignore[union-attr]
    assert jobs.get_job("c").kind is JobKind.CODE  # type: ignore[union-attr]


@pytest.mark.parametrize("internal", ["rota-prune", 5, [5]])
def test_sync_refuses_bad_internal_names(store: Store, internal: Any) -> None:
    with pytest.raises(StoreError, match=r"sync_jobs\.internal"):
        store.sync_jobs({"a": {}}, T0, internal=internal)


# -- registrations ---------------------------------------------------------------------------


def test_nodes_register_their_jobs(store: Store) -> None:
    assert store.registered_jobs([]) == set()
    store.register_node(NodeRecord("n1", "h", 1, T0, T0), ["a", "b", "a"])
    store.register_node(NodeRecord("n2", "h", 2, T0, T0), ("b", "c"))
    store.register_node(NodeRecord("n3", "h", 3, T0, T0))
    assert store.registered_jobs(["n1"]) == {"a", "b"}
    assert store.registered_jobs({"n1", "n2", "n3", "unknown"}) == {"a", "b", "c"}
    assert store.registered_jobs(["n3"]) == set()
    store.register_node(NodeRecord("n1", "h", 1, at(1), at(1)), ["z"])  # replaced
    assert store.registered_jobs(["n1"]) == {"z"}
    assert [node.id for node in store.list_nodes()] == ["n2", "n3", "n1"]
    with pytest.raises(StoreError, match=r"register_node\.jobs: give a collection of names"):
        store.register_node(NodeRecord("n4", "h", 4, T0, T0), "abc")
    with pytest.raises(StoreError, match=r"registered_jobs\.node_ids: 4 is not text"):
        store.registered_jobs([4])  # type: ignore[list-item]


# -- job_stats -------------------------------------------------------------------------------


def run_for(store: Store, job: str, status: RunStatus, seconds: float) -> int:
    """A run of `job` that started at T0 and ended `seconds` later with `status`."""
    run_id = enqueue(store, job)
    store.apply([Claim(run_id, "n1", T0)])
    store.apply([Finish(run_id, status, T0 + timedelta(seconds=seconds))])
    return run_id


def test_job_stats_of_jobs_without_history(jobs: Store) -> None:
    empty = JobStats(None, None, None, 0, None, None)
    assert jobs.job_stats() == {"a": empty, "b": empty}
    assert jobs.job_stats(["b", "nope"]) == {"b": empty}
    assert jobs.job_stats([]) == {}
    with pytest.raises(StoreError, match=r"job_stats\.names"):
        jobs.job_stats("a")


def test_job_stats_say_what_a_history_says(jobs: Store) -> None:
    S = RunStatus
    run_for(jobs, "a", S.FAILED, 1)
    success = run_for(jobs, "a", S.SUCCEEDED, 10)
    run_for(jobs, "a", S.FAILED, 3)
    run_for(jobs, "a", S.CANCELLED, 4)  # counts for neither side
    jobs.apply([Enqueue(new("a", 0, status=S.SKIPPED))])
    timed_out = run_for(jobs, "a", S.TIMED_OUT, 5)
    enqueue(jobs, "a")  # active: not finished
    stats = jobs.job_stats(["a"])["a"]
    assert stats.last_run is not None
    assert stats.last_run.id == timed_out
    assert stats.last_success == jobs.get_run(success)
    assert stats.last_failure == jobs.get_run(timed_out)
    assert stats.consecutive_failures == 2
    assert stats.last_duration == timedelta(seconds=5)
    assert stats.median_duration == timedelta(seconds=10)


def test_the_median_is_of_the_newest_twenty_successes(jobs: Store) -> None:
    for seconds in [1000] * 5 + list(range(1, 21)):
        run_for(jobs, "b", RunStatus.SUCCEEDED, seconds)
    queued_then_finished = enqueue(jobs, "b")  # never started: no duration
    jobs.apply([Finish(queued_then_finished, RunStatus.SUCCEEDED, at(1))])
    stats = jobs.job_stats()["b"]
    # The newest 20 are the one without a duration and 2..20: median of 2..20 is 11.
    assert stats.median_duration == timedelta(seconds=11)
    assert stats.last_duration is None
    assert stats.consecutive_failures == 0
    run_for(jobs, "b", RunStatus.INTERRUPTED, 1)
    assert jobs.job_stats()["b"].consecutive_failures == 1
    assert jobs.job_stats()["a"] == JobStats(None, None, None, 0, None, None)


def test_an_even_count_has_the_mean_of_the_middle_two_as_median(jobs: Store) -> None:
    for seconds in (1, 2, 3, 10):
        run_for(jobs, "a", RunStatus.SUCCEEDED, seconds)
    assert jobs.job_stats()["a"].median_duration == timedelta(seconds=2.5)


def test_a_paused_job_keeps_its_stats(jobs: Store) -> None:
    run_for(jobs, "a", RunStatus.FAILED, 1)
    jobs.apply([UpdateJob("a", at(1), paused=True)])
    assert jobs.job_stats()["a"].consecutive_failures == 1


def test_another_jobs_success_does_not_end_a_jobs_failures(jobs: Store) -> None:
    # Found by trying rota: the success looked for was any job's, not the job's own.
    for _ in range(3):
        run_for(jobs, "a", RunStatus.FAILED, 1)
    run_for(jobs, "b", RunStatus.SUCCEEDED, 1)
    stats = jobs.job_stats()
    assert (stats["a"].consecutive_failures, stats["b"].consecutive_failures) == (3, 0)
    run_for(jobs, "a", RunStatus.SUCCEEDED, 1)
    run_for(jobs, "b", RunStatus.FAILED, 1)
    stats = jobs.job_stats()
    assert (stats["a"].consecutive_failures, stats["b"].consecutive_failures) == (0, 1)
