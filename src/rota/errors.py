"""Every error rota raises on purpose.

    RotaError
     ├── ScheduleError     a schedule's text or parameters are invalid (names the field and value)
     ├── SettingError      a job's setting (policy, duration, name) is invalid (same shape)
     ├── UnknownJobError   no job has that name
     ├── UnknownRunError   no run has that id
 ├── ConflictError     the change does not fit what is there (a name taken, a run running)
     └── StoreError        the store cannot be opened or used as asked
          └── StoreUnavailableError   it cannot be reached now (try again)

``except RotaError`` catches all of rota's own errors and nothing else.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "RotaError",
    "ScheduleError",
    "SettingError",
    "StoreError",
    "StoreUnavailableError",
    "UnknownJobError",
    "UnknownRunError",
]


class RotaError(Exception):
    """Base of every error rota raises on purpose."""


class _FieldError(RotaError, ValueError):
    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason

    def __reduce__(self) -> tuple[type[_FieldError], tuple[str, str, str]]:
        return (type(self), (self.field, self.value, self.reason))


class ScheduleError(_FieldError):
    """A schedule is invalid: ``field`` names where, ``value`` what was given, ``reason`` why.

    ``str(error)`` reads ``"minute field: 61 is out of range 0-59"``; the service turns it into a
    422 response whose body carries the three parts.
    """


class SettingError(_FieldError):
    """A job setting is invalid: ``"overlap: 'sometimes' is not one of skip, queue, ..."``."""


class UnknownJobError(RotaError, LookupError):
    """No job has this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"job: no job is named {name!r}")
        self.name = name

    def __reduce__(self) -> tuple[type[UnknownJobError], tuple[str]]:
        return (type(self), (self.name,))


class UnknownRunError(RotaError, LookupError):
    """No run has this id."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run: no run has id {run_id!r}")
        self.run_id = run_id

    def __reduce__(self) -> tuple[type[UnknownRunError], tuple[int]]:
        return (type(self), (self.run_id,))


class ConflictError(RotaError):
    """The change does not fit the current state: a job of that name exists, a job to remove
    has a running run, a run to retry has not failed. The message says what is in the way."""


class StoreError(RotaError):
    """The store cannot be opened or used as asked (bad URL, unsupported database, ...)."""


class StoreUnavailableError(StoreError):
    """The store could not be reached, or the connection broke during the call (a database
    restarting, a network down, SQLite's lock held past its timeout). Whether a write that was
    under way committed is not known; the caller may try again, and rota's own writes are safe
    to repeat (conditional updates, unique run keys)."""
