"""Time zones: resolving names, and the offset transitions the DST rule works between.

Instants are handled as whole seconds since the Unix epoch; a *wall* value is the same count for the
local clock reading, as if that reading were UTC. Inside a span of constant offset, wall = instant +
offset.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rota.errors import ScheduleError

__all__ = [
    "EPOCH",
    "MAX_YEAR",
    "Transition",
    "default_zone",
    "fixed_offset",
    "get_zone",
    "next_transition",
    "offset_at",
    "previous_transition",
    "resolve_zone",
    "to_instant",
    "to_seconds",
    "year_start",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)
DAY = 86_400
# Fire times are searched no further than this year: datetime ends at 9999 and the zone rules
# beyond it are meaningless.
MAX_YEAR = 9998


@dataclass(frozen=True, slots=True)
class Transition:
    """The zone's offset changes at instant `at` (seconds) from `before` to `after` (seconds)."""

    at: int
    before: int
    after: int


def resolve_zone(name: str | None) -> str:
    """The IANA key to use: `name`, else the ``TZ`` environment variable, else ``"UTC"``."""
    if name is None:
        env = os.environ.get("TZ", "").strip().removeprefix(":")
        if not env:
            return "UTC"
        name = env
        label = f"TZ environment variable {env!r}"
    else:
        label = repr(name)
    if not isinstance(name, str):
        raise ScheduleError("time zone", repr(name), f"{name!r} is not a zone name")
    try:
        get_zone(name)
    except ScheduleError:
        raise ScheduleError("time zone", name, f"{label} is not a known IANA zone") from None
    return name


def default_zone() -> str:
    """The zone schedules use when none is given: ``TZ``, else UTC."""
    return resolve_zone(None)


@lru_cache(maxsize=512)
def get_zone(key: str) -> ZoneInfo:
    """A cached ZoneInfo for a key (ScheduleError when there is no such zone)."""
    # ZoneInfo reads files named by the key: refuse paths and odd characters before it looks.
    if not key or len(key) > 64 or key.startswith(("/", ".")) or ".." in key or "\\" in key:
        raise ScheduleError("time zone", key, f"{key!r} is not a known IANA zone")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError("time zone", key, f"{key!r} is not a known IANA zone") from None


def to_seconds(t: datetime) -> int:
    """Whole seconds since the epoch, rounded down, exactly (no float)."""
    return (t - EPOCH) // ONE_SECOND


def to_instant(seconds: int, zone: ZoneInfo) -> datetime:
    """The instant (seconds since the epoch) as a datetime showing `zone`'s wall clock and offset.

    The tzinfo is a fixed offset, not the ZoneInfo: Python compares and subtracts two datetimes
    that share a ZoneInfo by their wall clocks (PEP 495), which is wrong across a fall-back, so fire
    times never share one with the caller's datetimes. ``.astimezone(zone)`` gives the zone's names.
    """
    utc = EPOCH + timedelta(seconds=seconds)
    offset = utc.astimezone(zone).utcoffset()
    return utc.astimezone(fixed_offset(offset // ONE_SECOND if offset else 0))


@lru_cache(maxsize=256)
def fixed_offset(seconds: int) -> timezone:
    """A shared fixed-offset tzinfo (UTC itself for 0)."""
    return UTC if seconds == 0 else timezone(timedelta(seconds=seconds))


def offset_at(zone: ZoneInfo, seconds: int) -> int:
    """The zone's UTC offset in seconds at an instant."""
    offset = (EPOCH + timedelta(seconds=seconds)).astimezone(zone).utcoffset()
    assert offset is not None  # an aware datetime from astimezone always has one
    return offset // ONE_SECOND


def year_start(year: int) -> int:
    """The instant 1 January `year` 00:00 UTC, in seconds."""
    return (datetime(year, 1, 1, tzinfo=UTC) - EPOCH) // ONE_SECOND


def _year_of(seconds: int) -> int:
    return (EPOCH + timedelta(seconds=seconds)).year


@lru_cache(maxsize=4096)
def _transitions_in_year(key: str, year: int) -> tuple[Transition, ...]:
    """Every offset change in a UTC calendar year, found by probing each midnight and bisecting.

    The year owns the changes at instants in [start, end): one exactly at `start` is found here,
    so the walk begins a second before it, at the previous year's closing offset.
    """
    zone = get_zone(key)
    start, end = year_start(year), year_start(year + 1)
    found: list[Transition] = []
    left = start - 1 if year > 1 else start  # datetime has no year 0 to read an offset from
    left_offset = offset_at(zone, left)
    for probe in range(start + DAY, end + DAY, DAY):
        probe = min(probe, end)
        probe_offset = offset_at(zone, probe)
        while probe_offset != left_offset:  # more than once only if a day holds two changes
            low, high = left, probe  # offset(low) == left_offset != offset(high)
            while high - low > 1:
                middle = (low + high) // 2
                if offset_at(zone, middle) == left_offset:
                    low = middle
                else:
                    high = middle
            after = offset_at(zone, high)
            if high < end:
                found.append(Transition(high, left_offset, after))
            left, left_offset = high, after
        left = probe
        if probe == end:
            break
    return tuple(found)


def _is_fixed(key: str) -> bool:
    return key in ("UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Etc/Zulu", "Zulu")


def next_transition(key: str, seconds: int) -> tuple[Transition | None, int]:
    """The first transition strictly after an instant, or None if there is none before the horizon.

    Returns ``(transition, horizon)``: with no transition found, the offset is constant from
    `seconds` up to `horizon` (the start of the year after next), and the caller may search on
    from there.
    """
    year = _year_of(seconds)
    horizon = year_start(min(year + 2, MAX_YEAR + 1))
    if _is_fixed(key):
        return None, year_start(MAX_YEAR + 1)
    for y in (year, year + 1):
        if y > MAX_YEAR:
            break
        found = _transitions_in_year(key, y)
        index = bisect_right(found, seconds, key=lambda tr: tr.at)
        if index < len(found):
            return found[index], horizon
    return None, horizon


def previous_transition(key: str, seconds: int) -> Transition | None:
    """The last transition at or before an instant, looking back no further than a year."""
    if _is_fixed(key):
        return None
    year = _year_of(seconds)
    for y in (year, year - 1):
        if y < 1:
            break
        found = _transitions_in_year(key, y)
        index = bisect_right(found, seconds, key=lambda tr: tr.at)
        if index > 0:
            return found[index - 1]
    return None
