"""The DST rule: from wall-clock matches to real fire instants.

The Vixie/ISC cron rule, as Debian documents it. A *fixed-time* schedule (no ``*`` leading its
minute or hour field) whose wall time is skipped by a spring-forward fires once, at the first real
instant after the gap; one whose wall time repeats at a fall-back fires once, in the first pass.
Every other schedule fires at each real instant whose wall clock matches: never inside a gap,
twice in a repeated hour.

The walk goes from one span of constant offset to the next (see docs/decisions/0001). Inside a span
wall = instant + offset, so `CronFields.next_match` answers directly; at each transition the rule
decides what happens to the skipped or repeated wall range.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rota.schedules.cronfields import CronFields
from rota.schedules.zones import (
    MAX_YEAR,
    next_transition,
    offset_at,
    previous_transition,
    to_instant,
    to_seconds,
    year_start,
)

__all__ = ["next_fire_seconds", "next_fire_time"]

_END = year_start(MAX_YEAR + 1)


def next_fire_time(fields: CronFields, key: str, zone: ZoneInfo, t: datetime) -> datetime | None:
    """The first fire time strictly after `t` of a cron-like schedule evaluated in `zone`."""
    found = next_fire_seconds(fields, key, zone, to_seconds(t))
    return None if found is None else to_instant(found, zone)


def next_fire_seconds(fields: CronFields, key: str, zone: ZoneInfo, after: int) -> int | None:
    """`next_fire_time` on whole seconds since the epoch (fire times are whole seconds)."""
    fixed = fields.fixed_time
    cursor = after
    offset = offset_at(zone, cursor)
    low = cursor + offset + 1  # first wall second to consider: strictly after `after`
    opened_by = previous_transition(key, cursor)
    while True:
        transition, horizon = next_transition(key, cursor)
        end = transition.at if transition is not None else horizon
        if fixed and opened_by is not None and opened_by.after < opened_by.before:
            # After a fall-back, wall times up to where the previous span ended were already seen:
            # a fixed-time schedule fired for them in the first pass.
            low = max(low, opened_by.at + opened_by.before)
        match = fields.next_match(low, end + offset)
        if match is not None:
            return match - offset
        if transition is None:
            if end >= _END:
                return None
            cursor, low = end, end + offset  # no transition yet: search on from the horizon
            continue
        if fixed and transition.after > transition.before:
            # Spring-forward: every match in the skipped wall range fires once, as the gap ends.
            gap_start = transition.at + transition.before
            if fields.next_match(gap_start, transition.at + transition.after) is not None:
                return transition.at
        cursor, offset, opened_by = transition.at, transition.after, transition
        low = cursor + offset
