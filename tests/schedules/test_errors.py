"""Every validator rejects bad input with a message naming the field, the value and the rule."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta

import pytest

from rota import every
from rota.errors import RotaError, ScheduleError
from rota.schedules import After, Cron, Daily, Interval, Once, Schedule, Weekly, parse, preview

CRON_ERRORS = [
    ("61 2 * * *", "minute field: 61 is out of range 0-59"),
    ("0 24 * * *", "hour field: 24 is out of range 0-23"),
    ("0 0 0 * *", "day-of-month field: 0 is out of range 1-31"),
    ("0 0 32 * *", "day-of-month field: 32 is out of range 1-31"),
    ("0 0 * 13 *", "month field: 13 is out of range 1-12"),
    ("0 0 * * 8", "day-of-week field: 8 is out of range 0-7"),
    ("60 0 0 * * *", "second field: 60 is out of range 0-59"),
    ("0 0 */0 * *", "day-of-month field: step 0 is not allowed"),
    ("*/60 * * * *", "minute field: step 60 is out of range 1-59"),
    ("*/x * * * *", "minute field: step 'x' is not a whole number"),
    ("0 0 * JNA *", "month field: 'JNA' is not a number 1-12 or a name JAN-DEC"),
    ("0 0 * * FUN", "day-of-week field: 'FUN' is not a number 0-7 or a name SUN-SAT"),
    ("0 5-1 * * *", "hour field: range 5-1 is backwards (5 is after 1)"),
    ("0 -1 * * *", "hour field: range '-1' needs a start and an end"),
    ("0,,5 * * * *", "minute field: '0,,5' has an empty list item"),
    ("0 0 * * L", "day-of-week field: 'L' is not allowed"),
    ("0 0 * * 5#6", "day-of-week field: '5#6': #6 is out of range 1-5"),
    ("0 0 L-3 * *", "day-of-month field: 'L-3' is not allowed"),
    ("0 0 32W * *", "day-of-month field: 32 is out of range 1-31"),
    ("0 0 * *", "cron: '0 0 * *' has 4 fields; expected 5"),
    ("0 0 * * * * *", "cron: '0 0 * * * * *' has 7 fields"),
    ("@fortnightly", "cron: '@fortnightly' is not a known shortcut"),
    ("0 0 30 2 *", "cron: '0 0 30 2 *' never fires"),
    ("0 0 31 4,6,9,11 *", "cron: '0 0 31 4,6,9,11 *' never fires"),
    ("1" * 300 + " * * * *", "cron: the expression is longer than 256 characters"),
    ("99999999999999999999 * * * *", "minute field: 99999999999999999999 is out of range 0-59"),
    ("", "cron: the expression is empty"),
    ("0 0 ?/2 * *", "day-of-month field: '?/2': '?' takes no step"),
    ("0 0 1,,2 * *", "day-of-month field: '1,,2' has an empty list item"),
    ("0 0 * * 1,,2", "day-of-week field: '1,,2' has an empty list item"),
    ("0 0 * * 5#", "day-of-week field: '5#' is not allowed"),
    ("? * * * *", "minute field: '?' is not a number 0-59"),
    ("*/100 * * * *", "minute field: step 100 is out of range 1-59"),
]


@pytest.mark.parametrize(("expression", "message"), CRON_ERRORS, ids=[e for e, _ in CRON_ERRORS])
def test_bad_cron_expression_names_field_and_value(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        Cron(expression, "UTC")
    assert str(caught.value).startswith(message)


def test_schedule_error_carries_its_parts_and_pickles() -> None:
    with pytest.raises(ScheduleError) as caught:
        Cron("61 * * * *", "UTC")
    error = caught.value
    assert (error.field, error.value, error.reason) == ("minute field", "61", error.reason)
    assert isinstance(error, RotaError)
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.field == "minute field"


OTHER_ERRORS = [
    (
        lambda: Cron("* * * * *", "Europe/Berln"),
        "time zone: 'Europe/Berln' is not a known IANA zone",
    ),
    (lambda: Cron("* * * * *", "../../etc/passwd"), "time zone: '../../etc/passwd' is not a known"),
    (lambda: Daily("25:00"), "time of day: '25:00' is not a time of day HH:MM (00:00-23:59)"),
    (lambda: Daily("2am"), "time of day: '2am' is not a time of day HH:MM"),
    (lambda: Weekly("funday", "04:00"), "days: 'funday' is not a day of the week"),
    (lambda: Weekly([], "04:00"), "days: at least one day of the week is needed"),
    (lambda: Interval("0.05s"), "interval: 0.05s is outside the allowed range 0.1s-366d"),
    (lambda: Interval("400d"), "interval: 400d is outside the allowed range 0.1s-366d"),
    (lambda: Interval("2 fortnights"), "interval: '2 fortnights' is not a duration"),
    (lambda: Interval("-5s"), "interval: '-5s' is not a duration"),
    (lambda: Interval(0), "interval: 0 is not a positive duration"),
    (lambda: Interval(float("nan")), "interval: nan is not a duration"),
    (lambda: Interval(True), "interval: True is not a duration"),
    (lambda: Interval("9" * 80), "interval: the text is longer than 64 characters"),
    (lambda: Once("next tuesday"), "once: 'next tuesday' is not an ISO 8601 date and time"),
    (lambda: After("bad name!"), "after: 'bad name!' is not a job name"),
    (lambda: After(), "after: after needs at least one job name"),
    (lambda: parse("fortnightly"), "schedule: 'fortnightly' is not a schedule; write e.g."),
    (lambda: parse("   "), "schedule: the schedule is empty"),
    (lambda: parse("daily"), "daily: daily needs one argument, HH:MM"),
    (lambda: parse("weekly 04:00"), "weekly: weekly needs days and a time"),
    (lambda: parse("manual please"), "manual: manual takes nothing after it"),
    (lambda: parse("every"), "interval: every needs a duration"),
    (lambda: parse("x" * 2000), "schedule: the text is longer than 1000 characters"),
    (lambda: Schedule.from_dict({"kind": "hourly"}), "schedule: kind 'hourly' is not one of"),
    (lambda: Schedule.from_dict({"kind": "cron"}), "schedule: cron needs 'expression'"),
    (lambda: Cron("* * * * *").next_after(datetime(2026, 1, 1)), "instant: 2026-01-01T00:00:00"),
    (lambda: preview(Daily("02:00"), 0), "count: 0 is not a count from 1 to 1000"),
    (lambda: Cron(5), "cron: 5 is not text"),
    (lambda: Cron("* * * * *", 5), "time zone: 5 is not a zone name"),
    (lambda: parse(None), "schedule: None is not text"),
    (lambda: Once(20261201), "once: 20261201 is not a date and time"),
    (lambda: Interval([1]), "interval: [1] is not a duration"),
    (lambda: Interval(float("inf")), "interval: inf is not a duration"),
    (lambda: Interval("1h", "yesterday"), "interval anchor: 'yesterday' is not an ISO 8601"),
    (lambda: every("2h", hours=2), "interval: give the period as text or as units, not both"),
    (lambda: Schedule.from_dict({"kind": "interval"}), "schedule: interval needs 'period'"),
    (lambda: Schedule.from_dict({"kind": "once"}), "schedule: once needs 'at'"),
    (lambda: Schedule.from_dict({"kind": "after", "jobs": "a"}), "schedule: after needs 'jobs'"),
    (
        lambda: Schedule.from_dict({"kind": "weekly", "at": "01:00"}),
        "schedule: weekly needs 'days'",
    ),
    (lambda: parse("once"), "once: once needs one argument, a date and time"),
]


@pytest.mark.parametrize(("make", "message"), OTHER_ERRORS, ids=[m for _, m in OTHER_ERRORS])
def test_bad_schedule_input_names_field_and_value(make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(ScheduleError) as caught:
        make()
    assert str(caught.value).startswith(message)


def test_bad_tz_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Mars/Olympus")
    with pytest.raises(ScheduleError, match="TZ environment variable 'Mars/Olympus'"):
        Daily("02:00")


def test_tz_environment_variable_is_the_default_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", ":Europe/Berlin")
    assert Daily("02:00").tz == "Europe/Berlin"
    monkeypatch.delenv("TZ")
    assert Daily("02:00").tz == "UTC"


def test_huge_interval_numbers_are_rejected_before_arithmetic() -> None:
    with pytest.raises(ScheduleError, match="longer than 10 years"):
        Interval(10**12)
    with pytest.raises(ScheduleError, match="longer than 10 years"):
        Interval("999999999w")
    assert Interval(timedelta(weeks=2)).text == "every 2w"
