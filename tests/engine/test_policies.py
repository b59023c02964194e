"""Policy decisions, exhaustively and by property, without a store or a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rota.engine.policies import (
    MAX_CATCH_UP,
    CatchUp,
    Overlap,
    OverlapDecision,
    RetryPolicy,
    decide_overlap,
    plan_catch_up,
    retry_delay,
)
from rota.schedules import Daily, Interval, Once

# -- overlap ------------------------------------------------------------------------------

OVERLAP = [
    (Overlap.SKIP, 1, [], [], OverlapDecision(True)),
    (Overlap.SKIP, 1, [7], [], OverlapDecision(False, "run 7 is still running (overlap=skip)")),
    (Overlap.SKIP, 1, [], [8], OverlapDecision(False, "run 8 is still queued (overlap=skip)")),
    (Overlap.QUEUE, 1, [], [], OverlapDecision(True)),
    (Overlap.QUEUE, 1, [7], [], OverlapDecision(True)),
    (
        Overlap.QUEUE,
        1,
        [7],
        [8],
        OverlapDecision(False, "run 8 is already waiting (overlap=queue)"),
    ),
    (Overlap.REPLACE, 1, [], [], OverlapDecision(True)),
    (Overlap.REPLACE, 1, [7], [8], OverlapDecision(True, cancel=(7, 8))),
    (Overlap.ALLOW, 3, [7, 8], [], OverlapDecision(True)),
    (
        Overlap.ALLOW,
        3,
        [7, 8],
        [9],
        OverlapDecision(False, "3 runs active, max_concurrent is 3"),
    ),
]


@pytest.mark.parametrize(("policy", "limit", "running", "queued", "expected"), OVERLAP)
def test_overlap(
    policy: Overlap, limit: int, running: list[int], queued: list[int], expected: OverlapDecision
) -> None:
    assert decide_overlap(policy, limit, running, queued) == expected


@given(
    st.sampled_from(Overlap),
    st.integers(1, 5),
    st.lists(st.integers(1, 99), max_size=6, unique=True),
    st.lists(st.integers(100, 199), max_size=3, unique=True),
)
def test_overlap_never_lets_a_job_exceed_its_limit(
    policy: Overlap, limit: int, running: list[int], queued: list[int]
) -> None:
    decision = decide_overlap(policy, limit, running, queued)
    assert decision.create == (decision.reason is None)
    if decision.create:
        remaining = len(running) + len(queued) - len(decision.cancel)
        if policy is Overlap.ALLOW:
            assert remaining < limit
        elif policy is Overlap.QUEUE:
            assert not queued  # at most one waits
        else:
            assert remaining == 0


# -- catch-up -----------------------------------------------------------------------------

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
HOURLY = Interval("1h")
GRACE = timedelta(seconds=60)


def test_nothing_missed_within_grace() -> None:
    plan = plan_catch_up(HOURLY, T0, T0 + timedelta(seconds=30), GRACE, CatchUp.ONCE)
    assert (plan.fire_times, plan.missed, plan.resume_at) == ((), 0, T0)


def test_once_runs_one_catch_up_for_all_missed() -> None:
    now = T0 + timedelta(hours=5, minutes=30)
    plan = plan_catch_up(HOURLY, T0, now, GRACE, CatchUp.ONCE)
    assert plan.fire_times == (T0,)
    assert plan.missed == 6
    assert plan.resume_at == T0 + timedelta(hours=6)
    assert plan.warning is None


def test_a_fire_time_within_grace_is_run_on_time_not_caught_up() -> None:
    now = T0 + timedelta(hours=2, seconds=20)
    plan = plan_catch_up(HOURLY, T0, now, GRACE, CatchUp.ONCE)
    assert plan.missed == 2  # 00:00 and 01:00; 02:00 is 20 s late, within grace
    assert plan.resume_at == T0 + timedelta(hours=2)


def test_all_runs_each_missed_fire_time() -> None:
    now = T0 + timedelta(hours=3, minutes=30)
    plan = plan_catch_up(HOURLY, T0, now, GRACE, CatchUp.ALL)
    assert plan.fire_times == tuple(T0 + timedelta(hours=h) for h in range(4))


def test_all_falls_back_to_once_past_the_limit_with_a_warning() -> None:
    fast = Interval("0.1s")
    now = T0 + timedelta(days=7)
    plan = plan_catch_up(fast, T0, now, GRACE, CatchUp.ALL)
    assert plan.fire_times == (T0,)
    assert plan.missed == MAX_CATCH_UP + 1
    assert plan.warning == f"more than {MAX_CATCH_UP} fire times were missed; catching up once"
    assert plan.resume_at == now - GRACE  # the grid point at now - grace is not late yet


def test_none_runs_nothing_and_resumes() -> None:
    now = T0 + timedelta(days=2, hours=1)
    plan = plan_catch_up(Daily("00:00", "UTC"), T0, now, GRACE, CatchUp.NONE)
    assert (plan.fire_times, plan.missed, plan.resume_at) == ((), 3, T0 + timedelta(days=3))


def test_a_one_shot_schedule_missed_is_done_after_catching_up() -> None:
    once = Once(T0)
    plan = plan_catch_up(once, T0, T0 + timedelta(hours=1), GRACE, CatchUp.ONCE)
    assert (plan.fire_times, plan.resume_at) == ((T0,), None)


@given(
    st.sampled_from([Interval("1m"), Interval("7m"), Daily("03:30", "Europe/Berlin")]),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2)),
    st.sampled_from(CatchUp),
)
def test_catch_up_properties(
    schedule: Interval | Daily, downtime: timedelta, grace: timedelta, policy: CatchUp
) -> None:
    start = schedule.next_after(T0)
    assert start is not None
    now = start + downtime
    plan = plan_catch_up(schedule, start, now, grace, policy)
    assert len(plan.fire_times) <= min(plan.missed, MAX_CATCH_UP)
    assert all(f < now - grace for f in plan.fire_times)
    if policy is CatchUp.ONCE and plan.missed:
        assert plan.fire_times == (start,)
    assert plan.resume_at is not None
    assert plan.resume_at >= now - grace  # never resumes at a late fire time
    assert plan.resume_at - schedule_period(schedule) < now - grace or plan.resume_at == start


def schedule_period(schedule: Interval | Daily) -> timedelta:
    return schedule.period if isinstance(schedule, Interval) else timedelta(days=1, hours=1)


# -- retries ------------------------------------------------------------------------------


def test_retry_delays_double_up_to_the_ceiling() -> None:
    policy = RetryPolicy(attempts=6, backoff=timedelta(seconds=10), max_delay=timedelta(seconds=60))
    full = [retry_delay(policy, attempt, jitter=0.999999) for attempt in range(1, 7)]
    assert [round(d.total_seconds()) if d else None for d in full] == [10, 20, 40, 60, 60, None]
    half = retry_delay(policy, 1, jitter=0.0)
    assert half == timedelta(seconds=5)


@given(st.integers(1, 10), st.integers(1, 200), st.floats(0, 1, exclude_max=True))
def test_retry_delay_stays_within_bounds(attempts: int, attempt: int, jitter: float) -> None:
    policy = RetryPolicy(attempts=attempts)
    delay = retry_delay(policy, attempt, jitter)
    if attempt >= attempts:
        assert delay is None
    else:
        assert delay is not None
        assert timedelta(seconds=5) <= delay <= policy.max_delay
