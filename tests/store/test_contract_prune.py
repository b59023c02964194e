"""Contract: prune() keeps exactly what Retention says (see records.Retention, docs/store.md)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from rota.errors import StoreError
from rota.store import (
    Claim,
    Enqueue,
    Finish,
    Fire,
    RequestCancel,
    Retention,
    RunStatus,
    Store,
    UpdateJob,
)

from .conftest import T0, at, enqueue, finished, new, running

NOW = T0 + timedelta(days=60)
WEEK, MONTH = timedelta(days=7), timedelta(days=30)


def days_ago(days: float) -> timedelta:
    return timedelta(days=days)


def ended(store: Store, status: RunStatus, age_days: float, job: str = "a") -> int:
    """A run of `job` that finished with `status` `age_days` before NOW."""
    if status is RunStatus.SKIPPED:
        skipped = new(job, status=status, queued_at=NOW - days_ago(age_days))
        run_id = store.apply([Enqueue(skipped)])[0]
        assert isinstance(run_id, int)
        return run_id
    return finished(store, status, NOW - days_ago(age_days), job)


def remaining(store: Store, job: str = "a") -> list[int]:
    return sorted(run.id for run in store.list_runs(job, limit=1000))


def test_the_newest_keep_last_runs_stay_whatever_their_age(jobs: Store) -> None:
    ids = [ended(jobs, RunStatus.SUCCEEDED, 100) for _ in range(5)]
    retention = Retention(keep_last=2, failed_for=MONTH, succeeded_for=WEEK)
    assert jobs.prune("a", retention, NOW, batch=100) == 3
    assert remaining(jobs) == ids[3:]
    assert jobs.prune("a", retention, NOW, batch=100) == 0


def test_fewer_runs_than_keep_last_are_all_kept(jobs: Store) -> None:
    ids = [ended(jobs, RunStatus.FAILED, 100) for _ in range(3)]
    assert jobs.prune("a", Retention(keep_last=3), NOW, batch=100) == 0
    assert remaining(jobs) == ids


def test_failure_like_runs_are_kept_longer_than_others(jobs: Store) -> None:
    kept = {
        ended(jobs, RunStatus.FAILED, 29),
        ended(jobs, RunStatus.TIMED_OUT, 20),
        ended(jobs, RunStatus.INTERRUPTED, 29.9),
        ended(jobs, RunStatus.SUCCEEDED, 6),
        ended(jobs, RunStatus.CANCELLED, 6.9),
        ended(jobs, RunStatus.SKIPPED, 1),
    }
    gone = {
        ended(jobs, RunStatus.FAILED, 31),
        ended(jobs, RunStatus.INTERRUPTED, 30),  # exactly the limit: no longer younger
        ended(jobs, RunStatus.TIMED_OUT, 45),
        ended(jobs, RunStatus.SUCCEEDED, 8),
        ended(jobs, RunStatus.SUCCEEDED, 7),
        ended(jobs, RunStatus.CANCELLED, 10),
        ended(jobs, RunStatus.SKIPPED, 8),
    }
    retention = Retention(keep_last=0, failed_for=MONTH, succeeded_for=WEEK)
    assert jobs.prune("a", retention, NOW, batch=100) == len(gone)
    assert remaining(jobs) == sorted(kept)


def test_active_runs_are_never_pruned(jobs: Store) -> None:
    queued = enqueue(jobs, queued_at=NOW - days_ago(400))
    active = running(jobs, queued_at=NOW - days_ago(400))
    old = ended(jobs, RunStatus.SUCCEEDED, 400)
    retention = Retention(keep_last=0, failed_for=timedelta(0), succeeded_for=timedelta(0))
    assert jobs.prune("a", retention, NOW, batch=100) == 1
    assert remaining(jobs) == [queued, active]
    assert old not in remaining(jobs)


def test_active_runs_count_among_the_newest(jobs: Store) -> None:
    old = ended(jobs, RunStatus.SUCCEEDED, 100)
    newest = [enqueue(jobs), running(jobs)]
    assert jobs.prune("a", Retention(keep_last=2), NOW, batch=100) == 1
    assert remaining(jobs) == newest
    assert old not in remaining(jobs)


def test_prune_deletes_at_most_a_batch_oldest_first(jobs: Store) -> None:
    ids = [ended(jobs, RunStatus.SUCCEEDED, 100) for _ in range(10)]
    retention = Retention(keep_last=0)
    assert jobs.prune("a", retention, NOW, batch=3) == 3
    assert remaining(jobs) == ids[3:]
    assert [jobs.prune("a", retention, NOW, batch=3) for _ in range(4)] == [3, 3, 1, 0]
    assert jobs.prune("a", retention, NOW, batch=0) == 0


def test_prune_touches_only_its_job(jobs: Store) -> None:
    ended(jobs, RunStatus.SUCCEEDED, 100)
    other = ended(jobs, RunStatus.SUCCEEDED, 100, job="b")
    assert jobs.prune("a", Retention(keep_last=0), NOW, batch=100) == 1
    assert remaining(jobs, "b") == [other]
    assert jobs.prune("nope", Retention(keep_last=0), NOW, batch=100) == 0


def test_a_fast_job_keeps_only_its_newest_successes_and_failures(jobs: Store) -> None:
    s1, f1, s2, f2, s3, f3, s4 = (
        ended(jobs, status, 0.01)
        for status in (
            RunStatus.SUCCEEDED,
            RunStatus.FAILED,
            RunStatus.SKIPPED,
            RunStatus.TIMED_OUT,
            RunStatus.CANCELLED,
            RunStatus.INTERRUPTED,
            RunStatus.SUCCEEDED,
        )
    )
    retention = Retention(keep_last=2, fast=True, fast_failures=1)
    assert jobs.prune("a", retention, NOW, batch=100) == 4
    assert remaining(jobs) == [s3, f3, s4]
    assert {s1, f1, s2, f2}.isdisjoint(remaining(jobs))


def test_a_fast_job_still_drops_runs_past_their_age(jobs: Store) -> None:
    old_successes = [ended(jobs, RunStatus.SUCCEEDED, 8) for _ in range(2)]
    old_failure = ended(jobs, RunStatus.FAILED, 31)
    young_failure = ended(jobs, RunStatus.FAILED, 1)
    newest = [ended(jobs, RunStatus.FAILED, 40) for _ in range(2)]
    retention = Retention(keep_last=2, failed_for=MONTH, succeeded_for=WEEK, fast=True)
    assert jobs.prune("a", retention, NOW, batch=100) == 3
    assert remaining(jobs) == [young_failure, *newest]
    assert old_failure not in remaining(jobs)
    assert set(old_successes).isdisjoint(remaining(jobs))


def test_run_ids_are_never_reused_after_a_prune(jobs: Store) -> None:
    last = ended(jobs, RunStatus.SUCCEEDED, 100)
    assert jobs.prune("a", Retention(keep_last=0), NOW, batch=100) == 1
    assert enqueue(jobs) > last


def test_a_pruned_fire_time_no_longer_blocks_its_key(jobs: Store) -> None:
    (first,) = jobs.apply([Fire("a", None, at(60), (new("a", 0),))])
    (run_id,) = first.run_ids
    assert run_id is not None
    jobs.apply([RequestCancel(run_id, NOW - days_ago(100), "old")])
    assert jobs.prune("a", Retention(keep_last=0), NOW, batch=100) == 1
    jobs.apply([UpdateJob("a", NOW, next_fire_at=None)])
    (again,) = jobs.apply([Fire("a", None, at(60), (new("a", 0),))])
    assert again.run_ids[0] is not None


def _unchecked(**fields: Any) -> Retention:
    """A Retention that its own check would refuse: the store checks again."""
    retention = Retention()
    for name, value in fields.items():
        object.__setattr__(retention, name, value)
    return retention


@pytest.mark.parametrize(
    ("retention", "batch", "field"),
    [
        (Retention(), -1, "prune.batch"),
        (_unchecked(keep_last=-1), 10, "Retention.keep_last"),
        (_unchecked(fast_failures=-5), 10, "Retention.fast_failures"),
        (_unchecked(failed_for=-MONTH), 10, "Retention.failed_for"),
    ],
)
def test_prune_checks_its_arguments(
    jobs: Store, retention: Retention, batch: int, field: str
) -> None:
    with pytest.raises(StoreError, match=field):
        jobs.prune("a", retention, NOW, batch)


def test_prune_runs_prunes_many_jobs_in_one_call_each_by_its_retention(jobs: Store) -> None:
    names = [f"j{index:03}" for index in range(120)]
    jobs.sync_jobs({name: {"schedule": "every 1h"} for name in names}, T0)
    # Three runs of each that succeeded 100 days ago, made in three transactions, not 1,080.
    ids = jobs.apply([Enqueue(new(name)) for name in names for _ in range(3)])
    assert jobs.apply([Claim(run_id, "n1", at(1)) for run_id in ids]) == [True] * len(ids)
    finish = [Finish(run_id, RunStatus.SUCCEEDED, NOW - days_ago(100)) for run_id in ids]
    assert jobs.apply(finish) == [True] * len(ids)
    kept_longer = Retention(keep_last=0, succeeded_for=days_ago(365))
    retentions = {name: Retention(keep_last=1) for name in names[:-1]}
    retentions[names[-1]] = kept_longer
    assert jobs.prune_runs(retentions, NOW, batch=10_000) == 2 * (len(names) - 1)
    left = Counter(run.job for run in jobs.list_runs(limit=1000))
    assert left == {**dict.fromkeys(names[:-1], 1), names[-1]: 3}  # none of "a": never named


def test_prune_runs_deletes_at_most_a_batch_oldest_first_across_jobs(jobs: Store) -> None:
    first = [ended(jobs, RunStatus.SUCCEEDED, 100, job=job) for job in ("a", "b", "a", "b")]
    newest = ended(jobs, RunStatus.SUCCEEDED, 100, job="b")
    retentions = {"a": Retention(keep_last=0), "b": Retention(keep_last=0)}
    assert jobs.prune_runs(retentions, NOW, batch=3) == 3
    assert sorted(remaining(jobs, "a") + remaining(jobs, "b")) == [first[3], newest]
    assert jobs.prune_runs({"a": Retention(keep_last=0)}, NOW, batch=3) == 0
    assert jobs.prune_runs({}, NOW, batch=3) == 0


def test_prune_runs_checks_its_arguments(jobs: Store) -> None:
    with pytest.raises(StoreError, match="Retention"):
        jobs.prune_runs({"a": "forever"}, NOW, 10)  # type: ignore[dict-item]
    with pytest.raises(StoreError, match="mapping"):
        jobs.prune_runs([("a", Retention())], NOW, 10)  # type: ignore[arg-type]
