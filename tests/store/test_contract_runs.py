"""Contract: creating and changing runs (Enqueue, Claim, Finish, Progress, RequestCancel,
InterruptRuns) and reading them (list_runs, active_runs, job_stats, count_runs)."""

from __future__ import annotations

import pytest

from rota.errors import StoreError, UnknownJobError
from rota.store import (
    Claim,
    Enqueue,
    Finish,
    InterruptRuns,
    Progress,
    Reason,
    RequestCancel,
    RunStatus,
    Store,
)

from .conftest import T0, at, enqueue, finished, new, running

# -- Enqueue ---------------------------------------------------------------------------------


def test_enqueue_conflicts_only_on_the_same_key(jobs: Store) -> None:
    retry = new("a", 0, reason=Reason.RETRY, attempt=2)
    first, again = jobs.apply([Enqueue(retry), Enqueue(retry)])
    assert isinstance(first, int)
    assert again is None
    assert jobs.apply([Enqueue(retry)]) == [None]
    # Runs without a fire time have no key: each one is created.
    manual = jobs.apply([Enqueue(new("a")), Enqueue(new("a"))])
    assert None not in manual
    assert jobs.count_runs() == 3


def test_enqueue_for_an_unknown_job_fails_and_writes_nothing(jobs: Store) -> None:
    with pytest.raises(UnknownJobError, match="nope"):
        jobs.apply([Enqueue(new("a")), Enqueue(new("nope"))])
    assert jobs.count_runs() == 0


def test_ids_grow_in_the_order_runs_are_created(jobs: Store) -> None:
    ids = [enqueue(jobs, job) for job in "abab"]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4


def test_enqueue_refuses_arguments_that_are_not_json(jobs: Store) -> None:
    with pytest.raises(StoreError, match=r"run\.args.*not JSON"):
        jobs.apply([Enqueue(new("a", args={"when": T0}))])
    with pytest.raises(StoreError, match=r"run\.args.*not JSON"):
        jobs.apply([Enqueue(new("a", args={"x": float("nan")}))])
    assert jobs.count_runs() == 0


# -- Claim -----------------------------------------------------------------------------------


def test_claim_starts_a_queued_run_once(jobs: Store) -> None:
    run_id = enqueue(jobs)
    assert jobs.apply([Claim(run_id, "n1", at(1)), Claim(run_id, "n2", at(2))]) == [True, False]
    run = jobs.get_run(run_id)
    assert run is not None
    assert (run.status, run.node, run.started_at) == (RunStatus.RUNNING, "n1", at(1))


def test_claim_of_unknown_or_finished_runs_fails(jobs: Store) -> None:
    done = finished(jobs, RunStatus.SUCCEEDED, at(2))
    assert jobs.apply([Claim(done, "n1", at(3)), Claim(9999, "n1", at(3))]) == [False, False]
    assert jobs.get_run(done).status is RunStatus.SUCCEEDED  # type: ignore[union-attr]


# -- Finish ----------------------------------------------------------------------------------


def test_finish_records_the_outcome_and_keeps_unset_fields(jobs: Store) -> None:
    run_id = running(jobs, note="queued by hand")
    jobs.apply([Progress(run_id, 3, 10, "item 3", log="line 1\n")])
    (done,) = jobs.apply(
        [Finish(run_id, RunStatus.FAILED, at(5), error="ValueError: x", traceback="Traceback")]
    )
    assert done is True
    run = jobs.get_run(run_id)
    assert run is not None
    assert (run.status, run.finished_at, run.duration) == (
        RunStatus.FAILED,
        at(5),
        at(5) - at(1),
    )
    assert (run.error, run.traceback) == ("ValueError: x", "Traceback")
    assert (run.note, run.log) == ("queued by hand", "line 1\n")
    assert (run.progress_done, run.progress_total, run.progress_note) == (3.0, 10.0, "item 3")


def test_finish_sets_given_fields_none_included(jobs: Store) -> None:
    run_id = running(jobs, note="old")
    jobs.apply([Progress(run_id, 1, 2, "half")])
    jobs.apply(
        [
            Finish(
                run_id,
                RunStatus.SUCCEEDED,
                at(2),
                note=None,
                log="all",
                progress_done=2,
                progress_total=None,
                progress_note=None,
            )
        ]
    )
    run = jobs.get_run(run_id)
    assert run is not None
    assert (run.note, run.log) == (None, "all")
    assert (run.progress_done, run.progress_total, run.progress_note) == (2.0, None, None)
    assert isinstance(run.progress_done, float)


def test_finish_works_from_queued_and_only_once(jobs: Store) -> None:
    run_id = enqueue(jobs)
    assert jobs.apply([Finish(run_id, RunStatus.SKIPPED, at(1), note="no TMDb key")]) == [True]
    assert jobs.apply([Finish(run_id, RunStatus.FAILED, at(2), note="late")]) == [False]
    assert jobs.apply([Finish(9999, RunStatus.FAILED, at(2))]) == [False]
    run = jobs.get_run(run_id)
    assert run is not None
    assert (run.status, run.note, run.finished_at, run.started_at) == (
        RunStatus.SKIPPED,
        "no TMDb key",
        at(1),
        None,
    )


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.RUNNING, "done"])
def test_finish_takes_a_finished_status_only(jobs: Store, status: RunStatus) -> None:
    run_id = running(jobs)
    with pytest.raises(StoreError, match=r"operation 1 \(Finish\)\.status"):
        jobs.apply([Progress(run_id, 1, 2, None), Finish(run_id, status, at(2))])
    assert jobs.get_run(run_id).progress_done is None  # type: ignore[union-attr]


# -- Progress --------------------------------------------------------------------------------


def test_progress_is_recorded_while_running_only(jobs: Store) -> None:
    queued, active = enqueue(jobs), running(jobs)
    done = finished(jobs, RunStatus.SUCCEEDED, at(3))
    results = jobs.apply(
        [
            Progress(queued, 1, 2, None),
            Progress(active, 5, None, "counting", log="a\n"),
            Progress(done, 1, 1, None),
            Progress(9999, 1, 1, None),
        ]
    )
    assert results == [False, True, False, False]
    jobs.apply([Progress(active, 6, 8, None)])
    run = jobs.get_run(active)
    assert run is not None
    assert (run.progress_done, run.progress_total, run.progress_note, run.log) == (
        6.0,
        8.0,
        None,
        "a\n",
    )
    assert jobs.get_run(queued).progress_done is None  # type: ignore[union-attr]


# -- RequestCancel ---------------------------------------------------------------------------


def test_request_cancel_of_a_queued_run_cancels_it(jobs: Store) -> None:
    run_id = enqueue(jobs)
    assert jobs.apply([RequestCancel(run_id, at(2), "cancelled by an admin")]) == [RunStatus.QUEUED]
    run = jobs.get_run(run_id)
    assert run is not None
    assert (run.status, run.finished_at, run.note, run.cancel_requested) == (
        RunStatus.CANCELLED,
        at(2),
        "cancelled by an admin",
        False,
    )


def test_request_cancel_of_a_running_run_asks_its_node(jobs: Store) -> None:
    run_id = running(jobs)
    assert jobs.apply([RequestCancel(run_id, at(2), "replaced")]) == [RunStatus.RUNNING]
    run = jobs.get_run(run_id)
    assert run is not None
    assert (run.status, run.cancel_requested, run.finished_at) == (RunStatus.RUNNING, True, None)
    assert run.note == "replaced"  # for a node that learns of it by polling


def test_request_cancel_leaves_finished_and_unknown_runs(jobs: Store) -> None:
    done = finished(jobs, RunStatus.FAILED, at(2))
    before = jobs.get_run(done)
    assert jobs.apply([RequestCancel(done, at(3), "x"), RequestCancel(9999, at(3), "x")]) == [
        RunStatus.FAILED,
        None,
    ]
    assert jobs.get_run(done) == before


# -- InterruptRuns ---------------------------------------------------------------------------


def test_interrupt_runs_marks_the_running_runs_of_the_nodes(jobs: Store) -> None:
    first = running(jobs, node="dead")
    other_node = running(jobs, node="alive")
    queued = enqueue(jobs)
    second = running(jobs, "b", node="dead")
    also_dead = running(jobs, node="gone")
    done = finished(jobs, RunStatus.SUCCEEDED, at(2), node="dead")
    (changed,) = jobs.apply([InterruptRuns(("dead", "gone"), at(9), "node died")])
    assert changed == [first, second, also_dead]
    for run_id in changed:
        run = jobs.get_run(run_id)
        assert run is not None
        assert (run.status, run.finished_at, run.note) == (
            RunStatus.INTERRUPTED,
            at(9),
            "node died",
        )
    assert jobs.get_run(other_node).status is RunStatus.RUNNING  # type: ignore[union-attr]
    assert jobs.get_run(queued).status is RunStatus.QUEUED  # type: ignore[union-attr]
    assert jobs.get_run(done).status is RunStatus.SUCCEEDED  # type: ignore[union-attr]
    assert jobs.apply(
        [InterruptRuns(("dead",), at(10), "again"), InterruptRuns((), at(10), "")]
    ) == [
        [],
        [],
    ]


# -- reading runs ----------------------------------------------------------------------------


def test_list_runs_newest_first_with_filters(jobs: Store) -> None:
    a1 = finished(jobs, RunStatus.SUCCEEDED, at(2))
    b1 = enqueue(jobs, "b")
    a2 = finished(jobs, RunStatus.FAILED, at(3))
    a3 = enqueue(jobs)
    assert [run.id for run in jobs.list_runs()] == [a3, a2, b1, a1]
    assert [run.id for run in jobs.list_runs("a")] == [a3, a2, a1]
    assert [run.id for run in jobs.list_runs("nope")] == []
    failed_or_queued = {RunStatus.FAILED, RunStatus.QUEUED}
    assert [run.id for run in jobs.list_runs(statuses=failed_or_queued)] == [a3, a2, b1]
    assert [run.id for run in jobs.list_runs("a", failed_or_queued)] == [a3, a2]
    assert jobs.list_runs(statuses=[]) == []
    assert jobs.list_runs(limit=0) == []


def test_list_runs_pages_by_id(jobs: Store) -> None:
    ids = [enqueue(jobs, "ab"[i % 2]) for i in range(25)]
    pages: list[list[int]] = []
    before: int | None = None
    while True:
        page = [run.id for run in jobs.list_runs("a", limit=5, before_id=before)]
        if not page:
            break
        pages.append(page)
        before = page[-1]
    assert [len(page) for page in pages] == [5, 5, 3]
    assert [run_id for page in pages for run_id in page] == sorted(ids[::2], reverse=True)


def test_list_runs_checks_its_arguments(jobs: Store) -> None:
    with pytest.raises(StoreError, match="limit"):
        jobs.list_runs(limit=-1)
    with pytest.raises(StoreError, match="statuses: 'done' is not one of"):
        jobs.list_runs(statuses=["done"])  # type: ignore[list-item]


def test_active_runs_oldest_first(jobs: Store) -> None:
    q1 = enqueue(jobs)
    r1 = running(jobs, "b")
    finished(jobs, RunStatus.SUCCEEDED, at(2))
    jobs.apply([Enqueue(new("a", 0, status=RunStatus.SKIPPED))])
    q2 = enqueue(jobs, "b")
    assert [run.id for run in jobs.active_runs()] == [q1, r1, q2]
    assert [run.id for run in jobs.active_runs("b")] == [r1, q2]
    assert jobs.active_runs("nope") == []


def test_the_last_run_leaves_out_skipped_and_active_runs(jobs: Store) -> None:
    assert {name: stats.last_run for name, stats in jobs.job_stats().items()} == {
        "a": None,
        "b": None,
    }
    finished(jobs, RunStatus.SUCCEEDED, at(2))
    newest_a = finished(jobs, RunStatus.CANCELLED, at(1))
    jobs.apply([Enqueue(new("a", 0, status=RunStatus.SKIPPED))])
    enqueue(jobs)
    running(jobs)
    jobs.apply([Enqueue(new("b", 0, status=RunStatus.SKIPPED))])
    last = {name: stats.last_run for name, stats in jobs.job_stats().items()}
    assert last["b"] is None
    assert last["a"] is not None
    assert last["a"].id == newest_a
    assert last["a"] == jobs.get_run(newest_a)


def test_count_runs(jobs: Store) -> None:
    assert jobs.count_runs() == 0
    for job in "aab":
        enqueue(jobs, job)
    jobs.apply([Enqueue(new("b", 0, status=RunStatus.SKIPPED))])
    assert (jobs.count_runs(), jobs.count_runs("a"), jobs.count_runs("b")) == (4, 2, 2)
    assert jobs.count_runs("nope") == 0


def test_get_run_of_unknown_id(jobs: Store) -> None:
    assert jobs.get_run(12345) is None
    assert jobs.get_run(0) is None


def test_a_claim_with_a_limit_counts_the_jobs_running_runs(jobs: Store) -> None:
    first, second, third, other = (
        enqueue(jobs, "a"),
        enqueue(jobs, "a"),
        enqueue(jobs, "a"),
        enqueue(jobs, "b"),
    )
    # In one transaction: a claim counts the one before it.
    assert jobs.apply(
        [Claim(first, "n1", at(1), limit=1), Claim(second, "n2", at(1), limit=1)]
    ) == [True, False]
    assert jobs.apply([Claim(other, "n2", at(1), limit=1)]) == [True]  # another job's count
    assert jobs.apply([Claim(second, "n2", at(2), limit=2)]) == [True]
    assert jobs.apply([Claim(third, "n2", at(2), limit=2)]) == [False]
    third_run = jobs.get_run(third)
    assert third_run is not None
    assert third_run.status is RunStatus.QUEUED  # left for later
    assert jobs.apply([Finish(first, RunStatus.SUCCEEDED, at(3))]) == [True]
    assert jobs.apply([Claim(third, "n1", at(4), limit=2)]) == [True]


def test_a_claim_limit_must_be_a_whole_number_of_at_least_one(jobs: Store) -> None:
    run_id = enqueue(jobs, "a")
    with pytest.raises(StoreError, match=r"\(Claim\)\.limit: 0 is not a whole number"):
        jobs.apply([Claim(run_id, "n1", at(1), limit=0)])
