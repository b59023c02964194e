"""One text grammar for every kind of schedule: `parse("weekly mon,thu 04:00")`."""

from __future__ import annotations

from rota.errors import ScheduleError
from rota.schedules.base import Schedule
from rota.schedules.calendar import Cron, Daily, Weekly
from rota.schedules.simple import After, Interval, Manual, Once, parse_instant

__all__ = ["EXAMPLES", "parse", "to_schedule"]

EXAMPLES = (
    "daily 02:00",
    "weekly sun 04:00",
    "every 2h",
    "cron 30 2 * * *",
    "once 2026-12-01T10:00+01:00",
    "manual",
    "after sync-movies, sync-series",
)
_MAX_LENGTH = 1000


def parse(text: str, tz: str | None = None) -> Schedule:
    """Read any schedule from text; `tz` (default ``TZ``, else UTC) is the zone of wall times.

    ``parse(s.text, tz=s.tz) == s`` for every schedule `s` (`tz` only for those that have one).
    """
    if not isinstance(text, str):
        raise ScheduleError("schedule", repr(text), f"{text!r} is not text")
    if len(text) > _MAX_LENGTH:
        raise ScheduleError(
            "schedule", text[:40] + "…", f"the text is longer than {_MAX_LENGTH} characters"
        )
    words = text.split()
    if not words:
        raise ScheduleError("schedule", text, "the schedule is empty; " + _hint())
    keyword, rest = words[0].lower(), " ".join(words[1:])
    if keyword == "cron":
        return Cron(rest, tz)
    if keyword == "daily":
        return Daily(_one_argument(rest, "daily", "HH:MM"), tz)
    if keyword == "weekly":
        days, _, at = rest.rpartition(" ")
        if not days:
            raise ScheduleError("weekly", rest, "weekly needs days and a time: 'weekly sun 04:00'")
        return Weekly(days.replace(" ", ""), at, tz)
    if keyword == "every":
        period, separator, anchor = rest.partition(" from ")
        if not period:
            raise ScheduleError("interval", rest, "every needs a duration: 'every 2h'")
        start = parse_instant(anchor, tz, field="interval anchor") if separator else None
        return Interval(period, start)
    if keyword == "once":
        return Once(_one_argument(rest, "once", "a date and time"), tz)
    if keyword == "manual":
        if rest:
            raise ScheduleError("manual", rest, f"manual takes nothing after it, not {rest!r}")
        return Manual()
    if keyword == "after":
        return After(*[name.strip() for name in rest.split(",") if name.strip()])
    if keyword.startswith("@") or keyword[0].isdigit() or keyword[0] in "*?":
        return Cron(" ".join(words), tz)
    raise ScheduleError("schedule", text, f"{text.strip()!r} is not a schedule; {_hint()}")


def to_schedule(value: Schedule | str, tz: str | None = None) -> Schedule:
    """Text parsed with `parse`, or a Schedule, given `tz` if it was made without a zone."""
    if isinstance(value, Schedule):
        return value if tz is None else value.with_default_zone(tz)
    return parse(value, tz)


def _one_argument(rest: str, keyword: str, what: str) -> str:
    if not rest or " " in rest:
        raise ScheduleError(keyword, rest, f"{keyword} needs one argument, {what}, not {rest!r}")
    return rest


def _hint() -> str:
    return "write e.g. " + ", ".join(repr(example) for example in EXAMPLES)
