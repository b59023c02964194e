"""Times, durations and progress in words, as the tables print them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rota.cli.words import ago, coming, moment, progress, seconds, since, stamp

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "words"),
    [(None, "-"), (0.0004, "0 ms"), (0.012, "12 ms"), (1.5, "1.5 s"), (250, "4 min")],
)
def test_durations(value: float | None, words: str) -> None:
    assert seconds(value) == words


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=3.4), "3 s ago"),
        (timedelta(minutes=5, seconds=10), "5 min ago"),
        (timedelta(days=1, hours=2), "1 d 2 h ago"),
        (timedelta(seconds=-90), "in 1 min"),
    ],
)
def test_ago(delta: timedelta, words: str) -> None:
    assert ago(NOW, NOW - delta) == words


def test_moments_and_stamps_read_the_apis_times() -> None:
    assert moment(NOW, "2026-11-23T11:00:00Z") == "1 h ago"
    assert moment(NOW, "2026-11-23T14:00:00+01:00") == "in 1 h"
    assert moment(NOW, None) == "-"
    assert stamp("2026-11-23T14:00:00.250+01:00") == "2026-11-23 13:00:00.250 UTC"


@pytest.mark.parametrize(
    ("done", "total", "note", "words"),
    [
        (None, None, None, ""),
        (None, None, "starting", "starting"),
        (4, 40, "Movie 4", "4/40 (10%) Movie 4"),
        (7, None, None, "7"),
    ],
)
def test_progress(done: float | None, total: float | None, note: str | None, words: str) -> None:
    run = {"progress_done": done, "progress_total": total, "progress_note": note}
    assert progress(run) == words


def test_a_past_time_read_a_moment_ahead_is_just_now_not_in_0_s() -> None:
    # A run's start read from the store (or a service's clock) a moment after `now` was taken.
    assert since(NOW, "2026-11-23T12:00:00.300Z") == "0 s ago"
    assert since(NOW, "2026-11-23T11:59:57Z") == "3 s ago"
    assert since(NOW, None) == "-"


def test_an_overdue_fire_time_is_now_not_ago() -> None:
    assert coming(NOW, "2026-11-23T11:59:00Z") == "now"
    assert coming(NOW, "2026-11-23T12:00:00Z") == "now"
    assert coming(NOW, "2026-11-23T13:00:00Z") == "in 1 h"
    assert coming(NOW, None) == "-"
