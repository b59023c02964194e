"""The preview lists the next fire times and says what each DST change among them does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import rota
from rota.errors import ScheduleError
from rota.schedules import Daily, Manual, Once, parse, preview

BERLIN_SPRING = datetime(2026, 3, 27, tzinfo=UTC)
BERLIN_FALL = datetime(2026, 10, 23, tzinfo=UTC)


def test_fire_times_are_shown_in_the_schedules_zone() -> None:
    result = preview(Daily("02:30", "Europe/Berlin"), 4, BERLIN_SPRING)
    assert [f"{t:%m-%d %H:%M %Z}" for t in result.fire_times] == [
        "03-27 02:30 CET",
        "03-28 02:30 CET",
        "03-29 03:00 CEST",
        "03-30 02:30 CEST",
    ]
    assert result.tz == "Europe/Berlin"
    assert result.notes == (
        "2026-03-29: 02:30 does not exist in Europe/Berlin (clocks go forward at 02:00); "
        "runs at 03:00 CEST",
    )


NOTES = [
    (
        "daily 02:30",
        BERLIN_FALL,
        "2026-10-25: 02:30 occurs twice in Europe/Berlin (CEST, then CET); "
        "runs once, at 02:30 CEST",
    ),
    (
        "daily 04:00",
        BERLIN_SPRING,
        "2026-03-29: clocks in Europe/Berlin go forward an hour at 02:00 (CET → CEST)",
    ),
    (
        "*/30 * * * *",
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
        "2026-03-29: clocks in Europe/Berlin go forward an hour at 02:00 (CET → CEST); "
        "fire times from 02:00 to 02:59 do not exist and are skipped",
    ),
    (
        "*/30 * * * *",
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
        "2026-10-25: clocks in Europe/Berlin go back an hour at 03:00 (CEST → CET); "
        "fire times from 02:00 to 02:59 come twice, in CEST and in CET",
    ),
    (
        "every 6h",
        BERLIN_SPRING,
        "2026-03-29: clocks in Europe/Berlin go forward an hour at 02:00 (CET → CEST); "
        "fire times stay exactly 6h apart, so on the clock they come an hour later",
    ),
]


@pytest.mark.parametrize(("text", "after", "note"), NOTES, ids=[n[0] for n in NOTES])
def test_dst_notes(text: str, after: datetime, note: str) -> None:
    result = preview(parse(text, tz="Europe/Berlin"), 12, after, tz="Europe/Berlin")
    assert result.notes == (note,)


def test_lord_howe_half_hour_shift() -> None:
    result = preview(Daily("02:15", "Australia/Lord_Howe"), 3, datetime(2026, 10, 2, tzinfo=UTC))
    assert result.notes == (
        "2026-10-04: 02:15 does not exist in Australia/Lord_Howe (clocks go forward at 02:00); "
        "runs at 02:30 +11",
    )
    assert [f"{t:%d %H:%M}" for t in result.fire_times] == ["03 02:15", "04 02:30", "05 02:15"]


def test_no_dst_note_without_a_change() -> None:
    assert preview(Daily("02:30", "Europe/Berlin"), 5, datetime(2026, 6, 1, tzinfo=UTC)).notes == ()
    assert preview(Daily("02:30", "Asia/Kolkata"), 50, BERLIN_SPRING).notes == ()


def test_schedules_that_stop_firing_preview_what_is_left() -> None:
    once = Once("2026-12-01T10:00+01:00")
    assert preview(once, 5, BERLIN_SPRING).fire_times == (once.at,)
    assert preview(Manual(), 5, BERLIN_SPRING).fire_times == ()


def test_default_start_is_now() -> None:
    before = datetime.now(UTC)
    result = preview(parse("every 1s"), 1)
    assert result.after >= before
    assert result.fire_times[0] > result.after


def test_text_is_read_as_parse_reads_it() -> None:
    result = preview("daily 02:30", 4, BERLIN_SPRING, tz="Europe/Berlin")
    assert result.schedule == parse("daily 02:30", tz="Europe/Berlin")
    assert (
        result.fire_times == preview(Daily("02:30", "Europe/Berlin"), 4, BERLIN_SPRING).fire_times
    )
    assert [f"{t:%m-%d %H:%M %Z}" for t in result.fire_times][2] == "03-29 03:00 CEST"
    assert len(result.notes) == 1
    assert "02:30 does not exist in Europe/Berlin" in result.notes[0]
    assert preview("30 2 * * *", 1, BERLIN_SPRING, tz="UTC").fire_times == (
        datetime(2026, 3, 27, 2, 30, tzinfo=UTC),
    )


BAD_TEXT = ["daily 25:00", "61 * * * *", "fortnightly", "", "weekly 04:00", 42]


@pytest.mark.parametrize("text", BAD_TEXT, ids=[repr(t) for t in BAD_TEXT])
def test_bad_text_fails_as_parse_fails(text: object) -> None:
    with pytest.raises(ScheduleError) as from_parse:
        parse(text, tz="Europe/Berlin")  # type: ignore[arg-type]
    with pytest.raises(ScheduleError) as from_preview:
        preview(text, 3, BERLIN_SPRING, tz="Europe/Berlin")  # type: ignore[arg-type]
    expected = (from_parse.value.field, from_parse.value.value, from_parse.value.reason)
    assert (
        from_preview.value.field,
        from_preview.value.value,
        from_preview.value.reason,
    ) == expected


def test_text_with_an_unknown_zone_names_the_zone() -> None:
    with pytest.raises(ScheduleError) as caught:
        rota.preview("daily 03:00", tz="Europe/Berln")
    assert caught.value.field == "time zone"


def test_rota_preview_takes_text() -> None:
    result = rota.preview("daily 03:00", tz="Europe/Berlin")
    assert result.tz == "Europe/Berlin"
    assert len(result.fire_times) == 5
    assert all(f"{t:%H:%M}" == "03:00" for t in result.fire_times)
