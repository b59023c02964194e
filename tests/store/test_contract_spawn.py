"""Spawned runs in every store: linked to their parent, de-duplicated by key while active."""

from __future__ import annotations

import threading

import pytest

from rota.store import Enqueue, Finish, RunStatus, Store
from rota.store.records import Reason
from rota.store.sql import SqlStore

from .conftest import T0, at, new


def spawned(job: str = "a", key: str | None = None, parent: int | None = None) -> Enqueue:
    return Enqueue(new(job, reason=Reason.SPAWNED, spawn_key=key, parent_run_id=parent))


def test_a_key_is_taken_while_its_run_is_active(jobs: Store) -> None:
    parent = jobs.apply([Enqueue(new("a"))])[0]
    first, again, other_job, other_key, unkeyed = jobs.apply(
        [
            spawned("a", "show:42", parent),
            spawned("a", "show:42", parent),
            spawned("b", "show:42", parent),
            spawned("a", "show:43", parent),
            spawned("a", None, parent),
        ]
    )
    assert isinstance(first, int)
    assert again is None
    assert isinstance(other_job, int)
    assert isinstance(other_key, int)
    assert isinstance(unkeyed, int)
    run = jobs.get_run(first)
    assert run is not None
    assert (run.reason, run.parent_run_id, run.spawn_key) == (Reason.SPAWNED, parent, "show:42")
    assert jobs.apply([spawned("a", "show:42")]) == [None]
    # Once it has finished, the key is free again.
    assert jobs.apply([Finish(first, RunStatus.SUCCEEDED, at(1))]) == [True]
    (later,) = jobs.apply([spawned("a", "show:42")])
    assert isinstance(later, int)
    assert later > first


def test_many_keyed_spawns_in_one_transaction(jobs: Store) -> None:
    operations = [spawned("a", f"item:{i % 1500}") for i in range(3000)]
    results = jobs.apply(operations)
    created = [r for r in results if isinstance(r, int)]
    assert len(created) == 1500
    assert results[1500:] == [None] * 1500
    assert jobs.count_runs("a", reasons=[Reason.SPAWNED]) == 1500
    assert jobs.list_runs("a", limit=1)[0].queued_at >= T0


def test_two_writers_spawning_the_same_keys_create_each_once(jobs: Store) -> None:
    if not isinstance(jobs, SqlStore):
        pytest.skip("one MemoryStore object is one writer")
    other = SqlStore(jobs.url.render_as_string(hide_password=False))
    other.open()
    try:
        created: list[list[object]] = []

        def spawn_all(store: Store) -> None:
            for start in range(0, 200, 20):
                created.append(
                    store.apply([spawned("a", f"item:{i}") for i in range(start, start + 20)])
                )

        threads = [threading.Thread(target=spawn_all, args=(s,)) for s in (jobs, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        ids = [r for batch in created for r in batch if isinstance(r, int)]
        assert len(ids) == 200
        assert jobs.count_runs("a", reasons=[Reason.SPAWNED]) == 200
    finally:
        other.close()
