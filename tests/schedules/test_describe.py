"""Descriptions read as a person would say them."""

from __future__ import annotations

import pytest

from rota.schedules import After, Manual, Once, Schedule, parse

CASES = [
    ("daily 02:00", "Europe/Berlin", "Every day at 02:00 (Europe/Berlin)"),
    ("weekly sun 04:00", "UTC", "Every Sunday at 04:00 (UTC)"),
    ("weekly mon,thu 04:00", "UTC", "Every Monday and Thursday at 04:00 (UTC)"),
    ("weekly mon-fri 07:30", "UTC", "Every weekday at 07:30 (UTC)"),
    ("weekly sat,sun 09:00", "UTC", "Every Saturday and Sunday at 09:00 (UTC)"),
    ("weekly mon-sun 09:00", "UTC", "Every day at 09:00 (UTC)"),
    ("every 2h", None, "Every 2 hours"),
    ("every 30m", None, "Every 30 minutes"),
    ("every 0.1s", None, "Every 0.1 seconds"),
    ("every 1d", None, "Every day"),
    ("30 2 * * *", "UTC", "At 02:30 every day (UTC)"),
    ("30 2,14 * * *", "UTC", "At 02:30 and 14:30 every day (UTC)"),
    ("*/15 * * * *", "UTC", "Every 15 minutes (UTC)"),
    ("* * * * *", "UTC", "Every minute (UTC)"),
    ("@hourly", "UTC", "Every hour (UTC)"),
    ("30 * * * *", "UTC", "At minute 30 past every hour (UTC)"),
    ("0 */2 * * *", "UTC", "At minute 0 past every 2 hours (UTC)"),
    (
        "*/10 9-17 * * mon-fri",
        "UTC",
        "Every 10 minutes from 09:00 to 17:59 on Monday through Friday (UTC)",
    ),
    ("0 4 * * 0", "UTC", "At 04:00 on Sunday (UTC)"),
    ("0 4 * * sun-sun", "UTC", "At 04:00 on Sunday (UTC)"),
    ("0 4 * * sat-sun", "UTC", "At 04:00 on Saturday and Sunday (UTC)"),
    ("0 0 1 * *", "UTC", "At 00:00 on day 1 of the month (UTC)"),
    ("0 0 L * *", "UTC", "At 00:00 on the last day of the month (UTC)"),
    ("0 0 * * 5#2", "UTC", "At 00:00 on the second Friday of the month (UTC)"),
    ("0 0 1 1 *", "UTC", "At 00:00 on day 1 of the month in January (UTC)"),
    ("0 0 * jan-mar *", "UTC", "At 00:00 every day in January through March (UTC)"),
    ("0 0 13 * 5", "UTC", "At 00:00 on day 13 of the month or on Friday (UTC)"),
    ("5,35 2-4 * * *", "UTC", "At minute 5 and 35 past hour 2 through 4 (UTC)"),
    ("*/20 30 2 * * *", "UTC", "Every 20 seconds, at 02:30 every day (UTC)"),
]


@pytest.mark.parametrize(("text", "tz", "words"), CASES, ids=[c[0] for c in CASES])
def test_describe(text: str, tz: str | None, words: str) -> None:
    assert parse(text, tz=tz).describe() == words


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (Manual(), "Manual only"),
        (After("sync"), "After sync succeeds"),
        (After("sync-movies", "sync-series"), "After sync-movies and sync-series succeed"),
        (Once("2026-12-01T10:00+01:00"), "Once, at 2026-12-01 10:00:00+01:00"),
    ],
)
def test_describe_other_kinds(schedule: Schedule, words: str) -> None:
    assert schedule.describe() == words
