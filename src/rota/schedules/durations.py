"""Durations as people write them: ``"2h"``, ``"30m"``, ``"0.1s"``, ``"1h30m"``, or seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from rota.errors import ScheduleError

__all__ = ["UNITS", "format_duration", "parse_duration"]

UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)\s*(w|d|h|m|s)")
_WORDS = {
    "weeks": "w",
    "week": "w",
    "days": "d",
    "day": "d",
    "hours": "h",
    "hour": "h",
    "hrs": "h",
    "hr": "h",
    "minutes": "m",
    "minute": "m",
    "mins": "m",
    "min": "m",
    "seconds": "s",
    "second": "s",
    "secs": "s",
    "sec": "s",
}
_MAX = timedelta(days=3660)


def parse_duration(
    value: str | float | timedelta, *, field: str = "duration", allow_zero: bool = False
) -> timedelta:
    """A duration from seconds, a timedelta or text like ``"2h"``; microseconds are exact.

    Raises ScheduleError naming `field` for anything else, negative durations, zero (unless
    `allow_zero`), and durations past ten years.
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ScheduleError(field, repr(value), f"{value!r} is not a duration")
    elif isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ScheduleError(field, repr(value), f"{value!r} is not a duration")
        if abs(value) > _MAX.total_seconds():
            raise ScheduleError(field, repr(value), f"{value!r} s is longer than 10 years")
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        result = _parse_text(value, field)
    else:
        raise ScheduleError(field, repr(value), f"{value!r} is not a duration")
    if result < timedelta(0) or (result == timedelta(0) and not allow_zero):
        raise ScheduleError(field, str(value), f"{value!r} is not a positive duration")
    if result > _MAX:
        raise ScheduleError(field, str(value), f"{value!r} is longer than 10 years")
    return result


def _parse_text(value: str, field: str) -> timedelta:
    text = value.strip().lower()
    if len(text) > 64:
        raise ScheduleError(field, text[:20] + "…", "the text is longer than 64 characters")
    for word, unit in _WORDS.items():
        text = re.sub(rf"(?<=[\d\s]){word}\b", unit, text)
    try:
        if text and text.replace(".", "", 1).isdigit():
            return timedelta(seconds=float(Decimal(text)))
    except InvalidOperation:  # pragma: no cover - isdigit() above rules this out
        pass
    micros = 0
    position = 0
    compact = text.replace(" ", "")
    for match in _PART.finditer(compact):
        if match.start() != position:
            break
        micros += int(Decimal(match[1]) * UNITS[match[2]] * 1_000_000)
        position = match.end()
    if position != len(compact) or not compact:
        raise ScheduleError(
            field,
            value,
            f"{value!r} is not a duration; write a number and a unit (w, d, h, m, s), "
            "e.g. '2h', '30m', '0.5s', '1h30m'",
        )
    if micros > _MAX // timedelta(microseconds=1):
        raise ScheduleError(field, value, f"{value!r} is longer than 10 years")
    return timedelta(microseconds=micros)


def format_duration(duration: timedelta) -> str:
    """The shortest text `parse_duration` reads back exactly: ``"90m"``, ``"0.1s"``, ``"2d"``."""
    micros = duration // timedelta(microseconds=1)
    for unit, seconds in UNITS.items():
        if micros % (seconds * 1_000_000) == 0:
            return f"{micros // (seconds * 1_000_000)}{unit}"
    whole, fraction = divmod(micros, 1_000_000)
    return f"{whole}.{fraction:06d}".rstrip("0") + "s"
