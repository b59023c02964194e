"""Times, spans and runs in words, as every command prints them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rota.cli.shapes import parse_time

__all__ = ["ago", "coming", "moment", "progress", "seconds", "since", "span", "stamp", "until"]

Json = dict[str, Any]


def span(seconds: float) -> str:
    """A length of time in words: ``"0.5 s"``, ``"3 h 12 min"``, ``"2 d 1 h"``."""
    if seconds < 60:
        shown = f"{seconds:.1f}".rstrip("0").rstrip(".")
        return f"{shown} s"
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def until(now: datetime, then: datetime) -> str:
    """How far `then` lies after `now`, in words: ``"in 3 h 12 min"``."""
    # In UTC: Python subtracts datetimes sharing one ZoneInfo by wall clock, ignoring DST.
    seconds = (then.astimezone(UTC) - now.astimezone(UTC)) / timedelta(seconds=1)
    return "now" if seconds < 0 else f"in {span(seconds)}"


def ago(now: datetime, then: datetime) -> str:
    """How long before `now` `then` was: ``"5 min ago"`` (``"in ..."`` if it is ahead)."""
    seconds = (now.astimezone(UTC) - then.astimezone(UTC)) / timedelta(seconds=1)
    if seconds < 0:
        return until(now, then)
    # Whole seconds: a table refreshed every second should not flicker in tenths.
    return f"{span(round(seconds))} ago"


def moment(now: datetime, text: str | None) -> str:
    """An API time relative to `now`, or ``-``."""
    if text is None:
        return "-"
    then = parse_time(text)
    return ago(now, then) if then <= now else until(now, then)


def since(now: datetime, text: str | None) -> str:
    """An API time that has passed (a run queued, started, finished), or ``-``: ``"0 s ago"``
    if it reads a moment ahead of `now` (read after `now` was taken, or another clock's)."""
    if text is None:
        return "-"
    return ago(now, min(parse_time(text), now))


def coming(now: datetime, text: str | None) -> str:
    """An API time that is due (a next fire time), or ``-``: ``"now"`` once it is due, late
    or not (an engine fires an overdue job at once)."""
    if text is None:
        return "-"
    then = parse_time(text)
    return "now" if then <= now else until(now, then)


def stamp(text: str | None) -> str:
    """An API time as ``2026-05-01 01:00:03 UTC`` (or ``-``)."""
    if text is None:
        return "-"
    at = parse_time(text)
    fraction = f".{at.microsecond // 1000:03d}" if at.microsecond else ""
    return f"{at:%Y-%m-%d %H:%M:%S}{fraction} UTC"


def seconds(value: float | None) -> str:
    """A duration in seconds in words (``"12 ms"`` under a second), or ``-``."""
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else span(value)


def progress(run: Json) -> str:
    """A run's progress: ``"4/40 (10%) Movie 4"``, or the empty text."""
    done, total, note = run.get("progress_done"), run.get("progress_total"), run["progress_note"]
    if done is None:
        return note or ""
    shown = f"{done:g}"
    if total:
        shown += f"/{total:g} ({100 * done / total:.0f}%)"
    return f"{shown} {note}" if note else shown
