"""One text grammar for every kind, and lossless text and JSON round-trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rota.schedules import (
    After,
    Cron,
    Daily,
    Interval,
    Manual,
    Once,
    Schedule,
    Weekly,
    parse,
    to_schedule,
)

GRAMMAR = [
    ("cron 30 2 * * *", Cron("30 2 * * *", "UTC"), "cron 30 2 * * *"),
    ("30 2 * * *", Cron("30 2 * * *", "UTC"), "cron 30 2 * * *"),
    ("  30   2 * *  * ", Cron("30 2 * * *", "UTC"), "cron 30 2 * * *"),
    ("@daily", Cron("@daily", "UTC"), "cron @daily"),
    ("@Hourly", Cron("@hourly", "UTC"), "cron @hourly"),
    ("*/15 * * * *", Cron("*/15 * * * *", "UTC"), "cron */15 * * * *"),
    ("0 30 2 * * *", Cron("0 30 2 * * *", "UTC"), "cron 0 30 2 * * *"),
    ("daily 02:00", Daily("02:00", "UTC"), "daily 02:00"),
    ("Daily 2:00", Daily("02:00", "UTC"), "daily 02:00"),
    ("weekly sun 04:00", Weekly("sun", "04:00", "UTC"), "weekly sun 04:00"),
    (
        "weekly mon,thu 04:00",
        Weekly(["thursday", "monday"], "04:00", "UTC"),
        "weekly mon,thu 04:00",
    ),
    ("weekly thu, mon 04:00", Weekly("mon,thu", "04:00", "UTC"), "weekly mon,thu 04:00"),
    (
        "weekly mon-fri 07:30",
        Weekly("mon,tue,wed,thu,fri", "07:30", "UTC"),
        "weekly mon,tue,wed,thu,fri 07:30",
    ),
    ("weekly sat-sun 09:00", Weekly("sun,sat", "09:00", "UTC"), "weekly sat,sun 09:00"),
    ("every 2h", Interval(timedelta(hours=2)), "every 2h"),
    ("every 30m", Interval(1800), "every 30m"),
    ("every 90m", Interval("1h30m"), "every 90m"),
    ("every 1 hour 30 minutes", Interval(5400), "every 90m"),
    ("every 0.1s", Interval(0.1), "every 0.1s"),
    ("every 1d", Interval("24h"), "every 1d"),
    ("every 2w", Interval("14d"), "every 2w"),
    ("every 2.5s", Interval(2.5), "every 2.5s"),
    (
        "every 6h from 2026-01-01T03:00+01:00",
        Interval("6h", datetime(2026, 1, 1, 2, 0, tzinfo=UTC)),
        "every 6h from 2026-01-01T03:00:00+01:00",
    ),
    (
        "once 2026-12-01T10:00+01:00",
        Once(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        "once 2026-12-01T10:00:00+01:00",
    ),
    ("once 2026-12-01T09:00Z", Once("2026-12-01T09:00:00+00:00"), "once 2026-12-01T09:00:00+00:00"),
    ("manual", Manual(), "manual"),
    (
        "after sync-movies, sync-series",
        After("sync-movies", "sync-series"),
        "after sync-movies, sync-series",
    ),
    ("after a,b,a", After("a", "b"), "after a, b"),
]


@pytest.mark.parametrize(("text", "expected", "canonical"), GRAMMAR, ids=[g[0] for g in GRAMMAR])
def test_grammar(text: str, expected: Schedule, canonical: str) -> None:
    schedule = parse(text, tz="UTC")
    assert schedule == expected
    assert schedule.text == canonical
    assert parse(canonical, tz="UTC") == schedule


def test_zone_is_part_of_the_value_but_not_of_the_text() -> None:
    berlin = parse("daily 02:00", tz="Europe/Berlin")
    assert berlin != parse("daily 02:00", tz="UTC")
    assert berlin.text == "daily 02:00"
    assert berlin.to_dict() == {"kind": "daily", "at": "02:00", "tz": "Europe/Berlin"}


def test_once_without_offset_is_read_in_the_zone() -> None:
    once = parse("once 2026-12-01T10:00", tz="Europe/Berlin")
    assert once.text == "once 2026-12-01T10:00:00+01:00"
    # A wall time in the spring-forward gap moves to the end of the gap (fixed-time rule) ...
    gap = Once("2026-03-29T02:30", "Europe/Berlin")
    assert gap.at == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # ... and a repeated one takes its first occurrence.
    repeated = Once("2026-10-25T02:30", "Europe/Berlin")
    assert repeated.at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_to_schedule_passes_schedules_through_and_parses_text() -> None:
    daily = Daily("02:00", "UTC")
    assert to_schedule(daily) is daily
    assert to_schedule(daily, "Europe/Berlin") is daily  # its zone was given: it stays
    assert to_schedule("daily 02:00", "UTC") == daily


def test_a_schedule_made_without_a_zone_takes_the_default_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TZ", raising=False)
    unzoned = Daily("02:00")
    assert unzoned.tz == "UTC"
    assert to_schedule(unzoned, "Europe/Berlin") == Daily("02:00", "Europe/Berlin")
    assert to_schedule(Cron("0 4 * * 0"), "Asia/Kolkata").tz == "Asia/Kolkata"
    assert to_schedule(Interval("2h"), "Asia/Kolkata") == Interval("2h")


def test_equal_schedules_hash_alike() -> None:
    assert len({Daily("2:00", "UTC"), parse("daily 02:00", tz="UTC"), Daily("03:00", "UTC")}) == 2
    assert hash(Once("2026-12-01T10:00+01:00")) == hash(Once("2026-12-01T09:00Z"))


# -- properties: every schedule round-trips through its text and its JSON ------------------

ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
TIMES = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
DAYS = st.lists(st.sampled_from(["sun", "mon", "tue", "wed", "thu", "fri", "sat"]), min_size=1)
FIELD = st.one_of(
    st.just("*"),
    st.integers(0, 23).map(str),
    st.builds(lambda a, b: f"{min(a, b)}-{max(a, b)}", st.integers(0, 23), st.integers(0, 23)),
    st.integers(1, 12).map(lambda n: f"*/{n}"),
)
CRONS = st.builds(
    lambda m, h, d, mo, dw: f"{m} {h} {d} {mo} {dw}",
    FIELD,
    FIELD,
    st.sampled_from(["*", "1", "L", "15W", "1-15", "*/2"]),
    st.sampled_from(["*", "1", "jan-jun", "*/3"]),
    st.sampled_from(["*", "1-5", "SUN", "5L", "1#2", "sat,sun"]),
)
INSTANTS = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)

SCHEDULES: st.SearchStrategy[Schedule] = st.one_of(
    st.builds(Cron, CRONS, ZONES),
    st.builds(Daily, TIMES, ZONES),
    st.builds(Weekly, DAYS, TIMES, ZONES),
    st.builds(
        Interval, st.integers(1, 31_622_400).map(lambda tenths: timedelta(seconds=tenths / 10))
    ),
    st.builds(Interval, st.integers(1, 10_000).map(lambda m: timedelta(minutes=m)), INSTANTS),
    st.builds(Once, INSTANTS),
    st.just(Manual()),
    st.builds(After, st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), min_size=1)),
)


def zone_of(schedule: Schedule) -> str | None:
    return getattr(schedule, "tz", None)


@given(SCHEDULES)
def test_text_round_trips(schedule: Schedule) -> None:
    assert parse(schedule.text, tz=zone_of(schedule)) == schedule


@given(SCHEDULES)
def test_json_round_trips(schedule: Schedule) -> None:
    data = json.loads(json.dumps(schedule.to_dict()))
    again = Schedule.from_dict(data)
    assert again == schedule
    assert again.text == schedule.text
    assert hash(again) == hash(schedule)


@given(SCHEDULES, INSTANTS)
def test_next_after_is_strictly_later_and_aware(schedule: Schedule, t: datetime) -> None:
    found = schedule.next_after(t)
    if found is not None:
        assert found > t
        assert found.utcoffset() is not None


@given(SCHEDULES, INSTANTS, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
def test_next_after_is_monotonic(schedule: Schedule, t: datetime, step: timedelta) -> None:
    first, second = schedule.next_after(t), schedule.next_after(t + step)
    if first is None:
        assert second is None
    elif second is not None:
        assert first <= second
