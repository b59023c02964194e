"""Contract: a skipped fire time that continues a streak updates the streak's run (one row per
streak, with a count and its last fire time) and announces it once; on every store."""

from __future__ import annotations

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
