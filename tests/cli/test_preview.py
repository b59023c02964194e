"""`rota preview` prints a schedule's text, description, fire times and DST notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from rota.cli import main, until


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_preview_prints_text_description_times_and_notes() -> None:
    code, out, _ = run(
        "preview", "daily 2:30", "--tz", "Europe/Berlin", "-n", "3", "--after", "2026-03-27T12:00"
    )
    assert code == 0
    assert out.splitlines() == [
        "daily 02:30",
        "Every day at 02:30 (Europe/Berlin)",
        "",
        "  Sat 2026-03-28 02:30:00 CET (+0100)      in 14 h 30 min",
        "  Sun 2026-03-29 03:00:00 CEST (+0200)     in 1 d 14 h",
        "  Mon 2026-03-30 02:30:00 CEST (+0200)     in 2 d 13 h",
        "",
        "  DST 2026-03-29: 02:30 does not exist in Europe/Berlin (clocks go forward at 02:00); "
        "runs at 03:00 CEST",
    ]


def test_preview_counts_from_now_by_default() -> None:
    code, out, _ = run("preview", "every 2h", "-n", "1")
    assert code == 0
    assert out.splitlines()[:2] == ["every 2h", "Every 2 hours"]
    assert " in " in out.splitlines()[3]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["61 2 * * *"], "error: minute field: 61 is out of range 0-59"),
        (
            ["daily 02:00", "--tz", "Europe/Berln"],
            "error: time zone: 'Europe/Berln' is not a known",
        ),
        (["daily 02:00", "-n", "0"], "error: count: 0 is not a count from 1 to 1000"),
        (["daily 02:00", "--after", "soon"], "error: after: 'soon' is not an ISO 8601"),
    ],
)
def test_bad_input_prints_the_error_and_exits_2(args: list[str], message: str) -> None:
    code, out, err = run("preview", *args)
    assert code == 2
    assert out == ""
    assert err.startswith(message)


def test_a_one_shot_in_the_past_says_its_time_has_passed() -> None:
    code, out, _ = run("preview", "once 2026-12-01T10:00+01:00", "--after", "2026-12-02T10:00Z")
    assert code == 0
    assert out.splitlines()[3] == "  never fires: its time, 2026-12-01 10:00:00+01:00, has passed"
    assert "never fires by itself" not in out
    ahead = run(
        "preview", "once 2026-12-01T10:00+01:00", "--after", "2026-12-01T00:00Z", "--tz", "CET"
    )[1]
    assert ahead.splitlines()[3].startswith("  Tue 2026-12-01 10:00:00 CET (+0100)")


def test_manual_says_it_never_fires() -> None:
    code, out, _ = run("preview", "manual")
    assert code == 0
    assert "never fires by itself" in out


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=0.1), "in 0.1 s"),
        (timedelta(seconds=59), "in 59 s"),
        (timedelta(minutes=5), "in 5 min"),
        (timedelta(hours=3, minutes=12, seconds=40), "in 3 h 12 min"),
        (timedelta(hours=3), "in 3 h"),
        (timedelta(days=2, hours=1), "in 2 d 1 h"),
        (timedelta(days=7), "in 7 d"),
        (timedelta(seconds=-1), "now"),
    ],
)
def test_until(delta: timedelta, words: str) -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert until(now, now + delta) == words
