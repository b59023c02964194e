"""Contract: listing and counting runs through filters, and values that cannot be an id or a
filter, which never reach a database: the same answers and the same errors on every store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from rota.errors import StoreError
from rota.store import (
    Claim,
    Enqueue,
    Finish,
    Progress,
    Reason,
    RequestCancel,
    RunStatus,
    Store,
)

from .conftest import T0, at, enqueue, new


@pytest.fixture
def history(jobs: Store) -> list[int]:
    """Runs of "a" and "b" queued at minutes 0..5, of several reasons and statuses."""
    ids = [
        enqueue(jobs, "a", queued_at=at(0)),
        enqueue(jobs, "a", fire=1, queued_at=at(1)),
        enqueue(jobs, "b", reason=Reason.RETRY, queued_at=at(2)),
        enqueue(jobs, "a", queued_at=at(3), status=RunStatus.SKIPPED, note="busy"),
        enqueue(jobs, "b", fire=4, queued_at=at(4)),
        enqueue(jobs, "a", reason=Reason.RETRY, queued_at=at(5)),
    ]
    jobs.apply([Claim(ids[1], "n1", at(6)), Finish(ids[1], RunStatus.FAILED, at(7))])
    return ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [5, 4, 3, 2, 1, 0]),
        ({"job": "a"}, [5, 3, 1, 0]),
        ({"reasons": {Reason.RETRY}}, [5, 2]),
        ({"reasons": {Reason.SCHEDULE, Reason.RETRY}, "job": "b"}, [4, 2]),
        ({"reasons": set()}, []),
        ({"statuses": {RunStatus.FAILED, RunStatus.SKIPPED}}, [3, 1]),
        ({"since": at(2)}, [5, 4, 3, 2]),
        ({"until": at(2)}, [1, 0]),
        ({"since": at(1), "until": at(3)}, [2, 1]),
        ({"since": at(3), "until": at(3)}, []),
        ({"since": at(4), "until": at(1)}, []),
        # Another zone, the same instant: 10:02Z.
        ({"since": datetime.fromisoformat("2026-11-23T11:02:00+01:00")}, [5, 4, 3, 2]),
        ({"before_id": "id 4", "job": "a"}, [3, 1, 0]),
        ({"before_id": 0}, []),
    ],
)
def test_filters_list_and_count_alike(
    jobs: Store, history: list[int], filters: dict[str, Any], expected: list[int]
) -> None:
    if filters.get("before_id") == "id 4":
        filters = {**filters, "before_id": history[4]}
    listed = jobs.list_runs(**filters, limit=1000)
    assert [history.index(run.id) for run in listed] == expected
    counted = dict(filters.items())
    assert jobs.count_runs(**counted) == len(expected)
    assert [run.id for run in jobs.list_runs(**filters, limit=1)] == [
        history[i] for i in expected[:1]
    ]


def test_runs_are_listed_and_counted_by_the_run_that_spawned_them(jobs: Store) -> None:
    parent = enqueue(jobs, "a")
    other = enqueue(jobs, "a")
    spawned = [
        enqueue(jobs, "b", reason=Reason.SPAWNED, parent_run_id=parent, queued_at=at(1)),
        enqueue(jobs, "b", reason=Reason.SPAWNED, parent_run_id=other, queued_at=at(2)),
        enqueue(jobs, "a", reason=Reason.SPAWNED, parent_run_id=parent, queued_at=at(3)),
    ]
    listed = jobs.list_runs(parent_run_id=parent)
    assert [run.id for run in listed] == [spawned[2], spawned[0]]
    assert jobs.count_runs(parent_run_id=parent) == 2
    # With the other filters, and paging.
    assert [run.id for run in jobs.list_runs("b", parent_run_id=parent)] == [spawned[0]]
    assert jobs.count_runs(parent_run_id=parent, before_id=spawned[2]) == 1
    assert jobs.list_runs(parent_run_id=spawned[0]) == []
    assert jobs.count_runs(parent_run_id=10**9) == 0


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"job": 5}, "job: 5 is not a job name"),
        ({"job": "a\x00"}, "job: 'a\\\\x00' contains a NUL"),
        ({"statuses": "queued"}, "statuses: give a collection of statuses"),
        ({"statuses": {"done"}}, "statuses: 'done' is not one of"),
        ({"reasons": {"whim"}}, "reasons: 'whim' is not one of"),
        ({"reasons": "retry"}, "reasons: give a collection of reasons"),
        ({"since": datetime(2026, 1, 1)}, "since: 2026-01-01T00:00:00 has no time zone"),
        ({"until": "tomorrow"}, "until: 'tomorrow' is not a datetime"),
        ({"before_id": -1}, "before_id: -1 is not a whole number of at least 0"),
        ({"before_id": 2**63}, "before_id: 9223372036854775808 is more than"),
        ({"before_id": 1.5}, "before_id: 1.5 is not a whole number"),
        ({"before_id": True}, "before_id: True is not a whole number"),
        ({"parent_run_id": 0}, "parent_run_id: 0 is not a whole number of at least 1"),
        ({"parent_run_id": "7"}, "parent_run_id: '7' is not a whole number"),
        ({"parent_run_id": 2**63}, "parent_run_id: 9223372036854775808 is more than"),
    ],
)
def test_bad_filters_are_named_before_any_query(
    jobs: Store, filters: dict[str, Any], message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        jobs.list_runs(**filters)
    with pytest.raises(StoreError, match=message):
        jobs.count_runs(**filters)


@pytest.mark.parametrize("bogus", [0, -1, 2**63, 2**70, -(2**70), "1", 1.0, True, None])
def test_an_id_no_run_can_have_is_simply_not_found(jobs: Store, bogus: Any) -> None:
    enqueue(jobs)  # run 1 exists
    assert jobs.get_run(bogus) is None


@pytest.mark.parametrize("bogus", [0, -1, 2**63, "1", 1.5, True])
@pytest.mark.parametrize("kind", ["claim", "finish", "progress", "cancel"])
def test_operations_on_an_id_no_run_can_have_are_refused_by_name(
    jobs: Store, bogus: Any, kind: str
) -> None:
    operation: Any = {
        "claim": Claim(bogus, "n1", T0),
        "finish": Finish(bogus, RunStatus.FAILED, T0),
        "progress": Progress(bogus, 1, 2, None),
        "cancel": RequestCancel(bogus, T0, "stop"),
    }[kind]
    with pytest.raises(StoreError, match=r"operation 1 \(\w+\)\.run_id: "):
        jobs.apply([Enqueue(new("a")), operation])
    assert jobs.count_runs() == 0
