"""Cron fields: parsing an expression into value sets, and finding the next matching wall time.

Wall times here are whole seconds since 1970-01-01 00:00 of the local clock reading (see `zones`).
This module knows nothing of time zones; `zoned` applies the DST rule on top of it.
"""

from __future__ import annotations

import calendar
import functools
import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date

from rota.errors import ScheduleError

__all__ = ["ALIASES", "CronFields", "cron_fields", "parse_cron"]

DAY = 86_400
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
MAX_ORDINAL = date(9998, 12, 31).toordinal()
MAX_LENGTH = 256

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
DAY_NAMES = {name.lower(): (i + 1) % 7 for i, name in enumerate(calendar.day_abbr)}
DAY_NAMES_TEXT = "SUN-SAT"


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None

    @property
    def label(self) -> str:
        return f"{self.name} field"


SECOND = _Spec("second", 0, 59)
MINUTE = _Spec("minute", 0, 59)
HOUR = _Spec("hour", 0, 23)
DAY_OF_MONTH = _Spec("day-of-month", 1, 31)
MONTH = _Spec("month", 1, 12, MONTH_NAMES)
DAY_OF_WEEK = _Spec("day-of-week", 0, 7, DAY_NAMES)

_NEAREST = re.compile(r"(\d{1,2})W", re.IGNORECASE)
_LAST_WEEKDAY = re.compile(r"(\w{1,3})L", re.IGNORECASE)
_NTH_WEEKDAY = re.compile(r"(\w{1,3})#(\d{1,2})")


def _error(spec: _Spec, value: str, reason: str) -> ScheduleError:
    return ScheduleError(spec.label, value, reason)


def _value(token: str, spec: _Spec) -> int:
    """One number or name of a field, checked against the field's bounds."""
    if token.isdigit() and token.isascii():
        if len(token) > 2:
            raise _error(spec, token, f"{token} is out of range {spec.low}-{spec.high}")
        number = int(token)
        if not spec.low <= number <= spec.high:
            raise _error(spec, token, f"{number} is out of range {spec.low}-{spec.high}")
        return number
    if spec.names is not None and token.lower() in spec.names:
        return spec.names[token.lower()]
    allowed = f"a number {spec.low}-{spec.high}"
    if spec is MONTH:
        allowed += " or a name JAN-DEC"
    elif spec is DAY_OF_WEEK:
        allowed += f" or a name {DAY_NAMES_TEXT}"
    shown = token if len(token) <= 20 else token[:20] + "…"
    raise _error(spec, token, f"{shown!r} is not {allowed}")


def _step(token: str, spec: _Spec) -> int:
    if not (token.isdigit() and token.isascii()):
        raise _error(spec, token, f"step {token!r} is not a whole number")
    if len(token) > 2 or int(token) > spec.high:
        raise _error(spec, token, f"step {token} is out of range 1-{spec.high}")
    step = int(token)
    if step == 0:
        raise _error(spec, token, "step 0 is not allowed")
    return step


def _expand(item: str, spec: _Spec) -> range:
    """One list item (`*`, `5`, `1-5`, `*/15`, `1-30/7`, `5/10`) as a range of values."""
    base, slash, step_text = item.partition("/")
    step = _step(step_text, spec) if slash else 1
    if base == "*" or (base == "?" and spec in (DAY_OF_MONTH, DAY_OF_WEEK)):
        if base == "?" and slash:
            raise _error(spec, item, f"{item!r}: '?' takes no step")
        return range(spec.low, spec.high + 1, step)
    if "-" in base:
        first_text, _, last_text = base.partition("-")
        if not first_text or not last_text:
            raise _error(spec, item, f"range {base!r} needs a start and an end")
        first = _value(first_text, spec)
        last = _value(last_text, spec)
        if spec is DAY_OF_WEEK and last == 0 and first > 0:
            last = 7  # "SAT-SUN" is Saturday through Sunday; "SUN-SUN" stays Sunday alone
        if first > last:
            raise _error(spec, item, f"range {base} is backwards ({first} is after {last})")
        return range(first, last + 1, step)
    first = _value(base, spec)
    return range(first, (spec.high if slash else first) + 1, step)


class CronFields:
    """A parsed cron expression: value sets per field, and the day rules of L, W and #."""

    __slots__ = (
        "_month_masks",
        "day_rule_union",
        "days",
        "fixed_time",
        "has_seconds",
        "hours",
        "last_day",
        "last_weekday_of_month",
        "last_workday",
        "minutes",
        "months",
        "nearest_workdays",
        "nth_weekdays",
        "seconds",
        "weekdays",
    )

    def __init__(self, fields: list[str]) -> None:
        self.has_seconds = len(fields) == 6
        if not self.has_seconds:
            fields = ["0", *fields]
        second, minute, hour, dom, month, dow = fields
        self.seconds = tuple(sorted(self._plain(second, SECOND)))
        self.minutes = tuple(sorted(self._plain(minute, MINUTE)))
        self.hours = tuple(sorted(self._plain(hour, HOUR)))
        self.months = frozenset(self._plain(month, MONTH))
        self.days: frozenset[int] = frozenset()
        self.last_day = False
        self.last_workday = False
        self.nearest_workdays: frozenset[int] = frozenset()
        self._parse_day_of_month(dom)
        self.weekdays: frozenset[int] = frozenset()
        self.nth_weekdays: frozenset[tuple[int, int]] = frozenset()
        self.last_weekday_of_month: frozenset[int] = frozenset()
        self._parse_day_of_week(dow)
        # Vixie cron: if either day field starts with '*', a day must match both; otherwise either.
        self.day_rule_union = not (dom.startswith(("*", "?")) or dow.startswith(("*", "?")))
        # The Vixie/ISC DST rule: a '*' leading the minute or hour field means not fixed-time.
        self.fixed_time = not (minute.startswith("*") or hour.startswith("*"))
        self._month_masks: dict[int, int] = {}

    @staticmethod
    def _plain(text: str, spec: _Spec) -> set[int]:
        values: set[int] = set()
        for item in text.split(","):
            if not item:
                raise _error(spec, text, f"{text!r} has an empty list item")
            values.update(_expand(item, spec))
        return values

    def _parse_day_of_month(self, text: str) -> None:
        days: set[int] = set()
        nearest: set[int] = set()
        for item in text.split(","):
            upper = item.upper()
            if upper == "L":
                self.last_day = True
            elif upper in ("LW", "WL"):
                self.last_workday = True
            elif match := _NEAREST.fullmatch(item):
                nearest.add(_value(match[1], DAY_OF_MONTH))
            elif "L" in upper or "W" in upper or "#" in upper:
                raise _error(
                    DAY_OF_MONTH,
                    item,
                    f"{item!r} is not allowed; use L (last day), LW (last weekday) "
                    "or nW (weekday nearest day n)",
                )
            elif not item:
                raise _error(DAY_OF_MONTH, text, f"{text!r} has an empty list item")
            else:
                days.update(_expand(item, DAY_OF_MONTH))
        self.days = frozenset(days)
        self.nearest_workdays = frozenset(nearest)

    def _parse_day_of_week(self, text: str) -> None:
        weekdays: set[int] = set()
        nth: set[tuple[int, int]] = set()
        last: set[int] = set()
        for item in text.split(","):
            if match := _NTH_WEEKDAY.fullmatch(item):
                weekday = _value(match[1], DAY_OF_WEEK) % 7
                count = int(match[2])
                if not 1 <= count <= 5:
                    raise _error(DAY_OF_WEEK, item, f"{item!r}: #{count} is out of range 1-5")
                nth.add((weekday, count))
            elif (match := _LAST_WEEKDAY.fullmatch(item)) and match[1].upper() != "L":
                last.add(_value(match[1], DAY_OF_WEEK) % 7)
            elif "#" in item or item.upper().endswith("L"):
                raise _error(
                    DAY_OF_WEEK,
                    item,
                    f"{item!r} is not allowed; use nL (last weekday n of the month) "
                    "or n#k (k-th weekday n)",
                )
            elif not item:
                raise _error(DAY_OF_WEEK, text, f"{text!r} has an empty list item")
            else:
                weekdays.update(v % 7 for v in _expand(item, DAY_OF_WEEK))
        self.weekdays = frozenset(weekdays)
        self.nth_weekdays = frozenset(nth)
        self.last_weekday_of_month = frozenset(last)

    # -- matching ---------------------------------------------------------------------------

    def day_mask(self, year: int, month: int) -> int:
        """Bit d is set when day d of that month matches the day fields (bit 0 unused)."""
        key = year * 12 + month
        mask = self._month_masks.get(key)
        if mask is None:
            if len(self._month_masks) > 256:
                self._month_masks.clear()
            mask = self._month_masks[key] = self._compute_day_mask(year, month)
        return mask

    def _compute_day_mask(self, year: int, month: int) -> int:
        first_weekday, length = calendar.monthrange(year, month)  # Monday is 0
        dom = 0
        for day in self.days:
            if day <= length:
                dom |= 1 << day
        if self.last_day:
            dom |= 1 << length
        if self.last_workday:
            dom |= 1 << _nearest_workday(year, month, length, length)
        for day in self.nearest_workdays:
            if day <= length:
                dom |= 1 << _nearest_workday(year, month, day, length)
        dow = 0
        for day in range(1, length + 1):
            weekday = (first_weekday + day) % 7  # cron numbering: Sunday is 0
            if (
                weekday in self.weekdays
                or (weekday, (day + 6) // 7) in self.nth_weekdays
                or (weekday in self.last_weekday_of_month and day + 7 > length)
            ):
                dow |= 1 << day
        return dom | dow if self.day_rule_union else dom & dow

    def time_of_day_at_or_after(self, second_of_day: int) -> int | None:
        """The first matching time of day (in seconds) not before `second_of_day`."""
        hour, rest = divmod(second_of_day, 3600)
        minute, second = divmod(rest, 60)
        hours, minutes, seconds = self.hours, self.minutes, self.seconds
        i = bisect_left(hours, hour)
        if i == len(hours):
            return None
        if hours[i] == hour:
            j = bisect_left(minutes, minute)
            if j < len(minutes):
                if minutes[j] == minute:
                    k = bisect_left(seconds, second)
                    if k < len(seconds):
                        return hour * 3600 + minute * 60 + seconds[k]
                    j += 1
                if j < len(minutes):
                    return hour * 3600 + minutes[j] * 60 + seconds[0]
            i += 1
            if i == len(hours):
                return None
        return hours[i] * 3600 + minutes[0] * 60 + seconds[0]

    def next_match(self, wall: int, limit: int) -> int | None:
        """The first matching wall time at or after `wall` and before `limit`, else None."""
        days, second_of_day = divmod(wall, DAY)
        ordinal = EPOCH_ORDINAL + days
        while True:
            if (ordinal - EPOCH_ORDINAL) * DAY >= limit or ordinal > MAX_ORDINAL:
                return None
            current = date.fromordinal(ordinal)
            year, month, day = current.year, current.month, current.day
            if month in self.months:
                remaining = self.day_mask(year, month) >> day
                if remaining:
                    skip = (remaining & -remaining).bit_length() - 1
                    if skip:
                        ordinal += skip
                        second_of_day = 0
                    time_of_day = self.time_of_day_at_or_after(second_of_day)
                    if time_of_day is not None:
                        found = (ordinal - EPOCH_ORDINAL) * DAY + time_of_day
                        return found if found < limit else None
                    ordinal += 1
                    second_of_day = 0
                    continue
            ordinal = self._next_month_ordinal(year, month)
            second_of_day = 0

    def _next_month_ordinal(self, year: int, month: int) -> int:
        """The first day of the next month in the month field, after (year, month)."""
        for candidate in range(month + 1, 13):
            if candidate in self.months:
                return date(year, candidate, 1).toordinal()
        if year >= 9998:
            return MAX_ORDINAL + 1
        return date(year + 1, min(self.months), 1).toordinal()


def _nearest_workday(year: int, month: int, day: int, length: int) -> int:
    """The weekday (Mon-Fri) nearest `day`, without leaving the month (Quartz's `W`)."""
    weekday = calendar.weekday(year, month, day)  # Monday is 0
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: Monday after, unless that leaves the month
        return day + 1 if day < length else day - 2
    return day


@functools.lru_cache(maxsize=4096)
def cron_fields(fields: tuple[str, ...]) -> CronFields:
    """The parsed fields, shared by every schedule with the same ones: they never change (the
    day masks they remember are a pure function of them), and an app with thousands of jobs on
    a few dozen expressions keeps a few dozen."""
    return CronFields(list(fields))


def parse_cron(expression: str) -> tuple[str, CronFields]:
    """Normalise and parse a cron expression; returns its canonical text and its fields."""
    if not isinstance(expression, str):
        raise ScheduleError("cron", repr(expression), f"{expression!r} is not text")
    text = " ".join(expression.split())
    if len(text) > MAX_LENGTH:
        raise ScheduleError(
            "cron", text[:40] + "…", f"the expression is longer than {MAX_LENGTH} characters"
        )
    if not text:
        raise ScheduleError("cron", expression, "the expression is empty")
    if text.startswith("@"):
        alias = text.lower()
        if alias not in ALIASES:
            known = ", ".join(ALIASES)
            raise ScheduleError("cron", text, f"{text!r} is not a known shortcut ({known})")
        return alias, cron_fields(tuple(ALIASES[alias].split()))
    fields = text.split(" ")
    if len(fields) not in (5, 6):
        raise ScheduleError(
            "cron",
            text,
            f"{text!r} has {len(fields)} fields; expected 5 (minute hour day-of-month month "
            "day-of-week) or 6 (second first)",
        )
    return text, cron_fields(tuple(fields))
