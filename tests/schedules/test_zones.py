"""Zone transitions, found once per zone and year."""

from __future__ import annotations

from datetime import UTC, datetime

from rota.schedules.zones import (
    Transition,
    next_transition,
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
