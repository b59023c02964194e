"""Streaks of skipped fire times as the engine plans them (decision 0009): the skipped fire
times decided in one step are one run, and a streak that goes on is announced (an event) when
it starts and then at most once per `STREAK_EVENT_EVERY` of its fire times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from rota.store.abc import NewRun
from rota.store.records import RunStatus

if TYPE_CHECKING:
    from rota.engine.jobs import JobState

__all__ = ["STREAK_EVENT_EVERY", "announced_or_quiet", "one_streak"]

# Each fire time of a streak still updates its run (count, last fire time); only its events are
# this far apart at least, so that a follower sees it go on without an event per fire time.
STREAK_EVENT_EVERY = timedelta(minutes=1)


def one_streak(runs: Sequence[NewRun]) -> list[NewRun]:
    """`runs` with each series of skipped runs that follow one another made one run standing
    for all their fire times (the first's fire time and streak, the last's note)."""
    merged: list[NewRun] = []
    for run in runs:
        before = merged[-1] if merged else None
        if (
            before is not None
            and before.status is RunStatus.SKIPPED
            and run.status is RunStatus.SKIPPED
            and before.reason is run.reason
        ):
            merged[-1] = replace(
                before,
                fire_count=before.fire_count + run.fire_count,
                last_fire_time=run.latest_fire_time,
                note=run.note,
            )
        else:
            merged.append(run)
    return merged


def announced_or_quiet(state: JobState, run: NewRun) -> NewRun:
    """`run`, made quiet (no event) if it continues the job's streak less than
    `STREAK_EVENT_EVERY` of fire times after the last event of it."""
    if run.streak_of is None or run.status is not RunStatus.SKIPPED:
        return run
    last, announced = run.latest_fire_time, state.streak_announced
    if last is None or announced is None or last - announced >= STREAK_EVENT_EVERY:
        return run
    return replace(run, quiet=True)
