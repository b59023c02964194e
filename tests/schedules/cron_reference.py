"""A brute-force reference for cron fire times, written from the rule alone.

It walks REAL instants minute by minute in UTC (second by second inside matching minutes for
6-field expressions), reads each instant's wall clock with zoneinfo, and applies the Vixie/ISC
DST rule as Debian documents it:

* a job is fixed-time unless its minute or hour field starts with ``*``;
* fixed-time: fires only at wall times seen in the first pass (``fold == 0``), plus once at each
  forward-transition instant when any wall time inside the skipped range matches;
* otherwise: fires at every real instant whose wall clock matches (both passes, never in a gap).

Nothing here is shared with ``rota.schedules``.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

__all__ = ["DaySpec", "Spec", "fire_times", "parse", "transitions"]

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def cron_weekday(d: date) -> int:
    """0 = Sunday ... 6 = Saturday."""
    return (d.weekday() + 1) % 7


def nearest_weekday(year: int, month: int, day: int) -> int:
    """The weekday (Mon-Fri) nearest to `day`, never leaving the month."""
    last = monthrange(year, month)[1]
    wd = date(year, month, day).weekday()  # Mon=0 .. Sun=6
    if wd == 5:  # Saturday: Friday before, or Monday after when the 1st
        return day - 1 if day > 1 else day + 2
    if wd == 6:  # Sunday: Monday after, or Friday before when the month's last day
        return day + 1 if day < last else day - 2
    return day


@dataclass(frozen=True)
class DaySpec:
    """Day-of-month and day-of-week parts. Plain value sets plus the special forms."""

    dom: frozenset[int]  # explicit days 1-31
    dom_last: bool = False  # L
    dom_last_weekday: bool = False  # LW
    dom_nearest: int | None = None  # nW
    dow: frozenset[int] = frozenset()  # 0-6, Sunday 0
    dow_last: int | None = None  # nL: last weekday n of the month
    dow_nth: tuple[int, int] | None = None  # n#k: k-th weekday n of the month

    def dom_ok(self, d: date) -> bool:
        last = monthrange(d.year, d.month)[1]
        if d.day in self.dom or (self.dom_last and d.day == last):
            return True
        if self.dom_last_weekday and d.day == nearest_weekday(d.year, d.month, last):
            return True
        if self.dom_nearest is not None and self.dom_nearest <= last:
            return d.day == nearest_weekday(d.year, d.month, self.dom_nearest)
        return False

    def dow_ok(self, d: date) -> bool:
        wd = cron_weekday(d)
        if wd in self.dow:
            return True
        last = monthrange(d.year, d.month)[1]
        if self.dow_last is not None and wd == self.dow_last % 7 and d.day + 7 > last:
            return True
        if self.dow_nth is not None:
            n, k = self.dow_nth
            return wd == n % 7 and (d.day - 1) // 7 + 1 == k
        return False


@dataclass(frozen=True)
class Spec:
    """A cron expression as plain value sets."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: DaySpec
    months: frozenset[int]
    dom_star: bool  # the day-of-month field starts with "*"
    dow_star: bool  # the day-of-week field starts with "*"
    fixed: bool  # neither minute nor hour starts with "*"

    def day_ok(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        if self.dom_star or self.dow_star:
            return self.days.dom_ok(d) and self.days.dow_ok(d)
        return self.days.dom_ok(d) or self.days.dow_ok(d)

    def minute_ok(self, wall: datetime) -> bool:
        """Does the wall-clock minute (ignoring seconds) match?"""
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and _day_ok_cached(self, wall.date())
        )


@cache
def _day_ok_cached(spec: Spec, d: date) -> bool:
    return spec.day_ok(d)


def _values(text: str, lo: int, hi: int, names: list[str] | None, name_base: int) -> set[int]:
    out: set[int] = set()

    def num(s: str) -> int:
        if names is not None and s.upper() in names:
            return names.index(s.upper()) + name_base
        value = int(s)
        assert lo <= value <= hi, (text, value)
        return value

    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        assert step >= 1
        if base == "*":
            start, stop = lo, hi
        elif "-" in base:
            a, b = base.split("-")
            start, stop = num(a), num(b)
        else:
            start = num(base)
            stop = start if not step_text else hi
        out.update(range(start, stop + 1, step))
    return out


def parse(expression: str, *, fixed: bool | None = None) -> Spec:
    """Parse cron text; `fixed` overrides the minute/hour rule (Daily and Weekly pass True)."""
    text = ALIASES.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    assert len(fields) == 6, expression
    sec, minute, hour, dom, month, dow = fields
    days = DaySpec(dom=frozenset())
    if dom.upper() == "L":
        days = replace(days, dom_last=True)
    elif dom.upper() == "LW":
        days = replace(days, dom_last_weekday=True)
    elif dom.upper().endswith("W"):
        days = replace(days, dom_nearest=int(dom[:-1]))
    else:
        days = replace(days, dom=frozenset(_values(dom, 1, 31, None, 0)))
    if dow.upper().endswith("L"):
        days = replace(days, dow_last=int(dow[:-1]))
    elif "#" in dow:
        n, k = dow.split("#")
        days = replace(days, dow_nth=(int(n), int(k)))
    else:
        days = replace(days, dow=frozenset(v % 7 for v in _values(dow, 0, 7, DAYS, 0)))
    return Spec(
        seconds=frozenset(_values(sec, 0, 59, None, 0)),
        minutes=frozenset(_values(minute, 0, 59, None, 0)),
        hours=frozenset(_values(hour, 0, 23, None, 0)),
        days=days,
        months=frozenset(_values(month, 1, 12, MONTHS, 1)),
        dom_star=dom.startswith("*"),
        dow_star=dow.startswith("*"),
        fixed=fixed if fixed is not None else not (minute.startswith("*") or hour.startswith("*")),
    )


def fire_times(spec: Spec, zone: str, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """The fire instants in (start, end], ascending, at most `limit`, as UTC datetimes.

    Real time is cut into spans of constant offset by probing each UTC minute with zoneinfo and
    bisecting to the second. Inside a span every wall minute is checked; its matching seconds fire
    at wall - offset. Offsets need not be whole minutes (local mean time before ~1920 is not).
    """
    zi = ZoneInfo(zone)
    start = start.astimezone(UTC)
    end = end.astimezone(UTC)
    out: list[datetime] = []

    def add(instant: datetime) -> None:
        if start < instant <= end and (not out or instant > out[-1]):
            out.append(instant)

    def matches(wall: datetime) -> bool:  # wall: a naive whole-second clock reading
        return wall.second in spec.seconds and spec.minute_ok(wall)

    def minutes(low: datetime, high: datetime) -> Iterator[datetime]:
        """The wall minutes that overlap [low, high)."""
        m = low.replace(second=0)
        while m < high:
            yield m
            m += MINUTE

    previous: timedelta | None = None
    for lo, hi, off in _spans(zi, start.replace(microsecond=0), end):
        if len(out) >= limit:
            break
        wall_lo = (lo + off).replace(tzinfo=None)
        wall_hi = (hi + off).replace(tzinfo=None)
        if previous is not None and off > previous and spec.fixed:
            # A forward change at `lo`: any match in the skipped wall range fires once, at `lo`.
            gap_lo = (lo + previous).replace(tzinfo=None)
            for m in minutes(gap_lo, wall_lo):
                if spec.minute_ok(m) and any(
                    gap_lo <= m + timedelta(seconds=s) < wall_lo for s in spec.seconds
                ):
                    add(lo)
                    break
        for m in minutes(wall_lo, wall_hi):
            if len(out) >= limit:
                break
            if not spec.minute_ok(m):
                continue
            for s in sorted(spec.seconds):
                wall = m + timedelta(seconds=s)
                if wall_lo <= wall < wall_hi:
                    instant = wall.replace(tzinfo=UTC) - off
                    if not spec.fixed or instant.astimezone(zi).fold == 0:
                        add(instant)
        previous = off
    return out[:limit]


def _offset(zi: ZoneInfo, t: datetime) -> timedelta:
    offset = t.astimezone(zi).utcoffset()
    assert offset is not None
    return offset


def _spans(
    zi: ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """(lo, hi, offset): real time [lo, hi) at one offset, covering [start, end] in order.

    A span is at most about a day long; consecutive spans may share an offset.
    """
    lo = start
    off = _offset(zi, lo)
    probe = lo
    while True:
        nxt = min(probe + MINUTE, end + SECOND)
        if _offset(zi, nxt) == off:
            if nxt == end + SECOND:
                yield lo, nxt, off
                return
            probe = nxt
            if probe - lo >= DAY:  # hand over a day at a time, so the caller can stop early
                yield lo, probe, off
                lo = probe
            continue
        low, high = probe, nxt  # offset(low) == off != offset(high)
        while high - low > SECOND:
            middle = low + ((high - low) // SECOND // 2) * SECOND
            if _offset(zi, middle) == off:
                low = middle
            else:
                high = middle
        yield lo, high, off
        lo, off, probe = high, _offset(zi, high), high


@cache
def transitions(
    zone: str, first_year: int = 2020, last_year: int = 2035, step: timedelta = timedelta(hours=1)
) -> tuple[datetime, ...]:
    """UTC instants where `zone` changes offset, found by probing every `step` and bisecting.

    Two changes less than `step` apart that cancel out are missed: a coarse step only serves to
    pick starts near transitions, never to decide a fire time.
    """
    zi = ZoneInfo(zone)
    found: list[datetime] = []
    t = datetime(first_year, 1, 1, tzinfo=UTC)
    stop = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    t -= SECOND  # a change at the first instant counts
    off = t.astimezone(zi).utcoffset()
    while t < stop:
        nxt = t + step
        nxt_off = nxt.astimezone(zi).utcoffset()
        if nxt_off != off:
            lo, hi = t, nxt  # offset(lo) == off, offset(hi) != off
            while hi - lo > SECOND:
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid.astimezone(zi).utcoffset() == off:
                    lo = mid
                else:
                    hi = mid
            if hi < stop:
                found.append(hi)
            t, off = hi, hi.astimezone(zi).utcoffset()  # go on from the change: more may follow
            continue
        t = nxt
    return tuple(found)
