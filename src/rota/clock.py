"""Time, injected: everything in rota that reads or awaits time goes through a `Clock`."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]

# A long sleep is cut into pieces so that a wall-clock jump (suspend, NTP step) is noticed.
_LONGEST_NAP = 30.0
# asyncio's selector waits in whole milliseconds, rounded up, so a sleep to an arbitrary instant
# wakes up to 1 ms late (0.5 ms on average). The loop is asked to wake 1 ms early, and what is
# left then (at most 1.5 ms) is slept on the loop's thread, to the microsecond.
_SELECTOR_GRAIN = 0.001


class Clock(Protocol):
    """What the engine needs of time: the current instant, and a wait until a later one."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once `deadline` has come (at once if it has already). Cancellable."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, deadline: datetime) -> None:
        """Wake within tens of microseconds of `deadline`. The last 0.5-1.5 ms block the event
        loop: a fire time is worth that, and nothing else is due in that moment."""
        while (remaining := (deadline - self.now()).total_seconds()) > 0:
            if remaining <= 1.5 * _SELECTOR_GRAIN:
                time.sleep(remaining)
            else:
                await asyncio.sleep(min(remaining - _SELECTOR_GRAIN, _LONGEST_NAP))
