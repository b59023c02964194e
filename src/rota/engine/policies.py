"""Policies as pure decisions: given a job's policy, its runs and an instant, what happens.

The engine carries the decisions out; nothing here reads a clock, a store or a random source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from rota.schedules import Schedule

__all__ = [
    "MAX_CATCH_UP",
    "CatchUp",
    "CatchUpPlan",
    "Overlap",
    "OverlapDecision",
    "RetryPolicy",
    "decide_overlap",
    "fire_times_due",
    "plan_catch_up",
    "retry_delay",
]

MAX_CATCH_UP = 100
# At most this many fire times due at once are counted one by one (`fire_times_due`).
MAX_DUE = 100_000
_TINY = timedelta(microseconds=1)


class Overlap(StrEnum):
    """What a new run does while another run of the same job is active (queued or running)."""

    SKIP = "skip"
    QUEUE = "queue"
    REPLACE = "replace"
    ALLOW = "allow"


class CatchUp(StrEnum):
    """What happens to fire times missed while no engine was running."""

    ONCE = "once"
    ALL = "all"
    NONE = "none"


@dataclass(frozen=True)
class OverlapDecision:
    """Create the run (after cancelling `cancel`), or record it skipped with `reason`."""

    create: bool
    reason: str | None = None
    cancel: tuple[int, ...] = ()


def decide_overlap(
    policy: Overlap, max_concurrent: int, running: Sequence[int], queued: Sequence[int | None]
) -> OverlapDecision:
    """Whether a new run of a job may be created, given the ids of its active runs.

    A created run is queued; a worker starts it when the job has room (one running run, or
    `max_concurrent` under ``allow``), so ``queue`` needs no more than creating it. A queued id
    of None stands for a run created in the same step, which has no id yet.
    """
    active = len(running) + len(queued)
    if policy is Overlap.REPLACE:
        return OverlapDecision(True, cancel=(*running, *(i for i in queued if i is not None)))
    if policy is Overlap.ALLOW:
        if active < max_concurrent:
            return OverlapDecision(True)
        return OverlapDecision(False, f"{active} runs active, max_concurrent is {max_concurrent}")
    if policy is Overlap.QUEUE:
        if not queued:
            return OverlapDecision(True)
        return OverlapDecision(False, f"{_name(queued[0])} is already waiting (overlap=queue)")
    if running:
        return OverlapDecision(False, f"run {running[0]} is still running (overlap=skip)")
    if queued:
        return OverlapDecision(False, f"{_name(queued[0])} is still queued (overlap=skip)")
    return OverlapDecision(True)


def _name(run_id: int | None) -> str:
    return "a run for an earlier missed fire time" if run_id is None else f"run {run_id}"


@dataclass(frozen=True)
class CatchUpPlan:
    """Catch-up runs to create (by fire time), how many fire times were missed, where to resume.

    `missed` counts up to ``MAX_CATCH_UP + 1``: more than that are not counted one by one.
    `resume_at` is the first fire time still to be run on time (None: the schedule is done).
    """

    fire_times: tuple[datetime, ...]
    missed: int
    resume_at: datetime | None
    warning: str | None = None


def plan_catch_up(
    schedule: Schedule,
    next_fire_at: datetime,
    now: datetime,
    grace: timedelta,
    policy: CatchUp,
) -> CatchUpPlan:
    """What to do about the fire times from `next_fire_at` that are more than `grace` late at `now`.

    Fire times later than ``now - grace`` are not missed: they run normally, from `resume_at`.
    """
    late_after = now - grace
    missed: list[datetime] = []
    cursor: datetime | None = next_fire_at
    while cursor is not None and cursor < late_after and len(missed) <= MAX_CATCH_UP:
        missed.append(cursor)
        cursor = schedule.next_after(cursor)
    if cursor is not None and cursor < late_after:
        # More than MAX_CATCH_UP missed: jump to the first fire time that is not late.
        cursor = schedule.next_after(late_after - _TINY)
    count = len(missed)
    if not missed or policy is CatchUp.NONE:
        return CatchUpPlan((), count, cursor)
    if policy is CatchUp.ALL and count <= MAX_CATCH_UP:
        return CatchUpPlan(tuple(missed), count, cursor)
    warning = None
    if policy is CatchUp.ALL:
        warning = f"more than {MAX_CATCH_UP} fire times were missed; catching up once"
    return CatchUpPlan((missed[0],), count, cursor, warning)


def fire_times_due(
    schedule: Schedule, fire_at: datetime, now: datetime
) -> tuple[tuple[datetime, ...], datetime | None]:
    """The fire times from `fire_at` that are due at `now` (`fire_at` always, and each later one
    not after `now`), and the first one after them (None: the schedule is done).

    An engine that keeps up finds one; one that is behind finds several, and plans them at once
    instead of writing each alone. Past `MAX_DUE` the rest are passed over uncounted.
    """
    due = [fire_at]
    following = schedule.next_after(fire_at)
    while following is not None and following <= now:
        if len(due) == MAX_DUE:
            return tuple(due), schedule.next_after(now)
        due.append(following)
        following = schedule.next_after(following)
    return tuple(due), following


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` attempts in all, not counting those a limiter deferred; waits grow
    from `backoff` by doubling to `max_delay`."""

    attempts: int = 1
    backoff: timedelta = timedelta(seconds=10)
    max_delay: timedelta = timedelta(hours=1)


def retry_delay(policy: RetryPolicy, attempt: int, jitter: float) -> timedelta | None:
    """How long to wait before the next attempt after failure number `attempt` of a run.

    None when no attempt is left. `jitter` in [0, 1) spreads retries ("equal jitter"): the wait
    is between half and all of the exponential delay.
    """
    if attempt >= policy.attempts:
        return None
    # In float seconds: backoff * 2**attempt overflows timedelta long before attempts run out.
    exponential = policy.backoff.total_seconds() * 2.0 ** min(attempt - 1, 1000)
    ceiling = min(policy.max_delay.total_seconds(), exponential)
    return timedelta(seconds=ceiling / 2 + ceiling / 2 * jitter)
