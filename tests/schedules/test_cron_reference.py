"""Property tests: `Cron.next_after` against a brute-force walk over real instants.

Expressions are generated from components, so the value sets are known without parsing the text;
`cron_reference.fire_times` walks UTC minute by minute, reads each instant's wall clock with
zoneinfo and applies the DST rule. Starts are mostly within hours of a DST transition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, note, reject, settings
from hypothesis import strategies as st

try:
    from .cron_reference import ALIASES, DAYS, MONTHS, DaySpec, Spec, fire_times, parse, transitions
except ImportError:  # tests/schedules is not a package: pytest put this folder on sys.path
    from cron_reference import (  # type: ignore[no-redef]
        ALIASES,
        DAYS,
        MONTHS,
        DaySpec,
        Spec,
        fire_times,
        parse,
        transitions,
    )

DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
ZONES = [*DST_ZONES * 3, "UTC", "Asia/Kolkata"]  # weighted toward the zones with DST
LIMIT = 8  # fire times compared per example
SHORT, LONG = timedelta(days=8), timedelta(days=40)
SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

Field = tuple[str, frozenset[int]]


@dataclass(frozen=True)
class Case:
    text: str
    spec: Spec | None  # None for an alias: the reference parses it
    zone: str
    start: datetime
    window: timedelta


# ---- expression components ------------------------------------------------------------------


@st.composite
def items(draw: st.DrawFn, lo: int, hi: int, names: list[str] | None, base: int) -> Field:
    """One list item: a value, a range, or a range with a step."""
    kind = draw(st.sampled_from(["value", "value", "range", "step"]))
    a = draw(st.integers(lo, hi))
    b = a if kind == "value" else draw(st.integers(a, hi))
    use_names = names is not None and b - base < len(names) and draw(st.booleans())

    def fmt(v: int) -> str:
        return names[v - base] if use_names and names is not None else str(v)

    if kind == "value":
        return fmt(a), frozenset({a})
    if kind == "range":
        return f"{fmt(a)}-{fmt(b)}", frozenset(range(a, b + 1))
    n = draw(st.integers(1, hi - lo))
    return f"{fmt(a)}-{fmt(b)}/{n}", frozenset(range(a, b + 1, n))


@st.composite
def field(
    draw: st.DrawFn,
    lo: int,
    hi: int,
    names: list[str] | None = None,
    base: int = 0,
    star: float = 0.3,
    must_have: int | None = None,
) -> Field:
    """A whole numeric field: ``*``, ``*/n`` or a list of items (optionally holding a value)."""
    if draw(st.integers(0, 99)) < star * 100:
        if draw(st.integers(0, 2)) == 0:
            return "*", frozenset(range(lo, hi + 1))
        n = draw(st.one_of(st.integers(1, 6), st.integers(1, hi - lo)))
        return f"*/{n}", frozenset(range(lo, hi + 1, n))
    parts = draw(st.lists(items(lo, hi, names, base), min_size=1, max_size=3))
    if must_have is not None:
        parts.append((str(must_have), frozenset({must_have})))
    text = ",".join(p[0] for p in parts)
    return text, frozenset().union(*(p[1] for p in parts))


@st.composite
def day_fields(draw: st.DrawFn) -> tuple[str, str, DaySpec]:
    """Day-of-month and day-of-week text and their DaySpec."""
    mode = draw(st.sampled_from(["stars"] * 5 + ["dom", "dom", "dow", "dow", "both", "both"]))
    dom_text, dow_text = "*", "*"
    spec = DaySpec(dom=frozenset(range(1, 32)), dow=frozenset(range(7)))
    if mode in ("dom", "both"):
        kind = draw(st.sampled_from(["list", "list", "L", "LW", "W"] + ["step"] * (mode == "dom")))
        if kind == "list":
            dom_text, values = draw(field(1, 31, star=0))
            spec = DaySpec(dom=values, dow=spec.dow)
        elif kind == "step":
            n = draw(st.integers(2, 10))
            dom_text = f"*/{n}"
            spec = DaySpec(dom=frozenset(range(1, 32, n)), dow=spec.dow)
        elif kind == "L":
            dom_text, spec = "L", DaySpec(dom=frozenset(), dom_last=True, dow=spec.dow)
        elif kind == "LW":
            dom_text, spec = "LW", DaySpec(dom=frozenset(), dom_last_weekday=True, dow=spec.dow)
        else:
            day = draw(st.integers(1, 28))
            dom_text, spec = f"{day}W", DaySpec(dom=frozenset(), dom_nearest=day, dow=spec.dow)
    if mode in ("dow", "both"):
        kind = draw(st.sampled_from(["list", "list", "last", "nth"] + ["step"] * (mode == "dow")))
        days = replace(spec, dow=frozenset())
        if kind == "list":
            dow_text, values = draw(field(0, 7, DAYS, 0, star=0))
            spec = replace(days, dow=frozenset(v % 7 for v in values))
        elif kind == "step":
            n = draw(st.integers(2, 4))
            dow_text = f"*/{n}"
            values = frozenset(v % 7 for v in range(0, 8, n))
            spec = replace(days, dow=values)
        elif kind == "last":
            n = draw(st.integers(0, 7))
            dow_text, spec = f"{n}L", replace(days, dow_last=n)
        else:
            n, k = draw(st.integers(0, 7)), draw(st.integers(1, 5))
            dow_text, spec = f"{n}#{k}", replace(days, dow_nth=(n, k))
    return dom_text, dow_text, spec


@st.composite
def starts(draw: st.DrawFn, zone: str) -> datetime:
    """Mostly within hours of a DST transition (any zone's, 2020-2035), sometimes anywhere."""
    if draw(st.integers(0, 9)) < 8:
        pool = transitions(zone) if zone in DST_ZONES and draw(st.integers(0, 9)) else None
        pool = pool or transitions(draw(st.sampled_from(DST_ZONES)))
        near = draw(st.sampled_from(pool))
        shift = draw(
            st.one_of(
                st.sampled_from([0, -1, 1, -59, 60, -1800, 1800, -3600, 3600, -5400, 5400]),
                st.integers(-3 * 3600, 3600),
                st.integers(-26 * 3600, 26 * 3600).map(lambda s: s - s % 60),
            )
        )
        t = near + timedelta(seconds=shift)
    else:
        t = draw(st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 1))).replace(tzinfo=UTC)
        t = t.replace(microsecond=0)
    if draw(st.integers(0, 4)) == 0:
        t = t.replace(microsecond=draw(st.integers(1, 999_999)))
    return t


def represent(draw: st.DrawFn, t: datetime, zone: str) -> datetime:
    """The same instant as UTC, in the schedule's zone (fold set), or at a fixed offset."""
    how = draw(st.sampled_from(["utc", "zone", "zone", "offset"]))
    if how == "zone":
        return t.astimezone(ZoneInfo(zone))
    if how == "offset":
        minutes = draw(st.integers(-12 * 4, 14 * 4)) * 15
        return t.astimezone(timezone(timedelta(minutes=minutes)))
    return t


def dst_hour(transition: datetime, zone: str) -> int:
    """The wall hour that a transition skips or repeats (the earlier of the two wall readings)."""
    zi = ZoneInfo(zone)
    before = (transition - timedelta(seconds=1)).astimezone(zi).utcoffset()
    after = transition.astimezone(zi).utcoffset()
    assert before is not None
    assert after is not None
    return (transition + min(before, after)).hour


@st.composite
def cases(draw: st.DrawFn, focus: bool = False) -> Case:
    """A random expression, zone and start. `focus`: a DST zone, a start shortly before one of
    its transitions, and an hour field holding the skipped or repeated hour."""
    must_hour = None
    if focus:
        zone = draw(st.sampled_from(DST_ZONES))
        near = draw(st.sampled_from(transitions(zone)))
        must_hour = draw(st.sampled_from([dst_hour(near, zone)] * 3 + [None]))
        shift = draw(
            st.one_of(
                st.sampled_from([0, -1, 1, -60]),
                st.integers(-1800, 300),
                st.integers(-2 * 3600, 600),
            )
        )
        t = near + timedelta(seconds=shift)
    else:
        zone = draw(st.sampled_from(ZONES))
        t = draw(starts(zone))
        if draw(st.integers(0, 19)) == 0:
            alias = draw(st.sampled_from(sorted(ALIASES)))
            window = SHORT if alias in ("@hourly", "@daily", "@midnight") else LONG
            return Case(alias, None, zone, represent(draw, t, zone), window)
    six = draw(st.booleans())
    seconds = draw(field(0, 59, star=0.2 if focus else 0.5)) if six else ("0", frozenset({0}))
    minute = draw(field(0, 59, star=0.35))
    if must_hour is not None:
        hour = draw(field(0, 23, star=0.25, must_have=must_hour))
    else:
        hour_values = st.one_of(st.integers(0, 23), st.integers(0, 4))
        hour = draw(st.one_of(field(0, 23, star=0.3), hour_values.map(lambda h: (str(h), {h}))))
    if focus and draw(st.booleans()):
        dom_text, dow_text, days = (
            "*",
            "*",
            DaySpec(frozenset(range(1, 32)), dow=frozenset(range(7))),
        )
    else:
        dom_text, dow_text, days = draw(day_fields())
    local_month = t.astimezone(ZoneInfo(zone)).month
    month_kind = draw(st.sampled_from(["*"] * 6 + ["with", "with", "any"]))
    if month_kind == "*":
        month: Field = ("*", frozenset(range(1, 13)))
    else:
        must = local_month if month_kind == "with" else None
        month = draw(field(1, 12, MONTHS, 1, star=0.1, must_have=must))
    texts = [minute[0], hour[0], dom_text, month[0], dow_text]
    spec = Spec(
        seconds=seconds[1],
        minutes=minute[1],
        hours=frozenset(hour[1]),
        days=days,
        months=month[1],
        dom_star=dom_text.startswith("*"),
        dow_star=dow_text.startswith("*"),
        fixed=not (minute[0].startswith("*") or hour[0].startswith("*")),
    )
    text = " ".join([seconds[0], *texts] if six else texts)
    window = SHORT if "*" == dom_text == dow_text == month[0] else LONG
    return Case(text, spec, zone, represent(draw, t, zone), window)


# ---- helpers --------------------------------------------------------------------------------


def cron(case: Case) -> Any:
    """The case's Cron. An expression no day matches (``* * 30 2 *``) is refused when it is
    made: the reference must agree that none does over a whole 28-year calendar cycle, and the
    case is dropped (the properties here are of schedules that fire)."""
    from rota.errors import ScheduleError
    from rota.schedules import Cron

    try:
        return Cron(case.text, tz=case.zone)
    except ScheduleError as error:
        if "never fires" not in str(error):
            raise
        spec = case.spec if case.spec is not None else parse(case.text)
        first = date(2001, 1, 1)
        assert not any(spec.day_ok(first + timedelta(days=n)) for n in range(28 * 366)), (
            f"{case.text!r} was refused as never firing, but the reference finds a day"
        )
        reject()


def checked(result: datetime | None, zone: str, after: datetime) -> datetime | None:
    """Check one `next_after` answer; return it in UTC."""
    if result is None:
        return None
    assert result.tzinfo is not None, result
    real = result.astimezone(ZoneInfo(zone))
    assert result.utcoffset() == real.utcoffset(), f"{result} is not at {zone}'s offset ({real})"
    assert result.replace(tzinfo=None) == real.replace(tzinfo=None), f"{result} is not {real}"
    assert result > after, f"{result} is not after {after}"
    return result.astimezone(UTC)


def window_end(case: Case) -> datetime:
    return case.start.astimezone(UTC) + case.window  # real time, not wall-clock arithmetic


def reference(case: Case) -> list[datetime]:
    spec = case.spec if case.spec is not None else parse(case.text)
    return fire_times(spec, case.zone, case.start, window_end(case), LIMIT)


def describe_case(case: Case, expected: list[datetime]) -> None:
    """Hypothesis statistics (``--hypothesis-show-statistics``): what the examples covered."""
    spec = case.spec if case.spec is not None else parse(case.text)
    event("fixed-time" if spec.fixed else "not fixed-time")
    event(f"{len(case.text.split())} fields" if case.spec else "alias")
    event(f"reference found {min(len(expected), LIMIT)} fire times")
    last = expected[-1] if expected else window_end(case)
    crossed = [x for x in transitions(case.zone) if case.start < x <= last]
    if crossed:
        event("a transition lies before the last compared fire time")
    zone = ZoneInfo(case.zone)
    for e in expected:
        local = e.astimezone(zone)
        if local.fold:
            event("fires in a second pass")
        if e in crossed and (e - timedelta(seconds=1)).astimezone(zone).utcoffset() != (
            local.utcoffset()
        ):
            wall = local.replace(tzinfo=None)
            normal = spec.minute_ok(wall) and wall.second in spec.seconds
            event("fires at a transition instant" + ("" if normal else " (gap collapse)"))


# ---- properties -----------------------------------------------------------------------------


@settings(max_examples=200, **SETTINGS)
@given(cases())
def test_reference_parser_reads_generated_text(case: Case) -> None:
    """Self-check of the reference: its parser agrees with the generator's value sets."""
    if case.spec is not None:
        assert parse(case.text) == case.spec


def compare_with_reference(case: Case, log: Callable[[str], object] = note) -> None:
    """Compare up to LIMIT fire times with the reference; `log` is `note` inside hypothesis."""
    log(f"Cron({case.text!r}, tz={case.zone!r}).next_after({case.start.isoformat()})")
    expected = reference(case)
    log(f"reference: {[e.isoformat() for e in expected]}")
    if log is note:
        describe_case(case, expected)
    schedule = cron(case)
    end = window_end(case)
    got: list[datetime] = []
    cursor: datetime = case.start
    for _ in range(LIMIT):
        nxt = checked(schedule.next_after(cursor), case.zone, cursor)
        if nxt is None or nxt > end:
            break
        got.append(nxt)
        cursor = nxt
    log(f"implementation: {[g.isoformat() for g in got]}")
    assert got == expected
    if len(expected) < LIMIT:
        after = expected[-1] if expected else case.start
        beyond = checked(schedule.next_after(after), case.zone, after)
        assert beyond is None or beyond > end, f"{beyond} was missed by the reference window"


@settings(max_examples=250, **SETTINGS)
@given(cases())
def test_next_after_matches_brute_force(case: Case) -> None:
    """Any syntax, any of the five zones, starts mostly near transitions."""
    compare_with_reference(case)


@settings(max_examples=250, **SETTINGS)
@given(cases(focus=True))
def test_next_after_matches_brute_force_across_transitions(case: Case) -> None:
    """Starts just before a transition, hour field holding the skipped or repeated hour."""
    compare_with_reference(case)


@settings(max_examples=150, **SETTINGS)
@given(cases(), st.integers(0, 4 * 3600), st.integers(0, 999_999))
def test_next_after_is_monotonic(case: Case, gap_s: int, gap_us: int) -> None:
    schedule = cron(case)
    t1 = case.start
    t2 = t1.astimezone(UTC) + timedelta(seconds=gap_s, microseconds=gap_us)
    n1 = checked(schedule.next_after(t1), case.zone, t1)
    n2 = checked(schedule.next_after(t2), case.zone, t2)
    if n1 is None:
        assert n2 is None
        return
    assert n2 is None or n1 <= n2
    if n1 > t2:  # nothing fires in (t1, n1), so the first fire after t2 is n1 again
        assert n2 == n1


@settings(max_examples=100, **SETTINGS)
@given(cases())
def test_iterating_never_repeats_an_instant(case: Case) -> None:
    schedule = cron(case)
    seen: list[datetime] = []
    cursor: datetime = case.start
    for _ in range(25):
        nxt = checked(schedule.next_after(cursor), case.zone, cursor)
        if nxt is None:
            break
        assert not seen or nxt > seen[-1]
        seen.append(nxt)
        cursor = nxt.astimezone(ZoneInfo(case.zone))
    assert len(set(seen)) == len(seen)


NAMED = [
    "0 12 * * SUN",
    "0 12 * * sun",
    "0 12 * * 7",
    "0 12 * * 7-7",
    "0 12 * * 5-7",
    "0 12 * * SUN-SUN",
    "0 12 * * SUN-TUE",
    "0 12 * * MON-FRI/2",
    "0 12 * * SUN,SAT",
    "0 12 * JAN-MAR/2 *",
    "0 12 * feb,dec *",
    "0 12 L * *",
    "0 12 LW * *",
    "0 12 1W * *",
    "0 12 15W * *",
    "0 12 * * 5L",
    "0 12 * * 7L",
    "0 12 * * 5#2",
    "0 12 * * 0#5",
    "0 12 13 * 5",
    "0 12 L * 1#1",
]


@pytest.mark.parametrize("expression", NAMED)
def test_day_and_name_forms_over_a_year(expression: str) -> None:
    """The same comparison, deterministic, for the name and day forms, over 2026-2027."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    case = Case(expression, None, "UTC", start, timedelta(days=400))
    compare_with_reference(case, log=print)
