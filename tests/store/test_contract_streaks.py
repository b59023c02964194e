"""Contract: a skipped fire time that continues a streak updates the streak's run (one row per
streak, with a count and its last fire time) and announces it once; on every store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rota.errors import StoreError
from rota.store import EventKind, Fire, NewRun, RunStatus, Store

from .conftest import at, new


def skip(fire: float, streak_of: int | None = None, note: str = "busy") -> NewRun:
    return new(
        "a", fire, status=RunStatus.SKIPPED, note=note, queued_at=at(fire), streak_of=streak_of
    )


def fire(
    store: Store, expected: float | None, following: float, *runs: NewRun
) -> tuple[int | None, ...]:
    before = None if expected is None else at(expected)
    result = store.apply([Fire("a", before, at(following), tuple(runs))])[0]
    assert result.advanced
    return result.run_ids  # type: ignore[no-any-return]


def test_a_streak_of_skipped_fire_times_is_one_run_with_a_count(jobs: Store) -> None:
    (first,) = fire(jobs, None, 1, skip(0))
    assert first is not None
    last = jobs.last_event_id()
    assert fire(jobs, 1, 2, skip(1, first)) == (first,)
    assert fire(jobs, 2, 3, skip(2, first, note="still busy")) == (first,)
    run = jobs.get_run(first)
    assert run is not None
    assert (run.status, run.fire_time, run.fire_count, run.last_fire_time) == (
        RunStatus.SKIPPED,
        at(0),
        3,
        at(2),
    )
    assert (run.note, run.finished_at) == ("still busy", at(2))
    assert jobs.count_runs("a") == 1
    events = [(e.kind, e.run_id, e.data) for e in jobs.events_after(last)]
    assert events == [
        (
            EventKind.RUN_SKIPPED,
            first,
            {"reason": "schedule", "note": "busy", "count": 2, "last_fire_time": at(1).isoformat()},
        ),
        (
            EventKind.RUN_SKIPPED,
            first,
            {
                "reason": "schedule",
                "note": "still busy",
                "count": 3,
                "last_fire_time": at(2).isoformat(),
            },
        ),
    ]


def test_a_streak_whose_run_is_gone_or_not_skipped_starts_a_new_run(jobs: Store) -> None:
    (queued,) = fire(jobs, None, 1, new("a", 0))
    assert queued is not None
    (skipped,) = fire(jobs, 1, 2, skip(1, queued))  # a queued run is no streak
    assert skipped not in (None, queued)
    (again,) = fire(jobs, 2, 3, skip(2, 10**9))  # no such run
    assert again not in (None, queued, skipped)
    run = jobs.get_run(again)  # type: ignore[arg-type]
    assert run is not None
    assert (run.fire_count, run.last_fire_time, run.fire_time) == (1, None, at(2))
    assert jobs.get_run(queued).fire_count == 1  # type: ignore[union-attr]


def skips(first: float, last: float, count: int, streak_of: int | None = None) -> NewRun:
    """A skipped run standing for `count` fire times, from `first` to `last`."""
    return replace(skip(first, streak_of), fire_count=count, last_fire_time=at(last))


def test_a_streak_of_many_fire_times_is_created_and_continued_in_one_step(jobs: Store) -> None:
    last = jobs.last_event_id()
    (first,) = fire(jobs, None, 5, skips(0, 4, 5))
    assert first is not None
    assert fire(jobs, 5, 8, skips(5, 7, 3, first)) == (first,)
    run = jobs.get_run(first)
    assert run is not None
    assert (run.fire_time, run.fire_count, run.last_fire_time, run.finished_at) == (
        at(0),
        8,
        at(7),
        at(5),
    )
    assert jobs.count_runs("a") == 1
    events = [(e.kind, e.run_id, e.data) for e in jobs.events_after(last)]
    assert events == [
        (
            EventKind.RUN_SKIPPED,
            first,
            {"reason": "schedule", "note": "busy", "count": 5, "last_fire_time": at(4).isoformat()},
        ),
        (
            EventKind.RUN_SKIPPED,
            first,
            {"reason": "schedule", "note": "busy", "count": 8, "last_fire_time": at(7).isoformat()},
        ),
    ]


def test_a_quiet_continuation_updates_the_streak_without_an_event(jobs: Store) -> None:
    (first,) = fire(jobs, None, 1, skip(0))
    assert first is not None
    last = jobs.last_event_id()
    assert fire(jobs, 1, 2, replace(skip(1, first), quiet=True)) == (first,)
    assert jobs.events_after(last) == []
    run = jobs.get_run(first)
    assert run is not None
    assert (run.fire_count, run.last_fire_time) == (2, at(1))
    # A quiet one whose streak is gone creates a run, and that is announced as ever.
    (other,) = fire(jobs, 2, 3, replace(skip(2, 10**9), quiet=True))
    assert [(e.kind, e.run_id) for e in jobs.events_after(last)] == [(EventKind.RUN_SKIPPED, other)]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"fire_count": 0}, "fire_count"),
        ({"fire_count": 2}, "fire_count"),  # no last fire time
        ({"fire_count": 2, "last_fire_time": at(-1)}, "fire_count"),  # before the first
        ({"fire_count": 2, "last_fire_time": at(1), "status": RunStatus.QUEUED}, "fire_count"),
        ({"quiet": "yes"}, "quiet"),
    ],
)
def test_a_run_of_several_fire_times_must_be_a_skipped_span(
    jobs: Store, fields: dict[str, Any], named: str
) -> None:
    run = replace(skip(0), **fields)
    with pytest.raises(StoreError, match=named):
        jobs.apply([Fire("a", None, at(5), (run,))])
    assert jobs.count_runs("a") == 0
