"""A job's settings: validated from code, stored as JSON, overridden by the admin.

Code gives the defaults; the store keeps them beside the admin's overrides (same keys); the
effective settings are the overrides laid over the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from rota.engine.policies import CatchUp, Overlap, RetryPolicy
from rota.errors import ScheduleError, SettingError
from rota.outcomes import Retry
from rota.schedules import (
    Interval,
    Manual,
    Schedule,
    format_duration,
    parse_duration,
    to_schedule,
)
from rota.store.records import Retention

__all__ = ["OVERRIDABLE", "JobSettings", "duration_setting"]

_Choice = TypeVar("_Choice", Overlap, CatchUp)

OVERRIDABLE = frozenset(
    {
        "schedule",
        "overlap",
        "max_concurrent",
        "catch_up",
        "grace",
        "retry",
        "timeout",
        "start_delay",
    }
)


@dataclass(frozen=True)
class JobSettings:
    """Everything the engine needs to know about a job besides its function."""

    schedule: Schedule
    description: str = ""
    overlap: Overlap = Overlap.SKIP
    max_concurrent: int = 1
    catch_up: CatchUp = CatchUp.ONCE
    grace: timedelta = timedelta(seconds=60)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: timedelta | None = None
    start_delay: timedelta | None = None
    retention: Retention = field(default_factory=Retention)

    @classmethod
    def build(
        cls,
        *,
        schedule: Schedule | str | None,
        tz: str | None,
        description: str = "",
        overlap: str = "skip",
        max_concurrent: int = 1,
        catch_up: str = "once",
        grace: str | float | timedelta = 60,
        retry: Retry | int | None = None,
        timeout: str | float | timedelta | None = None,
        start_delay: str | float | timedelta | None = None,
        retention: Retention | None = None,
    ) -> JobSettings:
        """Validate settings as a user writes them; SettingError or ScheduleError otherwise."""
        return cls(
            schedule=Manual() if schedule is None else to_schedule(schedule, tz),
            description=_text(description, "description"),
            overlap=_choice(Overlap, overlap, "overlap"),
            max_concurrent=_count(max_concurrent, "max_concurrent", 1, 1000),
            catch_up=_choice(CatchUp, catch_up, "catch_up"),
            grace=duration_setting(grace, "grace", allow_zero=True),
            retry=_retry(retry),
            timeout=None if timeout is None else duration_setting(timeout, "timeout"),
            start_delay=(
                None if start_delay is None else duration_setting(start_delay, "start_delay")
            ),
            retention=_retention(retention),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form the store keeps (defaults and overrides alike)."""
        return {
            "schedule": self.schedule.to_dict(),
            "description": self.description,
            "overlap": self.overlap.value,
            "max_concurrent": self.max_concurrent,
            "catch_up": self.catch_up.value,
            "grace": format_duration(self.grace),
            "retry": {
                "attempts": self.retry.attempts,
                "backoff": format_duration(self.retry.backoff),
                "max_delay": format_duration(self.retry.max_delay),
            },
            "timeout": None if self.timeout is None else format_duration(self.timeout),
            "start_delay": None if self.start_delay is None else format_duration(self.start_delay),
        }

    def with_json(self, data: Mapping[str, Any]) -> JobSettings:
        """These settings with the keys of `data` (an override, or stored defaults) laid over."""
        changes: dict[str, Any] = {}
        for key, value in data.items():
            if key == "schedule":
                changes[key] = Schedule.from_dict(value)
            elif key == "description":
                changes[key] = _text(value, key)
            elif key == "overlap":
                changes[key] = _choice(Overlap, value, key)
            elif key == "catch_up":
                changes[key] = _choice(CatchUp, value, key)
            elif key == "max_concurrent":
                changes[key] = _count(value, key, 1, 1000)
            elif key == "grace":
                changes[key] = duration_setting(value, key, allow_zero=True)
            elif key in ("timeout", "start_delay"):
                changes[key] = None if value is None else duration_setting(value, key)
            elif key == "retry":
                changes[key] = RetryPolicy(
                    attempts=_count(value["attempts"], "retry attempts", 1, 100),
                    backoff=duration_setting(value["backoff"], "retry backoff"),
                    max_delay=duration_setting(value["max_delay"], "retry max_delay"),
                )
            else:
                raise SettingError("settings", key, f"{key!r} is not a job setting")
        return replace(self, **changes)

    def is_fast(self, now: datetime) -> bool:
        """Whether the schedule fires more often than once a minute (retention keeps less)."""
        if isinstance(self.schedule, Interval):
            return self.schedule.period < timedelta(minutes=1)
        first = self.schedule.next_after(now)
        second = None if first is None else self.schedule.next_after(first)
        return first is not None and second is not None and second - first < timedelta(minutes=1)


def duration_setting(value: object, field: str, *, allow_zero: bool = False) -> timedelta:
    """A duration setting (seconds, timedelta or text like "2h"); SettingError otherwise."""
    try:
        return parse_duration(value, field=field, allow_zero=allow_zero)  # type: ignore[arg-type]
    except ScheduleError as error:
        raise SettingError(error.field, error.value, error.reason) from None


def _choice(kind: type[_Choice], value: object, field: str) -> _Choice:
    if isinstance(value, str) and value in {member.value for member in kind}:
        return kind(value)
    allowed = ", ".join(member.value for member in kind)
    raise SettingError(field, str(value), f"{value!r} is not one of {allowed}")


def _count(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingError(field, str(value), f"{value!r} is not a whole number {low}-{high}")
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise SettingError(field, repr(value)[:40], "must be text of at most 2,000 characters")
    return value


def _retention(value: object) -> Retention:
    if value is None:
        return Retention()
    if not isinstance(value, Retention):
        raise SettingError("retention", repr(value)[:40], f"{value!r} is not a Retention")
    return value


def _retry(value: Retry | int | None) -> RetryPolicy:
    if value is None:
        return RetryPolicy()
    if isinstance(value, Retry):
        return RetryPolicy(value.attempts or 1, value.backoff, value.max_delay)
    return RetryPolicy(attempts=_count(value, "retry", 1, 100))
