"""Intervals fire at anchor + k * period, exactly, however late they are asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from rota import every
from rota.schedules import Interval, Once

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def test_default_anchor_is_the_epoch() -> None:
    schedule = Interval("6h")
    t = datetime(2026, 11, 23, 7, 13, tzinfo=UTC)
    assert schedule.next_after(t) == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_before_a_later_anchor_the_anchor_comes_first() -> None:
    schedule = Interval("1d", ANCHOR)
    assert schedule.next_after(datetime(2025, 6, 1, tzinfo=UTC)) == ANCHOR
    assert schedule.next_after(ANCHOR) == ANCHOR + timedelta(days=1)


def test_tenth_of_a_second_never_drifts() -> None:
    schedule = Interval(0.1)
    late = datetime(2026, 11, 23, 12, 0, 0, 123_456, tzinfo=UTC)
    assert schedule.next_after(late) == datetime(2026, 11, 23, 12, 0, 0, 200_000, tzinfo=UTC)
    t = ANCHOR
    for _ in range(1000):
        following = schedule.next_after(t)
        assert following is not None
        t = following
    assert t == ANCHOR + timedelta(seconds=100)


def test_exact_durations_across_dst_keep_their_spacing() -> None:
    schedule = Interval("1d", datetime(2026, 3, 28, 2, 0, tzinfo=UTC))
    first = schedule.next_after(datetime(2026, 3, 28, 3, 0, tzinfo=UTC))
    assert first == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)


def test_every_accepts_units_or_text() -> None:
    assert every(hours=6) == every("6h") == Interval(21600)
    assert every(seconds=0.1).text == "every 0.1s"
    assert every(minutes=90).describe() == "Every 90 minutes"
    assert every("1h").describe() == "Every hour"


@given(
    st.integers(1, 10**7).map(lambda ms: timedelta(milliseconds=max(ms, 100))),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_fire_times_lie_on_the_grid(period: timedelta, t: datetime) -> None:
    schedule = Interval(period, ANCHOR)
    found = schedule.next_after(t)
    assert found is not None
    assert found > t
    assert (found - ANCHOR) % period == timedelta(0)
    assert found - period <= t or found == ANCHOR


def test_once_fires_once() -> None:
    once = Once("2026-12-01T10:00+01:00")
    assert once.next_after(datetime(2026, 12, 1, 8, 59, tzinfo=UTC)) == once.at
    assert once.next_after(once.at) is None
