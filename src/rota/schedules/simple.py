"""Schedules that are not wall-clock rules: `Interval`, `Once`, `Manual` and `After`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from rota.errors import ScheduleError
from rota.names import job_name_problem
from rota.schedules.base import Schedule, require_aware
from rota.schedules.durations import format_duration, parse_duration
from rota.schedules.zones import (
    EPOCH,
    fixed_offset,
    get_zone,
    next_transition,
    resolve_zone,
    to_instant,
    to_seconds,
)

__all__ = ["After", "Interval", "Manual", "Once", "parse_instant"]

MIN_INTERVAL = timedelta(milliseconds=100)
MAX_INTERVAL = timedelta(days=366)
_MICROSECOND = timedelta(microseconds=1)
_UNIT_WORDS = {"w": "week", "d": "day", "h": "hour", "m": "minute", "s": "second"}


@dataclass(frozen=True, init=False)
class Interval(Schedule):
    """Every fixed duration, at ``anchor + k * period``: fire times never drift.

    The default anchor is the Unix epoch, so ``every 6h`` fires at 00:00, 06:00, ... UTC. Before a
    later anchor, the first fire time is the anchor itself.
    """

    kind: ClassVar[str] = "interval"
    period: timedelta
    anchor: datetime

    def __init__(
        self, period: str | float | timedelta, anchor: datetime | str | None = None
    ) -> None:
        length = parse_duration(period, field="interval")
        if not MIN_INTERVAL <= length <= MAX_INTERVAL:
            raise ScheduleError(
                "interval",
                str(period),
                f"{format_duration(length)} is outside the allowed range 0.1s-366d",
            )
        start = EPOCH if anchor is None else parse_instant(anchor, None, field="interval anchor")
        object.__setattr__(self, "period", length)
        object.__setattr__(self, "anchor", start)

    def next_after(self, t: datetime) -> datetime | None:
        require_aware(t)
        if t < self.anchor:
            return self.anchor
        steps = (t - self.anchor) // _MICROSECOND // (self.period // _MICROSECOND) + 1
        try:
            return self.anchor + self.period * steps
        except OverflowError:
            return None

    @property
    def text(self) -> str:
        if self.anchor == EPOCH:
            return f"every {format_duration(self.period)}"
        return f"every {format_duration(self.period)} from {self.anchor.isoformat()}"

    def describe(self) -> str:
        amount = format_duration(self.period)
        number, unit = amount[:-1], amount[-1]
        word = _UNIT_WORDS[unit]
        words = f"Every {word}" if number == "1" else f"Every {number} {word}s"
        if self.anchor != EPOCH:
            words += f", counted from {self.anchor.isoformat(sep=' ')}"
        return words

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "period": format_duration(self.period),
            "anchor": self.anchor.isoformat(),
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Interval:
        if "period" not in data:
            raise ScheduleError("schedule", "interval", "interval needs 'period'")
        return cls(data["period"], data.get("anchor"))


@dataclass(frozen=True, init=False)
class Once(Schedule):
    """A single fire time. A time without an offset is read in `tz` (default ``TZ``, else UTC)."""

    kind: ClassVar[str] = "once"
    at: datetime

    def __init__(self, at: datetime | str, tz: str | None = None) -> None:
        object.__setattr__(self, "at", parse_instant(at, tz, field="once"))

    def next_after(self, t: datetime) -> datetime | None:
        require_aware(t)
        return self.at if self.at > t else None

    @property
    def text(self) -> str:
        return f"once {self.at.isoformat()}"

    def describe(self) -> str:
        return f"Once, at {self.at.isoformat(sep=' ')}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at.isoformat()}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Once:
        if "at" not in data:
            raise ScheduleError("schedule", "once", "once needs 'at'")
        return cls(data["at"])


@dataclass(frozen=True, init=False)
class Manual(Schedule):
    """Never fires by itself: the job runs when someone starts it."""

    kind: ClassVar[str] = "manual"

    def __init__(self) -> None:
        pass

    def next_after(self, t: datetime) -> datetime | None:
        require_aware(t)
        return None

    @property
    def text(self) -> str:
        return "manual"

    def describe(self) -> str:
        return "Manual only"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Manual:
        return cls()


@dataclass(frozen=True, init=False)
class After(Schedule):
    """Fires once each time all of the named jobs have succeeded since the job's last run
    after them (reason ``dependency``; docs/jobs.md, "Chains"). It has no fire times of its
    own: `next_after` is None."""

    kind: ClassVar[str] = "after"
    jobs: tuple[str, ...]

    def __init__(self, *jobs: str | Iterable[str]) -> None:
        names: list[str] = []
        for item in jobs:
            for name in [item] if isinstance(item, str) else item:
                if (problem := job_name_problem(name)) is not None:
                    raise ScheduleError("after", str(name), problem)
                if name not in names:
                    names.append(name)
        if not names:
            raise ScheduleError("after", "", "after needs at least one job name")
        object.__setattr__(self, "jobs", tuple(names))

    def next_after(self, t: datetime) -> datetime | None:
        require_aware(t)
        return None

    @property
    def text(self) -> str:
        return "after " + ", ".join(self.jobs)

    def describe(self) -> str:
        names = list(self.jobs)
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"After {joined} succeed{'s' if len(names) == 1 else ''}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "jobs": list(self.jobs)}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> After:
        jobs = data.get("jobs")
        if not isinstance(jobs, list):
            raise ScheduleError("schedule", "after", "after needs 'jobs', a list of job names")
        return cls(*jobs)


def parse_instant(value: datetime | str, tz: str | None, *, field: str) -> datetime:
    """An aware instant from a datetime or ISO 8601 text; a wall time without offset is read in
    `tz` by the fixed-time DST rule (a skipped time moves to the end of the gap, a repeated one
    takes its first occurrence)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ScheduleError(
                field, value, f"{value!r} is not an ISO 8601 date and time (2026-12-01T10:00+01:00)"
            ) from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ScheduleError(field, repr(value), f"{value!r} is not a date and time")
    if parsed.tzinfo is not None and parsed.utcoffset() is not None:
        return _fixed_offset(parsed)
    key = resolve_zone(tz)
    zone = get_zone(key)
    first = parsed.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == parsed:
        return _fixed_offset(first)  # the wall time exists; fold=0 is its first occurrence
    # Inside a gap, fold=1 reads the wall time with the offset after the gap, which lands just
    # before the transition: the next transition from there is the end of the gap.
    transition, _ = next_transition(key, to_seconds(parsed.replace(tzinfo=zone, fold=1)))
    if transition is None:  # pragma: no cover - a wall time only fails to exist next to one
        return _fixed_offset(first)
    return to_instant(transition.at, zone)


def _fixed_offset(t: datetime) -> datetime:
    """The same instant and offset with a fixed-offset tzinfo.

    Python compares and subtracts two datetimes that share one tzinfo by their wall clocks
    (PEP 495); a stored instant must not share a ZoneInfo with the instants it is compared to.
    """
    offset = t.utcoffset()
    assert offset is not None  # callers pass aware datetimes
    return t.astimezone(fixed_offset(offset // timedelta(seconds=1)))
