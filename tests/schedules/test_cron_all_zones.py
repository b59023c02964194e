"""Property tests: `Cron.next_after` against the brute-force reference in every tzdata zone.

`test_cron_reference.py` covers the syntax thoroughly in five zones; this file covers the zones:
any key in `zoneinfo.available_timezones()`, any year 1900-2060, starts mostly near one of that
zone's real offset changes (local mean time, wartime, date-line moves, ordinary DST) or near a
year's first instant in UTC or local terms, where a zone's rules most often change. The same
comparison once found that changes exactly at 1 January 00:00 UTC were missed (decision 0001).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import event, given, settings
from hypothesis import strategies as st

try:
    from .cron_reference import DaySpec, Spec, transitions
    from .test_cron_reference import SETTINGS, Case, compare_with_reference, day_fields, field
except ImportError:  # tests/schedules is not a package: pytest put this folder on sys.path
    from cron_reference import DaySpec, Spec, transitions  # type: ignore[no-redef]
    from test_cron_reference import (  # type: ignore[no-redef]
        SETTINGS,
        Case,
        compare_with_reference,
        day_fields,
        field,
    )

ALL_ZONES = sorted(available_timezones())
FIRST_YEAR, LAST_YEAR = 1900, 2060
WEEK = timedelta(days=7)
SECOND = timedelta(seconds=1)
SHIFTS = st.one_of(
    st.sampled_from([0, -1, 1, -60, 60, -3600, 3600]),
    st.integers(-3 * 3600, 3600),
    st.integers(-2 * 86_400, 2 * 86_400),
)


def zone_transitions(zone: str) -> tuple[datetime, ...]:
    """The zone's offset changes 1900-2060, probed weekly: only to pick starts near them."""
    return transitions(zone, FIRST_YEAR, LAST_YEAR, WEEK)


@cache
def new_year_changes() -> dict[str, tuple[tuple[str, datetime], ...]]:
    """(zone, instant) of every offset change within a day of a UTC new year, in any zone, by
    where it falls: at 00:00 UTC, at 00:00 local (before or after it), or elsewhere.

    Rules often change on 1 January, local or UTC; the year is also where a finder that works
    year by year has its seams. Probing two instants a year in every zone takes a fraction of a
    second, so these are found across all zones and sampled directly.
    """
    found: dict[str, list[tuple[str, datetime]]] = {"utc": [], "local": [], "near": []}
    for zone in ALL_ZONES:
        zi = ZoneInfo(zone)
        for year in range(FIRST_YEAR + 1, LAST_YEAR + 1):
            new_year = datetime(year, 1, 1, tzinfo=UTC)
            low, high = new_year - timedelta(days=1), new_year + timedelta(days=1)
            before = _offset(zi, low)
            if _offset(zi, high) == before:
                continue
            while high - low > SECOND:  # the first change after `low`
                middle = low + (high - low) // 2
                middle -= timedelta(microseconds=middle.microsecond)
                if _offset(zi, middle) == before:
                    low = middle
                else:
                    high = middle
            walls = {(high + offset).replace(tzinfo=None) for offset in (before, _offset(zi, high))}
            seam = (
                "utc" if high == new_year else "local" if datetime(year, 1, 1) in walls else "near"
            )
            found[seam].append((zone, high))
    return {seam: tuple(changes) for seam, changes in found.items()}


def _offset(zi: ZoneInfo, t: datetime) -> timedelta:
    offset = t.astimezone(zi).utcoffset()
    assert offset is not None
    return offset


@st.composite
def zones_and_starts(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a start: near one of the zone's changes, near a change at new year in any
    zone, near a year's first instant, or anywhere 1900-2060."""
    kind = draw(
        st.sampled_from(
            ["transition"] * 4 + ["new-year change"] * 3 + ["utc new year", "local new year", "any"]
        )
    )
    if kind == "new-year change":
        # Each seam equally often: a change at 00:00 UTC, at 00:00 local, or elsewhere that day.
        seam = draw(st.sampled_from(sorted(new_year_changes())))
        zone, near = draw(st.sampled_from(new_year_changes()[seam]))
        event(f"start near: a new-year change ({seam})")
        shift = draw(st.one_of(st.sampled_from([0, -1, 1]), st.integers(-2 * 86_400, 3600)))
        return zone, near + timedelta(seconds=shift)
    zone = draw(st.sampled_from(ALL_ZONES))
    pool = zone_transitions(zone)
    if kind == "transition" and pool:
        near = draw(st.sampled_from(pool))
    elif kind in ("utc new year", "local new year", "transition"):
        year = draw(st.integers(FIRST_YEAR + 1, LAST_YEAR))
        near = datetime(year, 1, 1, tzinfo=UTC)
        if kind == "local new year":
            near = datetime(year, 1, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    else:
        near = draw(st.datetimes(datetime(FIRST_YEAR, 1, 2), datetime(LAST_YEAR, 12, 1)))
        near = near.replace(tzinfo=UTC, microsecond=0)
    event(f"start near: {kind if kind != 'transition' or pool else 'utc new year'}")
    return zone, near + timedelta(seconds=draw(SHIFTS))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A random 5- or 6-field expression in a random zone, starting near a change."""
    zone, t = draw(zones_and_starts())
    if draw(st.integers(0, 4)) == 0:
        t = t.replace(microsecond=draw(st.integers(1, 999_999)))
    six = draw(st.integers(0, 3)) == 0
    seconds = draw(field(0, 59, star=0.5)) if six else ("0", frozenset({0}))
    minute = draw(field(0, 59, star=0.35))
    hour = draw(field(0, 23, star=0.3))
    if draw(st.booleans()):
        dom_text, dow_text = "*", "*"
        days = DaySpec(frozenset(range(1, 32)), dow=frozenset(range(7)))
    else:
        dom_text, dow_text, days = draw(day_fields())
    spec = Spec(
        seconds=seconds[1],
        minutes=minute[1],
        hours=frozenset(hour[1]),
        days=days,
        months=frozenset(range(1, 13)),
        dom_star=dom_text.startswith("*"),
        dow_star=dow_text.startswith("*"),
        fixed=not (minute[0].startswith("*") or hour[0].startswith("*")),
    )
    texts = [minute[0], hour[0], dom_text, "*", dow_text]
    text = " ".join([seconds[0], *texts] if six else texts)
    window = timedelta(days=4) if dom_text == dow_text == "*" else timedelta(days=40)
    start = t.astimezone(ZoneInfo(zone)) if draw(st.booleans()) else t
    return Case(text, spec, zone, start, window)


@settings(max_examples=120, **SETTINGS)
@given(cases())
def test_next_after_matches_brute_force_in_every_zone(case: Case) -> None:
    """Any zone, 1900-2060, starts near that zone's changes and near new year."""
    start = case.start.astimezone(UTC)
    if any(start < x <= start + case.window for x in zone_transitions(case.zone)):
        event("the zone changes offset within the window")
    compare_with_reference(case)
