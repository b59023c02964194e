"""What a job can say about its own run besides returning or raising: `Retry` and `Skip`."""

from __future__ import annotations

from datetime import timedelta

from rota.errors import SettingError
from rota.schedules import parse_duration

__all__ = ["Retry", "Skip"]


class Retry(Exception):
    """How a job retries, and how a job asks for a retry.

    As a setting, ``@rota.job(..., retry=Retry(attempts=5, backoff="30s", max_delay="1h"))``: at
    most `attempts` attempts in all (``retry=3`` is short for ``Retry(3)``), waiting `backoff`
    after the first failure, doubling each time up to `max_delay`, with jitter. An attempt a
    limiter deferred (decision 0012) is not one of them: it takes no retry and no backoff.

    Raised by a job, ``raise Retry(after="5m")``: this attempt ends as failed and the next starts
    after that delay (or the backoff, when no delay is given), up to the job's attempts, and at
    least 3 attempts in all when the job sets no retry.
    """

    def __init__(
        self,
        attempts: int | None = None,
        *,
        after: str | float | timedelta | None = None,
        backoff: str | float | timedelta = 10,
        max_delay: str | float | timedelta = 3600,
    ) -> None:
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100
        ):
            raise SettingError("retry", repr(attempts), f"attempts {attempts!r} is not 1-100")
        self.attempts = attempts
        self.after = None if after is None else _duration(after, "retry after")
        self.backoff = _duration(backoff, "retry backoff")
        self.max_delay = _duration(max_delay, "retry max_delay")
        super().__init__(f"retry requested{'' if after is None else f' after {self.after}'}")


class Skip(Exception):
    """Raised by a job: this run did nothing on purpose; it is recorded `skipped` with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _duration(value: str | float | timedelta, field: str) -> timedelta:
    from rota.errors import ScheduleError

    try:
        return parse_duration(value, field=field)
    except ScheduleError as error:
        raise SettingError(error.field, error.value, error.reason) from None
