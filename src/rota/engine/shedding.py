"""How the engine sheds load when it is behind (decision 0009).

- The fire times of an ``overlap="skip"`` job that are due together are decided in one step
  (`coalesce`): the last one runs if the job is idle, and those skipped are one run that goes
  on the job's streak: one write, not one per fire time.
- A streak that goes on is announced (an event) when it starts and then at most once per
  `STREAK_EVENT_EVERY` of its fire times (`announced_or_quiet`).
- While the engine is behind, a skip job whose run is still active is set aside (`set_aside`)
  until its run ends (`take_back`), or `PARKED_FOR` at most: its fire times meanwhile would all
  be skipped, so the scheduler's work follows the runs that end, not jobs x rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rota.engine.lag import Lag
from rota.engine.policies import Overlap, OverlapDecision, decide_overlap, fire_times_due
from rota.store.operations import Fire, NewRun
from rota.store.records import Reason, RunStatus

if TYPE_CHECKING:
    from rota.engine.jobs import JobState

__all__ = [
    "COALESCED",
    "PARKED_FOR",
    "STREAK_EVENT_EVERY",
    "announced_or_quiet",
    "coalesce",
    "coalesced_fire",
    "set_aside",
    "take_back",
]

# Each fire time of a streak still updates its run (count, last fire time); only its events are
# this far apart at least, so that a follower sees it go on without an event per fire time.
STREAK_EVENT_EVERY = timedelta(minutes=1)
COALESCED = "a later fire time was due at the same time (rota was behind); that one runs"
# The longest a job is set aside; its stored next fire time may lag by that much meanwhile.
PARKED_FOR = timedelta(seconds=30)


def coalesced_fire(state: JobState, fire_at: datetime, now: datetime, lag: Lag) -> Fire | None:
    """The Fire of a skip job whose fire times from `fire_at` are more than one due at `now`
    (the engine is behind), decided at once (`coalesce`); None for any other job."""
    settings = state.settings
    following = settings.schedule.next_after(fire_at)
    if settings.overlap is not Overlap.SKIP or following is None or following > now:
        return None
    fire_times, following = fire_times_due(settings.schedule, fire_at, now)
    lag.coalesced += len(fire_times) - 1
    running, queued = state.active_now(now)
    decision = decide_overlap(Overlap.SKIP, 1, running, queued)
    runs = coalesce(state, fire_times, now, decision)
    return Fire(state.definition.name, fire_at, following, tuple(runs))


def coalesce(
    state: JobState, fire_times: Sequence[datetime], now: datetime, decision: OverlapDecision
) -> list[NewRun]:
    """The runs of a skip job's fire times due together (more than one): the last runs if
    `decision` (made against its active runs) creates it; the others, or all, are skipped as
    one run that goes on the job's streak."""
    name, settings = state.definition.name, state.settings
    runs: list[NewRun] = []
    skipped = list(fire_times[:-1]) if decision.create else list(fire_times)
    note = COALESCED if decision.create else decision.reason
    runs.append(
        NewRun(
            name,
            Reason.SCHEDULE,
            now,
            RunStatus.SKIPPED,
            skipped[0],
            note=note,
            streak_of=state.streak,
            fire_count=len(skipped),
            last_fire_time=skipped[-1] if len(skipped) > 1 else None,
        )
    )
    if decision.create:
        runs.append(
            NewRun(name, Reason.SCHEDULE, now, fire_time=fire_times[-1], args=settings.args)
        )
    return [announced_or_quiet(state, run) for run in runs]


def announced_or_quiet(state: JobState, run: NewRun) -> NewRun:
    """`run`, made quiet (no event) if it continues the job's streak less than
    `STREAK_EVENT_EVERY` of fire times after the last event of it."""
    if run.streak_of is None or run.status is not RunStatus.SKIPPED:
        return run
    last, announced = run.latest_fire_time, state.streak_announced
    if last is None or announced is None or last - announced >= STREAK_EVENT_EVERY:
        return run
    return replace(run, quiet=True)


def set_aside(state: JobState, lag: Lag, now: datetime) -> None:
    """After a job's fire: set it aside if the engine sheds load and its run is still active."""
    active = state.running or state.queued
    if state.settings.overlap is Overlap.SKIP and active and lag.shedding(now):
        state.parked_until = now + PARKED_FOR
        lag.parked += 1


def take_back(state: JobState, now: datetime) -> bool:
    """The job's last active run ended: whether it was set aside (it is due again now)."""
    if state.parked_until is None or state.parked_until <= now:
        return False
    state.parked_until = now
    return True
