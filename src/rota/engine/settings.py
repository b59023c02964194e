"""A job's settings, each declared once: how it is read, how it is stored, whether an admin may
override it, and what it means.

Code gives the defaults (``@rota.job(...)``, ``rota.add_job(...)``); the store keeps them beside
the admin's overrides under the same keys; the effective settings are the overrides laid over the
defaults. Registration, overrides, stored JSON and the API's schema all read `SETTINGS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypedDict, TypeVar

from rota.engine.isolation import Isolation
from rota.engine.policies import CatchUp, Overlap, RetryPolicy
from rota.engine.prerequisites import check_path, read_checks
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

__all__ = [
    "OVERRIDABLE",
    "SETTINGS",
    "JobSettings",
    "Setting",
    "SettingValues",
    "duration_setting",
]

_Choice = TypeVar("_Choice", Overlap, CatchUp, Isolation)
MAX_ARGS_BYTES = 64 * 1024


Duration = str | float | timedelta


class SettingValues(TypedDict, total=False):
    """A job's settings as code, an admin or JSON give them (each is read by its `Setting`;
    None means the default)."""

    schedule: Schedule | str | Mapping[str, Any] | None
    description: str | None
    args: Mapping[str, Any] | None
    overlap: str | None
    max_concurrent: int | None
    catch_up: str | None
    grace: Duration | None
    retry: Retry | int | Mapping[str, Any] | None
    timeout: Duration | None
    start_delay: Duration | None
    retention: Retention | Mapping[str, Any] | None
    isolation: str | None
    requires: Sequence[Callable[..., Any] | str] | None


@dataclass(frozen=True)
class Setting:
    """One job setting: `read` takes what a user or the store gives (code values, text, JSON)
    and returns the value or raises SettingError naming it; `dump` gives its JSON form."""

    name: str
    help: str
    read: Callable[[object, str | None], Any]
    dump: Callable[[Any], Any]
    overridable: bool = True


@dataclass(frozen=True)
class JobSettings:
    """Everything the engine needs to know about a job besides its function."""

    schedule: Schedule = field(default_factory=Manual)
    description: str = ""
    args: Mapping[str, Any] = field(default_factory=dict)
    overlap: Overlap = Overlap.SKIP
    max_concurrent: int = 1
    catch_up: CatchUp = CatchUp.ONCE
    grace: timedelta = timedelta(seconds=60)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: timedelta | None = None
    start_delay: timedelta | None = None
    retention: Retention = field(default_factory=Retention)
    isolation: Isolation = Isolation.NONE
    requires: tuple[Callable[..., Any], ...] = ()

    @classmethod
    def build(cls, tz: str | None = None, **values: object) -> JobSettings:
        """Settings as a user writes them (None means the default); SettingError or
        ScheduleError name what is wrong. Schedule text is read in `tz`."""
        return cls().with_values({k: v for k, v in values.items() if v is not None}, tz)

    def with_values(self, values: Mapping[str, object], tz: str | None = None) -> JobSettings:
        """These settings with `values` (code values, text or JSON, by setting name) laid over."""
        changes: dict[str, Any] = {}
        for key, value in values.items():
            setting = _BY_NAME.get(key)
            if setting is None:
                allowed = ", ".join(_BY_NAME)
                raise SettingError("setting", str(key), f"{key!r} is not one of {allowed}")
            changes[key] = setting.read(value, tz)
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The JSON form the store keeps (defaults and overrides alike)."""
        return {s.name: s.dump(getattr(self, s.name)) for s in SETTINGS}

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


# -- how each kind of value is read and written ---------------------------------------------


def _schedule(value: object, tz: str | None) -> Schedule:
    if isinstance(value, Mapping):
        schedule = Schedule.from_dict(dict(value))
    elif isinstance(value, Schedule | str):
        schedule = to_schedule(value, tz)
    else:
        raise SettingError("schedule", repr(value)[:60], "give a Schedule or its text")
    return schedule


def _choice(kind: type[_Choice], name: str) -> Callable[[object, str | None], _Choice]:
    def read(value: object, tz: str | None) -> _Choice:
        if isinstance(value, str) and value in {member.value for member in kind}:
            return kind(value)
        allowed = ", ".join(member.value for member in kind)
        raise SettingError(name, str(value), f"{value!r} is not one of {allowed}")

    return read


def _count(name: str, low: int, high: int) -> Callable[[object, str | None], int]:
    def read(value: object, tz: str | None) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingError(name, str(value), f"{value!r} is not a whole number {low}-{high}")
        return value

    return read


def _duration(name: str, *, optional: bool, allow_zero: bool = False) -> Callable[..., Any]:
    def read(value: object, tz: str | None) -> timedelta | None:
        if value is None and optional:
            return None
        return duration_setting(value, name, allow_zero=allow_zero)

    return read


def _dump_duration(value: timedelta | None) -> str | None:
    return None if value is None else format_duration(value)


def _description(value: object, tz: str | None) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise SettingError("description", repr(value)[:40], "must be text of at most 2,000 chars")
    return value


def _args(value: object, tz: str | None) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise SettingError("args", repr(value)[:60], "must be a mapping of names to JSON values")
    try:
        text = json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SettingError("args", repr(value)[:60], f"must be JSON values: {error}") from None
    if len(text.encode()) > MAX_ARGS_BYTES:
        raise SettingError(
            "args", f"{len(text.encode())} bytes", f"must be at most {MAX_ARGS_BYTES} as JSON"
        )
    return dict(json.loads(text))


def _retry(value: object, tz: str | None) -> RetryPolicy:
    if value is None:  # an admin's "no retries"
        return RetryPolicy()
    if isinstance(value, RetryPolicy):
        return value
    if isinstance(value, Retry):
        return RetryPolicy(value.attempts or 1, value.backoff, value.max_delay)
    if isinstance(value, Mapping):
        unknown = set(value) - {"attempts", "backoff", "max_delay"}
        if unknown:
            raise SettingError("retry", str(sorted(unknown)), "is not attempts/backoff/max_delay")
        default = RetryPolicy()
        return RetryPolicy(
            attempts=_count("retry attempts", 1, 100)(value.get("attempts", 1), tz),
            backoff=duration_setting(value.get("backoff", default.backoff), "retry backoff"),
            max_delay=duration_setting(
                value.get("max_delay", default.max_delay), "retry max_delay"
            ),
        )
    return RetryPolicy(attempts=_count("retry", 1, 100)(value, tz))


def _dump_retry(value: RetryPolicy) -> dict[str, Any]:
    return {
        "attempts": value.attempts,
        "backoff": format_duration(value.backoff),
        "max_delay": format_duration(value.max_delay),
    }


def _retention(value: object, tz: str | None) -> Retention:
    if isinstance(value, Retention):
        if value.fast:
            raise SettingError(
                "retention fast",
                "True",
                "is rota's to set, from how often the job fires; give fast_failures instead",
            )
        return value
    if not isinstance(value, Mapping):
        raise SettingError("retention", repr(value)[:60], "give a Retention or its JSON")
    allowed = ("keep_last", "failed_for", "succeeded_for", "fast_failures")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise SettingError(
            "retention", str(unknown[0]), f"{unknown[0]!r} is not one of {', '.join(allowed)}"
        )
    default = Retention()
    # Counts as given (Retention checks them); durations from their text too.
    return Retention(
        keep_last=value.get("keep_last", default.keep_last),
        failed_for=duration_setting(
            value.get("failed_for", default.failed_for), "retention failed_for"
        ),
        succeeded_for=duration_setting(
            value.get("succeeded_for", default.succeeded_for), "retention succeeded_for"
        ),
        fast_failures=value.get("fast_failures", default.fast_failures),
    )


def _dump_retention(value: Retention) -> dict[str, Any]:
    return {
        "keep_last": value.keep_last,
        "failed_for": format_duration(value.failed_for),
        "succeeded_for": format_duration(value.succeeded_for),
        "fast_failures": value.fast_failures,
    }


def _same(value: Any) -> Any:
    return value


def _value(value: Any) -> Any:
    return value.value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "schedule",
        "When the job fires: a schedule's text (cron, daily, weekly, every, once, manual, or "
        "'after a, b': each time jobs a and b have succeeded).",
        _schedule,
        lambda value: value.to_dict(),
    ),
    Setting("description", "What the job does, in a line.", _description, _same, False),
    Setting(
        "args",
        "Keyword arguments (JSON values) each run gets; a run's own arguments win.",
        _args,
        _same,
    ),
    Setting(
        "overlap",
        "When a fire time comes while a run is active: skip, queue, replace or allow.",
        _choice(Overlap, "overlap"),
        _value,
    ),
    Setting(
        "max_concurrent",
        "How many runs may run at once under overlap=allow (1-1000).",
        _count("max_concurrent", 1, 1000),
        _same,
    ),
    Setting(
        "catch_up",
        "Missed fire times after downtime: once, all (at most 100) or none.",
        _choice(CatchUp, "catch_up"),
        _value,
    ),
    Setting(
        "grace",
        "How late a fire time may start and still count as on time, not missed.",
        _duration("grace", optional=False, allow_zero=True),
        _dump_duration,
    ),
    Setting(
        "retry",
        "Attempts in all, with backoff doubling up to max_delay: 3 or {attempts, backoff, ...}.",
        _retry,
        _dump_retry,
    ),
    Setting(
        "timeout",
        "How long a run may take before it is stopped and recorded timed-out (none: no limit).",
        _duration("timeout", optional=True),
        _dump_duration,
    ),
    Setting(
        "start_delay",
        "How long after a node starts the job's runs wait (to stagger heavy jobs).",
        _duration("start_delay", optional=True),
        _dump_duration,
    ),
    Setting(
        "retention",
        "How much history the job keeps: keep_last runs always, failed_for, succeeded_for.",
        _retention,
        _dump_retention,
    ),
    Setting(
        "isolation",
        "Where a run is called: none (a thread, or the engine's loop) or process (a process of "
        "its own, ended for real on timeout, cancel and stop).",
        _choice(Isolation, "isolation"),
        _value,
    ),
    Setting(
        "requires",
        "Prerequisites: checks run before each run; one not met skips the run with its reason. "
        "Code only (an admin cannot override them); listed by import path.",
        lambda value, tz: read_checks(value),
        lambda value: [check_path(check) for check in value],
        False,
    ),
)
_BY_NAME = {setting.name: setting for setting in SETTINGS}
OVERRIDABLE = frozenset(s.name for s in SETTINGS if s.overridable)
