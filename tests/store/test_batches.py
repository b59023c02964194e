"""Bursts of claims and finishes are written together; they must store what single ones do."""

from __future__ import annotations

from datetime import timedelta

from rota.store.abc import Store
from rota.store.operations import UNSET, Claim, Enqueue, Finish, NewRun
from rota.store.records import Reason, RunStatus
from tests.store.conftest import T0


def queued(store: Store, count: int) -> list[int]:
    ids = store.apply([Enqueue(NewRun("a", Reason.MANUAL, T0)) for _ in range(count)])
    return [run_id for run_id in ids if isinstance(run_id, int)]


def test_a_burst_of_claims_and_finishes_matches_one_by_one(jobs: Store) -> None:
    single, burst = queued(jobs, 3), queued(jobs, 3)
    at = T0 + timedelta(seconds=1, microseconds=123_456)
    done = T0 + timedelta(seconds=2, microseconds=654_321)
    for run_id in single:
        jobs.apply([Claim(run_id, "n1", at)])
    assert jobs.apply([Claim(run_id, "n1", at) for run_id in burst]) == [True, True, True]
    for run_id in single:
        jobs.apply([Finish(run_id, RunStatus.FAILED, done, error="E", log="x", progress_done=2.5)])
    finishes = [
        Finish(run_id, RunStatus.FAILED, done, error="E", log="x", progress_done=2.5)
        for run_id in burst
    ]
    assert jobs.apply(finishes) == [True, True, True]
    for one, many in zip(single, burst, strict=True):
        a, b = jobs.get_run(one), jobs.get_run(many)
        assert a is not None
        assert b is not None
        assert (b.status, b.node, b.started_at, b.finished_at) == (
            RunStatus.FAILED,
            "n1",
            at,
            done,
        )
        assert (a.started_at, a.finished_at, a.error, a.log, a.progress_done) == (
            b.started_at,
            b.finished_at,
            b.error,
            b.log,
            b.progress_done,
        )
        assert b.note is None  # UNSET fields keep what was stored


def test_a_burst_mixing_shapes_nodes_and_repeats(jobs: Store) -> None:
    first, second, third = queued(jobs, 3)
    claims = [
        Claim(first, "n1", T0),
        Claim(second, "n2", T0 + timedelta(seconds=1)),
        Claim(first, "n2", T0),  # already claimed above
        Claim(third, "n1", T0),
    ]
    assert jobs.apply(claims) == [True, True, False, True]
    run = jobs.get_run(second)
    assert run is not None
    assert (run.node, run.started_at) == ("n2", T0 + timedelta(seconds=1))
    finishes = [
        Finish(first, RunStatus.SUCCEEDED, T0, log="a"),
        Finish(second, RunStatus.CANCELLED, T0, note="by hand"),
        Finish(first, RunStatus.FAILED, T0),  # already finished above
        Finish(third, RunStatus.SUCCEEDED, T0, note=UNSET, error=None),
    ]
    assert jobs.apply(finishes) == [True, True, False, True]
    statuses = [jobs.get_run(run_id).status for run_id in (first, second, third)]  # type: ignore[union-attr]
    assert statuses == [RunStatus.SUCCEEDED, RunStatus.CANCELLED, RunStatus.SUCCEEDED]
    cancelled = jobs.get_run(second)
    assert cancelled is not None
    assert cancelled.note == "by hand"
