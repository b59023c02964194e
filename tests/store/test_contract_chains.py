"""Contract: `Chain` counts an upstream's success once per edge and creates the downstream's
dependency run in the same transaction when all its upstreams have succeeded since its last one
(decision 0011); on every store."""

from __future__ import annotations

from typing import Any

import pytest

from rota.store import (
    Chain,
    Chained,
    EventKind,
    Finish,
    Reason,
    RemoveJob,
    RunStatus,
    Store,
    UpdateJob,
)
from rota.store.chains import EdgeState, chain_step

from .conftest import T0, at, running

AFTER_A = {"schedule": {"kind": "after", "jobs": ["a"]}}
AFTER_AB = {"schedule": {"kind": "after", "jobs": ["a", "b"]}}


@pytest.fixture
def chained(store: Store) -> Store:
    """Jobs a and b (manual), c after a, d after a and b."""
    manual = {"schedule": {"kind": "manual"}}
    store.sync_jobs({"a": manual, "b": manual, "c": AFTER_A, "d": AFTER_AB}, T0)
    return store


def succeed(store: Store, job: str, downstream: tuple[str, ...] = ("c", "d")) -> Chained:
    """A run of `job` that succeeds, with its Chain in the same transaction."""
    run_id = running(store, job)
    finish = Finish(run_id, RunStatus.SUCCEEDED, at(2))
    done, result = store.apply([finish, Chain(run_id, job, at(2), downstream)])
    assert done is True
    assert isinstance(result, Chained)
    return result


def dependency_runs(store: Store, job: str) -> list[Any]:
    return store.list_runs(job, reasons={Reason.DEPENDENCY})


def test_a_success_queues_one_run_of_each_job_after_it(chained: Store) -> None:
    last = chained.last_event_id()
    result = succeed(chained, "a")
    assert [(run.job, links) for _, run, links in result.runs] == [("c", {"a": 1})]
    (run,) = dependency_runs(chained, "c")
    assert (run.status, run.reason, run.note) == (
        RunStatus.QUEUED,
        Reason.DEPENDENCY,
        "after a (run 1)",
    )
    queued = [
        e for e in chained.events_after(last) if e.kind is EventKind.RUN_QUEUED and e.job == "c"
    ]
    assert [(e.job, e.data["upstream_runs"]) for e in queued] == [("c", {"a": 1})]
    assert dependency_runs(chained, "d") == []  # b has not succeeded yet


def test_a_job_after_two_runs_once_both_have_succeeded_since_its_last_run(chained: Store) -> None:
    succeed(chained, "a")
    succeed(chained, "a")  # two successes of a before one of b: one run of d
    assert dependency_runs(chained, "d") == []
    result = succeed(chained, "b")
    assert [(run.job, links) for _, run, links in result.runs] == [
        ("d", {"a": 3, "b": 5})
    ]  # c took ids 2 and 4
    assert len(dependency_runs(chained, "d")) == 1
    succeed(chained, "b")  # a has not succeeded since: nothing
    assert len(dependency_runs(chained, "d")) == 1


def test_a_dependency_run_names_its_upstream_runs(chained: Store) -> None:
    first_a = succeed(chained, "a").runs[0][0]  # c's run, after a (run 1)
    succeed(chained, "a")
    result = succeed(chained, "b")
    (d_id, _, _), *_ = result.runs
    stored = chained.get_run(d_id)
    assert stored is not None
    assert stored.upstream_runs == {"a": 3, "b": 5}  # a's newest success, then b's
    c_run = chained.get_run(first_a)
    assert c_run is not None
    assert c_run.upstream_runs == {"a": 1}
    # In listings too, and a run of any other reason names none.
    listed = {run.id: run.upstream_runs for run in chained.list_runs()}
    assert listed[d_id] == {"a": 3, "b": 5}
    assert listed[1] == {}


def test_a_skipped_dependency_run_names_its_upstream_runs_too(chained: Store) -> None:
    busy = running(chained, "c")
    (run_id, _, _), *_ = succeed(chained, "a", ("c",)).runs
    stored = chained.get_run(run_id)
    assert stored is not None
    assert (stored.status, stored.upstream_runs) == (RunStatus.SKIPPED, {"a": busy + 1})


def test_only_a_success_counts(chained: Store) -> None:
    for status in (RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.CANCELLED):
        run_id = running(chained, "a")
        result = chained.apply([Finish(run_id, status, at(2)), Chain(run_id, "a", at(2), ("c",))])
        assert result == [True, Chained()]
    assert dependency_runs(chained, "c") == []


def test_a_success_is_counted_only_in_the_transaction_that_records_it(chained: Store) -> None:
    run_id = running(chained, "a")
    both = [Finish(run_id, RunStatus.SUCCEEDED, at(2)), Chain(run_id, "a", at(2), ("c",))]
    assert len(chained.apply(both)[1].runs) == 1
    # Tried again after an unclear commit: the finish finds the run finished, the chain
    # counts nothing; nor does a chain on its own.
    assert chained.apply(both) == [False, Chained()]
    assert chained.apply([Chain(run_id, "a", at(2), ("c",))]) == [Chained()]
    assert len(dependency_runs(chained, "c")) == 1


def test_successes_count_in_the_order_they_finish_not_by_run_id(chained: Store) -> None:
    # Two runs of "a" at once (overlap=allow): the later-created one finishes first.
    first, second = running(chained, "a"), running(chained, "a")
    for run_id in (second, first):
        finish = Finish(run_id, RunStatus.SUCCEEDED, at(2))
        result = chained.apply([finish, Chain(run_id, "a", at(2), ("c",))])[1]
        assert [links for _, _, links in result.runs] == [{"a": run_id}]
    assert len(dependency_runs(chained, "c")) == 2


def test_a_chain_whose_finish_was_refused_does_nothing(chained: Store) -> None:
    run_id = running(chained, "a")
    chained.apply([Finish(run_id, RunStatus.CANCELLED, at(2))])
    assert chained.apply(
        [Finish(run_id, RunStatus.SUCCEEDED, at(3)), Chain(run_id, "a", at(3), ("c",))]
    ) == [
        False,
        Chained(),
    ]


def test_the_stores_row_has_the_last_word_on_what_a_job_is_after(chained: Store) -> None:
    chained.apply([UpdateJob("c", at(1), override={"schedule": {"kind": "manual"}})])
    assert succeed(chained, "a").runs == ()
    # A name the engine believed to be after a, and one that is not there: nothing either.
    assert succeed(chained, "a", ("b", "nobody")).runs == ()


def test_a_paused_downstream_gets_nothing_and_keeps_its_edges(chained: Store) -> None:
    chained.apply([UpdateJob("c", at(1), paused=True)])
    assert succeed(chained, "a").runs == ()
    chained.apply([UpdateJob("c", at(1), paused=False)])
    assert [run.job for _, run, _ in succeed(chained, "a").runs] == ["c"]


@pytest.mark.parametrize(
    ("overlap", "created"),
    [("skip", RunStatus.SKIPPED), ("queue", RunStatus.QUEUED), ("allow", RunStatus.SKIPPED)],
)
def test_the_downstreams_overlap_policy_decides(
    chained: Store, overlap: str, created: RunStatus
) -> None:
    chained.apply([UpdateJob("c", at(1), override={**AFTER_A, "overlap": overlap})])
    busy = running(chained, "c")
    (run_id, _, _), *_ = succeed(chained, "a", ("c",)).runs
    stored = chained.get_run(run_id)
    assert stored is not None
    assert stored.status is created
    if created is RunStatus.SKIPPED:
        assert str(busy) in (stored.note or "")
        assert (stored.note or "").endswith("after a (run 2)")
    # The success was answered (by a skip, or a queued run): the next one counts anew.
    assert len(succeed(chained, "a", ("c",)).runs) == 1


def test_replace_queues_the_run_and_names_the_runs_it_replaces(chained: Store) -> None:
    chained.apply([UpdateJob("c", at(1), override={**AFTER_A, "overlap": "replace"})])
    busy = running(chained, "c")
    result = succeed(chained, "a", ("c",))
    assert result.replaces == (busy,)
    assert result.runs[0][1].status is RunStatus.QUEUED


def test_the_downstreams_args_are_given_to_its_run(chained: Store) -> None:
    chained.apply([UpdateJob("c", at(1), override={"args": {"n": 3}})])
    (run_id, _, _), *_ = succeed(chained, "a", ("c",)).runs
    stored = chained.get_run(run_id)
    assert stored is not None
    assert stored.args == {"n": 3}


def test_removing_a_job_forgets_its_edges(chained: Store) -> None:
    succeed(chained, "a")  # d's edge from a is pending
    assert chained.apply([RemoveJob("d", at(3))])[0].value == "removed"
    chained.sync_jobs({"d": AFTER_AB}, at(4))
    succeed(chained, "b")
    assert dependency_runs(chained, "d") == []  # a's success before the removal is gone


def test_the_pure_step_and_the_engines_overlap_rule_agree() -> None:
    from rota.engine.policies import Overlap, decide_overlap

    for policy in Overlap:
        for active in ([], [(1, RunStatus.RUNNING)], [(2, RunStatus.QUEUED)]):
            row = ({"schedule": AFTER_A["schedule"], "overlap": policy.value}, {}, False)
            step = chain_step("c", row, {}, "a", 9, T0, active)
            assert step is not None
            running_ids = [i for i, s in active if s is RunStatus.RUNNING]
            queued_ids: list[int | None] = [i for i, s in active if s is RunStatus.QUEUED]
            decision = decide_overlap(policy, 1, running_ids, queued_ids)
            assert step.run is not None
            assert (step.run.status is RunStatus.QUEUED) == decision.create
            assert step.replaces == decision.cancel
            assert step.edges == {"a": EdgeState(9, 9)}
