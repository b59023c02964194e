"""Day rules of cron fields, checked against dates read off a calendar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rota.schedules import Cron


def fire_days(expression: str, start: str, count: int) -> list[str]:
    schedule = Cron(expression, "UTC")
    t = datetime.fromisoformat(start).replace(tzinfo=UTC)
    days = []
    for _ in range(count):
        found = schedule.next_after(t)
        assert found is not None
        days.append(found.strftime("%Y-%m-%d %a"))
        t = found
    return days


CASES = [
    # (expression, start, expected fire days)
    ("0 0 L * *", "2026-01-15", ["2026-01-31 Sat", "2026-02-28 Sat", "2026-03-31 Tue"]),
    ("0 0 L 2 *", "2027-06-01", ["2028-02-29 Tue", "2029-02-28 Wed"]),
    ("0 0 LW * *", "2026-01-01", ["2026-01-30 Fri", "2026-02-27 Fri", "2026-03-31 Tue"]),
    # 2026-08-01 is a Saturday: the nearest weekday inside August is Monday the 3rd.
    ("0 0 1W 8 *", "2026-07-01", ["2026-08-03 Mon"]),
    # 2026-05-31 is a Sunday: Friday the 29th, not Monday 1 June.
    ("0 0 31W 5 *", "2026-05-01", ["2026-05-29 Fri"]),
    ("0 0 15W * *", "2026-02-01", ["2026-02-16 Mon", "2026-03-16 Mon", "2026-04-15 Wed"]),
    ("0 0 * * 5L", "2026-01-01", ["2026-01-30 Fri", "2026-02-27 Fri", "2026-03-27 Fri"]),
    ("0 0 * * FRI#2", "2026-01-01", ["2026-01-09 Fri", "2026-02-13 Fri", "2026-03-13 Fri"]),
    ("0 0 * * 1#5", "2026-01-01", ["2026-03-30 Mon", "2026-06-29 Mon", "2026-08-31 Mon"]),
    # Both day fields restricted: either matches (Vixie).
    ("0 0 13 * 5", "2026-02-01", ["2026-02-06 Fri", "2026-02-13 Fri", "2026-02-20 Fri"]),
    ("0 0 1 * MON", "2026-05-30", ["2026-06-01 Mon", "2026-06-08 Mon", "2026-06-15 Mon"]),
    # A day field starting with '*' makes both apply: odd days that are Mondays.
    ("0 0 */2 * 1", "2026-05-31", ["2026-06-01 Mon", "2026-06-15 Mon", "2026-06-29 Mon"]),
    ("0 0 * * 7", "2026-11-23", ["2026-11-29 Sun", "2026-12-06 Sun"]),
    ("0 0 * * SAT-SUN", "2026-11-23", ["2026-11-28 Sat", "2026-11-29 Sun", "2026-12-05 Sat"]),
    ("0 0 * * 5-7", "2026-11-26", ["2026-11-27 Fri", "2026-11-28 Sat", "2026-11-29 Sun"]),
    ("0 0 * * SUN-SUN", "2026-11-23", ["2026-11-29 Sun", "2026-12-06 Sun"]),
    ("0 0 * * 0-7/2", "2026-11-23", ["2026-11-24 Tue", "2026-11-26 Thu", "2026-11-28 Sat"]),
    ("0 0 * * fri-0", "2026-11-23", ["2026-11-27 Fri", "2026-11-28 Sat", "2026-11-29 Sun"]),
    ("0 0 29 2 *", "2026-01-01", ["2028-02-29 Tue", "2032-02-29 Sun"]),
    ("0 0 1-30/7 * *", "2026-01-01", ["2026-01-08 Thu", "2026-01-15 Thu", "2026-01-22 Thu"]),
    ("0 0 1 jan-mar/2 *", "2026-01-01", ["2026-03-01 Sun", "2027-01-01 Fri"]),
    ("0 0 ? * wed", "2026-11-23", ["2026-11-25 Wed", "2026-12-02 Wed"]),
    ("@monthly", "2026-11-23", ["2026-12-01 Tue", "2027-01-01 Fri"]),
    ("@yearly", "2026-11-23", ["2027-01-01 Fri", "2028-01-01 Sat"]),
]


@pytest.mark.parametrize(("expression", "start", "expected"), CASES, ids=[c[0] for c in CASES])
def test_day_rules(expression: str, start: str, expected: list[str]) -> None:
    assert fire_days(expression, start, len(expected)) == expected


def test_six_fields_fire_on_seconds() -> None:
    schedule = Cron("*/20 30 2 * * *", "UTC")
    t = datetime(2026, 11, 23, 2, 29, 59, 500_000, tzinfo=UTC)
    fired = []
    for _ in range(4):
        found = schedule.next_after(t)
        assert found is not None
        fired.append(found.strftime("%d %H:%M:%S"))
        t = found
    assert fired == ["23 02:30:00", "23 02:30:20", "23 02:30:40", "24 02:30:00"]


def test_next_after_is_strictly_after_a_fire_time_and_ignores_fractions() -> None:
    schedule = Cron("0 * * * *", "UTC")
    on_time = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert schedule.next_after(on_time) == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    just_before = datetime(2026, 11, 23, 9, 59, 59, 999_999, tzinfo=UTC)
    assert schedule.next_after(just_before) == on_time


def test_fire_times_are_in_the_schedules_zone() -> None:
    found = Cron("0 9 * * *", "Asia/Kolkata").next_after(datetime(2026, 11, 23, tzinfo=UTC))
    assert found is not None
    assert found.isoformat() == "2026-11-23T09:00:00+05:30"


def test_nothing_left_near_the_end_of_the_calendar() -> None:
    assert Cron("0 0 1 1 *", "UTC").next_after(datetime(9998, 6, 1, tzinfo=UTC)) is None


def test_fixed_time_follows_the_minute_and_hour_fields() -> None:
    assert Cron("30 2 * * *", "UTC").fixed_time
    assert Cron("0 0-23/2 * * *", "UTC").fixed_time
    assert not Cron("*/15 * * * *", "UTC").fixed_time
    assert not Cron("30 * * * *", "UTC").fixed_time
    assert not Cron("@hourly", "UTC").fixed_time
    assert Cron("@daily", "UTC").fixed_time
    assert Cron("*/10 30 2 * * *", "UTC").fixed_time  # the seconds field does not count
