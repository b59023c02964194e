"""Fencing (decision 0007): leases have generations, writes made under a lease that no longer
holds are refused with `LEASE_LOST`, reaping is one transaction, one retry per attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rota.store import (
    LEASE_LOST,
    Claim,
    Enqueue,
    Finish,
    Lease,
    NewRun,
    Progress,
    Reaped,
    ReapNode,
    Reason,
    RunStatus,
    Store,
)
from rota.store.records import EventKind, NodeRecord

from .conftest import T0, at, enqueue


def register(store: Store, node: str = "n1", when: float = 0) -> int:
    return store.register_node(NodeRecord(node, "h", 1, at(when), at(when)))


def claimed(store: Store, lease: Lease, job: str = "a", **fields: object) -> int:
    run_id = enqueue(store, job, **fields)  # type: ignore[arg-type]
    assert store.apply([Claim(run_id, lease.node, at(1), generation=lease.generation)]) == [True]
    return run_id


def reap(store: Store, node: str, generation: int, **fields: object) -> Reaped:
    fields.setdefault("expired_before", None)
    (reaped,) = store.apply([ReapNode(node, generation, at(5), "node died", **fields)])  # type: ignore[arg-type]
    assert isinstance(reaped, Reaped)
    return reaped


def test_a_node_keeps_its_generation_while_it_lives_and_gets_a_new_one_after(
    jobs: Store,
) -> None:
    first = register(jobs)
    assert register(jobs) == first  # registering again (new jobs) is the same life
    assert [n.generation for n in jobs.list_nodes()] == [first]
    assert jobs.heartbeat("n1", at(1), first) is True
    jobs.stop_node("n1", at(2))
    second = register(jobs, when=3)
    assert second > first
    assert jobs.heartbeat("n1", at(4), first) is False  # the old life's lease is gone
    assert jobs.heartbeat("n1", at(4), second) is True
    assert jobs.heartbeat("n1", at(4)) is True
    assert register(jobs, "n2") > second


def test_a_claim_records_its_generation_and_is_refused_once_the_lease_is_gone(
    jobs: Store,
) -> None:
    generation = register(jobs)
    lease = Lease("n1", generation)
    run_id = claimed(jobs, lease)
    assert jobs.get_run(run_id).generation == generation  # type: ignore[union-attr]
    jobs.stop_node("n1", at(2))
    other = enqueue(jobs)
    assert jobs.apply([Claim(other, "n1", at(3), generation=generation)]) == [LEASE_LOST]
    assert jobs.apply([Claim(other, "n1", at(3), limit=1, generation=generation)]) == [LEASE_LOST]
    assert jobs.get_run(other).status is RunStatus.QUEUED  # type: ignore[union-attr]
    assert not LEASE_LOST  # falsy, as a write that found nothing


def test_writes_about_a_reaped_run_are_refused_with_lease_lost(jobs: Store) -> None:
    generation = register(jobs)
    lease = Lease("n1", generation)
    first, second = claimed(jobs, lease), claimed(jobs, lease)
    reaped = reap(jobs, "n1", generation)
    assert reaped.interrupted == (first, second)
    late = [
        Progress(first, 1, 2, "half", owner=lease),
        Finish(first, RunStatus.FAILED, at(6), error="late", owner=lease),
        Finish(second, RunStatus.SUCCEEDED, at(6), owner=lease),
        Enqueue(NewRun("a", Reason.RETRY, at(6), attempt=2, retry_of=first), owner=lease),
    ]
    assert jobs.apply(late) == [LEASE_LOST] * 4
    run = jobs.get_run(first)
    assert run is not None
    assert (run.status, run.error, run.note) == (RunStatus.INTERRUPTED, None, "node died")
    assert [r.id for r in jobs.list_runs()] == [second, first]  # no retry was created
    # Written after a batch of other finishes too (the batched path).
    other = claimed(jobs, Lease("n2", register(jobs, "n2")))
    results = jobs.apply(
        [
            Finish(second, RunStatus.SUCCEEDED, at(6), owner=lease),
            Finish(other, RunStatus.SUCCEEDED, at(6), owner=Lease("n2", generation + 1)),
        ]
    )
    assert results == [LEASE_LOST, True]


def test_a_write_under_a_live_lease_about_a_run_it_does_not_own_finds_nothing(
    jobs: Store,
) -> None:
    lease = Lease("n1", register(jobs))
    run_id = claimed(jobs, lease)
    assert jobs.apply([Finish(run_id, RunStatus.SUCCEEDED, at(2), owner=lease)]) == [True]
    again = [
        Finish(run_id, RunStatus.SUCCEEDED, at(2), owner=lease),
        Progress(run_id, 1, 1, None, owner=lease),
    ]
    assert jobs.apply(again) == [False, False]


def test_reaping_interrupts_and_retries_in_one_transaction(jobs: Store) -> None:
    generation = register(jobs)
    lease = Lease("n1", generation)
    once = claimed(jobs, lease, "a")
    twice = claimed(jobs, lease, "b", attempt=2)
    last = claimed(jobs, lease, "b", attempt=3)
    after = jobs.last_event_id()
    reaped = reap(jobs, "n1", generation, attempts={"b": 3})
    assert reaped.interrupted == (once, twice, last)
    ((retry_id, retry),) = reaped.retries  # "a" has no retries; b's third attempt was its last
    assert (retry.job, retry.attempt, retry.retry_of, retry.reason) == ("b", 3, twice, "retry")
    stored = jobs.get_run(retry_id)
    assert stored is not None
    assert (stored.status, stored.retry_of, stored.queued_at) == (RunStatus.QUEUED, twice, at(5))
    (node,) = jobs.list_nodes()
    assert node.stopped_at == at(5)
    kinds = [(e.kind, e.run_id) for e in jobs.events_after(after)]
    assert kinds == [
        (EventKind.RUN_INTERRUPTED, once),
        (EventKind.RUN_INTERRUPTED, twice),
        (EventKind.RUN_INTERRUPTED, last),
        (EventKind.RUN_QUEUED, retry_id),
    ]
    assert reap(jobs, "n1", generation, attempts={"b": 3}) == Reaped()  # reaped once only


def test_reaping_does_not_count_limiter_deferrals_against_the_attempts(jobs: Store) -> None:
    # Decision 0012, point 5: attempt 2 of b followed a limiter deferral, so it is b's first
    # failure; with 2 attempts it is retried (attempt 3). Attempt 2 of a followed a failure.
    generation = register(jobs)
    lease = Lease("n1", generation)
    deferred_note = (
        "waiting for limiter x until 2026-01-01T00:00:00+00:00: retried then (deferral 1 in a "
        "row (the 8th fails the run); the next attempt waits up to 2s for limiter x)"
    )
    firsts = {"b": RunStatus.SKIPPED, "a": RunStatus.FAILED}
    seconds = {}
    for job, status in firsts.items():
        first = claimed(jobs, lease, job)
        note = deferred_note if status is RunStatus.SKIPPED else None
        assert jobs.apply([Finish(first, status, at(2), note=note, owner=lease)]) == [True]
        seconds[job] = claimed(jobs, lease, job, attempt=2, retry_of=first, reason=Reason.RETRY)
    reaped = reap(jobs, "n1", generation, attempts={"a": 2, "b": 2})
    assert reaped.interrupted == (seconds["b"], seconds["a"])
    ((_, retry),) = reaped.retries
    assert (retry.job, retry.attempt, retry.retry_of) == ("b", 3, seconds["b"])


def test_a_node_that_renewed_its_lease_or_lives_anew_is_not_reaped(jobs: Store) -> None:
    generation = register(jobs)
    run_id = claimed(jobs, Lease("n1", generation))
    assert jobs.heartbeat("n1", at(10), generation)
    # Stamped by the database's clock where it has one: the instant the lease was renewed.
    (node,) = jobs.list_nodes()
    renewed = node.heartbeat_at
    assert reap(jobs, "n1", generation, expired_before=renewed) == Reaped()
    assert reap(jobs, "n1", generation + 7) == Reaped()
    assert jobs.get_run(run_id).status is RunStatus.RUNNING  # type: ignore[union-attr]
    later = renewed + timedelta(microseconds=1)
    assert reap(jobs, "n1", generation, expired_before=later).interrupted == (run_id,)


@pytest.mark.parametrize("fire", [None, 30.0])
def test_one_retry_per_attempt(jobs: Store, fire: float | None) -> None:
    run_id = enqueue(jobs, fire=fire)
    retry = NewRun(
        "a",
        Reason.RETRY,
        T0,
        fire_time=None if fire is None else at(fire),
        attempt=2,
        retry_of=run_id,
    )
    other = NewRun("a", Reason.MANUAL, T0)
    first, second, third = jobs.apply([Enqueue(retry), Enqueue(retry), Enqueue(other)])
    assert isinstance(first, int)
    assert second is None
    assert isinstance(third, int)
    assert jobs.apply([Enqueue(retry)]) == [None]
    assert [r.retry_of for r in jobs.list_runs() if r.reason is Reason.RETRY] == [run_id]


def test_claims_and_finishes_in_one_transaction_are_fenced_each(jobs: Store) -> None:
    live = Lease("n1", register(jobs))
    gone = Lease("n2", register(jobs, "n2"))
    jobs.stop_node("n2", at(1))
    ids = [enqueue(jobs) for _ in range(4)]
    claims = [
        Claim(ids[0], "n1", at(1), generation=live.generation),
        Claim(ids[1], "n2", at(1), generation=gone.generation),
        Claim(ids[2], "n1", at(1), generation=live.generation),
        Claim(ids[3], "n1", at(1)),  # unfenced, as before
    ]
    assert jobs.apply(claims) == [True, LEASE_LOST, True, True]
    assert [jobs.get_run(i).generation for i in ids] == [  # type: ignore[union-attr]
        live.generation,
        None,
        live.generation,
        None,
    ]
    finishes = [
        Finish(ids[0], RunStatus.SUCCEEDED, at(2), owner=live),
        Finish(ids[2], RunStatus.SUCCEEDED, at(2), owner=gone),
        Finish(ids[3], RunStatus.SUCCEEDED, at(2), owner=live),  # not claimed under it
    ]
    assert jobs.apply(finishes) == [True, LEASE_LOST, False]
