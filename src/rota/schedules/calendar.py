"""Wall-clock schedules in a time zone: `Cron`, and the admin dialog's `Daily` and `Weekly`.

All three are a set of wall-clock matches plus the DST rule in `zoned`; Daily and Weekly are
fixed-time cron rules with a friendlier text form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from rota.errors import ScheduleError
from rota.schedules.base import Schedule, require_aware
from rota.schedules.cronfields import ALIASES, DAY_NAMES, CronFields, cron_fields, parse_cron
from rota.schedules.describe import describe_cron, weekday_names
from rota.schedules.zoned import next_fire_time
from rota.schedules.zones import get_zone, resolve_zone, year_start

__all__ = ["Cron", "Daily", "Weekly", "parse_time_of_day", "parse_weekdays"]

_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_FULL_DAY_NAMES = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
_SHORT = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_MONDAY_FIRST = [1, 2, 3, 4, 5, 6, 0]
# A cron rule that matches nothing in one whole Gregorian cycle never matches at all.
_CYCLE_START, _CYCLE_END = year_start(2001), year_start(2401)


@dataclass(frozen=True, init=False)
class _Calendar(Schedule):
    """The shared machinery: cron fields evaluated in an IANA zone."""

    tz: str
    _fields: CronFields = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _zone_given: bool = field(init=False, repr=False, compare=False)

    def _setup(self, fields: CronFields, tz: str | None) -> None:
        key = resolve_zone(tz)
        object.__setattr__(self, "tz", key)
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_zone", get_zone(key))
        object.__setattr__(self, "_zone_given", tz is not None)

    def with_default_zone(self, tz: str) -> Schedule:
        if self._zone_given or tz == self.tz:
            return self
        return Schedule.from_dict({**self.to_dict(), "tz": tz})

    @property
    def fixed_time(self) -> bool:
        """Whether the DST rule treats this as fixed-time (see `rota.schedules.zoned`)."""
        return self._fields.fixed_time

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return self._zone

    def next_after(self, t: datetime) -> datetime | None:
        require_aware(t)
        return next_fire_time(self._fields, self.tz, self._zone, t)

    def first_match_in(self, start: int, end: int) -> datetime | None:
        """The first wall time in [start, end) (wall seconds) that matches, as a naive datetime.

        Used by the preview to name the wall time a DST gap swallowed.
        """
        wall = self._fields.next_match(start, end)
        return None if wall is None else datetime(1970, 1, 1) + timedelta(seconds=wall)

    def _zone_suffix(self) -> str:
        return f" ({self.tz})"


@dataclass(frozen=True, init=False)
class Cron(_Calendar):
    """A cron expression: 5 fields, or 6 with seconds first, evaluated in an IANA time zone."""

    kind: ClassVar[str] = "cron"
    expression: str

    def __init__(self, expression: str, tz: str | None = None) -> None:
        text, fields = parse_cron(expression)
        object.__setattr__(self, "expression", text)
        self._setup(fields, tz)
        if fields.next_match(_CYCLE_START, _CYCLE_END) is None:
            raise ScheduleError("cron", text, f"{text!r} never fires")

    @property
    def text(self) -> str:
        return f"cron {self.expression}"

    def describe(self) -> str:
        expanded = ALIASES.get(self.expression, self.expression).split()
        if len(expanded) == 5:
            expanded.insert(0, "0")
        return describe_cron(expanded, self._fields.has_seconds) + self._zone_suffix()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "expression": self.expression, "tz": self.tz}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Cron:
        return cls(_required(data, "expression"), data.get("tz"))


@dataclass(frozen=True, init=False)
class Daily(_Calendar):
    """Every day at a wall-clock time ("HH:MM") in a time zone."""

    kind: ClassVar[str] = "daily"
    at: str

    def __init__(self, at: str, tz: str | None = None) -> None:
        hour, minute = parse_time_of_day(at)
        object.__setattr__(self, "at", f"{hour:02d}:{minute:02d}")
        self._setup(cron_fields((str(minute), str(hour), "*", "*", "*")), tz)

    @property
    def text(self) -> str:
        return f"daily {self.at}"

    def describe(self) -> str:
        return f"Every day at {self.at}{self._zone_suffix()}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "tz": self.tz}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Daily:
        return cls(_required(data, "at"), data.get("tz"))


@dataclass(frozen=True, init=False)
class Weekly(_Calendar):
    """On some days of the week at a wall-clock time: ``Weekly("mon,thu", "04:00")``."""

    kind: ClassVar[str] = "weekly"
    days: tuple[str, ...]
    at: str

    def __init__(self, days: str | Iterable[str], at: str, tz: str | None = None) -> None:
        numbers = parse_weekdays(days)
        hour, minute = parse_time_of_day(at)
        object.__setattr__(self, "days", tuple(_SHORT[d] for d in numbers))
        object.__setattr__(self, "at", f"{hour:02d}:{minute:02d}")
        dow = ",".join(str(d) for d in numbers)
        self._setup(cron_fields((str(minute), str(hour), "*", "*", dow)), tz)

    @property
    def text(self) -> str:
        return f"weekly {','.join(self.days)} {self.at}"

    def describe(self) -> str:
        numbers = [_SHORT.index(d) for d in self.days]
        if len(numbers) == 7:
            days = "day"
        elif sorted(numbers) == [1, 2, 3, 4, 5]:
            days = "weekday"
        elif sorted(numbers) == [0, 6]:
            days = "Saturday and Sunday"
        else:
            days = weekday_names(numbers)
        return f"Every {days} at {self.at}{self._zone_suffix()}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "days": list(self.days), "at": self.at, "tz": self.tz}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Weekly:
        return cls(_required(data, "days"), _required(data, "at"), data.get("tz"))


def parse_time_of_day(text: str) -> tuple[int, int]:
    """``"02:00"`` -> ``(2, 0)``; a ScheduleError naming the value otherwise."""
    match = _TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ScheduleError(
            "time of day", str(text), f"{text!r} is not a time of day HH:MM (00:00-23:59)"
        )
    return int(match[1]), int(match[2])


def parse_weekdays(days: str | Iterable[str]) -> list[int]:
    """Day names (``"mon,thu"``, ``"mon-fri"``, ``["sunday"]``) as cron numbers, Monday first."""
    items = days.split(",") if isinstance(days, str) else list(days)
    found: set[int] = set()
    for item in items:
        token = str(item).strip().lower()
        first, dash, last = token.partition("-")
        start, end = _weekday(first, item), _weekday(last, item) if dash else None
        if end is None:
            found.add(start)
        else:
            span = (end - start) % 7
            found.update((start + i) % 7 for i in range(span + 1))
    if not found:
        raise ScheduleError("days", str(days), "at least one day of the week is needed")
    return [d for d in _MONDAY_FIRST if d in found]


def _weekday(token: str, item: object) -> int:
    if token in DAY_NAMES:
        return DAY_NAMES[token]
    if token in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES[token]
    raise ScheduleError(
        "days", str(item), f"{str(item).strip()!r} is not a day of the week (mon, tue, ... sun)"
    )


def _required(data: dict[str, Any], key: str) -> Any:
    if key not in data:
        raise ScheduleError("schedule", repr(data.get("kind")), f"{data.get('kind')} needs {key!r}")
    return data[key]
