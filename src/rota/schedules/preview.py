"""The next fire times of a schedule, with a note for each DST change among them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rota.errors import ScheduleError
from rota.schedules.base import Schedule, require_aware
from rota.schedules.calendar import _Calendar
from rota.schedules.durations import format_duration
from rota.schedules.simple import Interval
from rota.schedules.text import parse
from rota.schedules.zones import (
    MAX_YEAR,
    Transition,
    get_zone,
    next_transition,
    resolve_zone,
    to_instant,
    to_seconds,
    year_start,
)

__all__ = ["MAX_PREVIEW", "Preview", "preview"]

MAX_PREVIEW = 1000
_END = year_start(MAX_YEAR + 1)


@dataclass(frozen=True)
class Preview:
    """`fire_times` in the preview's zone, and `notes` on DST changes between `after` and them."""

    schedule: Schedule
    after: datetime
    tz: str
    fire_times: tuple[datetime, ...]
    notes: tuple[str, ...]


def preview(
    schedule: Schedule | str, n: int = 5, after: datetime | None = None, tz: str | None = None
) -> Preview:
    """The next `n` fire times of `schedule` after `after` (default: now), shown in `tz`.

    `schedule` may be text, read as `rota.parse(schedule, tz)` reads it (and failing as it does,
    with a `ScheduleError` naming the field): ``preview("daily 03:00", tz="Europe/Berlin")``.
    `tz` defaults to the schedule's own zone, else ``TZ``, else UTC.
    """
    if not isinstance(schedule, Schedule):
        schedule = parse(schedule, tz)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PREVIEW:
        raise ScheduleError("count", repr(n), f"{n!r} is not a count from 1 to {MAX_PREVIEW}")
    start = datetime.now(UTC) if after is None else after
    require_aware(start)
    if tz is None and isinstance(schedule, _Calendar):
        tz = schedule.tz
    key = resolve_zone(tz)
    zone = get_zone(key)
    times: list[datetime] = []
    cursor: datetime | None = start
    while len(times) < n and cursor is not None:
        cursor = schedule.next_after(cursor)
        if cursor is not None:
            times.append(cursor.astimezone(zone))
    notes = tuple(
        _note(schedule, key, transition)
        for transition in _transitions(key, to_seconds(start), times[-1] if times else None)
    )
    return Preview(schedule, start, key, tuple(times), notes)


def _transitions(key: str, after: int, last: datetime | None) -> list[Transition]:
    if last is None:
        return []
    end = to_seconds(last)
    found: list[Transition] = []
    cursor = after
    while cursor < end:
        transition, horizon = next_transition(key, cursor)
        if transition is None:
            cursor = horizon if horizon < _END else end
            continue
        if transition.at > end:
            break
        found.append(transition)
        cursor = transition.at
    return found


def _clock(wall: int) -> str:
    return (datetime(1970, 1, 1) + timedelta(seconds=wall)).strftime("%H:%M")


def _amount(seconds: int) -> str:
    if seconds == 3600:
        return "an hour"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"


def _note(schedule: Schedule, key: str, transition: Transition) -> str:
    zone = get_zone(key)
    before_name = to_instant(transition.at - 1, zone).astimezone(zone).tzname()
    after_name = to_instant(transition.at, zone).astimezone(zone).tzname()
    old_wall = transition.at + transition.before
    new_wall = transition.at + transition.after
    day = (datetime(1970, 1, 1) + timedelta(seconds=old_wall - 1)).date().isoformat()
    forward = transition.after > transition.before
    shift = abs(transition.after - transition.before)
    direction = "forward" if forward else "back"
    general = (
        f"{day}: clocks in {key} go {direction} {_amount(shift)} at {_clock(old_wall)} "
        f"({before_name} → {after_name})"
    )
    if isinstance(schedule, Interval):
        later = "later" if forward else "earlier"
        return (
            f"{general}; fire times stay exactly {format_duration(schedule.period)} apart, "
            f"so on the clock they come {_amount(shift)} {later}"
        )
    if not isinstance(schedule, _Calendar) or schedule.tz != key:
        return general
    low, high = sorted((old_wall, new_wall))
    matched = schedule.first_match_in(low, high)
    if matched is None:
        return general
    span = f"{_clock(low)} to {_clock(high - 60)}"
    if forward and schedule.fixed_time:
        return (
            f"{day}: {matched:%H:%M} does not exist in {key} (clocks go forward at "
            f"{_clock(old_wall)}); runs at {_clock(new_wall)} {after_name}"
        )
    if forward:
        return f"{general}; fire times from {span} do not exist and are skipped"
    if schedule.fixed_time:
        return (
            f"{day}: {matched:%H:%M} occurs twice in {key} ({before_name}, then {after_name}); "
            f"runs once, at {matched:%H:%M} {before_name}"
        )
    return f"{general}; fire times from {span} come twice, in {before_name} and in {after_name}"
