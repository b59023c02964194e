"""Zone transitions, found once per zone and year."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rota.schedules.zones import (
    Transition,
    get_zone,
    next_transition,
    offset_at,
    previous_transition,
    to_instant,
    to_seconds,
)


def seconds(text: str) -> int:
    return to_seconds(datetime.fromisoformat(text).replace(tzinfo=UTC))


def test_berlin_2026_transitions_are_exact() -> None:
    spring, _ = next_transition("Europe/Berlin", seconds("2026-01-01T00:00"))
    assert spring == Transition(seconds("2026-03-29T01:00"), 3600, 7200)
    fall, _ = next_transition("Europe/Berlin", spring.at)
    assert fall == Transition(seconds("2026-10-25T01:00"), 7200, 3600)
    assert previous_transition("Europe/Berlin", fall.at) == fall
    assert previous_transition("Europe/Berlin", fall.at - 1) == spring


def test_lord_howe_shifts_half_an_hour() -> None:
    found, _ = next_transition("Australia/Lord_Howe", seconds("2026-06-01T00:00"))
    assert found is not None
    assert (found.before, found.after) == (37800, 39600)


def test_zones_without_dst_have_no_transition_before_the_horizon() -> None:
    found, horizon = next_transition("Asia/Kolkata", seconds("2026-06-01T00:00"))
    assert found is None
    assert horizon == seconds("2028-01-01T00:00")
    assert next_transition("UTC", 0)[0] is None


def test_transition_across_a_year_boundary_is_found() -> None:
    found, _ = next_transition("Europe/Berlin", seconds("2026-12-31T23:00"))
    assert found is not None
    assert found.at == seconds("2027-03-28T01:00")


def test_to_instant_uses_a_fixed_offset_that_compares_by_instant() -> None:
    first = to_instant(seconds("2026-10-25T00:30"), _berlin())
    second = to_instant(seconds("2026-10-25T01:00"), _berlin())
    assert (first.isoformat(), second.isoformat()) == (
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
    )
    assert second > first


def _berlin():  # type: ignore[no-untyped-def]
    from rota.schedules.zones import get_zone

    return get_zone("Europe/Berlin")


# Every offset change in tzdata (1900-2060) that falls on a UTC year's first instant; found by
# scanning zoneinfo.available_timezones(). The old finder gave each year [start, end) but read the
# offset *at* `start` as the year's opening one, so a change at that instant belonged to no year.
YEAR_BOUNDARY = [
    ("Africa/Ceuta", "1901-01-01T00:00", -1276, 0),
    ("Europe/Madrid", "1901-01-01T00:00", -884, 0),
    ("Africa/Sao_Tome", "1912-01-01T00:00", -2205, 0),
    ("Europe/Lisbon", "1912-01-01T00:00", -2205, 0),
    ("Portugal", "1912-01-01T00:00", -2205, 0),
    ("America/Cambridge_Bay", "1920-01-01T00:00", 0, -25200),
    ("Antarctica/DumontDUrville", "1947-01-01T00:00", 0, 36000),
    ("Indian/Kerguelen", "1950-01-01T00:00", 0, 18000),
    ("America/Inuvik", "1953-01-01T00:00", 0, -28800),
    ("Antarctica/McMurdo", "1956-01-01T00:00", 0, 43200),
    ("America/Rankin_Inlet", "1957-01-01T00:00", 0, -21600),
    ("Africa/Niamey", "1960-01-01T00:00", 0, 3600),
    ("Antarctica/Palmer", "1965-01-01T00:00", 0, -10800),
    ("Antarctica/Casey", "1969-01-01T00:00", 0, 28800),
]


@pytest.mark.parametrize(("key", "utc", "before", "after"), YEAR_BOUNDARY)
def test_transition_on_a_years_first_instant_is_found(
    key: str, utc: str, before: int, after: int
) -> None:
    at = seconds(utc)
    expected = Transition(at, before, after)
    assert offset_at(get_zone(key), at - 1) == before  # the table is what zoneinfo says
    assert offset_at(get_zone(key), at) == after
    assert next_transition(key, at - 86_400)[0] == expected
    assert next_transition(key, at - 1)[0] == expected
    assert previous_transition(key, at) == expected
    assert previous_transition(key, at + 86_400) == expected
