"""Every error rota raises on purpose.

    RotaError
     └── ScheduleError     a schedule's text or parameters are invalid (names the field and value)

Later layers add their own branches here, so that ``except RotaError`` catches all of rota's own
errors and nothing else.
"""

from __future__ import annotations

__all__ = ["RotaError", "ScheduleError"]


class RotaError(Exception):
    """Base of every error rota raises on purpose."""


class ScheduleError(RotaError, ValueError):
    """A schedule is invalid: ``field`` names where, ``value`` what was given, ``reason`` why.

    ``str(error)`` reads ``"minute field: 61 is out of range 0-59"``; the service turns it into a
    422 response whose body carries the three parts.
    """

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason

    def __reduce__(self) -> tuple[type[ScheduleError], tuple[str, str, str]]:
        return (type(self), (self.field, self.value, self.reason))
